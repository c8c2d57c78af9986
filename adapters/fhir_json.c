/*
 * fhir_json.c - FHIR R4 JSON adapters: Bulk Data NDJSON (one resource per
 * line, streamed, memory bounded by the line cap) and Bundles of any type
 * (whole document up to a documented cap).  A line of an NDJSON file that is
 * itself a Bundle is unpacked into its entries.
 */
#include <stdlib.h>
#include <string.h>

#include "adapter.h"

static void set_parse_error(struct iza_error *why, int rc,
			    const struct iza_error *perr)
{
	iza_error_set(why, rc, NULL, 0, NULL, "%s", perr->text);
}

/* Deliver a resource, unpacking Bundles. */
static int deliver(const struct adapter_sink *sink, const struct jval *res,
		   long line)
{
	const struct jval *rt = jobj_get(res, "resourceType");
	const struct jval *entries;
	uint32_t i;
	int rc;

	if (!jval_streq(rt, "Bundle"))
		return sink->resource(sink->ctx, res, line, 0);
	entries = jobj_get(res, "entry");
	if (!entries)
		return 0;
	if (entries->type != JT_ARRAY) {
		struct iza_error why;

		iza_error_set(&why, -IZA_EPARSE, NULL, 0, "Bundle.entry",
			      "entry is not an array");
		return sink->bad(sink->ctx, line, 0, QR_MALFORMED, &why, NULL,
				 0);
	}
	for (i = 0; i < entries->len; i++) {
		const struct jval *r =
		    jobj_get(&entries->u.kids[i], "resource");

		if (!r)
			continue; /* e.g. a DELETE in a transaction */
		if (r->type != JT_OBJECT) {
			struct iza_error why;

			iza_error_set(&why, -IZA_EPARSE, NULL, 0,
				      "Bundle.entry.resource",
				      "resource is not an object");
			rc = sink->bad(sink->ctx, line, (long)i + 1,
				       QR_MALFORMED, &why, NULL, 0);
		} else {
			rc = sink->resource(sink->ctx, r, line, (long)i + 1);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static bool blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static int ndjson_run(struct input *in, const struct adapter_limits *lim,
		      const struct adapter_sink *sink, struct iza_error *err)
{
	struct jdom_parser *p = jdom_parser_new(lim->max_depth, lim->max_line);
	const char *line;
	size_t len;
	bool too_long;
	long lineno;
	int rc;

	if (!p)
		return iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				     "out of memory");
	while ((rc = input_getline(in, lim->max_line, &line, &len, &too_long,
				   &lineno)) == 1) {
		const struct jval *root;
		struct iza_error perr, why;

		if (too_long) {
			iza_error_set(&why, -IZA_ETOOBIG, NULL, 0, NULL,
				      "line longer than %zu MiB",
				      lim->max_line >> 20);
			rc = sink->bad(sink->ctx, lineno, 0, QR_TOO_LARGE, &why,
				       NULL, 0);
		} else if (blank(line, len)) {
			continue;
		} else {
			iza_error_clear(&perr);
			rc = jdom_parse(p, line, len, &root, &perr);
			if (rc) {
				set_parse_error(&why, rc, &perr);
				rc = sink->bad(sink->ctx, lineno, 0,
					       QR_MALFORMED, &why, line, len);
			} else if (root->type != JT_OBJECT) {
				iza_error_set(&why, -IZA_EPARSE, NULL, 0, NULL,
					      "line is not a JSON object");
				rc = sink->bad(sink->ctx, lineno, 0, QR_NO_TYPE,
					       &why, line, len);
			} else {
				rc = deliver(sink, root, lineno);
			}
		}
		if (rc)
			break;
	}
	jdom_parser_free(p);
	/* an error the sink reported (say its quarantine file could not be
	 * written) keeps its own message */
	if (rc == -IZA_EIO && !(err && err->code))
		return iza_error_set(err, rc, input_name(in), 0, NULL,
				     "read error");
	return rc < 0 ? rc : 0;
}

static int bundle_run(struct input *in, const struct adapter_limits *lim,
		      const struct adapter_sink *sink, struct iza_error *err)
{
	struct jdom_parser *p = NULL;
	const struct jval *root;
	struct iza_error perr, why;
	char *buf = NULL;
	size_t len;
	int rc;

	rc = input_slurp(in, lim->max_doc, &buf, &len, err);
	if (rc)
		return rc;
	p = jdom_parser_new(lim->max_depth, lim->max_doc);
	if (!p) {
		rc = iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				   "out of memory");
		goto out;
	}
	iza_error_clear(&perr);
	rc = jdom_parse(p, buf, len, &root, &perr);
	if (rc) {
		set_parse_error(&why, rc, &perr);
		rc = sink->bad(sink->ctx, 1, 0, QR_MALFORMED, &why, NULL, 0);
	} else if (root->type != JT_OBJECT) {
		iza_error_set(&why, -IZA_EPARSE, NULL, 0, NULL,
			      "document is not a JSON object");
		rc = sink->bad(sink->ctx, 1, 0, QR_NO_TYPE, &why, NULL, 0);
	} else {
		rc = deliver(sink, root, 0);
	}
out:
	jdom_parser_free(p);
	free(buf);
	return rc < 0 ? rc : 0;
}

/* NDJSON: the first non-blank line is a complete JSON object. A pretty-
 * printed document has "{" alone (or an incomplete object) on line one. */
static size_t first_line(const char *head, size_t len, size_t *start)
{
	size_t i = 0, j;

	while (i < len && (head[i] == ' ' || head[i] == '\t' ||
			   head[i] == '\r' || head[i] == '\n'))
		i++;
	*start = i;
	for (j = i; j < len && head[j] != '\n'; j++)
		;
	return j - i;
}

static int ndjson_sniff(const char *head, size_t len)
{
	size_t start, n = first_line(head, len, &start);

	if (n == 0 || head[start] != '{')
		return 0;
	/* a complete first line that ends with '}' and is followed by a
	 * newline (or the end of a short input) */
	while (n > 0 &&
	       (head[start + n - 1] == '\r' || head[start + n - 1] == ' '))
		n--;
	if (n > 1 && head[start + n - 1] == '}')
		return 60;
	return 10;
}

static int bundle_sniff(const char *head, size_t len)
{
	size_t start, n = first_line(head, len, &start);

	if (n == 0 || head[start] != '{')
		return 0;
	return ndjson_sniff(head, len) >= 60 ? 20 : 50;
}

const struct adapter adapter_fhir_ndjson = {
    .name = "fhir-ndjson",
    .input = "fhir-r4",
    .description = "FHIR R4 Bulk Data NDJSON: one resource per line",
    .sniff = ndjson_sniff,
    .run = ndjson_run,
};

const struct adapter adapter_fhir_bundle = {
    .name = "fhir-bundle",
    .input = "fhir-r4",
    .description = "FHIR R4 JSON document: a Bundle of any type, or one "
		   "resource",
    .sniff = bundle_sniff,
    .run = bundle_run,
};
