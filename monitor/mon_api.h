/*
 * mon_api.h - izamon's plan API and dashboard routes, apart from the HTTP
 * transport (mon_http.c does TLS, identifies the client and sends what
 * this returns).  Every route needs an enrolled certificate: an insurer
 * sees every plan, a region gateway only the plans that name its region.
 *
 *   GET  /plans                      the visible plans and their status
 *   GET  /plans/{id}                 milestones, evidence, notices
 *                                    (milestones.h, milestones_status)
 *   GET  /plans/{id}/indicators      every KPI value over time
 *   POST /plans/{id}/milestones/{m}/attestation
 *                                    {"outcome": "met"|"missed", "note"}:
 *                                    the coordinating insurer decides an
 *                                    effort milestone (201; 200 when it was
 *                                    decided before, nothing changes)
 *   GET  /notices[?plan=&insurer=]   payment notices (JSON)
 *   GET  /notices.csv[?plan=&insurer=]  the same as CSV
 *   GET  /dashboard, /dashboard/plans/{id}   HTML (mon_dashboard.h)
 *
 * Errors are FHIR OperationOutcomes with the HTTP status (docs/api.md).
 */
#ifndef IZA_MON_API_H
#define IZA_MON_API_H

#include <stddef.h>
#include <stdint.h>

#include "mon_store.h"
#include "plan.h"

struct mon_api_request {
	const char *method, *url;
	const char *role, *code; /* the identified client: "insurer"/"region" */
	const char *subject;	 /* its certificate subject */
	/* query argument key ("" when absent) */
	const char *(*arg)(void *ctx, const char *key);
	void *arg_ctx;
	const char *body;
	size_t len;
	int64_t now;
};

struct mon_api_response {
	int status;
	char *body; /* heap */
	size_t len;
	const char *content_type;
	char audit_event[32]; /* "" when nothing to audit beyond the read */
	char audit_what[256];
};

/* 1 when url is one of these routes (*out filled), 0 when it is not. */
int mon_api_handle(struct mon_store *s, const struct plan_catalogue *cat,
		   const struct mon_api_request *rq,
		   struct mon_api_response *out);

#endif
