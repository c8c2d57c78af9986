/*
 * report_check.c - the allow-list check of report Bundles (contract in
 * report_check.h).
 *
 * Decisions:
 *  - The allow-list is the set of member paths the report builder
 *    (gateway/report.c) writes, written out here as data: a new field in a
 *    report must be added here on purpose, or the report does not leave.
 *  - Paths are the JSON path with every array index written "[]", relative
 *    to the resource (or the Bundle); objects and arrays are walked, every
 *    scalar must match an entry and its kind.
 *  - The identifier scans run on every string, whatever its kind: a BSN or
 *    a hex pseudonym inside an allowed free-text field is still refused.
 */
#include "report_check.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum kind {
	K_TOKEN,   /* codes, ids, units: [A-Za-z0-9._:+|/-]{1,128} */
	K_LABEL,   /* stratum and population labels: also spaces, <= 64 */
	K_URI,	   /* http(s):// or urn:, no spaces, <= 512 */
	K_DATE,	   /* YYYY-MM-DD */
	K_INSTANT, /* YYYY-MM-DDThh:mm:ss(Z|+hh:mm) */
	K_COUNT,   /* integer >= 0 */
	K_INT,	   /* integer */
	K_NUMBER,  /* any JSON number */
	K_BOOL,
	K_TEXT /* printable text <= 2048 (Measure and reporter only) */
};

struct rule {
	const char *path;
	enum kind kind;
};

static const struct rule bundle_rules[] = {
    {"resourceType", K_TOKEN},	{"id", K_TOKEN},
    {"type", K_TOKEN},		{"timestamp", K_INSTANT},
    {"entry[].fullUrl", K_URI}, {NULL, 0}};

static const struct rule measure_rules[] = {
    {"resourceType", K_TOKEN},
    {"id", K_TOKEN},
    {"url", K_URI},
    {"version", K_TOKEN},
    {"name", K_TOKEN},
    {"title", K_TEXT},
    {"status", K_TOKEN},
    {"date", K_INSTANT},
    {"description", K_TEXT},
    {"scoring.coding[].system", K_URI},
    {"scoring.coding[].code", K_TOKEN},
    {"improvementNotation.coding[].system", K_URI},
    {"improvementNotation.coding[].code", K_TOKEN},
    {"group[].id", K_TOKEN},
    {"group[].population[].id", K_TOKEN},
    {"group[].population[].code.coding[].system", K_URI},
    {"group[].population[].code.coding[].code", K_TOKEN},
    {"group[].population[].code.text", K_LABEL},
    {"group[].population[].description", K_TEXT},
    {"group[].population[].criteria.language", K_TOKEN},
    {"group[].population[].criteria.expression", K_TEXT},
    {"group[].stratifier[].code.text", K_LABEL},
    {"extension[].url", K_URI},
    {"extension[].valueInteger", K_INT},
    {NULL, 0}};

static const struct rule report_rules[] = {
    {"resourceType", K_TOKEN},
    {"id", K_TOKEN},
    {"status", K_TOKEN},
    {"type", K_TOKEN},
    {"measure", K_URI},
    {"date", K_INSTANT},
    {"reporter.type", K_TOKEN},
    {"reporter.identifier.system", K_URI},
    {"reporter.identifier.value", K_TOKEN},
    {"reporter.display", K_TEXT},
    {"period.start", K_DATE},
    {"period.end", K_DATE},
    {"improvementNotation.coding[].system", K_URI},
    {"improvementNotation.coding[].code", K_TOKEN},
    {"extension[].url", K_URI},
    {"extension[].extension[].url", K_TOKEN},
    {"extension[].extension[].valueInteger", K_INT},
    {"extension[].extension[].valueString", K_TOKEN},
    {"extension[].extension[].valueBoolean", K_BOOL},
    {"extension[].extension[].valueDecimal", K_NUMBER},
    {"group[].id", K_TOKEN},
    {"group[].extension[].url", K_URI},
    {"group[].extension[].valueCode", K_TOKEN},
    {"group[].extension[].valueInteger", K_INT},
    {"group[].population[].id", K_TOKEN},
    {"group[].population[].code.coding[].system", K_URI},
    {"group[].population[].code.coding[].code", K_TOKEN},
    {"group[].population[].code.text", K_LABEL},
    {"group[].population[].count", K_COUNT},
    {"group[].measureScore.value", K_NUMBER},
    {"group[].measureScore.unit", K_LABEL},
    {"group[].measureScore.system", K_URI},
    {"group[].measureScore.code", K_TOKEN},
    {"group[].stratifier[].code[].text", K_LABEL},
    {"group[].stratifier[].stratum[].value.text", K_LABEL},
    {"group[].stratifier[].stratum[].extension[].url", K_URI},
    {"group[].stratifier[].stratum[].extension[].valueCode", K_TOKEN},
    {"group[].stratifier[].stratum[].population[].id", K_TOKEN},
    {"group[].stratifier[].stratum[].population[].code.coding[].system", K_URI},
    {"group[].stratifier[].stratum[].population[].code.coding[].code", K_TOKEN},
    {"group[].stratifier[].stratum[].population[].count", K_COUNT},
    {"group[].stratifier[].stratum[].measureScore.value", K_NUMBER},
    {"group[].stratifier[].stratum[].measureScore.unit", K_LABEL},
    {"group[].stratifier[].stratum[].measureScore.system", K_URI},
    {"group[].stratifier[].stratum[].measureScore.code", K_TOKEN},
    {NULL, 0}};

#define PATH_MAX_LEN 256

struct walk {
	const struct rule *rules;
	const char *where; /* "Bundle" or "entry[3] (MeasureReport)" */
	struct iza_error *err;
};

static int refuse(struct walk *w, const char *path, const char *why)
{
	return iza_error_set(w->err, -IZA_EINVALID, NULL, 0, "report",
			     "%s: %s: %s", w->where, path[0] ? path : "(root)",
			     why);
}

/* A UUID (8-4-4-4-12 hexadecimal digits) at s[i], not inside a longer
 * run of letters and digits. */
static bool uuid_at(const char *s, size_t n, size_t i)
{
	size_t k;

	if (i + 36 > n || (i > 0 && isalnum((unsigned char)s[i - 1])) ||
	    (i + 36 < n && isalnum((unsigned char)s[i + 36])))
		return false;
	for (k = 0; k < 36; k++) {
		bool dash = k == 8 || k == 13 || k == 18 || k == 23;

		if (dash ? s[i + k] != '-' : !isxdigit((unsigned char)s[i + k]))
			return false;
	}
	return true;
}

/*
 * Nine digits passing the BSN 11-test, anywhere in s but inside a UUID:
 * the report's own ids are UUIDs, and one in twenty reports has a UUID
 * whose last group holds such nine digits by chance.
 */
static bool has_bsn(const char *s, size_t n)
{
	size_t i, j;

	for (i = 0; i + 9 <= n; i++) {
		int sum = 0;

		if (uuid_at(s, n, i)) {
			i += 35;
			continue;
		}
		if ((i > 0 && isdigit((unsigned char)s[i - 1])) ||
		    (i + 9 < n && isdigit((unsigned char)s[i + 9])))
			continue;
		for (j = 0; j < 9 && isdigit((unsigned char)s[i + j]); j++)
			sum += (s[i + j] - '0') * (j < 8 ? 9 - (int)j : -1);
		if (j == 9 && sum % 11 == 0 && memcmp(s + i, "000000000", 9))
			return true;
	}
	return false;
}

/* A run of at least `min` characters all in the set. */
static bool has_run(const char *s, size_t n, const char *set, size_t min)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		run = s[i] && strchr(set, s[i]) ? run + 1 : 0;
		if (run >= min)
			return true;
	}
	return false;
}

static bool all_in(const char *s, size_t n, const char *set, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(set, s[i]))
			return false;
	return true;
}

static bool is_date(const char *s, size_t n)
{
	return n == 10 && isdigit((unsigned char)s[0]) && s[4] == '-' &&
	       s[7] == '-' && all_in(s, n, "-", 10);
}

static bool is_instant(const char *s, size_t n)
{
	return n >= 20 && n <= 25 && is_date(s, 10) && s[10] == 'T' &&
	       all_in(s + 11, n - 11, ":+-Z.", 14);
}

static bool printable(const char *s, size_t n, size_t max)
{
	size_t i;

	if (n > max)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int check_string(struct walk *w, const char *path, enum kind k,
			const char *s, size_t n)
{
	bool ok;

	if (has_bsn(s, n))
		return refuse(w, path, "holds a BSN-like number");
	if (has_run(s, n, "0123456789abcdefABCDEF", 32))
		return refuse(w, path,
			      "holds a long hexadecimal string (a pseudonym "
			      "or key?)");
	/* 32 bytes (a pseudonym, a key) are 43-44 characters of base64 */
	if (has_run(s, n,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/=",
		    44) ||
	    has_run(s, n,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-",
		    44))
		return refuse(w, path, "holds a long encoded string");
	switch (k) {
	case K_TOKEN:
		ok = all_in(s, n, "._:+|/-", 128);
		break;
	case K_LABEL:
		ok = all_in(s, n, " ._:+/-()%", 64);
		break;
	case K_URI:
		ok = n <= 512 && !memchr(s, ' ', n) && printable(s, n, 512) &&
		     (strncmp(s, "http://", 7) == 0 ||
		      strncmp(s, "https://", 8) == 0 ||
		      strncmp(s, "urn:", 4) == 0);
		break;
	case K_DATE:
		ok = is_date(s, n);
		break;
	case K_INSTANT:
		ok = is_instant(s, n);
		break;
	case K_TEXT:
		ok = printable(s, n, 2048);
		break;
	default:
		ok = false;
	}
	return ok ? 0 : refuse(w, path, "not a value of this field's kind");
}

static const struct rule *find_rule(const struct rule *rules, const char *path)
{
	size_t i;

	for (i = 0; rules[i].path; i++)
		if (strcmp(rules[i].path, path) == 0)
			return &rules[i];
	return NULL;
}

static int walk_value(struct walk *w, json_t *v, char *path, size_t plen,
		      int depth);

static int walk_object(struct walk *w, json_t *o, char *path, size_t plen,
		       int depth, bool top)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		size_t klen = strlen(key);
		int rc;

		/* Bundle entries' resources are checked by the caller */
		if (top && w->rules == bundle_rules &&
		    strcmp(key, "entry") == 0)
			continue;
		if (plen + klen + 2 >= PATH_MAX_LEN)
			return refuse(w, path, "nested too deep");
		if (plen)
			path[plen] = '.';
		memcpy(path + plen + (plen ? 1 : 0), key, klen + 1);
		rc = walk_value(w, v, path, plen + klen + (plen ? 1 : 0),
				depth + 1);
		path[plen] = '\0';
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_value(struct walk *w, json_t *v, char *path, size_t plen,
		      int depth)
{
	const struct rule *r;
	size_t i;

	if (depth > 16)
		return refuse(w, path, "nested too deep");
	if (json_is_object(v))
		return walk_object(w, v, path, plen, depth, false);
	if (json_is_array(v)) {
		if (plen + 3 >= PATH_MAX_LEN)
			return refuse(w, path, "nested too deep");
		memcpy(path + plen, "[]", 3);
		for (i = 0; i < json_array_size(v); i++) {
			int rc = walk_value(w, json_array_get(v, i), path,
					    plen + 2, depth + 1);

			if (rc)
				return rc;
		}
		path[plen] = '\0';
		return 0;
	}
	r = find_rule(w->rules, path);
	if (!r)
		return refuse(w, path, "not an allowed field");
	switch (r->kind) {
	case K_COUNT:
		return json_is_integer(v) && json_integer_value(v) >= 0
			   ? 0
			   : refuse(w, path, "not a count");
	case K_INT:
		return json_is_integer(v) ? 0
					  : refuse(w, path, "not an integer");
	case K_NUMBER:
		return json_is_number(v) ? 0 : refuse(w, path, "not a number");
	case K_BOOL:
		return json_is_boolean(v) ? 0
					  : refuse(w, path, "not a boolean");
	default:
		if (!json_is_string(v))
			return refuse(w, path, "not a string");
		return check_string(w, path, r->kind, json_string_value(v),
				    json_string_length(v));
	}
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int report_check(json_t *bundle, struct iza_error *err)
{
	char path[PATH_MAX_LEN] = "", where[64];
	struct walk w = {.rules = bundle_rules, .where = "Bundle", .err = err};
	json_t *entries, *e;
	size_t i;
	int rc;

	if (!json_is_object(bundle) || !str(bundle, "resourceType") ||
	    strcmp(str(bundle, "resourceType"), "Bundle") != 0)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "report",
				     "a report must be a FHIR Bundle");
	if (!str(bundle, "type") || strcmp(str(bundle, "type"), "collection"))
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "report",
				     "Bundle: type must be collection");
	rc = walk_object(&w, bundle, path, 0, 0, true);
	if (rc)
		return rc;
	entries = json_object_get(bundle, "entry");
	if (entries && !json_is_array(entries))
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "report",
				     "Bundle: entry must be an array");
	json_array_foreach(entries, i, e)
	{
		json_t *res = json_object_get(e, "resource");
		const char *rt = res ? str(res, "resourceType") : NULL;
		const char *k;
		json_t *v;

		snprintf(where, sizeof(where), "entry[%zu]", i);
		json_object_foreach(e, k, v)
		{
			if (strcmp(k, "fullUrl") && strcmp(k, "resource"))
				return iza_error_set(
				    err, -IZA_EINVALID, NULL, 0, "report",
				    "%s: %s: not an allowed field", where, k);
			if (strcmp(k, "fullUrl") == 0) {
				struct walk bw = {.rules = bundle_rules,
						  .where = where,
						  .err = err};

				snprintf(path, sizeof(path), "entry[].fullUrl");
				rc = walk_value(&bw, v, path, strlen(path), 1);
				path[0] = '\0';
				if (rc)
					return rc;
			}
		}
		if (!rt)
			return iza_error_set(err, -IZA_EINVALID, NULL, 0,
					     "report",
					     "%s: no resource with a "
					     "resourceType",
					     where);
		if (strcmp(rt, "Measure") == 0) {
			w.rules = measure_rules;
		} else if (strcmp(rt, "MeasureReport") == 0) {
			if (!str(res, "type") ||
			    strcmp(str(res, "type"), "summary") != 0)
				return iza_error_set(
				    err, -IZA_EINVALID, NULL, 0, "report",
				    "%s: only summary MeasureReports leave the "
				    "region (no subject-level results)",
				    where);
			w.rules = report_rules;
		} else {
			return iza_error_set(
			    err, -IZA_EINVALID, NULL, 0, "report",
			    "%s: a %.32s resource may not leave "
			    "the region (only Measure and "
			    "MeasureReport)",
			    where, rt);
		}
		snprintf(where, sizeof(where), "entry[%zu] (%s)", i, rt);
		w.where = where;
		path[0] = '\0';
		rc = walk_object(&w, res, path, 0, 0, false);
		if (rc)
			return rc;
	}
	return 0;
}
