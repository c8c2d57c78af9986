/*
 * fuzz_config.c - libFuzzer harness for gateway/config.c: the gateway's
 * configuration file, including its "schedule" object.
 *
 * Every input is written to a file and loaded.  A load either fails with an
 * error that names the file (and, for a bad member, the member) or gives a
 * configuration whose invariants hold: the data directory and the store set,
 * k in range, a schedule only with a valid kind, a first period of that
 * kind, and its days and interval in range.  Replayed over corpus/config/
 * by ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct gw_config *c = NULL;
	struct iza_error err = {0};
	FILE *f;
	int rc;

	if (!path[0]) {
		int fd;

		snprintf(path, sizeof(path), "/tmp/iza-fuzz-config-XXXXXX");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	rc = config_load(path, &c, &err);
	if (rc) {
		if (c || !strstr(err.file, "iza-fuzz-config") || !err.text[0]) {
			fprintf(stderr, "config: bad error report '%s' (%s)\n",
				err.text, err.file);
			abort();
		}
		return 0;
	}
	if (!c || !c->data_dir || !c->store_path || c->k < 1 ||
	    c->k > 1000000) {
		fprintf(stderr, "config: accepted without its defaults\n");
		abort();
	}
	if (c->schedule.enabled &&
	    (c->schedule.every > PERIOD_YEAR ||
	     c->schedule.from.kind != c->schedule.every ||
	     c->schedule.close_after_days < 0 ||
	     c->schedule.close_after_days > 366 ||
	     c->schedule.check_seconds < 1 ||
	     c->schedule.check_seconds > 86400)) {
		fprintf(stderr, "config: an invalid schedule accepted\n");
		abort();
	}
	config_free(c);
	return 0;
}
