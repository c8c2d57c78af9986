/*
 * mon_api.c - plan API and dashboard routes (contract in mon_api.h).
 */
#include "mon_api.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"
#include "https.h"
#include "milestones.h"

#define CT_JSON "application/json"

static int reply_json(struct mon_api_response *out, int status, json_t *doc)
{
	out->status = status;
	out->content_type = CT_JSON;
	out->body = doc ? json_dumps(doc, MILESTONES_JSON_FLAGS) : NULL;
	json_decref(doc);
	if (!out->body) {
		out->status = 500;
		out->body = strdup("{}");
	}
	out->len = out->body ? strlen(out->body) : 0;
	return 1;
}

static int reply_text(struct mon_api_response *out, int status,
		      const char *ctype, char *text)
{
	if (!text)
		return reply_json(
		    out, 500, https_outcome_json("exception", "out of memory"));
	out->status = status;
	out->content_type = ctype;
	out->body = text;
	out->len = text ? strlen(text) : 0;
	return 1;
}

static int fail(struct mon_api_response *out, int status, const char *code,
		const char *why)
{
	return reply_json(out, status, https_outcome_json(code, why));
}

/* The store or parse error of err as a reply. */
static int fail_err(struct mon_api_response *out, const struct iza_error *err)
{
	if (err->code == -IZA_ENOTFOUND)
		return fail(out, 404, "not-found", err->text);
	if (err->code == -IZA_EDENIED)
		return fail(out, 403, "forbidden", err->text);
	if (err->code == -IZA_EINVALID)
		return fail(out, 422, "invalid", err->text);
	return fail(out, 500, "exception", "storage error");
}

/* May this client see plan id?  1 yes, 0 no (or unknown: the same answer,
 * so a region cannot probe for other regions' plans), < 0 error. */
static int visible(struct mon_store *s, const char *role, const char *code,
		   const char *id, struct iza_error *err)
{
	char *body = NULL;
	size_t len = 0;
	int64_t version;
	json_t *doc, *regions, *r;
	size_t i;
	int rc =
	    s->ops->doc_get(s->impl, "plan", id, &body, &len, &version, err);

	if (rc <= 0)
		return rc;
	if (strcmp(role, "insurer") == 0) {
		free(body);
		return 1;
	}
	doc = json_loadb(body, len, 0, NULL);
	free(body);
	regions = json_object_get(doc, "regions");
	rc = 0;
	json_array_foreach(
	    regions, i, r) if (json_string_value(r) &&
			       strcmp(json_string_value(r), code) == 0) rc = 1;
	json_decref(doc);
	return rc;
}

struct plan_ids {
	json_t *ids;
};

static int add_id(void *ctx, const char *id, int64_t version, int64_t loaded)
{
	(void)version;
	(void)loaded;
	return json_array_append_new(((struct plan_ids *)ctx)->ids,
				     json_string(id))
		   ? 1
		   : 0;
}

/* The plans this client sees, each with its status (milestones_status). */
static json_t *visible_plans(struct mon_store *s,
			     const struct plan_catalogue *cat,
			     const struct mon_api_request *rq,
			     struct iza_error *err)
{
	struct plan_ids p = {json_array()};
	json_t *out = json_array(), *id;
	size_t i;
	int rc = p.ids ? s->ops->doc_list(s->impl, "plan", add_id, &p, err)
		       : -IZA_ENOMEM;

	json_array_foreach(p.ids, i, id)
	{
		const char *pid = json_string_value(id);
		json_t *st;

		if (rc < 0 || !out)
			break;
		rc = visible(s, rq->role, rq->code, pid, err);
		if (rc <= 0)
			continue;
		st = milestones_status(s, cat, pid, rq->now, err);
		/* a plan that cannot be read is listed as such; the others
		 * are still shown */
		if (!st)
			st = json_pack("{s:s,s:s,s:s}", "id", pid, "name", pid,
				       "error", err->text);
		json_array_append_new(out, st);
		rc = 0;
	}
	json_decref(p.ids);
	if (rc < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* "/plans/ID/rest" -> id (and *rest, "" none) */
static bool split_plan_url(const char *url, const char *prefix, char id[80],
			   const char **rest)
{
	size_t n = strlen(prefix);
	const char *p, *slash;

	if (strncmp(url, prefix, n) != 0 || !url[n])
		return false;
	p = url + n;
	slash = strchr(p, '/');
	if ((slash ? (size_t)(slash - p) : strlen(p)) >= 80)
		return false;
	snprintf(id, 80, "%.*s", (int)(slash ? slash - p : (long)strlen(p)), p);
	*rest = slash ? slash : "";
	return id[0] != '\0';
}

static int attest(struct mon_store *s, const struct plan_catalogue *cat,
		  const struct mon_api_request *rq, const char *plan,
		  const char *milestone, struct mon_api_response *out)
{
	struct iza_error err = {0};
	enum mon_put res;
	json_error_t je;
	json_t *doc;
	const char *outcome, *note;
	char what[16];
	int rc;

	if (strcmp(rq->role, "insurer") != 0)
		return fail(out, 403, "forbidden",
			    "only the coordinating insurer attests");
	doc = json_loadb(rq->body ? rq->body : "", rq->len,
			 JSON_REJECT_DUPLICATES, &je);
	outcome = json_string_value(json_object_get(doc, "outcome"));
	note = json_string_value(json_object_get(doc, "note"));
	if (!doc || !outcome) {
		json_decref(doc);
		return fail(out, 400, "required",
			    "the body is {\"outcome\": \"met\" or \"missed\", "
			    "\"note\": text}");
	}
	if (note && strlen(note) > 500) {
		json_decref(doc);
		return fail(out, 400, "too-long",
			    "the note is longer than 500 characters");
	}
	snprintf(what, sizeof(what), "%s", outcome);
	rc = milestones_attest(s, cat, plan, milestone, what, rq->code,
			       rq->subject, note ? note : "", rq->now, &res,
			       &err);
	json_decref(doc); /* outcome and note pointed into it */
	outcome = what;
	if (rc)
		return fail_err(out, &err);
	snprintf(out->audit_event, sizeof(out->audit_event),
		 "milestone.attested");
	snprintf(out->audit_what, sizeof(out->audit_what), "%s/%s %s%s", plan,
		 milestone, outcome,
		 res == MON_DUPLICATE ? " (decided before, unchanged)" : "");
	return reply_json(
	    out, res == MON_INSERTED ? 201 : 200,
	    json_pack("{s:s,s:s,s:s}", "plan", plan, "milestone", milestone,
		      "status",
		      res == MON_INSERTED ? "recorded" : "decided-before"));
}

static int notices(struct mon_store *s, const struct mon_api_request *rq,
		   bool csv, struct mon_api_response *out)
{
	struct iza_error err = {0};
	const char *plan = rq->arg(rq->arg_ctx, "plan");
	char *text = NULL;
	int rc;

	if (strcmp(rq->role, "insurer") != 0) {
		if (!plan[0])
			return fail(out, 400, "required",
				    "a region reads notices per plan "
				    "(?plan=ID)");
		rc = visible(s, rq->role, rq->code, plan, &err);
		if (rc < 0)
			return fail_err(out, &err);
		if (rc == 0)
			return fail(out, 404, "not-found", "no such plan");
	}
	rc = milestones_notices_text(s, plan, rq->arg(rq->arg_ctx, "insurer"),
				     csv, &text, &err);
	if (rc)
		return fail_err(out, &err);
	return reply_text(out, 200, csv ? "text/csv; charset=utf-8" : CT_JSON,
			  text);
}

int mon_api_handle(struct mon_store *s, const struct plan_catalogue *cat,
		   const struct mon_api_request *rq,
		   struct mon_api_response *out)
{
	struct iza_error err = {0};
	const char *rest = "";
	char id[80];
	bool get = strcmp(rq->method, "GET") == 0;
	json_t *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (get && strcmp(rq->url, "/plans") == 0) {
		doc = visible_plans(s, cat, rq, &err);
		return doc ? reply_json(out, 200,
					json_pack("{s:o}", "plans", doc))
			   : fail_err(out, &err);
	}
	if (get && strcmp(rq->url, "/notices") == 0)
		return notices(s, rq, false, out);
	if (get && strcmp(rq->url, "/notices.csv") == 0)
		return notices(s, rq, true, out);
	if (get && (strcmp(rq->url, "/dashboard") == 0 ||
		    strcmp(rq->url, "/dashboard/") == 0)) {
		doc = visible_plans(s, cat, rq, &err);
		if (!doc)
			return fail_err(out, &err);
		rc = reply_text(out, 200, "text/html; charset=utf-8",
				dashboard_overview(doc, rq->now));
		json_decref(doc);
		return rc;
	}
	if (split_plan_url(rq->url, "/dashboard/plans/", id, &rest) && get &&
	    !rest[0]) {
		json_t *ind;

		rc = visible(s, rq->role, rq->code, id, &err);
		if (rc < 0)
			return fail_err(out, &err);
		if (rc == 0)
			return fail(out, 404, "not-found", "no such plan");
		doc = milestones_status(s, cat, id, rq->now, &err);
		ind = doc ? milestones_indicators(s, cat, id, &err) : NULL;
		if (!doc || !ind) {
			json_decref(doc);
			return fail_err(out, &err);
		}
		rc = reply_text(out, 200, "text/html; charset=utf-8",
				dashboard_plan(doc, ind, rq->now));
		json_decref(doc);
		json_decref(ind);
		return rc;
	}
	if (!split_plan_url(rq->url, "/plans/", id, &rest))
		return 0;
	rc = visible(s, rq->role, rq->code, id, &err);
	if (rc < 0)
		return fail_err(out, &err);
	if (rc == 0)
		return fail(out, 404, "not-found", "no such plan");
	if (get && !rest[0]) {
		doc = milestones_status(s, cat, id, rq->now, &err);
		return doc ? reply_json(out, 200, doc) : fail_err(out, &err);
	}
	if (get && strcmp(rest, "/indicators") == 0) {
		doc = milestones_indicators(s, cat, id, &err);
		return doc ? reply_json(out, 200, doc) : fail_err(out, &err);
	}
	if (strcmp(rq->method, "POST") == 0 &&
	    strncmp(rest, "/milestones/", 12) == 0) {
		char m[64];
		const char *e = strchr(rest + 12, '/');

		if (e && strcmp(e, "/attestation") == 0 &&
		    (size_t)(e - (rest + 12)) < sizeof(m) && e > rest + 12) {
			snprintf(m, sizeof(m), "%.*s", (int)(e - (rest + 12)),
				 rest + 12);
			return attest(s, cat, rq, id, m, out);
		}
	}
	return fail(out, 404, "not-found", "no such endpoint");
}
