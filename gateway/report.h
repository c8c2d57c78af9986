/*
 * report.h - FHIR R4 output of released KPI results: a Bundle (type
 * collection) holding one Measure per KPI definition and one MeasureReport
 * (type summary, DEQM summary profile fields) per KPI for the period.
 *
 * Only released values appear: a suppressed cell carries no count and no
 * score, but a data-absent-reason extension with value "masked".
 */
#ifndef IZA_REPORT_H
#define IZA_REPORT_H

#include <jansson.h>

#include "iza_error.h"
#include "kpi.h"

struct report_meta {
	const char *reporter_system; /* identifier system of the reporter */
	const char *reporter_value;  /* region code */
	const char *reporter_display;
	const char *measure_base;    /* canonical base URL for Measure.url */
	const char *kpi_version;     /* kpi_set->version */
	int64_t now;                 /* MeasureReport.date (unix seconds) */
};

/* Build the Bundle; *out is a new reference owned by the caller. */
int report_build(const struct kpi_set *ks, const struct kpi_results *r,
		 const struct report_meta *meta, json_t **out,
		 struct iza_error *err);

/* Released values as JSON in the `izagw kpis --format json` shape. */
json_t *kpi_results_to_json(const struct kpi_results *r);

#endif
