/*
 * indicator.c - the KPI values of a stored report (contract in indicator.h).
 */
#include "indicator.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

#define URL_DATA_ABSENT                                                        \
	"http://hl7.org/fhir/StructureDefinition/data-absent-reason"

/* Values beyond this many units cannot be held in millionths exactly. */
#define VALUE_MAX 9.0e12

static int bad(struct iza_error *err, size_t entry, const char *why)
{
	char field[32];

	snprintf(field, sizeof(field), "entry[%zu]", entry);
	return iza_error_set(err, -IZA_EINVALID, NULL, 0, field, "%s", why);
}

/* "https://.../Measure/<id>|<version>" -> id */
static int kpi_of(const char *measure, char out[64])
{
	const char *slash = strrchr(measure, '/');
	const char *bar;
	size_t n;

	if (!slash)
		return -1;
	slash++;
	bar = strchr(slash, '|');
	n = bar ? (size_t)(bar - slash) : strlen(slash);
	if (n == 0 || n >= 64)
		return -1;
	memcpy(out, slash, n);
	out[n] = '\0';
	return 0;
}

/* The data-absent-reason code of a group, or NULL. */
static const char *absent_code(const json_t *group)
{
	const json_t *ext = json_object_get(group, "extension"), *e;
	size_t i;

	json_array_foreach(ext, i, e)
	{
		const char *url = json_string_value(json_object_get(e, "url"));

		if (url && strcmp(url, URL_DATA_ABSENT) == 0)
			return json_string_value(
			    json_object_get(e, "valueCode"));
	}
	return NULL;
}

static int read_one(const json_t *mr, size_t entry, struct indicator *ind,
		    struct iza_error *err)
{
	const char *measure = json_string_value(json_object_get(mr, "measure"));
	const json_t *group = json_array_get(json_object_get(mr, "group"), 0);
	const json_t *score, *v;
	const char *code;
	double d;

	memset(ind, 0, sizeof(*ind));
	if (!measure || kpi_of(measure, ind->kpi))
		return bad(err, entry, "a MeasureReport without a Measure URL");
	score = json_object_get(group, "measureScore");
	v = json_object_get(score, "value");
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n > (json_int_t)VALUE_MAX || n < -(json_int_t)VALUE_MAX)
			return bad(err, entry, "a measureScore out of range");
		ind->value = (int64_t)n * PLAN_SCALE;
		ind->has_value = true;
		return 0;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (!isfinite(d) || fabs(d) > VALUE_MAX)
			return bad(err, entry, "a measureScore out of range");
		/* the gateway writes at most six decimals (report.h) */
		ind->value = (int64_t)llround(d * PLAN_SCALE);
		ind->has_value = true;
		return 0;
	}
	if (score)
		return bad(err, entry, "a measureScore without a value");
	code = absent_code(group);
	snprintf(ind->absent, sizeof(ind->absent), "%s",
		 code && *code ? code : "missing");
	return 0;
}

int indicators_read(const char *body, size_t len, struct indicator **out,
		    struct iza_error *err)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	const json_t *entries, *e;
	struct indicator *arr = NULL;
	size_t i, n = 0;
	int rc = 0;

	*out = NULL;
	if (!doc)
		return iza_error_set(err, -IZA_EINVALID, NULL, je.line, NULL,
				     "the report is not valid JSON");
	entries = json_object_get(doc, "entry");
	if (!json_is_array(entries)) {
		json_decref(doc);
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "entry",
				     "the report has no entries");
	}
	arr = calloc(json_array_size(entries) + 1, sizeof(*arr));
	if (!arr) {
		json_decref(doc);
		return -IZA_ENOMEM;
	}
	json_array_foreach(entries, i, e)
	{
		const json_t *r = json_object_get(e, "resource");
		const char *type =
		    json_string_value(json_object_get(r, "resourceType"));

		if (!type || strcmp(type, "MeasureReport") != 0)
			continue;
		rc = read_one(r, i, &arr[n], err);
		if (rc)
			break;
		n++;
	}
	json_decref(doc);
	if (rc) {
		free(arr);
		return rc;
	}
	*out = arr;
	return (int)n;
}
