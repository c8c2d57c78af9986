/*
 * fuzz_hl7v2_xml.c - bytes -> input reader -> xml_secure reader -> HL7 v2
 * XML adapter (message detection, expansion, caps) -> a sink that walks
 * every delivered tree.  Must never crash, leak or hang, and no message
 * may hold an entity reference or exceed the caps.
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

static int on_record(void *ctx, struct _xmlNode *node, long line, long entry)
{
	xmlNodePtr n = node;
	size_t count = 0;

	(void)ctx;
	(void)line;
	if (entry < 1)
		abort();
	while (n) {
		if (n->type == XML_ENTITY_REF_NODE || ++count > HL7V2_MAX_NODES)
			abort();
		if (n->type == XML_TEXT_NODE && n->content)
			(void)strlen((const char *)n->content);
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
			continue;
		}
		while (n != node && !n->next)
			n = n->parent;
		if (n == node)
			break;
		n = n->next;
	}
	return 0;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	(void)ctx;
	(void)line;
	(void)entry;
	(void)why;
	(void)raw;
	(void)rawlen;
	if (reason >= QR_COUNT_)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct adapter_limits lim = {
	    .max_line = 1 << 16, .max_doc = 1 << 20, .max_depth = 32};
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
	adapter_hl7v2_xml.run(in, &lim, &sink, &err);
	input_close(in);
	adapter_hl7v2_xml.sniff((const char *)data, size);
	close(fd);
	return 0;
}
