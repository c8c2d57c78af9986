/*
 * jansson_lines.c - the per-line DOM baseline for bench/run.sh: every line
 * of the NDJSON files given is parsed with jansson's json_loadb() into a
 * tree and freed, on one core; no extraction.  issue 2 states the NDJSON
 * target against this figure ("jansson's per-line DOM parse alone does about
 * 64 MB/s per core on this machine kind"), so the bench measures it in the
 * same run to scale that target to the machine at hand.
 *
 * usage: jansson_lines FILE...
 * Prints one JSON line: {"lines":N,"parsed":N,"bytes":N,"seconds":S}.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long long lines = 0, parsed = 0, bytes = 0;
	char *buf = NULL;
	size_t cap = 0;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: jansson_lines FILE...\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		ssize_t n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		while ((n = getline(&buf, &cap, f)) > 0) {
			json_error_t err;
			json_t *v;

			lines++;
			bytes += n;
			v = json_loadb(buf, (size_t)n, JSON_DISABLE_EOF_CHECK,
				       &err);
			if (v) {
				parsed++;
				json_decref(v);
			}
		}
		fclose(f);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(buf);
	printf("{\"lines\":%lld,\"parsed\":%lld,\"bytes\":%lld,"
	       "\"seconds\":%.3f}\n",
	       lines, parsed, bytes,
	       (double)(t1.tv_sec - t0.tv_sec) +
		   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
