/*
 * push.h - the uploader: sends the outbox's due reports to the plan-
 * monitoring database over HTTPS with the region's client certificate
 * (libcurl), POST /reports with the exact bytes and the detached JWS in the
 * IZA-JWS header.
 *
 * Outcome per report: 201 / 200 (stored, or the same report already there)
 * -> sent; 408, 429, 5xx or no answer at all (connection refused, timeout,
 * TLS failure) -> retry later (exponential backoff with jitter, never
 * before Retry-After); any other 4xx, 409 included -> failed, kept with the
 * status and the server's diagnostics for `izagw status`.  A report is
 * marked only after the server answered, so a kill at any moment leaves it
 * queued, and the receiver's deduplication on the report id makes a resend
 * harmless.
 */
#ifndef IZA_PUSH_H
#define IZA_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "iza_error.h"
#include "outbox.h"

struct push_config {
	const char *url;	/* https://host:port (no path) */
	const char *ca;		/* CA certificates for the server, PEM */
	const char *cert_chain; /* the region's certificate chain, PEM */
	const char *key;	/* its key */
	long timeout_s;		/* per request; 0: 60 */
	bool all;		/* send every queued report, due or not */
};

struct push_summary {
	int sent, retry, failed;
	int64_t next_attempt; /* earliest retry time, 0 none */
};

/* Send what is due at `now`.  Returns 0 (the summary says what happened)
 * or a negative code for an outbox or setup error. */
int push_run(struct outbox *ob, const struct push_config *pc, int64_t now,
	     struct push_summary *sum, struct iza_error *err);

#endif
