/*
 * indicator.h - what a stored report says about each KPI: one indicator per
 * MeasureReport of the report's Bundle (the gateway's shape, report.h):
 * the KPI id (the Measure URL's last segment, before "|version"), and
 * either the released measureScore of the main group, in millionths like
 * plan values (PLAN_SCALE), or the reason it is absent: the group's
 * data-absent-reason code ("masked": suppressed by disclosure control,
 * "unknown": not computable) or "missing" when the report holds no value
 * at all.  A suppressed value is never read as zero.
 *
 * Reports reach izamon verified (mon_verify.h), so a Bundle that is not in
 * this shape is an error here, not something to guess around.
 */
#ifndef IZA_INDICATOR_H
#define IZA_INDICATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

struct indicator {
	char kpi[64];
	bool has_value;
	int64_t value;	 /* millionths, when has_value */
	char absent[16]; /* "masked", "unknown", "missing"; "" with a value */
};

/*
 * Read the indicators of a report body (len bytes of a FHIR Bundle).
 * Returns the count (>= 0) with *out a heap array (caller frees), or
 * -IZA_EINVALID with err naming the entry and the reason, or -IZA_ENOMEM.
 */
int indicators_read(const char *body, size_t len, struct indicator **out,
		    struct iza_error *err);

#endif
