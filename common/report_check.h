/*
 * report_check.h - the allow-list check every report Bundle must pass
 * before it leaves the region (izagw report writes it, the outbox will
 * queue it) and when it arrives at izamon: only the fields the gateway's
 * own report builder writes, each with the kind of value it may hold.
 *
 *   - resources: the Bundle (type collection), Measure and MeasureReport,
 *     nothing else (a Patient, an Encounter, an Observation is refused);
 *   - MeasureReport.type summary only: no individual or subject-list
 *     results, no subject, no evaluatedResource;
 *   - every member on the allow-list, every value of its kind: codes and
 *     ids are short tokens, URLs are http(s)/urn, counts are integers >= 0,
 *     dates are dates; free text only in the Measure (title, description:
 *     from the KPI definitions) and the reporter's display (the region's
 *     name);
 *   - in every string, also allowed ones: no nine digits that pass the BSN
 *     11-test, no run of 32 or more hexadecimal digits (a pseudonym or key
 *     in hex), no 44 or more base64 (or base64url) characters in a row.
 * An error names the entry and the member path (never the value).
 */
#ifndef IZA_REPORT_CHECK_H
#define IZA_REPORT_CHECK_H

#include <jansson.h>

#include "iza_error.h"

/* 0 when bundle passes; -IZA_EINVALID with err naming entry and path.
 * bundle is not modified (jansson's iteration needs a non-const pointer). */
int report_check(json_t *bundle, struct iza_error *err);

#endif
