/*
 * civil.c - proleptic Gregorian calendar arithmetic on int64 day numbers,
 * day 0 = 1970-01-01 (a Thursday), after H. Hinnant's "chrono-compatible
 * low-level date algorithms".  No time zones here: callers add the offset.
 */
#include "sched/internal.h"

int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool is_leap_year(int64_t year)
{
	return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int days_in_month(int64_t year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

int64_t days_from_civil(int64_t year, int month, int mday)
{
	year -= month <= 2;
	int64_t era = floor_div(year, 400);
	int64_t yoe = year - era * 400;                                   /* 0..399 */
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + mday - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              /* 0..146096 */
	return era * 146097 + doe - 719468;
}

void civil_from_secs(int64_t secs, struct civil_time *out)
{
	int64_t days = floor_div(secs, SECS_PER_DAY);
	int64_t sod = secs - days * SECS_PER_DAY;
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	out->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	out->year = yoe + era * 400 + (out->month <= 2);
	out->hour = (int)(sod / 3600);
	out->minute = (int)(sod % 3600 / 60);
	out->second = (int)(sod % 60);
	out->wday = (int)(days + 4 - floor_div(days + 4, 7) * 7);
	out->yday = (int)(days - days_from_civil(out->year, 1, 1));
}
