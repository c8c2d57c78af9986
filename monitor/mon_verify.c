/*
 * mon_verify.c - verification of a report and its signature (contract in
 * mon_verify.h).
 */
#include "mon_verify.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "period.h"
#include "report_check.h"

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The claims must be what the report says. */
static int claims_match(json_t *bundle, const struct jws_claims *c,
			size_t *nreports, struct iza_error *err)
{
	struct period p;
	struct iza_error perr = {0};
	json_t *e;
	size_t i;

	if (!str(bundle, "id") || strcmp(str(bundle, "id"), c->report_id))
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "id",
				     "the Bundle's id is not the signed report "
				     "id");
	if (period_parse(c->period, &p, &perr))
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "period",
				     "the signed period is not a reporting "
				     "period");
	*nreports = 0;
	json_array_foreach(json_object_get(bundle, "entry"), i, e)
	{
		json_t *r = json_object_get(e, "resource");
		json_t *per = json_object_get(r, "period");
		const char *who =
		    str(json_object_get(json_object_get(r, "reporter"),
					"identifier"),
			"value");

		if (!str(r, "resourceType") ||
		    strcmp(str(r, "resourceType"), "MeasureReport"))
			continue;
		++*nreports;
		if (!who || strcmp(who, c->region))
			return iza_error_set(err, -IZA_EINVALID, NULL, 0,
					     "reporter",
					     "entry %zu: the reporter is not "
					     "the signed region",
					     i);
		if (!str(per, "start") || !str(per, "end") ||
		    strcmp(str(per, "start"), p.first_day) ||
		    strcmp(str(per, "end"), p.last_day))
			return iza_error_set(err, -IZA_EINVALID, NULL, 0,
					     "period",
					     "entry %zu: the period is not the "
					     "signed period",
					     i);
	}
	return 0;
}

int mon_verify_report(const char *body, size_t len, const char *jws,
		      const char *ca_pem_path, int64_t now,
		      struct mon_verified *out, struct iza_error *err)
{
	struct mon_verified v;
	X509 *leaf = NULL;
	json_t *bundle = NULL;
	json_error_t je;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int rc;

	if (!body || !jws || !ca_pem_path || !out)
		return -IZA_EUSAGE;
	memset(&v, 0, sizeof(v));
	rc =
	    jws_verify(jws, body, len, ca_pem_path, now, &v.claims, &leaf, err);
	if (rc)
		return rc;
	if (X509_digest(leaf, EVP_sha256(), md, &mdlen) != 1) {
		rc = -IZA_ECRYPTO;
		goto out;
	}
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(v.signer_sha256 + 2 * i, 3, "%02x", md[i]);
	X509_NAME_oneline(X509_get_subject_name(leaf), v.signer_subject,
			  sizeof(v.signer_subject));
	bundle = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!bundle) {
		rc = iza_error_set(err, -IZA_EPARSE, NULL, 0, "report",
				   "the report is not JSON (line %d)", je.line);
		goto out;
	}
	rc = report_check(bundle, err);
	if (rc == 0)
		rc = claims_match(bundle, &v.claims, &v.measure_reports, err);
	if (rc == 0)
		*out = v;
out:
	json_decref(bundle);
	X509_free(leaf);
	return rc;
}
