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

int intake_start(const struct intake_config *c, struct intake **out,
		 struct iza_error *err);
int intake_port(const struct intake *in);
void intake_stop(struct intake *in); /* accepts NULL */

/*
 * The source of batch `id` in the batch log of intake directory dir, and
 * its quarantine file (INGEST_QFILE_MAX bytes; "" when nothing of it was
 * quarantined).  -IZA_ENOTFOUND for an unknown batch (or no batch log).
 */
int intake_batch_quarantine(const char *dir, const char *id, char *source,
			    size_t source_size, char *qfile,
			    struct iza_error *err);

#endif
