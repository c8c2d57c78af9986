/*
 * fuzz_mapping.c - libFuzzer harness for the declarative files a region
 * edits: mapping files (gateway/mapping.c, with the FHIRPath, XPath and v2
 * field paths in them) and KPI definitions (gateway/kpi.c).
 *
 * The first byte chooses what the rest is: even, a mapping file read
 * against the shipped vocabulary (mappings/vocabulary.json); odd, a KPI
 * definitions file, checked against the same vocabulary when it loads.  A
 * load either succeeds or fails with an error that names the file; it never
 * crashes, leaks or runs away.  Replayed over corpus/mapping/ by ctest
 * (seeded with the shipped mappings and KPI files).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpi.h"
#include "mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vocabulary *voc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct iza_error err = {0};
	FILE *f;
	int rc;

	if (!voc && vocabulary_load(IZA_SOURCE_DIR "/mappings/vocabulary.json",
				    &voc, &err) != 0) {
		fprintf(stderr, "mapping: %s\n", err.text);
		abort();
	}
	if (!path[0]) {
		int fd;

		snprintf(path, sizeof(path), "/tmp/iza-fuzz-mapping-XXXXXX");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	if (size == 0)
		return 0;
	f = fopen(path, "wb");
	if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 ||
	    fclose(f) != 0)
		abort();
	if (data[0] % 2 == 0) {
		struct mapping *m = NULL;

		rc = mapping_load(path, voc, &m, &err);
		mapping_free(m);
	} else {
		struct kpi_set *ks = NULL;

		rc = kpi_set_load(path, &ks, &err);
		if (rc == 0)
			rc = kpi_set_check_vocabulary(ks, path, voc, &err);
		kpi_set_free(ks);
	}
	if (rc && (!strstr(err.file, "iza-fuzz-mapping") || !err.text[0])) {
		fprintf(stderr, "mapping: bad error report '%s' (%s)\n",
			err.text, err.file);
		abort();
	}
	return 0;
}
