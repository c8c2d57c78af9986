/*
 * fuzz_fhirpath.c - libFuzzer harness for gateway/fhirpath.c.
 *
 * Input: the first line is a FHIRPath expression, the rest a JSON resource.
 * The expression is compiled; if the JSON parses it is evaluated on it (and
 * on a NULL root otherwise), twice on the same collection (the second run
 * exercises buffer reuse) and once as a boolean.  Nothing may crash, leak or
 * trip a sanitizer; every item of a result must be a readable node.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhirpath.h"
#include "json_dom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every item so the sanitizers see a dangling pointer. */
static size_t touch(const struct fp_collection *c)
{
	size_t i, sum = 0;

	for (i = 0; i < c->n; i++) {
		const struct jval *v = c->items[i];

		sum += v->type;
		if (v->type == JT_STRING || v->type == JT_NUMBER)
			sum += v->len ? (unsigned char)v->u.s[v->len - 1] : 0;
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t elen = nl ? (size_t)(nl - data) : size;
	const char *json = nl ? (const char *)nl + 1 : "";
	size_t jlen = nl ? size - elen - 1 : 0;
	struct jdom_parser *p = NULL;
	const struct jval *root = NULL;
	struct fhirpath *fp = NULL;
	struct fp_collection c;
	struct iza_error err;
	char *expr;
	bool b;
	volatile size_t sink = 0;

	if (elen > FHIRPATH_MAX_LEN + 16)
		return 0;
	expr = malloc(elen + 1);
	if (!expr)
		return 0;
	memcpy(expr, data, elen);
	expr[elen] = '\0';
	fp_collection_init(&c);
	iza_error_clear(&err);
	if (fhirpath_compile(expr, &fp, &err) != 0)
		goto out;
	p = jdom_parser_new(JDOM_DEFAULT_MAX_DEPTH, 1u << 20);
	if (!p)
		goto out;
	if (jdom_parse(p, json, jlen, &root, &err) != 0)
		root = NULL;
	if (fhirpath_eval(fp, root, &c) == 0)
		sink += touch(&c);
	if (fhirpath_eval(fp, root, &c) == 0)
		sink += touch(&c);
	if (fhirpath_eval_bool(fp, root, &c, &b) == 0)
		sink += b;
out:
	(void)sink;
	fp_collection_release(&c);
	fhirpath_free(fp);
	jdom_parser_free(p);
	free(expr);
	return 0;
}
