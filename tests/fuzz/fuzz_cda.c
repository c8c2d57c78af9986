/*
 * fuzz_cda.c - the CDA adapter from bytes to header DOMs: input reader ->
 * xml_secure's reader -> the header copy.  Must never crash, leak or hang;
 * every document ends up delivered (a ClinicalDocument element in the HL7 v3
 * namespace, without <component>) or reported with a known reason.  The sink
 * walks each delivered tree and serialises it, so a dangling pointer or a
 * broken namespace link in the copy shows up under ASan.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "cda.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink_ctx {
	long delivered, bad;
	size_t bytes;
};

static void walk(struct sink_ctx *c, xmlNodePtr root)
{
	xmlNodePtr n = root;

	while (n) {
		xmlAttrPtr a;

		if (n->type == XML_ELEMENT_NODE) {
			if (n->ns && !n->ns->href)
				abort();
			for (a = n->properties; a; a = a->next) {
				xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);

				c->bytes += (size_t)xmlStrlen(v);
				xmlFree(v);
			}
		} else if (n->type == XML_TEXT_NODE) {
			c->bytes += (size_t)xmlStrlen(n->content);
		} else {
			abort(); /* only elements and text are copied */
		}
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
			continue;
		}
		while (n != root && !n->next)
			n = n->parent;
		if (n == root)
			break;
		n = n->next;
	}
}

static int on_record(void *ctx, struct _xmlNode *root, long line, long entry)
{
	struct sink_ctx *c = ctx;
	xmlBufferPtr b;
	xmlNodePtr k;

	(void)line;
	if (entry <= 0)
		abort();
	if (!xmlStrEqual(root->name, BAD_CAST "ClinicalDocument") ||
	    !root->ns || !xmlStrEqual(root->ns->href, BAD_CAST CDA_NS) ||
	    root->doc == NULL || xmlDocGetRootElement(root->doc) != root)
		abort();
	for (k = root->children; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE &&
		    xmlStrEqual(k->name, BAD_CAST "component") && k->ns &&
		    xmlStrEqual(k->ns->href, BAD_CAST CDA_NS))
			abort(); /* the body is never copied */
	walk(c, root);
	b = xmlBufferCreate();
	if (!b)
		abort();
	xmlNodeDump(b, root->doc, root, 0, 1);
	c->bytes += (size_t)xmlBufferLength(b);
	xmlBufferFree(b);
	c->delivered++;
	return 0;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	struct sink_ctx *c = ctx;

	(void)line;
	(void)entry;
	(void)raw;
	(void)rawlen;
	if (reason >= QR_COUNT_ || !why || why->code >= 0 ||
	    memchr(why->text, '\0', sizeof(why->text)) == NULL)
		abort();
	c->bad++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct adapter_limits lim = {
	    .max_line = 4096, .max_doc = 1 << 20, .max_depth = 64};
	struct sink_ctx c;
	const struct adapter_sink sink = {
	    .ctx = &c, .xml_record = on_record, .bad = on_bad};
	struct input *in = NULL;
	struct iza_error err;
	char path[64];
	int fd, rc;

	memset(&c, 0, sizeof(c));
	adapter_cda.sniff((const char *)data, size);
	fd = memfd_create("fuzz", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (input_open(path, &in, &err) != 0)
		abort();
	rc = adapter_cda.run(in, &lim, &sink, &err);
	if (rc != 0 && rc != -IZA_ENOMEM)
		abort(); /* a memfd never fails to read */
	if (rc == 0 && c.delivered + c.bad == 0)
		abort(); /* every input yields a record or a report */
	input_close(in);
	close(fd);
	return 0;
}
