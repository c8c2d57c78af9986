/*
 * fuzz_hl7v2_er7.c - bytes -> input reader -> ER7 adapter (segment
 * splitting, MLLP, separators, escapes, charsets, caps) -> flat message
 * model -> v2 paths and the tree for XPath.  Must never crash, leak or
 * hang; every message is delivered or quarantined with a known reason, and
 * every delivered model keeps the v2msg.h invariants and gives a tree that
 * follows the hl7v2.h naming contract.
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
#include "v2path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_value(void *ctx, const char *v, size_t len)
{
	(void)ctx;
	if (len == 0 || v[len] != '\0')
		abort();
	return 0;
}

/* The model's invariants (v2msg.h), then its tree as hl7v2.h names it
 * (SEG.n, SEG.n.c, SEG.n.c.s under the right parents) and a few paths. */
static void check_model(const struct v2msg *m)
{
	static const char *const paths[] = {
	    "PID-3[4.1='NLMINBIZA'].1", "PV1-2.1", "MSH-9.2", "PID-3(2).4.2"};
	xmlDocPtr doc = NULL;
	xmlNodePtr seg, f, c;
	size_t i;

	if (m->n > HL7V2_MAX_NODES || m->nsegs > HL7V2_MAX_NODES)
		abort();
	for (i = 0; i < m->n; i++) {
		const struct v2msg_entry *e = &m->e[i];

		if (e->seg >= m->nsegs || e->off + e->len >= m->alen ||
		    v2msg_value(m, e)[e->len] != '\0' || e->rep < 1 ||
		    (e->comp == 0 && e->sub != 0))
			abort();
		/* parts follow their field (component) directly */
		if (e->comp && (i == 0 || m->e[i - 1].seg != e->seg ||
				m->e[i - 1].field != e->field ||
				m->e[i - 1].rep != e->rep))
			abort();
		if (e->sub && m->e[i - 1].comp != e->comp)
			abort();
	}
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct v2path *p = NULL;
		struct iza_error err;

		if (v2path_compile(paths[i], &p, &err))
			abort();
		v2path_eval(p, m, count_value, NULL);
		v2path_free(p);
	}
	if (v2msg_to_doc(m, &doc))
		return; /* out of memory */
	for (seg = xmlDocGetRootElement(doc)->children; seg; seg = seg->next) {
		if (seg->type != XML_ELEMENT_NODE ||
		    strlen((const char *)seg->name) != 3)
			abort();
		for (f = seg->children; f; f = f->next) {
			size_t fl = strlen((const char *)f->name);

			if (strncmp((const char *)f->name,
				    (const char *)seg->name, 3) != 0 ||
			    f->name[3] != '.')
				abort();
			for (c = f->children; c; c = c->next)
				if (c->type == XML_ELEMENT_NODE &&
				    (strncmp((const char *)c->name,
					     (const char *)f->name, fl) != 0 ||
				     c->name[fl] != '.'))
					abort();
		}
	}
	xmlFreeDoc(doc);
}

static int on_message(void *ctx, const struct v2msg *msg, long line, long entry)
{
	(void)ctx;
	if (line < 1 || entry < 1)
		abort();
	check_model(msg);
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
	    .ctx = NULL, .v2_message = on_message, .bad = on_bad};
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
