/*
 * report.h - FHIR R4 output of released KPI results: a Bundle (type
 * collection) holding one Measure per KPI definition and one MeasureReport
 * (type summary, DEQM summary profile fields) per KPI for the period.
 *
 * Only released values appear: a suppressed cell carries no count and no
 * score, but a data-absent-reason extension with value "masked"; a cell
 * without a value (not computable) carries the same extension with "unknown".
 * The exact shapes are documented at the top of report.c.
 *
 * Determinism: the same inputs (including meta->now) give the same JSON
 * tree and, through report_dumps, the same bytes.
 */
#ifndef IZA_REPORT_H
#define IZA_REPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "iza_error.h"
#include "kpi.h"

struct report_meta {
	const char *reporter_system; /* identifier system of the reporter */
	const char *reporter_value;  /* region code */
	const char *reporter_display;
	const char *measure_base; /* canonical base URL for Measure.url */
	const char *kpi_version;  /* kpi_set->version */
	int64_t now;		  /* MeasureReport.date (unix seconds) */
	/* Disclosure control the values went through, for the receiver
	 * (extension <measure_base>/StructureDefinition/disclosure-control on
	 * every MeasureReport); rules NULL: no extension. */
	const char *disclosure_rules; /* DISCLOSURE_RULES */
	int disclosure_k;
	bool disclosure_test_mode; /* must make a receiver refuse the report */
	int disclosure_rounding;   /* base of published counts, 0 none */
	const char *report_id;	   /* Bundle.id (the release's report id), or
				      NULL: no id */
};

/* Deterministic UUID (RFC 9562 version 8, SHA-256 of name) into out[37]:
 * the ids of MeasureReports and of releases. */
int report_name_uuid(const char *name, char out[37]);

/*
 * Build the Bundle; *out is a new reference owned by the caller (written
 * only on success).  r must have been through disclosure_apply; report_build
 * itself never emits a count or score of a cell that is suppressed or has no
 * value.  ks may be NULL: the Measures are then those of r's definitions.
 * meta->kpi_version may be NULL: ks->version is used.
 * Errors: -IZA_EUSAGE (missing meta field), -IZA_EINVALID (KPI id not a FHIR
 * id, duplicate KPI, negative count), -IZA_ETOOBIG (count beyond a FHIR
 * integer, over-long text), -IZA_ENOMEM, -IZA_ECRYPTO (hash).
 */
int report_build(const struct kpi_set *ks, const struct kpi_results *r,
		 const struct report_meta *meta, json_t **out,
		 struct iza_error *err);

/*
 * The bytes to sign and send: compact JSON, members in the order
 * report_build inserts them (resourceType first), decimals with up to 15
 * significant digits.  Returns a heap string the caller frees with free(),
 * or NULL when out of memory.
 */
char *report_dumps(const json_t *bundle);

/*
 * Released values as JSON in the `izagw kpis --format json` shape
 * (docs/cli.md; shape at the top of report.c).  Returns a new reference
 * owned by the caller, or NULL when out of memory.
 */
json_t *kpi_results_to_json(const struct kpi_results *r);

/* Flags for json_dumps of kpi_results_to_json: compact, sorted keys, up to
 * 15 significant digits (values are already rounded to 6 decimals). */
#define KPI_JSON_DUMP_FLAGS                                                    \
	(JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))

#endif
