/*
 * nfs_meta.c - metadata operations per second of an NFS v3 server, for
 * bench/nfs.sh: creates FILES empty files in the root of an export, stats
 * each one, removes each one, and prints the rate of each phase.
 *
 *   nfs-meta SERVER EXPORT [FILES]     (FILES: 2000 by default)
 *
 * prints
 *   creates/s N
 *   getattrs/s N
 *   removes/s N
 *
 * It uses libnfs's synchronous API, so one request is in flight at a time
 * and the rates are of whole calls: client, loopback and server latency
 * together.  What a call sends is libnfs's choice; 4.0 against ganesha, seen
 * with strace: a create is GETATTR (of the directory), CREATE, LOOKUP; a
 * stat is LOOKUP, GETATTR; a remove is GETATTR (of the directory), REMOVE.
 * The same client drives every server compared.  The portmapper on SERVER
 * port 111 (RPCBIND v3 GETADDR) finds MOUNT and NFS.
 * Exit status: 0 when every call succeeded, 1 otherwise (the failing call
 * on stderr; files it made are removed as far as possible), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define DEFAULT_FILES 2000
#define MAX_FILES 1000000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void file_path(char *path, size_t len, unsigned index)
{
	snprintf(path, len, "/nfs-meta.%ld.%07u", (long)getpid(), index);
}

static void print_rate(const char *what, unsigned count, double seconds)
{
	printf("%s %.1f\n", what, seconds > 0 ? count / seconds : 0.0);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: nfs-meta SERVER EXPORT [FILES]\n");
		return 2;
	}
	const char *server = argv[1], *export_path = argv[2];
	unsigned files = DEFAULT_FILES;
	if (argc == 4) {
		char *end;
		unsigned long n = strtoul(argv[3], &end, 10);
		if (*end || n == 0 || n > MAX_FILES) {
			fprintf(stderr, "nfs-meta: FILES must be 1..%d\n", MAX_FILES);
			return 2;
		}
		files = (unsigned)n;
	}

	struct nfs_context *nfs = nfs_init_context();
	if (!nfs) {
		fprintf(stderr, "nfs-meta: cannot create an NFS context\n");
		return 1;
	}
	int status = 1;
	unsigned created = 0, removed = 0;
	char path[64];
	if (nfs_mount(nfs, server, export_path) != 0) {
		fprintf(stderr, "nfs-meta: mount %s:%s: %s\n", server, export_path,
			nfs_get_error(nfs));
		goto out;
	}

	double t0 = now_s();
	for (; created < files; created++) {
		struct nfsfh *fh;
		file_path(path, sizeof(path), created);
		if (nfs_creat(nfs, path, 0644, &fh) != 0) {
			fprintf(stderr, "nfs-meta: create %s: %s\n", path, nfs_get_error(nfs));
			goto out;
		}
		nfs_close(nfs, fh);
	}
	double t1 = now_s();
	for (unsigned i = 0; i < files; i++) {
		struct nfs_stat_64 st;
		file_path(path, sizeof(path), i);
		if (nfs_stat64(nfs, path, &st) != 0) {
			fprintf(stderr, "nfs-meta: stat %s: %s\n", path, nfs_get_error(nfs));
			goto out;
		}
		if (!S_ISREG(st.nfs_mode) || st.nfs_size != 0) {
			fprintf(stderr, "nfs-meta: stat %s: mode %#llo size %llu, want an empty "
					"regular file\n", path, (unsigned long long)st.nfs_mode,
				(unsigned long long)st.nfs_size);
			goto out;
		}
	}
	double t2 = now_s();
	for (; removed < files; removed++) {
		file_path(path, sizeof(path), removed);
		if (nfs_unlink(nfs, path) != 0) {
			fprintf(stderr, "nfs-meta: remove %s: %s\n", path, nfs_get_error(nfs));
			goto out;
		}
	}
	double t3 = now_s();

	print_rate("creates/s", files, t1 - t0);
	print_rate("getattrs/s", files, t2 - t1);
	print_rate("removes/s", files, t3 - t2);
	status = 0;
out:
	if (status != 0 && created > removed) {
		/* the files before 'removed' are gone; try the rest */
		for (unsigned i = removed; i < created; i++) {
			file_path(path, sizeof(path), i);
			nfs_unlink(nfs, path);
		}
	}
	nfs_destroy_context(nfs);
	return status;
}
