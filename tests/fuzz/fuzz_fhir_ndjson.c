/*
 * fuzz_fhir_ndjson.c - the whole record path of `izagw ingest` short of the
 * store: bytes -> input reader -> NDJSON/Bundle adapter (line splitting,
 * caps) -> json_dom -> mapping engine (FHIRPath, value maps, dates,
 * pseudonymisation, reference tables).  Must never crash, leak or hang, and
 * every record must end up delivered or quarantined with a known reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adapter.h"
#include "mapping.h"
#include "pseudo.h"
#include "refdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vocabulary *voc;
static struct mapping *map;
static struct refdata *rd;
static struct pseudo *ps;

struct sink_ctx {
	struct mapper *mp;
	struct map_result res;
	long delivered, bad;
};

static void init_once(void)
{
	static const uint8_t key[IZA_KEY_LEN] = {7};
	struct iza_error err;

	if (map)
		return;
	if (vocabulary_load(IZA_SOURCE_DIR "/mappings/vocabulary.json", &voc,
			    &err) ||
	    mapping_load(IZA_SOURCE_DIR "/mappings/fhir-r4.json", voc, &map,
			 &err) ||
	    refdata_load(IZA_SOURCE_DIR "/mappings/regions", &rd, &err) ||
	    pseudo_new(key, &ps)) {
		fprintf(stderr, "fuzz_fhir_ndjson: setup failed: %s\n",
			err.text);
		abort();
	}
}

static int on_resource(void *ctx, const struct jval *res, long line, long entry)
{
	struct sink_ctx *c = ctx;
	struct iza_error why;

	(void)line;
	(void)entry;
	c->delivered++;
	if (mapper_map(c->mp, "06010713", "msz", res, &c->res, &why) != 0)
		abort(); /* only ENOMEM may fail, and we do not run out */
	if (c->res.outcome == MAP_QUARANTINE && c->res.reason >= QR_COUNT_)
		abort();
	return 0;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	struct sink_ctx *c = ctx;

	(void)line;
	(void)entry;
	(void)why;
	(void)raw;
	(void)rawlen;
	if (reason >= QR_COUNT_)
		abort();
	c->bad++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct adapter_limits lim = {
	    .max_line = 4096, .max_doc = 1 << 20, .max_depth = 64};
	struct sink_ctx c;
	struct adapter_sink sink = {
	    .ctx = &c, .resource = on_resource, .bad = on_bad};
	struct input *in = NULL;
	struct iza_error err;
	char path[64];
	int fd, pass;

	init_once();
	memset(&c, 0, sizeof(c));
	if (mapper_new(map, ps, rd, "ZK02", 20000, &c.mp) != 0)
		abort();
	fd = memfd_create("fuzz", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (pass = 0; pass < 2; pass++) {
		const struct adapter *ad =
		    pass ? &adapter_fhir_bundle : &adapter_fhir_ndjson;

		if (input_open(path, &in, &err) != 0)
			abort();
		ad->run(in, &lim, &sink, &err);
		input_close(in);
	}
	close(fd);
	mapper_free(c.mp);
	return 0;
}
