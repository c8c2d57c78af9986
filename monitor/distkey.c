/*
 * distkey.c - reading the national distribution key (contract in
 * distkey.h).
 */
#include "distkey.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "pay_split.h"
#include "plan.h"

#define KE (-IZA_ECONFIG)

static int bad(struct iza_error *err, const char *file, const char *where,
	       const char *why)
{
	return iza_error_set(err, KE, file, 0, where, "%s", why);
}

static bool uzovi(const char *s)
{
	size_t i;

	for (i = 0; i < 4; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return s[4] == '\0';
}

static int by_insurer(const void *a, const void *b)
{
	return strcmp(((const struct distkey_share *)a)->insurer,
		      ((const struct distkey_share *)b)->insurer);
}

static int parse_share(const char *file, const char *w, const json_t *o,
		       struct distkey_share *sh, struct iza_error *err)
{
	static const char *const keys[] = {"insurer", "name", "share", NULL};
	const char *s;
	int64_t v = 0;
	int rc;

	if (!json_is_object(o))
		return bad(err, file, w, "a share is an object");
	rc = jutil_check_keys(file, w, o, keys, KE, err);
	if (rc == 0)
		rc = jutil_string(file, w, o, "insurer", true, &s, KE, err);
	if (rc == 0 && !uzovi(s))
		rc = bad(err, file, w, "insurer: a UZOVI code is four digits");
	if (rc == 0)
		memcpy(sh->insurer, s, 5);
	if (rc == 0)
		rc = jutil_string(file, w, o, "name", true, &s, KE, err);
	if (rc == 0)
		snprintf(sh->name, sizeof(sh->name), "%s", s);
	if (rc == 0)
		rc = plan_value_read(file, w, o, "share", true, &v, err);
	if (rc == 0 && (v <= 0 || v > DISTKEY_WHOLE))
		rc = bad(err, file, w, "share: must be above 0 and at most 1");
	sh->share = (uint64_t)v;
	return rc;
}

int distkey_parse(const char *file, const json_t *doc, struct distkey **out,
		  struct iza_error *err)
{
	static const char *const keys[] = {"format", "year",   "description",
					   "source", "shares", NULL};
	const json_t *arr, *y;
	const char *s;
	struct distkey *k;
	char w[IZA_ERR_FIELD_MAX];
	uint64_t total = 0;
	size_t i;
	int rc;

	*out = NULL;
	if (!json_is_object(doc))
		return bad(err, file, "(document)", "a key is an object");
	k = calloc(1, sizeof(*k));
	if (!k)
		return -IZA_ENOMEM;
	rc = jutil_check_keys(file, "", doc, keys, KE, err);
	if (rc == 0)
		rc = jutil_string(file, "", doc, "format", true, &s, KE, err);
	if (rc == 0 && strcmp(s, "iza-distribution-key/1") != 0)
		rc = bad(err, file, "format",
			 "must be \"iza-distribution-key/1\"");
	y = json_object_get(doc, "year");
	if (rc == 0 && (!json_is_integer(y) || json_integer_value(y) < 2000 ||
			json_integer_value(y) > 2999))
		rc = bad(err, file, "year", "a year from 2000 to 2999");
	if (rc == 0)
		k->year = (int)json_integer_value(y);
	arr = json_object_get(doc, "shares");
	if (rc == 0 && (!json_is_array(arr) || json_array_size(arr) == 0))
		rc = bad(err, file, "shares", "required non-empty list");
	if (rc == 0) {
		k->n = json_array_size(arr);
		k->shares = calloc(k->n, sizeof(*k->shares));
		if (!k->shares)
			rc = -IZA_ENOMEM;
	}
	for (i = 0; rc == 0 && i < k->n; i++) {
		snprintf(w, sizeof(w), "shares[%zu]", i);
		rc = parse_share(file, w, json_array_get(arr, i), &k->shares[i],
				 err);
		total += k->shares[i].share;
	}
	if (rc == 0 && total != DISTKEY_WHOLE) {
		char t[32];

		plan_value_format((int64_t)total, t);
		snprintf(w, sizeof(w), "the shares add up to %s, not 1", t);
		rc = bad(err, file, "shares", w);
	}
	if (rc == 0) {
		qsort(k->shares, k->n, sizeof(*k->shares), by_insurer);
		for (i = 1; i < k->n; i++)
			if (strcmp(k->shares[i - 1].insurer,
				   k->shares[i].insurer) == 0) {
				snprintf(w, sizeof(w),
					 "insurer %s is listed twice",
					 k->shares[i].insurer);
				rc = bad(err, file, "shares", w);
				break;
			}
	}
	if (rc) {
		distkey_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int distkey_load(const char *path, struct distkey **out, struct iza_error *err)
{
	json_t *doc;
	int rc = jutil_load_file(path, &doc, err);

	*out = NULL;
	if (rc < 0)
		return rc;
	rc = distkey_parse(path, doc, out, err);
	json_decref(doc);
	return rc;
}

void distkey_free(struct distkey *k)
{
	if (!k)
		return;
	free(k->shares);
	free(k);
}

int distkey_split(const struct distkey *k, int64_t amount, int64_t *parts,
		  struct iza_error *err)
{
	uint64_t *w = calloc(k->n, sizeof(*w));
	size_t i;
	int rc;

	if (!w)
		return -IZA_ENOMEM;
	for (i = 0; i < k->n; i++)
		w[i] = k->shares[i].share;
	rc = pay_split(amount, w, k->n, parts, err);
	free(w);
	return rc;
}
