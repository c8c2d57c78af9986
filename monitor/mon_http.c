/*
 * mon_http.c - izamon's HTTPS service (contract in mon_http.h).
 *
 * Decisions:
 *  - libmicrohttpd's TLS is GnuTLS: the server key, chain and the client CA
 *    are handed over as PEM; MHD then asks every client for a certificate,
 *    and the handler verifies the peer with gnutls_certificate_verify_peers2
 *    (so a missing or untrusted certificate is a 401 with a reason, not a
 *    failed handshake a client cannot read).
 *  - The TLS client is identified by the SHA-256 of its certificate (DER),
 *    the same fingerprint the enrolment stores and the JWS signer has.
 *  - One thread per connection (at most MON_HTTP_MAX_CONNECTIONS), so TLS
 *    handshakes, reading bodies and checking signatures run in parallel.
 *    The store is one connection (SQLite or libpq), and a transaction on it
 *    belongs to the connection, not to a thread: store_mu is held around
 *    every use of it, and a report's storing, its evaluation and its audit
 *    entry are one critical section.  Across processes (the CLI, other
 *    izamon instances) the store's own write transactions (tx_begin) keep
 *    the audit chain and the decisions right, as before.
 */
#include "mon_http.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "https.h"
#include "milestones.h"
#include "mon_api.h"
#include "mon_metrics.h"
#include "mon_verify.h"

struct mon_http {
	struct https_server srv;
	char *ca_path;
	size_t max_body;
	struct mon_store *store;
	pthread_mutex_t store_mu; /* *store: one request at a time */
	bool store_mu_init;
	const struct plan_catalogue *cat;
};

struct req {
	char *body;
	size_t len, cap;
	bool too_big;
};

static void log_line(const char *event, int status, const char *region,
		     const char *id, const char *why)
{
	json_t *o = json_pack("{s:I,s:s,s:i,s:s,s:s,s:s}", "time",
			      (json_int_t)time(NULL), "event", event, "status",
			      status, "region", region ? region : "", "report",
			      id ? id : "", "reason", why ? why : "");
	char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	if (t)
		fprintf(stderr, "%s\n", t);
	free(t);
	json_decref(o);
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status,
				 const char *ctype, char *t, size_t len)
{
	return https_send(c, (unsigned int)status, ctype, t, len, NULL);
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status,
				 json_t *body)
{
	char *t = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	return send_text(c, status, "application/fhir+json", t,
			 t ? strlen(t) : 0);
}

static enum MHD_Result outcome(struct MHD_Connection *c, int status,
			       const char *code, const char *why)
{
	return https_outcome(c, (unsigned int)status, code, why);
}

/* The verified TLS client: fingerprint and subject; false if none. */
static bool tls_client(struct MHD_Connection *c, char fp[65], char *subject,
		       size_t subject_size, const char **why)
{
	struct tls_peer peer;

	if (!tls_peer_get(c, &peer, why))
		return false;
	memcpy(fp, peer.sha256, 65);
	snprintf(subject, subject_size, "%s", peer.subject);
	return true;
}

static bool plan_allowed(const char *plans, const char *plan)
{
	size_t n = strlen(plan);
	const char *p = plans;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, plan, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static void store_lock(struct mon_http *h)
{
	pthread_mutex_lock(&h->store_mu);
}

static void store_unlock(struct mon_http *h)
{
	pthread_mutex_unlock(&h->store_mu);
}

/* An audit entry for a report request; the caller holds store_mu. */
static void audit_locked(struct mon_http *h, const char *event,
			 const char *actor, const char *region, const char *id,
			 int status)
{
	char what[160];
	struct iza_error err = {0};

	snprintf(what, sizeof(what), "report %s: HTTP %d", id ? id : "-",
		 status);
	mon_audit_append(h->store, (int64_t)time(NULL), event, actor,
			 region ? region : "", what, &err);
}

static void audit(struct mon_http *h, const char *event, const char *actor,
		  const char *region, const char *id, int status)
{
	store_lock(h);
	audit_locked(h, event, actor, region, id, status);
	store_unlock(h);
}

static enum MHD_Result refuse(struct mon_http *h, struct MHD_Connection *c,
			      int status, const char *code, const char *why,
			      const char *actor, const char *region,
			      const char *id)
{
	log_line("report.refused", status, region, id, why);
	audit(h, "report.refused", actor, region, id, status);
	return outcome(c, status, code, why);
}

static enum MHD_Result post_report(struct mon_http *h, struct MHD_Connection *c,
				   struct req *rq)
{
	char fp[65] = "", subject[256] = "";
	const char *why = NULL, *jws;
	struct mon_verified v;
	struct mon_region reg;
	struct mon_report rep;
	struct iza_error err = {0};
	enum mon_put put;
	int rc;

	if (!tls_client(c, fp, subject, sizeof(subject), &why))
		return refuse(h, c, MHD_HTTP_UNAUTHORIZED, "security", why, "",
			      NULL, NULL);
	if (rq->too_big)
		return refuse(h, c, MHD_HTTP_CONTENT_TOO_LARGE, "too-long",
			      "the report is larger than the limit", subject,
			      NULL, NULL);
	jws = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "IZA-JWS");
	if (!jws || !rq->len)
		return refuse(h, c, MHD_HTTP_BAD_REQUEST, "required",
			      "a report body and its signature (header "
			      "IZA-JWS) are required",
			      subject, NULL, NULL);
	rc = mon_verify_report(rq->body, rq->len, jws, h->ca_path, 0, &v, &err);
	if (rc)
		return refuse(h, c, MHD_HTTP_BAD_REQUEST, "invalid", err.text,
			      subject, NULL, NULL);
	if (strcmp(v.signer_sha256, fp) != 0)
		return refuse(h, c, MHD_HTTP_FORBIDDEN, "security",
			      "the report is not signed with the TLS client's "
			      "certificate",
			      subject, v.claims.region, v.claims.report_id);
	store_lock(h);
	rc = h->store->ops->region_get(h->store->impl, v.claims.region, &reg,
				       &err);
	store_unlock(h);
	if (rc < 0)
		return refuse(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			      "storage error", subject, v.claims.region,
			      v.claims.report_id);
	if (rc == 0 || strcmp(reg.cert_sha256, fp) != 0)
		return refuse(h, c, MHD_HTTP_FORBIDDEN, "security",
			      "this certificate is not enrolled for the "
			      "region",
			      subject, v.claims.region, v.claims.report_id);
	if (!plan_allowed(reg.plans, v.claims.plan))
		return refuse(h, c, MHD_HTTP_FORBIDDEN, "security",
			      "the region may not report for this plan",
			      subject, v.claims.region, v.claims.report_id);
	memset(&rep, 0, sizeof(rep));
	snprintf(rep.id, sizeof(rep.id), "%s", v.claims.report_id);
	snprintf(rep.region, sizeof(rep.region), "%s", v.claims.region);
	snprintf(rep.plan, sizeof(rep.plan), "%s", v.claims.plan);
	snprintf(rep.period, sizeof(rep.period), "%s", v.claims.period);
	snprintf(rep.signer_sha256, sizeof(rep.signer_sha256), "%s", fp);
	rep.received = (int64_t)time(NULL);
	rep.body = rq->body;
	rep.body_len = rq->len;
	rep.jws = (char *)(uintptr_t)jws;
	/* storing, what the new report decides and its audit entry: one
	 * request's at a time */
	store_lock(h);
	rc = h->store->ops->report_put(h->store->impl, &rep, &put, &err);
	if (rc == 0 && put == MON_INSERTED && h->cat) {
		/* the report is stored whatever this says (a plan not loaded
		 * yet is no error) */
		struct milestones_counts n = {0};
		struct iza_error e2 = {0};

		if (milestones_evaluate(h->store, h->cat, v.claims.plan,
					rep.received, &n, &e2) &&
		    e2.code != -IZA_ENOTFOUND)
			log_line("evaluation.failed", 500, v.claims.region,
				 v.claims.report_id, e2.text);
	}
	if (rc == 0 && put != MON_CONFLICT)
		audit_locked(h,
			     put == MON_INSERTED ? "report.received"
						 : "report.duplicate",
			     subject, v.claims.region, v.claims.report_id,
			     put == MON_INSERTED ? 201 : 200);
	store_unlock(h);
	if (rc)
		return refuse(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "exception",
			      "storage error", subject, v.claims.region,
			      v.claims.report_id);
	if (put == MON_CONFLICT)
		return refuse(h, c, MHD_HTTP_CONFLICT, "conflict",
			      "another report is stored under this report id",
			      subject, v.claims.region, v.claims.report_id);
	log_line(put == MON_INSERTED ? "report.received" : "report.duplicate",
		 put == MON_INSERTED ? 201 : 200, v.claims.region,
		 v.claims.report_id, "");
	return send_json(
	    c, put == MON_INSERTED ? MHD_HTTP_CREATED : MHD_HTTP_OK,
	    json_pack("{s:s,s:s}", "id", v.claims.report_id, "status",
		      put == MON_INSERTED ? "stored" : "duplicate"));
}

/* The enrolled client of a read request: its certificate subject, role
 * ("insurer", "region") and code; false with *reply sent (401, 403, 500)
 * when it is none. */
static bool identify_client(struct mon_http *h, struct MHD_Connection *c,
			    char subject[256], char role[16], char code[16],
			    enum MHD_Result *reply)
{
	char fp[65] = "";
	const char *why = NULL;
	struct iza_error err = {0};
	int rc;

	if (!tls_client(c, fp, subject, 256, &why)) {
		*reply = outcome(c, MHD_HTTP_UNAUTHORIZED, "security", why);
		return false;
	}
	store_lock(h);
	rc = h->store->ops->identify(h->store->impl, fp, role, code, &err);
	store_unlock(h);
	if (rc <= 0) {
		*reply = rc < 0 ? outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
					  "exception", "storage error")
				: outcome(c, MHD_HTTP_FORBIDDEN, "security",
					  "this certificate is not enrolled");
		return false;
	}
	return true;
}

struct listing {
	json_t *arr;
};

static int list_one(void *ctx, const struct mon_report *r)
{
	struct listing *l = ctx;

	return json_array_append_new(
		   l->arr,
		   json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", r->id, "region",
			     r->region, "plan", r->plan, "period", r->period,
			     "received", (json_int_t)r->received))
		   ? 1
		   : 0;
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);

	return v ? v : "";
}

/*
 * GET /reports?region=&plan=&period= and GET /reports/{id}: insurers read
 * every report, a region gateway only its own; anyone else is refused.
 * A single report comes with its exact signed bytes and its JWS, so the
 * reader can verify it offline (izamon verify).
 */
static enum MHD_Result get_reports(struct mon_http *h, struct MHD_Connection *c,
				   const char *url)
{
	char subject[256] = "", role[16] = "", code[16] = "";
	const char *region;
	struct iza_error err = {0};
	enum MHD_Result reply;
	int rc;

	if (!identify_client(h, c, subject, role, code, &reply))
		return reply;
	region = arg(c, "region");
	if (strcmp(role, "region") == 0) {
		if (region[0] && strcmp(region, code) != 0)
			return outcome(c, MHD_HTTP_FORBIDDEN, "security",
				       "a region reads only its own reports");
		region = code;
	}
	audit(h, "reports.read", subject, code, url, 200);
	if (strcmp(url, "/reports") == 0) {
		struct listing l = {json_array()};

		store_lock(h);
		rc = l.arr ? h->store->ops->report_list(
				 h->store->impl, region, arg(c, "plan"),
				 arg(c, "period"), list_one, &l, &err)
			   : -IZA_ENOMEM;
		store_unlock(h);
		if (rc) {
			json_decref(l.arr);
			return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "exception", "storage error");
		}
		return send_json(c, MHD_HTTP_OK,
				 json_pack("{s:o}", "reports", l.arr));
	}
	{
		struct mon_report r;
		json_t *o;

		store_lock(h);
		rc = h->store->ops->report_get(
		    h->store->impl, url + strlen("/reports/"), &r, &err);
		store_unlock(h);
		if (rc < 0)
			return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "exception", "storage error");
		/* another region's report does not exist for a region */
		if (rc == 0 || (region[0] && strcmp(r.region, region) != 0)) {
			if (rc == 1)
				mon_report_release(&r);
			return outcome(c, MHD_HTTP_NOT_FOUND, "not-found",
				       "no such report");
		}
		o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s%,s:s}", "id", r.id,
			      "region", r.region, "plan", r.plan, "period",
			      r.period, "received", (json_int_t)r.received,
			      "signer_sha256", r.signer_sha256, "report",
			      r.body, r.body_len, "jws", r.jws);
		mon_report_release(&r);
		return send_json(c, MHD_HTTP_OK, o);
	}
}

static const char *arg_of(void *ctx, const char *key)
{
	return arg(ctx, key);
}

/* The plan API and dashboard (mon_api.h); MHD_YES/NO, or -1 when url is
 * none of its routes. */
static int api(struct mon_http *h, struct MHD_Connection *c, const char *url,
	       const char *method, struct req *rq)
{
	char subject[256] = "", role[16] = "", code[16] = "";
	struct iza_error err = {0};
	struct mon_api_request ar;
	struct mon_api_response out;
	enum MHD_Result reply;
	char what[300];

	if (strncmp(url, "/plans", 6) != 0 &&
	    strncmp(url, "/notices", 8) != 0 &&
	    strncmp(url, "/dashboard", 10) != 0)
		return -1;
	if (!identify_client(h, c, subject, role, code, &reply))
		return reply;
	if (!h->cat)
		return outcome(c, MHD_HTTP_SERVICE_UNAVAILABLE, "exception",
			       "no KPI catalogue loaded (mapping_dir)");
	if (rq->too_big)
		return outcome(c, MHD_HTTP_CONTENT_TOO_LARGE, "too-long",
			       "the request is larger than the limit");
	memset(&ar, 0, sizeof(ar));
	ar.method = method;
	ar.url = url;
	ar.role = role;
	ar.code = code;
	ar.subject = subject;
	ar.arg = arg_of;
	ar.arg_ctx = c;
	ar.body = rq->body;
	ar.len = rq->len;
	ar.now = (int64_t)time(NULL);
	/* the answer is made from the store, so under store_mu too */
	store_lock(h);
	if (!mon_api_handle(h->store, h->cat, &ar, &out)) {
		store_unlock(h);
		return outcome(c, MHD_HTTP_NOT_FOUND, "not-found",
			       "no such endpoint");
	}
	snprintf(what, sizeof(what), "%s %s: HTTP %d%s%s", method, url,
		 out.status, out.audit_what[0] ? ": " : "", out.audit_what);
	mon_audit_append(h->store, ar.now,
			 out.audit_event[0] ? out.audit_event : "plans.read",
			 subject, code, what, &err);
	store_unlock(h);
	return send_text(c, out.status, out.content_type, out.body, out.len);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct mon_http *h = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_big && rq->len + *upload_size > h->max_body) {
			rq->too_big = true;
		} else if (!rq->too_big) {
			if (rq->len + *upload_size + 1 > rq->cap) {
				size_t cap = rq->cap ? rq->cap : 65536;
				char *nb;

				while (cap < rq->len + *upload_size + 1)
					cap *= 2;
				nb = realloc(rq->body, cap);
				if (!nb)
					return MHD_NO;
				rq->body = nb;
				rq->cap = cap;
			}
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0) {
		struct MHD_Response *r = MHD_create_response_from_buffer(
		    3, (void *)(uintptr_t) "ok\n", MHD_RESPMEM_PERSISTENT);
		enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);

		MHD_destroy_response(r);
		return rc;
	}
	if (strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0) {
		/* any certificate of the trusted CA (a monitoring system);
		 * counts only, and not audited: it is polled */
		char fp[65] = "", subject[256] = "", *text;
		const char *why = NULL;
		struct iza_error err = {0};

		if (!tls_client(c, fp, subject, sizeof(subject), &why))
			return outcome(c, MHD_HTTP_UNAUTHORIZED, "security",
				       why);
		store_lock(h);
		text = mon_metrics_text(h->store, &err);
		store_unlock(h);
		if (!text)
			return outcome(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "exception", "storage error");
		return send_text(c, MHD_HTTP_OK,
				 "text/plain; version=0.0.4; charset=utf-8",
				 text, strlen(text));
	}
	if (strcmp(url, "/reports") == 0 && strcmp(method, "POST") == 0)
		return post_report(h, c, rq);
	if (strcmp(method, "GET") == 0 && (strcmp(url, "/reports") == 0 ||
					   (strncmp(url, "/reports/", 9) == 0 &&
					    url[9] && !strchr(url + 9, '/'))))
		return get_reports(h, c, url);
	{
		int rc = api(h, c, url, method, rq);

		if (rc >= 0)
			return (enum MHD_Result)rc;
	}
	return outcome(c, MHD_HTTP_NOT_FOUND, "not-found", "no such endpoint");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

void mon_http_stop(struct mon_http *h)
{
	if (!h)
		return;
	https_stop(&h->srv); /* no request runs after this */
	if (h->store_mu_init)
		pthread_mutex_destroy(&h->store_mu);
	free(h->ca_path);
	free(h);
}

int mon_http_port(const struct mon_http *h)
{
	return h ? h->srv.port : 0;
}

int mon_http_start(const struct mon_http_config *c, struct mon_http **out,
		   struct iza_error *err)
{
	struct mon_http *h = calloc(1, sizeof(*h));
	struct https_config hc;
	int rc;

	if (!h || !(h->ca_path = strdup(c->ca_pem))) {
		free(h);
		return -IZA_ENOMEM;
	}
	h->store = c->store;
	pthread_mutex_init(&h->store_mu, NULL);
	h->store_mu_init = true;
	h->cat = c->cat;
	h->max_body = c->max_body ? c->max_body : MON_HTTP_MAX_BODY;
	memset(&hc, 0, sizeof(hc));
	hc.bind = c->bind;
	hc.port = c->port;
	hc.cert_pem = c->cert_pem;
	hc.key_pem = c->key_pem;
	hc.ca_pem = c->ca_pem;
	hc.flags = MHD_USE_THREAD_PER_CONNECTION;
	hc.max_connections = MON_HTTP_MAX_CONNECTIONS;
	hc.timeout = 30;
	hc.handler = handler;
	hc.cls = h;
	hc.completed = completed;
	rc = https_start(&hc, &h->srv, err);
	if (rc) {
		mon_http_stop(h);
		return rc;
	}
	*out = h;
	return 0;
}
