/*
 * fuzz_hl7v2_er7.c - bytes -> input reader -> ER7 adapter (segment
 * splitting, MLLP, separators, escapes, charsets, caps) -> element tree.
 * Must never crash, leak or hang; every message is delivered or quarantined
 * with a known reason, and every delivered tree follows the hl7v2.h
 * naming contract.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hl7v2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Segment ids, SEG.n, SEG.n.c, SEG.n.c.s under the right parents. */
static void check_tree(xmlNodePtr root)
{
	xmlNodePtr seg, f, c, s;

	for (seg = root->children; seg; seg = seg->next) {
		size_t idl = strlen((const char *)seg->name);

		if (seg->type != XML_ELEMENT_NODE || idl != 3)
			abort();
		for (f = seg->children; f; f = f->next) {
			size_t fl = strlen((const char *)f->name);

			if (f->type != XML_ELEMENT_NODE ||
			    strncmp((const char *)f->name,
				    (const char *)seg->name, 3) != 0 ||
			    f->name[3] != '.')
				abort();
			for (c = f->children; c; c = c->next) {
				if (c->type == XML_TEXT_NODE)
					continue;
				if (strncmp((const char *)c->name,
					    (const char *)f->name, fl) != 0 ||
				    c->name[fl] != '.')
					abort();
				for (s = c->children; s; s = s->next) {
					xmlChar *t;

					if (s->type == XML_TEXT_NODE)
						continue;
					t = xmlNodeGetContent(s);
					xmlFree(t);
				}
			}
		}
	}
}

static int on_record(void *ctx, struct _xmlNode *node, long line, long entry)
{
	xmlBufferPtr b = xmlBufferCreate();

	(void)ctx;
	if (line < 1 || entry < 1)
		abort();
	check_tree(node);
	xmlNodeDump(b, node->doc, node, 0, 0);
	xmlBufferFree(b);
	return 0;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	(void)ctx;
	(void)line;
	(void)entry;
	(void)raw;
	if (reason >= QR_COUNT_ || !why->text[0] || rawlen > 4096)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct adapter_limits lim = {
	    .max_line = 4096, .max_doc = 1 << 20, .max_depth = 64};
	struct adapter_sink sink = {
	    .ctx = NULL, .xml_record = on_record, .bad = on_bad};
	struct input *in = NULL;
	struct iza_error err;
	char path[64];
	int fd;

	fd = memfd_create("fuzz", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (input_open(path, &in, &err) != 0)
		abort();
	adapter_hl7v2_er7.run(in, &lim, &sink, &err);
	if (input_bytes(in) != size)
		abort();
	input_close(in);
	adapter_hl7v2_er7.sniff((const char *)data, size);
	close(fd);
	return 0;
}
