/*
 * json_dom_bench.c - throughput of jdom_parse() against jansson's json_loadb()
 * on NDJSON, one line at a time.
 *
 * Not part of the CMake build.  Build against a configured build tree
 * (RelWithDebInfo, i.e. -O2) and run, from the repository root:
 *
 *   cmake --build build-json -j1 --target izacore
 *   cc -std=c11 -O2 -g -D_POSIX_C_SOURCE=200809L -Icommon -Iadapters \
 *      bench/json_dom_bench.c build-json/libizacore.a -ljansson \
 *      -o /tmp/json_dom_bench
 *   for i in $(seq 95); do cat
 * ../shared/data/fhir-bulk-synthea-10/[A-Z]*.ndjson; \ done >
 * /tmp/fhir-200mb.ndjson /tmp/json_dom_bench /tmp/fhir-200mb.ndjson [repeats]
 *
 * With a third argument "whole" the file is parsed as one document (e.g. a
 * pretty-printed Bundle), 20 times per repeat:
 *
 *   /tmp/json_dom_bench ../shared/data/fhir-bundles-synthea/X.json 5 whole
 *
 * It reads the whole file into memory first, so only parsing is timed, and
 * reports MB/s (10^6 bytes of line text per second, best of the repeats) for
 * both parsers, and their ratio.  Every line must parse with both.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_dom.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + (1 << 20) > cap) {
			cap = cap ? cap * 2 : (size_t)64 << 20;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* Parse every line (or the whole buffer 20 times) with jdom (which = 0) or
 * jansson (which = 1); returns the number of line bytes parsed, 0 on the first
 * failure. */
static size_t run(const char *buf, size_t len, int which, struct jdom_parser *p,
		  int whole)
{
	const char *q = buf, *e = buf + len, *nl;
	size_t total = 0;
	int rounds = whole ? 20 : 1;

	while (q < e) {
		nl = whole ? e : memchr(q, '\n', (size_t)(e - q));
		if (!nl)
			nl = e;
		if (nl > q) {
			if (which == 0) {
				const struct jval *root;
				struct iza_error err;

				if (jdom_parse(p, q, (size_t)(nl - q), &root,
					       &err) != 0) {
					fprintf(stderr, "jdom: %s\n", err.text);
					return 0;
				}
			} else {
				json_error_t jerr;
				json_t *j = json_loadb(q, (size_t)(nl - q),
						       JSON_DECODE_ANY, &jerr);

				if (!j) {
					fprintf(stderr, "jansson: %s\n",
						jerr.text);
					return 0;
				}
				json_decref(j);
			}
			total += (size_t)(nl - q);
		}
		q = nl + 1;
		if (q >= e && --rounds > 0)
			q = buf;
	}
	return total;
}

int main(int argc, char **argv)
{
	struct jdom_parser *p;
	size_t len, bytes = 0;
	double best[2] = {1e30, 1e30}, t;
	int reps = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
	char *buf;
	int whole = argc > 3 && strcmp(argv[3], "whole") == 0;
	int i, w;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file.ndjson [repeats [whole]]\n",
			argv[0]);
		return 2;
	}
	buf = slurp(argv[1], &len);
	p = jdom_parser_new(0, 0);
	if (!buf || !p) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	for (i = 0; i < reps; i++) {
		for (w = 0; w < 2; w++) {
			t = now();
			bytes = run(buf, len, w, p, whole);
			t = now() - t;
			if (!bytes)
				return 1;
			if (t < best[w])
				best[w] = t;
		}
	}
	printf("input: %zu bytes of %s\n", bytes,
	       whole ? "whole documents" : "NDJSON lines");
	printf("jdom:    %8.1f MB/s\n", (double)bytes / best[0] / 1e6);
	printf("jansson: %8.1f MB/s\n", (double)bytes / best[1] / 1e6);
	printf("ratio:   %8.2fx\n", best[1] / best[0]);
	printf("arena:   %zu bytes held\n", jdom_parser_arena_bytes(p));
	jdom_parser_free(p);
	free(buf);
	return 0;
}
