/*
 * keyname.c - names (hosts, series, nodes) inside the pool's record keys:
 * bytes outside 0x21..0x7e, '%' and '/' are written %XX, so any name makes
 * a key cowstore accepts and '/' stays the key's separator.  Shared by the
 * stats history (Q/s/, Q/m/) and the latency table (Q/t/).
 */
#include "qos/internal.h"

static bool plain_char(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '%' && c != '/';
}

int qos_key_escape(const char *name, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (n + (plain_char(*p) ? 1 : 3) >= size)
			return -1;
		if (plain_char(*p)) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = 0;
	return (int)n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool qos_key_unescape(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		int c = (unsigned char)*p;
		if (c == '%') {
			int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
			if (lo < 0)
				return false;
			c = hi << 4 | lo;
			p += 2;
		}
		if (c == 0 || n + 1 >= size)
			return false;
		out[n++] = (char)c;
	}
	out[n] = 0;
	return n > 0;
}
