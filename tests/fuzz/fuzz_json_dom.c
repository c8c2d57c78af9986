/*
 * fuzz_json_dom.c - libFuzzer harness for adapters/json_dom.c.
 *
 * Differential: every input goes to jdom_parse() and to jansson's
 * json_loadb(JSON_DECODE_ANY); the harness aborts if they disagree on
 * accept/reject or, when both accept, on the tree (types, member order with
 * jansson's first-position/last-value rule for duplicates, string bytes,
 * number values).  What jdom_write() makes of an accepted tree must load
 * as the same document and write again to the same bytes.  One parser is
 * reused across inputs, as in production, so arena reuse is fuzzed too.
 * Replayed over corpus/json_dom/ by ctest.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_dom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(json_t *j, const struct jval *v)
{
	size_t i, k;

	switch (json_typeof(j)) {
	case JSON_NULL:
		return v->type == JT_NULL;
	case JSON_TRUE:
		return v->type == JT_TRUE;
	case JSON_FALSE:
		return v->type == JT_FALSE;
	case JSON_INTEGER:
		return v->type == JT_NUMBER && !strpbrk(v->u.s, ".eE") &&
		       strtoll(v->u.s, NULL, 10) == json_integer_value(j);
	case JSON_REAL: {
		double a = json_real_value(j), b;

		if (v->type != JT_NUMBER || !strpbrk(v->u.s, ".eE"))
			return 0;
		b = strtod(v->u.s, NULL);
		return memcmp(&a, &b, sizeof(a)) == 0;
	}
	case JSON_STRING:
		return v->type == JT_STRING &&
		       json_string_length(j) == v->len &&
		       memcmp(json_string_value(j), v->u.s, v->len) == 0 &&
		       v->u.s[v->len] == '\0';
	case JSON_ARRAY:
		if (v->type != JT_ARRAY || json_array_size(j) != v->len)
			return 0;
		for (i = 0; i < v->len; i++)
			if (v->u.kids[i].key ||
			    !same(json_array_get(j, i), &v->u.kids[i]))
				return 0;
		return 1;
	case JSON_OBJECT: {
		void *it = json_object_iter(j);

		if (v->type != JT_OBJECT)
			return 0;
		for (i = 0; i < v->len; i++) {
			const struct jval *m = &v->u.kids[i];

			if (!m->key || strlen(m->key) != m->keylen)
				return 0;
			for (k = 0; k < i; k++)
				if (v->u.kids[k].keylen == m->keylen &&
				    !memcmp(v->u.kids[k].key, m->key,
					    m->keylen))
					break;
			if (k < i)
				continue; /* duplicate: jansson kept the first
					     slot */
			if (!it || strcmp(json_object_iter_key(it), m->key) ||
			    !same(json_object_iter_value(it),
				  jobj_get(v, m->key)))
				return 0;
			it = json_object_iter_next(j, it);
		}
		return it == NULL;
	}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jdom_parser *p;
	const struct jval *root = NULL;
	struct iza_error err;
	json_error_t jerr;
	json_t *j;
	int rc;

	if (!p) {
		p = jdom_parser_new(0, 0);
		if (!p)
			abort();
	}
	rc = jdom_parse(p, (const char *)data, size, &root, &err);
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if ((rc == 0) != (j != NULL)) {
		fprintf(stderr, "json_dom: jdom %s (%s), jansson %s (%s)\n",
			rc ? "rejects" : "accepts", rc ? err.text : "",
			j ? "accepts" : "rejects", j ? "" : jerr.text);
		abort();
	}
	if (rc == 0 && !same(j, root)) {
		fprintf(stderr, "json_dom: trees differ from jansson's\n");
		abort();
	}
	if (rc == 0) {
		/* the writer: what it writes is the same document, and
		 * writing that again gives the same bytes */
		char *w1 = NULL, *w2 = NULL;
		size_t n1 = 0, n2 = 0;
		json_t *back;

		if (jdom_write(root, &w1, &n1) != 0)
			abort();
		back = json_loadb(w1, n1, JSON_DECODE_ANY, &jerr);
		if (!back || !json_equal(back, j)) {
			fprintf(stderr, "json_dom: written text differs\n");
			abort();
		}
		json_decref(back);
		if (jdom_parse(p, w1, n1, &root, &err) != 0 ||
		    jdom_write(root, &w2, &n2) != 0 || n1 != n2 ||
		    memcmp(w1, w2, n1) != 0) {
			fprintf(stderr, "json_dom: writing is not stable\n");
			abort();
		}
		free(w1);
		free(w2);
	}
	if (rc != 0 && (err.code != rc || !strstr(err.text, "at byte ")) &&
	    rc != -IZA_ETOOBIG) {
		fprintf(stderr, "json_dom: bad error report '%s'\n", err.text);
		abort();
	}
	json_decref(j);
	return 0;
}
