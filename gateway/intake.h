/*
 * intake.h - izagw's intake service: care providers push their exports over
 * HTTPS (libmicrohttpd with GnuTLS) instead of someone running izagw ingest.
 *
 * Every client presents a certificate of the trusted provider CA; its
 * subject serialNumber "AGB-nnnnnnnn" names the source, so a provider can
 * only ever submit as itself (there is no source in the URL).  Routes:
 *
 *   POST /ndjson   FHIR NDJSON (any resource types, Bulk Data style)
 *   POST /fhir/$import  the same, answered 202 + Content-Location at once
 *                  and ingested by a worker in arrival order; GET of the
 *                  batch answers 202 with X-Progress until it is done
 *   POST /fhir     one FHIR Bundle
 *   POST /hl7v2    HL7 v2 messages, XML encoding or ER7 text
 *   POST /cda      CDA R2 documents
 *   GET  /batches/{id}   the batch: state, counts, quarantine by reason
 *                  (only the source that sent it may read it)
 *   GET  /metrics  counters in the Prometheus text format (any certificate
 *                  of the providers' CA): batches per source and state,
 *                  records and quarantined records per source (and reason),
 *                  and what the metrics callback adds (izagw: the outbox)
 *   GET  /healthz  200 "ok"
 *
 * A body is streamed to a spool file in the data directory as it arrives
 * (memory stays bounded whatever the size), then ingested as one batch: one
 * store transaction, so the batch is stored whole or not at all; records
 * that fail are quarantined and counted, never their values in an answer.
 * A client that disconnects mid-upload leaves nothing (the spool file is
 * removed).  Header "X-IZA-Submission: ID" makes a submission idempotent:
 * the same source and id again answer with the first batch (200) and store
 * nothing.  Ingests run one at a time (the event store has one writer).
 */
#ifndef IZA_INTAKE_H
#define IZA_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ingest.h"
#include "iza_error.h"

#define INTAKE_MAX_BODY ((uint64_t)8 << 30) /* 8 GiB */
/* quarantined records listed in a batch answer, at most */
#define INTAKE_QUARANTINE_LIST 1000

/* Ingest the file at path for source (AGB code) with an adapter format;
 * called one at a time, from the service's threads. */
typedef int (*intake_ingest_fn)(void *ctx, const char *source, const char *path,
				const char *format, struct ingest_summary *sum,
				struct iza_error *err);

/* Append more metrics (Prometheus text) to f; called one at a time. */
typedef void (*intake_metrics_fn)(void *ctx, FILE *f);

struct intake_config {
	const char *bind;		/* IPv4, e.g. "127.0.0.1" */
	int port;			/* 0: any free port (intake_port) */
	const char *cert_pem, *key_pem; /* the service's certificate chain */
	const char *ca_pem;		/* the providers' CA */
	const char *dir; /* spool files and intake.db go here (0700) */
	/* where the ingests keep quarantined records (ingest.h), for the
	 * batches' lists of them; NULL: no lists */
	const char *quarantine_dir;
	uint64_t max_body; /* 0: INTAKE_MAX_BODY */
	intake_ingest_fn ingest;
	intake_metrics_fn metrics; /* may be NULL */
	void *ctx;
};

struct intake;

/* The service listening with TLS on c->bind:c->port (*out owned by the
 * caller, intake_stop).  0, or a negative code with *err. */
int intake_start(const struct intake_config *c, struct intake **out,
		 struct iza_error *err);
/* The same without a listener (cert_pem, key_pem, ca_pem, bind and port
 * unused): its batch log, spool files and $import worker, with requests
 * given by intake_handle() only (tests, the fuzz harness). */
int intake_open(const struct intake_config *c, struct intake **out,
		struct iza_error *err);
int intake_port(const struct intake *in); /* 0 without a listener */
void intake_stop(struct intake *in);	  /* accepts NULL */

/*
 * One request handled without sockets or TLS, as libmicrohttpd would hand
 * it to the service: a first call, the body in pieces of `chunk` bytes, a
 * last call, the end of the request.  Everything is borrowed for the call.
 */
struct intake_request {
	const char *method, *url; /* url: the path, without ?query */
	/* the subject serialNumber of the client's verified certificate
	 * ("AGB-nnnnnnnn"); NULL: no (trusted) certificate */
	const char *peer_serial;
	/* a request header (any case of name), NULL when absent; the
	 * answer is borrowed until the call returns.  header may be NULL. */
	const char *(*header)(void *ctx, const char *name);
	void *header_ctx;
	const char *body;
	size_t len;
	size_t chunk;	  /* 0: the body in one piece */
	size_t cut_after; /* >0: the client goes away once it has sent at
			     least this many bytes of the body (before the
			     last call) */
};

struct intake_response {
	unsigned status; /* 0: none (closed says why) */
	bool closed;	 /* the service closed the connection (MHD_NO) */
	char *body;	 /* heap, owned: intake_response_release */
	size_t len;
	char content_type[64];
	char location[64]; /* Content-Location, "" when none */
	char progress[16]; /* X-Progress, "" when none */
};

/* 0 with *out filled when the request got an answer; -IZA_EIO when it got
 * none (the client went away, or closed; or a handler that never answers,
 * which would leave a real client waiting).  *out is cleared first and is
 * to be released in either case. */
int intake_handle(struct intake *in, const struct intake_request *rq,
		  struct intake_response *out);
void intake_response_release(struct intake_response *r); /* accepts NULL */

/*
 * The source of batch `id` in the batch log of intake directory dir, and
 * its quarantine file (INGEST_QFILE_MAX bytes; "" when nothing of it was
 * quarantined).  -IZA_ENOTFOUND for an unknown batch (or no batch log).
 */
int intake_batch_quarantine(const char *dir, const char *id, char *source,
			    size_t source_size, char *qfile,
			    struct iza_error *err);

#endif
