/*
 * intake.c - izagw's HTTPS intake service (contract in intake.h).
 *
 * Decisions:
 *  - One thread per connection (MHD_USE_THREAD_PER_CONNECTION): a slow
 *    multi-gigabyte upload does not hold up the others; the ingests
 *    themselves are serialised by one mutex (ingest_mu), intake.db is
 *    guarded by another (mu), so polling a batch never waits for an ingest.
 *  - $import answers 202 once the body is spooled; one worker thread
 *    ingests the queued batches in arrival order.  The queue is the batch
 *    log itself (state queued, the spool file queued-ID), so it survives a
 *    restart: a batch cut off mid-ingest was rolled back and is queued
 *    again.
 *  - Every upload reserves its row in the batch log (state receiving) when
 *    it starts, in the same critical section as the check for an earlier
 *    submission with its X-IZA-Submission: the same submission on two
 *    connections at once is stored once (the second one gets 409).
 *  - The body goes to a spool file (mode 0600) as it arrives and is ingested
 *    when complete; the adapters read it like any file, so an upload is
 *    exactly what `izagw ingest` of the same bytes would store.
 */
#include "intake.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "input.h"
#include "quarantine.h"
#include "https.h"

struct intake {
	struct https_server srv;
	char dir[1024];
	sqlite3 *db;
	char quarantine_dir[1024]; /* "" none */
	pthread_mutex_t mu;	   /* intake.db */
	pthread_mutex_t ingest_mu; /* one ingest at a time */
	/* the $import worker: queued batches, one after the other */
	pthread_t worker;
	pthread_cond_t work;
	bool worker_started, stop;
	bool queued; /* a batch was queued since the worker last looked */
	intake_ingest_fn ingest;
	intake_metrics_fn metrics;
	void *ctx;
	uint64_t max_body;
	int port;
};

struct upload {
	int fd; /* the spool file while the body arrives, else -1 */
	char path[1100];
	uint64_t bytes;
	bool too_big, failed_write;
	const char *format;
	bool async;    /* $import: 202 now, ingested by the worker */
	bool reserved; /* its row is in the batch log (state receiving) */
	/* a submission seen before: its answer, given once the body has
	 * been read (and discarded), so the client is not cut off mid-send */
	char *earlier, earlier_state[16];
	bool conflict; /* the same submission arrives on another connection */
	/* a refusal given once a small body has been read (refuse()) */
	unsigned refuse_status;
	const char *refuse_code;
	char refuse_why[200];
	char id[37];
	char source[16], submission[80];
};

static const struct {
	const char *url, *format;
	bool async;
} routes[] = {{"/ndjson", "fhir-ndjson", false},
	      {"/fhir/$import", "fhir-ndjson", true},
	      {"/fhir", "fhir-bundle", false},
	      {"/hl7v2", "auto", false},
	      {"/cda", "cda", false}};

static const char schema_sql[] = "CREATE TABLE IF NOT EXISTS batches("
				 " id TEXT PRIMARY KEY,"
				 " source TEXT NOT NULL,"
				 " submission TEXT,"
				 " format TEXT NOT NULL,"
				 " received BIGINT NOT NULL,"
				 " state TEXT NOT NULL,"
				 " result TEXT NOT NULL,"
				 " quarantine TEXT,"
				 " UNIQUE (source, submission));";

/* ---- requests and answers ---- */

/*
 * One request as the handlers see it: on a libmicrohttpd connection, or
 * (mhd NULL) one given to intake_handle(), whose answer is kept in *resp.
 * Everything the handlers learn of a request and every answer they give
 * goes through the four functions below.
 */
struct exchange {
	struct MHD_Connection *mhd;
	const struct intake_request *rq; /* when mhd is NULL */
	struct intake_response *resp;	 /* when mhd is NULL */
};

/* The verified client certificate (tls_peer_get), or false with *why. */
static bool peer_get(struct exchange *c, struct tls_peer *peer,
		     const char **why)
{
	if (c->mhd)
		return tls_peer_get(c->mhd, peer, why);
	memset(peer, 0, sizeof(*peer));
	if (!c->rq->peer_serial) {
		*why = "a client certificate is required";
		return false;
	}
	snprintf(peer->serial, sizeof(peer->serial), "%s", c->rq->peer_serial);
	return true;
}

/* A request header (borrowed, valid during the request), NULL if absent. */
static const char *header(struct exchange *c, const char *name)
{
	if (c->mhd)
		return MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
						   name);
	return c->rq->header ? c->rq->header(c->rq->header_ctx, name) : NULL;
}

/* Queue the answer: len bytes of heap text t (taken over, also on
 * failure), more headers name, value, ..., NULL (may be NULL); one answer
 * per request, like MHD_queue_response. */
static enum MHD_Result send_answer(struct exchange *c, unsigned status,
				   const char *ctype, char *t, size_t len,
				   const char *const *headers)
{
	struct intake_response *r = c->resp;

	if (c->mhd)
		return https_send_headers(c->mhd, status, ctype, t, len,
					  headers);
	if (!t)
		return MHD_NO;
	if (r->status) {
		free(t);
		return MHD_NO;
	}
	r->status = status;
	r->body = t;
	r->len = len;
	snprintf(r->content_type, sizeof(r->content_type), "%s", ctype);
	for (; headers && headers[0] && headers[1]; headers += 2)
		if (strcmp(headers[0], "Content-Location") == 0)
			snprintf(r->location, sizeof(r->location), "%s",
				 headers[1]);
		else if (strcmp(headers[0], "X-Progress") == 0)
			snprintf(r->progress, sizeof(r->progress), "%s",
				 headers[1]);
	return MHD_YES;
}

static enum MHD_Result send_at(struct exchange *c, unsigned status,
			       const char *ctype, char *t, size_t len,
			       const char *location)
{
	const char *const h[] = {"Content-Location", location, NULL};

	return send_answer(c, status, ctype, t, len, location ? h : NULL);
}

static enum MHD_Result send_text(struct exchange *c, unsigned status,
				 const char *ctype, char *t,
				 const char *location)
{
	return send_at(c, status, ctype, t, t ? strlen(t) : 0, location);
}

/* A FHIR OperationOutcome (https_outcome). */
static enum MHD_Result outcome(struct exchange *c, unsigned status,
			       const char *code, const char *why)
{
	json_t *o = https_outcome_json(code, why);
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return send_text(c, status, "application/fhir+json", t, NULL);
}

/* ---- batches ---- */

static void new_id(char out[37])
{
	unsigned char b[16];
	int i, k = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b)); /* then ids still differ by time */
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		snprintf(out + k, 3, "%02x", b[i]);
		k += 2;
	}
}

static json_t *summary_json(const struct ingest_summary *s)
{
	json_t *reasons = json_object();
	int r;

	for (r = 0; r < QR_COUNT_; r++)
		if (s->by_reason[r])
			json_object_set_new(
			    reasons,
			    quarantine_reason_name((enum quarantine_reason)r),
			    json_integer(s->by_reason[r]));
	return json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:s}", "records",
	    (json_int_t)s->records, "patients", (json_int_t)s->patients,
	    "events_stored", (json_int_t)s->events_stored, "duplicates",
	    (json_int_t)s->duplicates, "updated", (json_int_t)s->updated,
	    "stale", (json_int_t)s->stale, "excluded",
	    (json_int_t)(s->excluded_type + s->excluded_class), "quarantined",
	    (json_int_t)s->quarantined, "quarantined_by_reason", reasons,
	    "bytes", (json_int_t)s->bytes, "sha256", s->sha256);
}

/* The first INTAKE_QUARANTINE_LIST quarantined records of a batch, by
 * position and reason only (the file also keeps the records themselves:
 * those never leave the region's data directory). */
static json_t *quarantine_list(const struct intake *in, const char *qfile,
			       bool *truncated)
{
	json_t *list = json_array();
	char path[1200], *line = NULL;
	size_t cap = 0;
	FILE *f;

	*truncated = false;
	if (!in->quarantine_dir[0] || !qfile || !qfile[0] || !list)
		return list;
	snprintf(path, sizeof(path), "%s/%s", in->quarantine_dir, qfile);
	f = fopen(path, "r");
	if (!f) { /* replayed since: the file kept its records */
		snprintf(path, sizeof(path), "%s/%s.replayed",
			 in->quarantine_dir, qfile);
		f = fopen(path, "r");
	}
	while (f && getline(&line, &cap, f) > 0) {
		json_t *q = json_loads(line, 0, NULL);

		if (json_array_size(list) == INTAKE_QUARANTINE_LIST) {
			*truncated = true;
			json_decref(q);
			break;
		}
		if (json_is_object(q))
			json_array_append_new(
			    list,
			    json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?}", "line",
				      json_object_get(q, "line"), "entry",
				      json_object_get(q, "entry"), "reason",
				      json_object_get(q, "reason"), "field",
				      json_object_get(q, "field"), "text",
				      json_object_get(q, "text")));
		json_decref(q);
	}
	free(line);
	if (f)
		fclose(f);
	return list;
}

/* The stored batch as its JSON answer (and its state, 16 bytes, when
 * state is not NULL), or NULL when there is none. */
static char *batch_get_state(struct intake *in, const char *where,
			     const char *a, const char *b, char *state)
{
	sqlite3_stmt *s = NULL;
	char *out = NULL;
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT id, source, submission, format, received, state, "
		 "result, quarantine FROM batches WHERE %s",
		 where);
	if (sqlite3_prepare_v2(in->db, sql, -1, &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(s, 1, a, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, b, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *sub = (const char *)sqlite3_column_text(s, 2);
		json_t *res = json_loads(
		    (const char *)sqlite3_column_text(s, 6), 0, NULL);
		json_t *o;
		bool more = false;

		/* res is complete before json_pack takes it over (and frees
		 * it, when packing fails) */
		if (json_is_object(res) &&
		    json_integer_value(json_object_get(res, "quarantined"))) {
			json_object_set_new(
			    res, "quarantined_records",
			    quarantine_list(
				in, (const char *)sqlite3_column_text(s, 7),
				&more));
			if (more)
				json_object_set_new(
				    res, "quarantined_records_truncated",
				    json_true());
		}
		o = json_pack(
		    "{s:s,s:s,s:s?,s:s,s:I,s:s,s:o}", "id",
		    (const char *)sqlite3_column_text(s, 0), "source",
		    (const char *)sqlite3_column_text(s, 1), "submission", sub,
		    "format", (const char *)sqlite3_column_text(s, 3),
		    "received", (json_int_t)sqlite3_column_int64(s, 4), "state",
		    (const char *)sqlite3_column_text(s, 5), "result",
		    res ? res : json_null());
		out = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (state)
			snprintf(state, 16, "%s",
				 (const char *)sqlite3_column_text(s, 5));
	}
	sqlite3_finalize(s);
	return out;
}

static char *batch_get(struct intake *in, const char *where, const char *a,
		       const char *b)
{
	return batch_get_state(in, where, a, b, NULL);
}

/* A batch's answer: 200 when it is done (stored or failed), 202 with
 * X-Progress while a $import batch waits or is ingested (Bulk Data
 * status polling). */
static enum MHD_Result send_batch(struct exchange *c, char *answer,
				  const char *state, unsigned done_status,
				  const char *location)
{
	bool pending = strcmp(state, "receiving") == 0 ||
		       strcmp(state, "queued") == 0 ||
		       strcmp(state, "ingesting") == 0;
	const char *const h[] = {"Content-Location",
				 location ? location : "",
				 "X-Progress",
				 state,
				 "Retry-After",
				 "1",
				 NULL};

	if (pending)
		return send_answer(c, MHD_HTTP_ACCEPTED, "application/json",
				   answer, strlen(answer),
				   location ? h : h + 2);
	return send_at(c, done_status, "application/json", answer,
		       strlen(answer), location);
}

static int batch_put(struct intake *in, const char *id, const struct upload *u,
		     const char *state, json_t *result, const char *quarantine)
{
	sqlite3_stmt *s = NULL;
	char *text = json_dumps(result, JSON_COMPACT);
	int rc = -IZA_ESTORE;

	if (text && sqlite3_prepare_v2(
			in->db,
			"INSERT INTO batches(id, source, submission, format, "
			"received, state, result, quarantine) VALUES (?1, ?2, "
			"?3, ?4, ?5, ?6, ?7, ?8)",
			-1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, u->source, -1, SQLITE_TRANSIENT);
		if (u->submission[0])
			sqlite3_bind_text(s, 3, u->submission, -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, 3);
		sqlite3_bind_text(s, 4, u->format, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)time(NULL));
		sqlite3_bind_text(s, 6, state, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 7, text, -1, SQLITE_TRANSIENT);
		if (quarantine && quarantine[0])
			sqlite3_bind_text(s, 8, quarantine, -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, 8);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -IZA_ESTORE;
	}
	sqlite3_finalize(s);
	free(text);
	return rc;
}

/* A batch's new state (and result and quarantine file, when given). */
static int batch_update(struct intake *in, const char *id, const char *state,
			json_t *result, const char *quarantine)
{
	sqlite3_stmt *s = NULL;
	char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;
	int rc = -IZA_ESTORE;

	if (sqlite3_prepare_v2(in->db,
			       "UPDATE batches SET state = ?2, result = "
			       "coalesce(?3, result), quarantine = ?4 WHERE "
			       "id = ?1",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, state, -1, SQLITE_TRANSIENT);
		if (text)
			sqlite3_bind_text(s, 3, text, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, 3);
		if (quarantine && quarantine[0])
			sqlite3_bind_text(s, 4, quarantine, -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, 4);
		if (sqlite3_step(s) == SQLITE_DONE)
			rc = 0;
	}
	sqlite3_finalize(s);
	free(text);
	return rc;
}

/* A reservation whose upload never completed: gone, as if never sent. */
static void batch_drop(struct intake *in, const char *id)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(in->db,
			       "DELETE FROM batches WHERE id = ?1 AND state = "
			       "'receiving'",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_step(s);
	}
	sqlite3_finalize(s);
}

/* One ingest at a time, and afterwards what it freed goes back to the
 * system.  Each connection's thread ingests its own upload, so with glibc
 * every one of them (up to 8 per core) keeps an arena holding the freed
 * working set of the ingest it ran: 20 uploads at once took 63 MB where one
 * takes 29 (bench/README.md, "Load"). */
static int run_ingest(struct intake *in, const char *source, const char *path,
		      const char *format, struct ingest_summary *sum,
		      struct iza_error *err)
{
	int rc;

	pthread_mutex_lock(&in->ingest_mu);
	rc = in->ingest(in->ctx, source, path, format, sum, err);
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	pthread_mutex_unlock(&in->ingest_mu);
	return rc;
}

/* ---- the $import worker ---- */

static void queued_path(const struct intake *in, const char *id,
			char path[1100])
{
	snprintf(path, 1100, "%s/queued-%s", in->dir, id);
}

/* Ingest one queued batch: 1 done, 0 none queued. */
static int work_one(struct intake *in)
{
	struct ingest_summary sum;
	struct iza_error err = {0};
	char id[40] = "", source[16] = "", format[16] = "", path[1100];
	sqlite3_stmt *s = NULL;
	json_t *result;
	int rc;

	pthread_mutex_lock(&in->mu);
	if (sqlite3_prepare_v2(in->db,
			       "SELECT id, source, format FROM batches WHERE "
			       "state = 'queued' ORDER BY received, rowid "
			       "LIMIT 1",
			       -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		snprintf(id, sizeof(id), "%s", sqlite3_column_text(s, 0));
		snprintf(source, sizeof(source), "%s",
			 sqlite3_column_text(s, 1));
		snprintf(format, sizeof(format), "%s",
			 sqlite3_column_text(s, 2));
	}
	sqlite3_finalize(s);
	if (id[0])
		batch_update(in, id, "ingesting", NULL, NULL);
	pthread_mutex_unlock(&in->mu);
	if (!id[0])
		return 0;
	queued_path(in, id, path);
	memset(&sum, 0, sizeof(sum));
	rc = run_ingest(in, source, path, format, &sum, &err);
	result = rc == 0 ? summary_json(&sum)
			 : json_pack("{s:s}", "error",
				     err.text[0] ? err.text : "ingest failed");
	pthread_mutex_lock(&in->mu);
	batch_update(in, id, rc == 0 ? "stored" : "failed", result,
		     rc == 0 ? sum.quarantine_file : NULL);
	/* gone before anyone can see the batch done (then the upload is
	 * left nowhere in the intake directory) */
	unlink(path);
	pthread_mutex_unlock(&in->mu);
	json_decref(result);
	return 1;
}

static void *worker_main(void *arg)
{
	struct intake *in = arg;

	for (;;) {
		bool stop;

		/* queued is set under mu by whoever queues a batch, so one
		 * queued while work_one found none is not missed */
		pthread_mutex_lock(&in->mu);
		while (!in->stop && !in->queued)
			pthread_cond_wait(&in->work, &in->mu);
		stop = in->stop;
		in->queued = false;
		pthread_mutex_unlock(&in->mu);
		if (stop)
			break;
		while (work_one(in)) {
			pthread_mutex_lock(&in->mu);
			stop = in->stop;
			pthread_mutex_unlock(&in->mu);
			if (stop)
				return NULL;
		}
	}
	return NULL;
}

/* After a restart: a batch cut off mid-ingest (its store transaction rolled
 * back) is queued again; one whose spool file is gone has failed. */
static void recover_queue(struct intake *in)
{
	sqlite3_stmt *s = NULL;
	char path[1100];
	DIR *d;
	struct dirent *e;

	/* uploads cut off by the stop: never stored, never answered */
	sqlite3_exec(in->db, "DELETE FROM batches WHERE state = 'receiving'",
		     NULL, NULL, NULL);
	d = opendir(in->dir);
	while (d && (e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "spool-", 6) == 0) {
			snprintf(path, sizeof(path), "%s/%s", in->dir,
				 e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);

	sqlite3_exec(in->db,
		     "UPDATE batches SET state = 'queued' WHERE state = "
		     "'ingesting'",
		     NULL, NULL, NULL);
	if (sqlite3_prepare_v2(in->db,
			       "SELECT id FROM batches WHERE state = 'queued'",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		json_t *r;

		queued_path(in, id, path);
		if (access(path, F_OK) == 0)
			continue;
		r = json_pack("{s:s}", "error",
			      "the queued upload was lost; send it again");
		batch_update(in, id, "failed", r, NULL);
		json_decref(r);
	}
	sqlite3_finalize(s);
}

/* ---- the handler ---- */

/* "AGB-nnnnnnnn" -> "nnnnnnnn" */
static bool agb_of(const char *serial, char out[16])
{
	size_t i;

	if (strncmp(serial, "AGB-", 4) != 0 || strlen(serial) != 12)
		return false;
	for (i = 4; i < 12; i++)
		if (serial[i] < '0' || serial[i] > '9')
			return false;
	memcpy(out, serial + 4, 9);
	return true;
}

static void drop_spool(struct upload *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
	}
	if (u->path[0]) {
		unlink(u->path);
		u->path[0] = '\0';
	}
}

/* An X-IZA-Submission id: 1 to size - 1 printable ASCII characters (it
 * is echoed in JSON answers, which need valid UTF-8). */
static bool submission_ok(const char *sub, size_t size)
{
	size_t i;

	for (i = 0; sub[i]; i++)
		if (i + 1 >= size || (unsigned char)sub[i] < 0x20 ||
		    (unsigned char)sub[i] > 0x7e)
			return false;
	return i > 0;
}

/* Refuse a POST.  A body of at most INTAKE_REFUSE_READ bytes (by its
 * Content-Length) is read and discarded first, so that the client, still
 * sending, gets the answer instead of a reset connection; a larger or
 * unannounced one is answered at once (nobody has to accept gigabytes
 * from a client it refuses). */
#define INTAKE_REFUSE_READ (1u << 20)

static enum MHD_Result refuse(struct exchange *c, struct upload *u,
			      unsigned status, const char *code,
			      const char *why, bool *answered)
{
	const char *cl = header(c, "Content-Length");
	char *end = NULL;
	unsigned long long n = cl ? strtoull(cl, &end, 10) : 0;

	if (!cl || !end || *end || n > INTAKE_REFUSE_READ) {
		*answered = true;
		return outcome(c, status, code, why);
	}
	u->refuse_status = status;
	u->refuse_code = code;
	snprintf(u->refuse_why, sizeof(u->refuse_why), "%s", why);
	*answered = false;
	return MHD_YES;
}

/* First call of a POST: who, what, idempotency, the spool file.  Returns
 * MHD_YES to receive the body, or the answer already queued (*answered). */
static enum MHD_Result begin_upload(struct intake *in, struct exchange *c,
				    struct upload *u, const char *format,
				    bool *answered)
{
	struct tls_peer peer;
	const char *why = NULL, *sub;
	char *existing, state[16];

	*answered = true;
	if (!peer_get(c, &peer, &why))
		return refuse(c, u, MHD_HTTP_UNAUTHORIZED, "security", why,
			      answered);
	if (!agb_of(peer.serial, u->source))
		return refuse(c, u, MHD_HTTP_FORBIDDEN, "security",
			      "the certificate names no AGB code "
			      "(serialNumber AGB-nnnnnnnn)",
			      answered);
	u->format = format;
	sub = header(c, "X-IZA-Submission");
	if (sub) {
		if (!submission_ok(sub, sizeof(u->submission)))
			return refuse(c, u, MHD_HTTP_BAD_REQUEST, "invalid",
				      "X-IZA-Submission: 1 to 79 printable "
				      "ASCII characters",
				      answered);
		snprintf(u->submission, sizeof(u->submission), "%s", sub);
	}
	/* the check for an earlier submission and the reservation of this
	 * one are one step, so two connections sending the same submission
	 * at once cannot both store it */
	new_id(u->id);
	pthread_mutex_lock(&in->mu);
	existing = u->submission[0]
		       ? batch_get_state(in, "source = ?1 AND submission = ?2",
					 u->source, u->submission, state)
		       : NULL;
	if (!existing) {
		json_t *empty = json_object();

		u->reserved =
		    batch_put(in, u->id, u, "receiving", empty, NULL) == 0;
		json_decref(empty);
	}
	pthread_mutex_unlock(&in->mu);
	if (existing) {
		/* answered at the end of the body (handler) */
		u->conflict = strcmp(state, "receiving") == 0;
		if (u->conflict)
			free(existing);
		else
			u->earlier = existing;
		snprintf(u->earlier_state, sizeof(u->earlier_state), "%s",
			 state);
		*answered = false;
		return MHD_YES;
	}
	if (!u->reserved)
		return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			       "cannot record the batch");
	snprintf(u->path, sizeof(u->path), "%s/spool-XXXXXX", in->dir);
	u->fd = mkstemp(u->path);
	if (u->fd < 0) {
		u->path[0] = '\0';
		return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			       "cannot spool the upload");
	}
	*answered = false;
	return MHD_YES;
}

/* $import: the complete body becomes a queued batch for the worker; the
 * answer is 202 with the batch to poll. */
static enum MHD_Result queue_upload(struct intake *in, struct exchange *c,
				    struct upload *u, const char *id,
				    const char *location)
{
	char path[1100], *answer = NULL;
	json_t *empty = json_object();
	int rc;

	queued_path(in, id, path);
	if (rename(u->path, path) != 0) {
		json_decref(empty);
		drop_spool(u);
		return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			       "cannot queue the upload");
	}
	u->path[0] = '\0';
	pthread_mutex_lock(&in->mu);
	rc = batch_update(in, id, "queued", empty, NULL);
	u->reserved = false; /* the row is the queue's now */
	if (rc == 0) {
		answer =
		    batch_get(in, "id = ?1 AND source = ?2", id, u->source);
		in->queued = true;
		pthread_cond_signal(&in->work);
	}
	pthread_mutex_unlock(&in->mu);
	json_decref(empty);
	if (!answer) {
		unlink(path);
		return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			       "the batch was not recorded");
	}
	return send_batch(c, answer, "queued", MHD_HTTP_ACCEPTED, location);
}

static enum MHD_Result finish_upload(struct intake *in, struct exchange *c,
				     struct upload *u)
{
	struct ingest_summary sum;
	struct iza_error err = {0};
	char id[37], location[64], *answer;
	json_t *result;
	int rc;

	if (u->too_big || u->failed_write) {
		drop_spool(u);
		return u->too_big
			   ? outcome(c, MHD_HTTP_CONTENT_TOO_LARGE, "too-long",
				     "the upload is larger than the "
				     "limit; nothing was stored")
			   : outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "exception", "cannot spool the upload");
	}
	if (close(u->fd) != 0) {
		u->fd = -1;
		drop_spool(u);
		return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			       "cannot spool the upload");
	}
	u->fd = -1;
	snprintf(id, sizeof(id), "%s", u->id);
	snprintf(location, sizeof(location), "/batches/%s", id);
	if (u->async)
		return queue_upload(in, c, u, id, location);
	memset(&sum, 0, sizeof(sum));
	rc = run_ingest(in, u->source, u->path, u->format, &sum, &err);
	pthread_mutex_lock(&in->mu);
	if (rc == 0)
		result = summary_json(&sum);
	else
		result = json_pack("{s:s}", "error",
				   err.text[0] ? err.text : "ingest failed");
	if (batch_update(in, id, rc == 0 ? "stored" : "failed", result,
			 rc == 0 ? sum.quarantine_file : NULL) != 0)
		rc = rc ? rc : -IZA_ESTORE;
	u->reserved = false; /* recorded: it stands */
	answer = batch_get(in, "id = ?1 AND source = ?2", id, u->source);
	pthread_mutex_unlock(&in->mu);
	json_decref(result);
	drop_spool(u);
	if (!answer)
		return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			       "the batch was not recorded");
	if (rc) {
		free(answer);
		return outcome(c, MHD_HTTP_UNPROCESSABLE_CONTENT, "processing",
			       err.text[0] ? err.text
					   : "nothing of the upload was "
					     "stored");
	}
	return send_text(c, MHD_HTTP_CREATED, "application/json", answer,
			 location);
}

static enum MHD_Result get_batch(struct intake *in, struct exchange *c,
				 const char *id)
{
	struct tls_peer peer;
	const char *why = NULL;
	char source[16], state[16], *answer;

	if (!peer_get(c, &peer, &why))
		return outcome(c, MHD_HTTP_UNAUTHORIZED, "security", why);
	if (!agb_of(peer.serial, source))
		return outcome(c, MHD_HTTP_FORBIDDEN, "security",
			       "the certificate names no AGB code");
	pthread_mutex_lock(&in->mu);
	/* another source's batch does not exist for this one */
	answer =
	    batch_get_state(in, "id = ?1 AND source = ?2", id, source, state);
	pthread_mutex_unlock(&in->mu);
	if (!answer)
		return outcome(c, MHD_HTTP_NOT_FOUND, "not-found",
			       "no such batch");
	return send_batch(c, answer, state, MHD_HTTP_OK, NULL);
}

/* rows of sql (label values..., count) as lines "name{labels} count" */
static void metric_rows(FILE *f, sqlite3 *db, const char *name,
			const char *help, const char *const *labels,
			const char *sql)
{
	sqlite3_stmt *s = NULL;
	int i, n = 0;

	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	while (labels[n])
		n++;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(s) == SQLITE_ROW) {
		fprintf(f, "%s{", name);
		for (i = 0; i < n; i++) {
			const unsigned char *v = sqlite3_column_text(s, i);

			/* sources are digits, states and reasons fixed
			 * tokens: nothing to escape */
			fprintf(f, "%s%s=\"%s\"", i ? "," : "", labels[i],
				v ? (const char *)v : "");
		}
		fprintf(f, "} %lld\n", (long long)sqlite3_column_int64(s, n));
	}
	sqlite3_finalize(s);
}

static enum MHD_Result get_metrics(struct intake *in, struct exchange *c)
{
	static const char *const by_source_state[] = {"source", "state", NULL};
	static const char *const by_source[] = {"source", NULL};
	static const char *const by_reason[] = {"source", "reason", NULL};
	struct tls_peer peer;
	const char *why = NULL;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (!peer_get(c, &peer, &why))
		return outcome(c, MHD_HTTP_UNAUTHORIZED, "security", why);
	f = open_memstream(&buf, &size);
	if (!f)
		return MHD_NO;
	pthread_mutex_lock(&in->mu);
	metric_rows(f, in->db, "izagw_intake_batches",
		    "Upload batches, per source and state.", by_source_state,
		    "SELECT source, state, count(*) FROM batches GROUP BY 1, 2 "
		    "ORDER BY 1, 2");
	metric_rows(
	    f, in->db, "izagw_intake_records",
	    "Records read from uploads, per source.", by_source,
	    "SELECT source, sum(json_extract(result, '$.records')) "
	    "FROM batches WHERE state = 'stored' GROUP BY 1 ORDER BY 1");
	metric_rows(
	    f, in->db, "izagw_intake_records_accepted",
	    "Records of uploads that were not quarantined, per source.",
	    by_source,
	    "SELECT source, sum(json_extract(result, '$.records') - "
	    "json_extract(result, '$.quarantined')) FROM batches WHERE state "
	    "= 'stored' GROUP BY 1 ORDER BY 1");
	metric_rows(f, in->db, "izagw_intake_quarantined",
		    "Records quarantined from uploads, per source and reason.",
		    by_reason,
		    "SELECT b.source, j.key, sum(j.value) FROM batches b, "
		    "json_each(b.result, '$.quarantined_by_reason') j WHERE "
		    "b.state = 'stored' GROUP BY 1, 2 ORDER BY 1, 2");
	if (in->metrics)
		in->metrics(in->ctx, f);
	pthread_mutex_unlock(&in->mu);
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	return send_text(c, MHD_HTTP_OK,
			 "text/plain; version=0.0.4; charset=utf-8", buf, NULL);
}

/* libmicrohttpd's access handler, on either kind of exchange: a first
 * call, the body in pieces (*size), a last call with *size 0. */
static enum MHD_Result handle(struct intake *in, struct exchange *c,
			      const char *url, const char *method,
			      const char *data, size_t *size, void **con_cls)
{
	struct upload *u = *con_cls;
	size_t i;

	if (strcmp(method, "GET") == 0) {
		if (strcmp(url, "/healthz") == 0)
			return send_text(c, MHD_HTTP_OK, "text/plain",
					 strdup("ok\n"), NULL);
		if (strcmp(url, "/metrics") == 0)
			return get_metrics(in, c);
		if (strncmp(url, "/batches/", 9) == 0 && url[9] &&
		    strlen(url + 9) < 40 && !strchr(url + 9, '/'))
			return get_batch(in, c, url + 9);
		return outcome(c, MHD_HTTP_NOT_FOUND, "not-found",
			       "no such endpoint");
	}
	if (strcmp(method, "POST") != 0)
		return outcome(c, MHD_HTTP_METHOD_NOT_ALLOWED, "not-supported",
			       "GET or POST");
	if (!u) {
		bool answered;
		enum MHD_Result rc;

		for (i = 0; i < sizeof(routes) / sizeof(*routes); i++)
			if (strcmp(url, routes[i].url) == 0)
				break;
		if (i == sizeof(routes) / sizeof(*routes))
			return outcome(c, MHD_HTTP_NOT_FOUND, "not-found",
				       "no such endpoint");
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		u->fd = -1;
		*con_cls = u;
		u->async = routes[i].async;
		rc = begin_upload(in, c, u, routes[i].format, &answered);
		return rc;
	}
	if (*size) {
		if (u->fd >= 0 && !u->too_big && !u->failed_write) {
			if (u->bytes + *size > in->max_body) {
				u->too_big = true;
			} else {
				const char *p = data;
				size_t left = *size;

				while (left) {
					ssize_t w = write(u->fd, p, left);

					if (w < 0 && errno == EINTR)
						continue;
					if (w <= 0) {
						u->failed_write = true;
						break;
					}
					p += w;
					left -= (size_t)w;
				}
				u->bytes += *size;
			}
		}
		*size = 0;
		return MHD_YES;
	}
	if (u->refuse_status)
		return outcome(c, u->refuse_status, u->refuse_code,
			       u->refuse_why);
	if (u->conflict)
		return outcome(c, MHD_HTTP_CONFLICT, "conflict",
			       "this submission is being received on "
			       "another connection");
	if (u->earlier) {
		char *answer = u->earlier;

		u->earlier = NULL;
		return send_batch(c, answer, u->earlier_state, MHD_HTTP_OK,
				  NULL);
	}
	if (u->fd < 0 && !u->path[0])
		return MHD_YES; /* answered at the first call */
	return finish_upload(in, c, u);
}

/* The end of a request, answered or not (u may be NULL). */
static void upload_end(struct intake *in, struct upload *u)
{
	if (!u)
		return;
	/* a connection that ended mid-upload (or an upload refused at its
	 * end) leaves nothing behind */
	drop_spool(u);
	free(u->earlier);
	if (u->reserved) {
		pthread_mutex_lock(&in->mu);
		batch_drop(in, u->id);
		pthread_mutex_unlock(&in->mu);
	}
	free(u);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *data,
			       size_t *size, void **con_cls)
{
	struct exchange x = {c, NULL, NULL};

	(void)version;
	return handle(cls, &x, url, method, data, size, con_cls);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	upload_end(cls, *con_cls);
	*con_cls = NULL;
}

int intake_handle(struct intake *in, const struct intake_request *rq,
		  struct intake_response *out)
{
	struct exchange x = {NULL, rq, out};
	size_t off = 0, chunk = rq->chunk ? rq->chunk : rq->len, n = 0;
	void *con_cls = NULL;
	enum MHD_Result rc;

	memset(out, 0, sizeof(*out));
	rc = handle(in, &x, rq->url, rq->method, NULL, &n, &con_cls);
	/* after an answer libmicrohttpd reads no more of the body */
	while (rc == MHD_YES && !out->status && off < rq->len) {
		size_t given;

		if (rq->cut_after && off >= rq->cut_after)
			break; /* the client went away */
		given = n = rq->len - off < chunk ? rq->len - off : chunk;
		rc = handle(in, &x, rq->url, rq->method, rq->body + off, &n,
			    &con_cls);
		if (n == given) { /* nothing taken: it would wait forever */
			rc = MHD_NO;
			break;
		}
		off += given - n;
	}
	if (rc == MHD_YES && !out->status && off == rq->len) {
		n = 0;
		rc = handle(in, &x, rq->url, rq->method, NULL, &n, &con_cls);
	}
	out->closed = rc != MHD_YES;
	upload_end(in, con_cls);
	return out->status ? 0 : -IZA_EIO;
}

void intake_response_release(struct intake_response *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- lifecycle ---- */

void intake_stop(struct intake *in)
{
	if (!in)
		return;
	https_stop(&in->srv);
	if (in->worker_started) {
		/* the batch being ingested is finished; the queued ones wait
		 * for the next start */
		pthread_mutex_lock(&in->mu);
		in->stop = true;
		pthread_cond_signal(&in->work);
		pthread_mutex_unlock(&in->mu);
		pthread_join(in->worker, NULL);
	}
	sqlite3_close(in->db);
	pthread_cond_destroy(&in->work);
	pthread_mutex_destroy(&in->ingest_mu);
	pthread_mutex_destroy(&in->mu);
	free(in);
}

int intake_port(const struct intake *in)
{
	return in ? in->srv.port : 0;
}

int intake_open(const struct intake_config *c, struct intake **out,
		struct iza_error *err)
{
	struct intake *in = calloc(1, sizeof(*in));
	char db[1100];

	if (!in)
		return -IZA_ENOMEM;
	pthread_mutex_init(&in->mu, NULL);
	pthread_mutex_init(&in->ingest_mu, NULL);
	pthread_cond_init(&in->work, NULL);
	in->ingest = c->ingest;
	in->metrics = c->metrics;
	in->ctx = c->ctx;
	in->max_body = c->max_body ? c->max_body : INTAKE_MAX_BODY;
	snprintf(in->dir, sizeof(in->dir), "%s", c->dir);
	snprintf(in->quarantine_dir, sizeof(in->quarantine_dir), "%s",
		 c->quarantine_dir ? c->quarantine_dir : "");
	if (mkdir(in->dir, 0700) != 0 && errno != EEXIST) {
		intake_stop(in);
		return iza_error_set(err, -IZA_EIO, c->dir, 0, NULL,
				     "cannot make the intake directory: %s",
				     strerror(errno));
	}
	snprintf(db, sizeof(db), "%s/intake.db", in->dir);
	if (sqlite3_open(db, &in->db) != SQLITE_OK ||
	    sqlite3_busy_timeout(in->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(in->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		intake_stop(in);
		return iza_error_set(err, -IZA_ESTORE, db, 0, NULL,
				     "cannot open the batch log");
	}
	/* a batch log from before the quarantine column: add it (fails
	 * harmlessly when it is there) */
	sqlite3_exec(in->db, "ALTER TABLE batches ADD COLUMN quarantine TEXT",
		     NULL, NULL, NULL);
	recover_queue(in);
	in->queued = true; /* what recover_queue left queued */
	if (pthread_create(&in->worker, NULL, worker_main, in) != 0) {
		intake_stop(in);
		return iza_error_set(err, -IZA_ENOMEM, NULL, 0, "intake",
				     "cannot start the import worker");
	}
	in->worker_started = true;
	*out = in;
	return 0;
}

int intake_start(const struct intake_config *c, struct intake **out,
		 struct iza_error *err)
{
	struct https_config hc;
	struct intake *in = NULL;
	int rc;

	rc = intake_open(c, &in, err);
	if (rc)
		return rc;
	memset(&hc, 0, sizeof(hc));
	hc.bind = c->bind;
	hc.port = c->port;
	hc.cert_pem = c->cert_pem;
	hc.key_pem = c->key_pem;
	hc.ca_pem = c->ca_pem;
	/* a slow multi-gigabyte upload must not hold up the others */
	hc.flags = MHD_USE_THREAD_PER_CONNECTION;
	hc.timeout = 120;
	hc.handler = handler;
	hc.cls = in;
	hc.completed = completed;
	rc = https_start(&hc, &in->srv, err);
	if (rc) {
		intake_stop(in);
		return rc;
	}
	*out = in;
	return 0;
}

int intake_batch_quarantine(const char *dir, const char *id, char *source,
			    size_t source_size, char *qfile,
			    struct iza_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char path[1200];
	int rc = -IZA_ENOTFOUND;

	snprintf(path, sizeof(path), "%s/intake.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT source, quarantine FROM batches WHERE "
			       "id = ?1",
			       -1, &s, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return iza_error_set(err, -IZA_ENOTFOUND, path, 0, NULL,
				     "no batch log of the intake service");
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *src = sqlite3_column_text(s, 0);
		const unsigned char *q = sqlite3_column_text(s, 1);

		snprintf(source, source_size, "%s",
			 src ? (const char *)src : "");
		snprintf(qfile, INGEST_QFILE_MAX, "%s",
			 q ? (const char *)q : "");
		rc = 0;
	} else {
		iza_error_set(err, rc, path, 0, NULL, "no batch %.40s", id);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}
