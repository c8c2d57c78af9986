/*
 * mon_http.h - izamon's HTTPS service (libmicrohttpd with GnuTLS): TLS 1.2+
 * with client certificates verified against the configured CA.
 *
 *   POST /reports   body: the report's exact bytes (application/fhir+json);
 *                   header IZA-JWS: its detached signature.  Checked in this
 *                   order: a verified TLS client certificate (401), a body
 *                   within the cap (413), the signature, chain, allow-list
 *                   and claims (mon_verify.h; 400), the signer is the TLS
 *                   client (403), the region is enrolled with this
 *                   certificate and may report for the plan (403).  Then
 *                   stored: 201 {"id"}, 200 for the same report again, 409
 *                   for another report under its id.  Refusals carry a FHIR
 *                   OperationOutcome; every outcome goes to the audit log.
 *                   A stored report is evaluated against its plan at once
 *                   (milestones.h): a milestone it decides is recorded
 *                   with its payment notices before the reply.
 *   GET /reports, GET /reports/{id}: the stored reports (insurers: all; a
 *                   region: its own).
 *   /plans..., /notices..., /dashboard...: mon_api.h.
 *   GET /metrics    counters, Prometheus text format (mon_metrics.h); any
 *                   certificate of the trusted CA.
 *   GET /healthz    200 "ok".
 * Connections are served at once, each by a thread of its own (at most
 * MON_HTTP_MAX_CONNECTIONS; more wait in the listen queue): TLS, bodies and
 * signature checks run in parallel, the work on the store (storing,
 * evaluation, audit, reads) one request at a time, as the store is one
 * connection.  Requests log one JSON line each to stderr.
 */
#ifndef IZA_MON_HTTP_H
#define IZA_MON_HTTP_H

#include <stddef.h>

#include "iza_error.h"
#include "mon_store.h"
#include "plan.h"

#define MON_HTTP_MAX_BODY (16u << 20)
/* connections served at once (threads); a report body is held in memory
 * while it is checked, so this also bounds memory: 64 x 16 MiB at most */
#define MON_HTTP_MAX_CONNECTIONS 64

struct mon_http_config {
	const char *bind;     /* IPv4 address, e.g. "127.0.0.1" */
	int port;	      /* 0: any free port (mon_http_port) */
	const char *cert_pem; /* server certificate chain (PEM file) */
	const char *key_pem;  /* its key */
	const char *ca_pem;   /* CA certificates clients must chain to */
	size_t max_body;      /* 0: MON_HTTP_MAX_BODY */
	/* borrowed; used by the service's threads one at a time, and by
	 * nobody else in the process while the service runs */
	struct mon_store *store;
	/* borrowed: what stored plans refer to; NULL: no plan API (503)
	 * and no evaluation on arrival */
	const struct plan_catalogue *cat;
};

struct mon_http;

int mon_http_start(const struct mon_http_config *c, struct mon_http **out,
		   struct iza_error *err);
int mon_http_port(const struct mon_http *h);
void mon_http_stop(struct mon_http *h); /* accepts NULL */

#endif
