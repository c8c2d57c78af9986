/*
 * mon_sqlite.c - the SQLite backend of izamon's storage (contract in
 * mon_store.h).  Portable SQL only (no WITHOUT ROWID, no UPSERT syntax
 * beyond what PostgreSQL shares), so a PostgreSQL backend can use the same
 * statements.
 */
#include "mon_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

struct sq {
	sqlite3 *db;
	char *path;
};

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS regions("
    " code TEXT PRIMARY KEY,"
    " cert_sha256 TEXT NOT NULL,"
    " plans TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS reports("
    " id TEXT PRIMARY KEY,"
    " region TEXT NOT NULL,"
    " plan TEXT NOT NULL,"
    " period TEXT NOT NULL,"
    " received BIGINT NOT NULL,"
    " signer_sha256 TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " jws TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS insurers("
    " code TEXT PRIMARY KEY,"
    " cert_sha256 TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS documents("
    " kind TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " version BIGINT NOT NULL,"
    " loaded BIGINT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " PRIMARY KEY (kind, id, version));"
    "CREATE TABLE IF NOT EXISTS decisions("
    " plan TEXT NOT NULL,"
    " milestone TEXT NOT NULL,"
    " plan_version BIGINT NOT NULL,"
    " status TEXT NOT NULL,"
    " decided BIGINT NOT NULL,"
    " recorded BIGINT NOT NULL,"
    " late INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " evidence TEXT NOT NULL,"
    " PRIMARY KEY (plan, milestone));"
    "CREATE TABLE IF NOT EXISTS notices("
    " id TEXT PRIMARY KEY,"
    " plan TEXT NOT NULL,"
    " milestone TEXT NOT NULL,"
    " insurer TEXT NOT NULL,"
    " payee TEXT NOT NULL,"
    " amount BIGINT NOT NULL,"
    " key TEXT NOT NULL,"
    " issued BIGINT NOT NULL,"
    " schedule TEXT NOT NULL,"
    " UNIQUE (plan, milestone, insurer),"
    " FOREIGN KEY (plan, milestone) REFERENCES decisions(plan, milestone));"
    "CREATE TRIGGER IF NOT EXISTS decisions_stand BEFORE UPDATE ON decisions"
    " BEGIN SELECT RAISE(ABORT, 'a decision stands'); END;"
    "CREATE TRIGGER IF NOT EXISTS decisions_kept BEFORE DELETE ON decisions"
    " BEGIN SELECT RAISE(ABORT, 'a decision stands'); END;"
    "CREATE TRIGGER IF NOT EXISTS notices_stand BEFORE UPDATE ON notices"
    " BEGIN SELECT RAISE(ABORT, 'a notice is never changed'); END;"
    "CREATE TRIGGER IF NOT EXISTS notices_kept BEFORE DELETE ON notices"
    " BEGIN SELECT RAISE(ABORT, 'a notice is never removed'); END;"
    "CREATE TABLE IF NOT EXISTS audit("
    " seq BIGINT PRIMARY KEY,"
    " time BIGINT NOT NULL,"
    " event TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " on_behalf TEXT NOT NULL,"
    " what TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

static int fail(struct sq *q, struct iza_error *err, const char *what)
{
	return iza_error_set(err, -IZA_ESTORE, q->path, 0, NULL, "%s: %s", what,
			     q->db ? sqlite3_errmsg(q->db) : "no database");
}

static void sq_close(void *impl)
{
	struct sq *q = impl;

	if (!q)
		return;
	sqlite3_close(q->db);
	free(q->path);
	free(q);
}

static int sq_open(const char *where, bool create, void **impl,
		   struct iza_error *err)
{
	struct sq *q;

	if (access(where, F_OK) != 0) {
		int fd;

		if (!create)
			return iza_error_set(err, -IZA_ENOTFOUND, where, 0,
					     NULL,
					     "no monitoring database (izamon "
					     "init makes one)");
		fd = open(where, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return iza_error_set(err, -IZA_EIO, where, 0, NULL,
					     "cannot create the database: %s",
					     strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	q = calloc(1, sizeof(*q));
	if (!q || !(q->path = strdup(where))) {
		free(q);
		return -IZA_ENOMEM;
	}
	if (sqlite3_open_v2(where, &q->db, SQLITE_OPEN_READWRITE, NULL) !=
		SQLITE_OK ||
	    sqlite3_busy_timeout(q->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(
		q->db,
		"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
		"PRAGMA foreign_keys = ON",
		NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		int rc = fail(q, err, "cannot open the monitoring database");

		sq_close(q);
		return rc;
	}
	*impl = q;
	return 0;
}

static void text(sqlite3_stmt *s, int i, const char *t)
{
	sqlite3_bind_text(s, i, t ? t : "", -1, SQLITE_TRANSIENT);
}

static void copy(char *dst, size_t size, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

/* Prepare sql into *out; 0 or a store error. */
static int one(struct sq *q, const char *sql, sqlite3_stmt **out,
	       struct iza_error *err)
{
	if (sqlite3_prepare_v2(q->db, sql, -1, out, NULL) != SQLITE_OK)
		return fail(q, err, "database statement failed");
	return 0;
}

static int sq_region_put(void *impl, const struct mon_region *r,
			 struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "INSERT OR REPLACE INTO regions(code, cert_sha256, plans) "
		     "VALUES (?1, ?2, ?3)",
		     &s, err);

	if (rc)
		return rc;
	text(s, 1, r->code);
	text(s, 2, r->cert_sha256);
	text(s, 3, r->plans);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : fail(q, err, "cannot enrol");
	sqlite3_finalize(s);
	return rc;
}

static int sq_region_get(void *impl, const char *code, struct mon_region *out,
			 struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT code, cert_sha256, plans FROM regions WHERE code "
		     "= ?1",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, code);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		copy(out->code, sizeof(out->code), s, 0);
		copy(out->cert_sha256, sizeof(out->cert_sha256), s, 1);
		copy(out->plans, sizeof(out->plans), s, 2);
		rc = 1;
	} else {
		rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot read");
	}
	sqlite3_finalize(s);
	return rc;
}

static int sq_report_put(void *impl, const struct mon_report *r,
			 enum mon_put *res, struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc, step;

	rc = one(q,
		 "INSERT INTO reports(id, region, plan, period, received, "
		 "signer_sha256, body, jws) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
		 "?7, ?8)",
		 &s, err);
	if (rc)
		return rc;
	text(s, 1, r->id);
	text(s, 2, r->region);
	text(s, 3, r->plan);
	text(s, 4, r->period);
	sqlite3_bind_int64(s, 5, r->received);
	text(s, 6, r->signer_sha256);
	sqlite3_bind_blob(s, 7, r->body, (int)r->body_len, SQLITE_STATIC);
	text(s, 8, r->jws);
	step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step == SQLITE_DONE) {
		*res = MON_INSERTED;
		return 0;
	}
	if (step != SQLITE_CONSTRAINT)
		return fail(q, err, "cannot store the report");
	/* the id is taken: the same bytes, or another report? */
	rc = one(q, "SELECT body FROM reports WHERE id = ?1", &s, err);
	if (rc)
		return rc;
	text(s, 1, r->id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*res = (size_t)sqlite3_column_bytes(s, 0) == r->body_len &&
			       memcmp(sqlite3_column_blob(s, 0), r->body,
				      r->body_len) == 0
			   ? MON_DUPLICATE
			   : MON_CONFLICT;
		rc = 0;
	} else {
		rc = fail(q, err, "cannot read the stored report");
	}
	sqlite3_finalize(s);
	return rc;
}

static int sq_report_get(void *impl, const char *id, struct mon_report *out,
			 struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT id, region, plan, period, received, "
		     "signer_sha256, body, jws FROM reports WHERE id = ?1",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, id);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 6);
		const unsigned char *jws = sqlite3_column_text(s, 7);

		memset(out, 0, sizeof(*out));
		copy(out->id, sizeof(out->id), s, 0);
		copy(out->region, sizeof(out->region), s, 1);
		copy(out->plan, sizeof(out->plan), s, 2);
		copy(out->period, sizeof(out->period), s, 3);
		out->received = sqlite3_column_int64(s, 4);
		copy(out->signer_sha256, sizeof(out->signer_sha256), s, 5);
		out->body = malloc(n + 1);
		out->jws = strdup(jws ? (const char *)jws : "");
		if (!out->body || !out->jws) {
			mon_report_release(out);
			rc = -IZA_ENOMEM;
		} else {
			if (n)
				memcpy(out->body, sqlite3_column_blob(s, 6), n);
			out->body[n] = '\0';
			out->body_len = n;
			rc = 1;
		}
	} else {
		rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot read");
	}
	sqlite3_finalize(s);
	return rc;
}

static int sq_audit_put(void *impl, const struct mon_audit_entry *e,
			struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "INSERT INTO audit(seq, time, event, actor, on_behalf, "
		     "what, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
		     "?7, ?8)",
		     &s, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, e->seq);
	sqlite3_bind_int64(s, 2, e->time);
	text(s, 3, e->event);
	text(s, 4, e->actor);
	text(s, 5, e->on_behalf);
	text(s, 6, e->what);
	sqlite3_bind_blob(s, 7, e->prev, MON_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 8, e->hash, MON_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE
		 ? 0
		 : fail(q, err, "cannot write the audit log");
	sqlite3_finalize(s);
	return rc;
}

static void read_entry(sqlite3_stmt *s, struct mon_audit_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = sqlite3_column_int64(s, 0);
	e->time = sqlite3_column_int64(s, 1);
	copy(e->event, sizeof(e->event), s, 2);
	copy(e->actor, sizeof(e->actor), s, 3);
	copy(e->on_behalf, sizeof(e->on_behalf), s, 4);
	copy(e->what, sizeof(e->what), s, 5);
	if (sqlite3_column_bytes(s, 6) == MON_HASH_LEN)
		memcpy(e->prev, sqlite3_column_blob(s, 6), MON_HASH_LEN);
	if (sqlite3_column_bytes(s, 7) == MON_HASH_LEN)
		memcpy(e->hash, sqlite3_column_blob(s, 7), MON_HASH_LEN);
}

#define AUDIT_COLS "seq, time, event, actor, on_behalf, what, prev_hash, hash"

static int sq_audit_last(void *impl, struct mon_audit_entry *out,
			 struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT " AUDIT_COLS " FROM audit ORDER BY seq DESC "
		     "LIMIT 1",
		     &s, err),
	    step;

	if (rc)
		return rc;
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		read_entry(s, out);
		rc = 1;
	} else {
		rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot read");
	}
	sqlite3_finalize(s);
	return rc;
}

static int sq_audit_each(void *impl,
			 int (*cb)(void *ctx, const struct mon_audit_entry *e),
			 void *ctx, struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q, "SELECT " AUDIT_COLS " FROM audit ORDER BY seq", &s,
		     err),
	    step = SQLITE_DONE;

	if (rc)
		return rc;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct mon_audit_entry e;

		read_entry(s, &e);
		if (cb(ctx, &e))
			break;
	}
	rc = step == SQLITE_ROW || step == SQLITE_DONE
		 ? 0
		 : fail(q, err, "cannot read the audit log");
	sqlite3_finalize(s);
	return rc;
}

static int sq_insurer_put(void *impl, const char *code, const char *fp,
			  struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "INSERT OR REPLACE INTO insurers(code, cert_sha256) "
		     "VALUES (?1, ?2)",
		     &s, err);

	if (rc)
		return rc;
	text(s, 1, code);
	text(s, 2, fp);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : fail(q, err, "cannot enrol");
	sqlite3_finalize(s);
	return rc;
}

static int sq_identify(void *impl, const char *fp, char role[16], char code[16],
		       struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT 'region', code FROM regions WHERE cert_sha256 = "
		     "?1 UNION ALL SELECT 'insurer', code FROM insurers WHERE "
		     "cert_sha256 = ?1",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, fp);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		copy(role, 16, s, 0);
		copy(code, 16, s, 1);
		rc = 1;
	} else {
		rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot read");
	}
	sqlite3_finalize(s);
	return rc;
}

static int sq_report_list(void *impl, const char *region, const char *plan,
			  const char *period,
			  int (*cb)(void *ctx, const struct mon_report *r),
			  void *ctx, struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT id, region, plan, period, received, signer_sha256 "
		     "FROM reports WHERE (?1 = '' OR region = ?1) AND (?2 = '' "
		     "OR plan = ?2) AND (?3 = '' OR period = ?3) ORDER BY "
		     "received, id",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, region);
	text(s, 2, plan);
	text(s, 3, period);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct mon_report r;

		memset(&r, 0, sizeof(r));
		copy(r.id, sizeof(r.id), s, 0);
		copy(r.region, sizeof(r.region), s, 1);
		copy(r.plan, sizeof(r.plan), s, 2);
		copy(r.period, sizeof(r.period), s, 3);
		r.received = sqlite3_column_int64(s, 4);
		copy(r.signer_sha256, sizeof(r.signer_sha256), s, 5);
		if (cb(ctx, &r)) {
			step = SQLITE_DONE;
			break;
		}
	}
	rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot list reports");
	sqlite3_finalize(s);
	return rc;
}

/* the latest version of document kind/id: 1 and *version, *sha (and a
 * heap body when body is not NULL), 0 none */
static int doc_latest(struct sq *q, const char *kind, const char *id,
		      int64_t *version, char sha[65], char **body, size_t *len,
		      struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT version, sha256, body FROM documents WHERE kind = "
		     "?1 AND id = ?2 ORDER BY version DESC LIMIT 1",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, kind);
	text(s, 2, id);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*version = sqlite3_column_int64(s, 0);
		copy(sha, 65, s, 1);
		rc = 1;
		if (body) {
			size_t n = (size_t)sqlite3_column_bytes(s, 2);

			*body = malloc(n + 1);
			if (!*body) {
				rc = -IZA_ENOMEM;
			} else {
				if (n)
					memcpy(*body, sqlite3_column_blob(s, 2),
					       n);
				(*body)[n] = '\0';
				*len = n;
			}
		}
	} else {
		rc = step == SQLITE_DONE
			 ? 0
			 : fail(q, err, "cannot read documents");
	}
	sqlite3_finalize(s);
	return rc;
}

/* COMMIT when rc is 0, else ROLLBACK; returns rc or the commit's error */
static int finish(struct sq *q, int rc, const char *what, struct iza_error *err)
{
	if (rc == 0 &&
	    sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = fail(q, err, what);
	if (rc < 0)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int sq_tx_begin(void *impl, struct iza_error *err)
{
	struct sq *q = impl;

	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return fail(q, err, "cannot start a transaction");
	return 0;
}

static int sq_tx_end(void *impl, bool commit, struct iza_error *err)
{
	return finish(impl, commit ? 0 : -IZA_ESTORE, "cannot commit", err);
}

static int sq_doc_put(void *impl, const char *kind, const char *id,
		      const char *body, size_t len, const char *sha256,
		      int64_t now, int64_t *version, enum mon_put *res,
		      struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	char sha[65];
	int64_t latest = 0;
	int rc;

	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return fail(q, err, "cannot store the document");
	rc = doc_latest(q, kind, id, &latest, sha, NULL, NULL, err);
	if (rc == 1 && strcmp(sha, sha256) == 0) {
		*version = latest;
		*res = MON_DUPLICATE;
		rc = 0;
	} else if (rc >= 0) {
		rc = one(q,
			 "INSERT INTO documents(kind, id, version, loaded, "
			 "sha256, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			 &s, err);
		if (rc == 0) {
			text(s, 1, kind);
			text(s, 2, id);
			sqlite3_bind_int64(s, 3, latest + 1);
			sqlite3_bind_int64(s, 4, now);
			text(s, 5, sha256);
			sqlite3_bind_blob(s, 6, body, (int)len,
					  SQLITE_TRANSIENT);
			rc = sqlite3_step(s) == SQLITE_DONE
				 ? 0
				 : fail(q, err, "cannot store the document");
			sqlite3_finalize(s);
		}
		*version = latest + 1;
		*res = MON_INSERTED;
	}
	return finish(q, rc, "cannot store the document", err);
}

static int sq_doc_get(void *impl, const char *kind, const char *id, char **body,
		      size_t *len, int64_t *version, struct iza_error *err)
{
	char sha[65];

	return doc_latest(impl, kind, id, version, sha, body, len, err);
}

static int sq_doc_list(void *impl, const char *kind,
		       int (*cb)(void *ctx, const char *id, int64_t version,
				 int64_t loaded),
		       void *ctx, struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT id, version, loaded FROM documents d WHERE kind = "
		     "?1 AND version = (SELECT max(version) FROM documents e "
		     "WHERE e.kind = d.kind AND e.id = d.id) ORDER BY id",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, kind);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		char id[128];

		copy(id, sizeof(id), s, 0);
		if (cb(ctx, id, sqlite3_column_int64(s, 1),
		       sqlite3_column_int64(s, 2))) {
			step = SQLITE_DONE;
			break;
		}
	}
	rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot list documents");
	sqlite3_finalize(s);
	return rc;
}

static int put_notice(struct sq *q, const struct mon_notice *n,
		      struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "INSERT INTO notices(id, plan, milestone, insurer, payee, "
		     "amount, key, issued, schedule) VALUES (?1, ?2, ?3, ?4, "
		     "?5, ?6, ?7, ?8, ?9)",
		     &s, err);

	if (rc)
		return rc;
	text(s, 1, n->id);
	text(s, 2, n->plan);
	text(s, 3, n->milestone);
	text(s, 4, n->insurer);
	text(s, 5, n->payee);
	sqlite3_bind_int64(s, 6, n->amount);
	text(s, 7, n->key);
	sqlite3_bind_int64(s, 8, n->issued);
	text(s, 9, n->schedule);
	rc = sqlite3_step(s) == SQLITE_DONE
		 ? 0
		 : fail(q, err, "cannot store a payment notice");
	sqlite3_finalize(s);
	return rc;
}

static int sq_decision_put(void *impl, const struct mon_decision *d,
			   const struct mon_notice *notices, size_t n,
			   enum mon_put *res, struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc;

	/* inside the caller's tx_begin (BEGIN IMMEDIATE: the write lock is
	 * taken first, so of two evaluations racing for one milestone the
	 * second waits and then finds it decided) */
	rc = one(q,
		 "SELECT count(*) FROM decisions WHERE plan = ?1 AND "
		 "milestone = ?2",
		 &s, err);
	if (rc == 0) {
		text(s, 1, d->plan);
		text(s, 2, d->milestone);
		if (sqlite3_step(s) != SQLITE_ROW)
			rc = fail(q, err, "cannot read decisions");
		else if (sqlite3_column_int64(s, 0) > 0)
			rc = 1;
		sqlite3_finalize(s);
	}
	if (rc == 1) {
		*res = MON_DUPLICATE;
		return 0;
	}
	if (rc == 0)
		rc = one(q,
			 "INSERT INTO decisions(plan, milestone, plan_version, "
			 "status, decided, recorded, late, key, evidence) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
			 &s, err);
	if (rc == 0) {
		text(s, 1, d->plan);
		text(s, 2, d->milestone);
		sqlite3_bind_int64(s, 3, d->plan_version);
		text(s, 4, d->status);
		sqlite3_bind_int64(s, 5, d->decided);
		sqlite3_bind_int64(s, 6, d->recorded);
		sqlite3_bind_int(s, 7, d->late ? 1 : 0);
		text(s, 8, d->key);
		text(s, 9, d->evidence);
		rc = sqlite3_step(s) == SQLITE_DONE
			 ? 0
			 : fail(q, err, "cannot record the decision");
		sqlite3_finalize(s);
	}
	for (i = 0; rc == 0 && i < n; i++)
		rc = put_notice(q, &notices[i], err);
	*res = MON_INSERTED;
	return rc;
}

static int sq_decision_list(void *impl, const char *plan,
			    int (*cb)(void *ctx, const struct mon_decision *d),
			    void *ctx, struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT plan, milestone, plan_version, status, decided, "
		     "recorded, late, key, evidence FROM decisions WHERE (?1 = "
		     "'' OR plan = ?1) ORDER BY plan, milestone",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, plan);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct mon_decision d;
		const unsigned char *ev;

		memset(&d, 0, sizeof(d));
		copy(d.plan, sizeof(d.plan), s, 0);
		copy(d.milestone, sizeof(d.milestone), s, 1);
		d.plan_version = sqlite3_column_int64(s, 2);
		copy(d.status, sizeof(d.status), s, 3);
		d.decided = sqlite3_column_int64(s, 4);
		d.recorded = sqlite3_column_int64(s, 5);
		d.late = sqlite3_column_int(s, 6) != 0;
		copy(d.key, sizeof(d.key), s, 7);
		ev = sqlite3_column_text(s, 8);
		d.evidence = ev ? (const char *)ev : "";
		if (cb(ctx, &d)) {
			step = SQLITE_DONE;
			break;
		}
	}
	rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot list decisions");
	sqlite3_finalize(s);
	return rc;
}

static int sq_notice_list(void *impl, const char *plan, const char *insurer,
			  int (*cb)(void *ctx, const struct mon_notice *n),
			  void *ctx, struct iza_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	int rc = one(q,
		     "SELECT id, plan, milestone, insurer, payee, amount, key, "
		     "issued, schedule FROM notices WHERE (?1 = '' OR plan = "
		     "?1) AND (?2 = '' OR insurer = ?2) ORDER BY plan, "
		     "milestone, insurer",
		     &s, err),
	    step;

	if (rc)
		return rc;
	text(s, 1, plan);
	text(s, 2, insurer);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct mon_notice n;
		const unsigned char *sc;

		memset(&n, 0, sizeof(n));
		copy(n.id, sizeof(n.id), s, 0);
		copy(n.plan, sizeof(n.plan), s, 1);
		copy(n.milestone, sizeof(n.milestone), s, 2);
		copy(n.insurer, sizeof(n.insurer), s, 3);
		copy(n.payee, sizeof(n.payee), s, 4);
		n.amount = sqlite3_column_int64(s, 5);
		copy(n.key, sizeof(n.key), s, 6);
		n.issued = sqlite3_column_int64(s, 7);
		sc = sqlite3_column_text(s, 8);
		n.schedule = sc ? (const char *)sc : "[]";
		if (cb(ctx, &n)) {
			step = SQLITE_DONE;
			break;
		}
	}
	rc = step == SQLITE_DONE ? 0 : fail(q, err, "cannot list notices");
	sqlite3_finalize(s);
	return rc;
}

/* One integer from sql; 0 when it yields no row. */
static int scalar(struct sq *q, const char *sql, int64_t *out,
		  struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = one(q, sql, &s, err), step;

	if (rc)
		return rc;
	step = sqlite3_step(s);
	*out = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	rc = step == SQLITE_ROW || step == SQLITE_DONE
		 ? 0
		 : fail(q, err, "cannot count");
	sqlite3_finalize(s);
	return rc;
}

static int sq_stats(void *impl, struct mon_stats *o, struct iza_error *err)
{
	static const struct {
		const char *sql;
		size_t off;
	} counts[] = {
	    {"SELECT count(*) FROM reports",
	     offsetof(struct mon_stats, reports)},
	    {"SELECT count(*) FROM audit WHERE event = 'report.refused'",
	     offsetof(struct mon_stats, refused)},
	    {"SELECT count(*) FROM regions",
	     offsetof(struct mon_stats, regions)},
	    {"SELECT count(*) FROM insurers",
	     offsetof(struct mon_stats, insurers)},
	    {"SELECT count(DISTINCT id) FROM documents WHERE kind = 'plan'",
	     offsetof(struct mon_stats, plans)},
	    {"SELECT count(DISTINCT id) FROM documents WHERE kind = 'key'",
	     offsetof(struct mon_stats, keys)},
	    {"SELECT count(*) FROM decisions",
	     offsetof(struct mon_stats, decisions)},
	    {"SELECT count(*) FROM notices",
	     offsetof(struct mon_stats, notices)},
	    {"SELECT coalesce(sum(amount), 0) FROM notices",
	     offsetof(struct mon_stats, notice_cents)},
	    {"SELECT count(*) FROM audit",
	     offsetof(struct mon_stats, audit_entries)},
	    {"SELECT coalesce(max(received), 0) FROM reports",
	     offsetof(struct mon_stats, last_received)},
	};
	struct sq *q = impl;
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc = 0, step;

	memset(o, 0, sizeof(*o));
	for (i = 0; rc == 0 && i < sizeof(counts) / sizeof(*counts); i++)
		rc =
		    scalar(q, counts[i].sql,
			   (int64_t *)(void *)((char *)o + counts[i].off), err);
	if (rc == 0)
		rc = one(q,
			 "SELECT region, count(*) FROM reports GROUP BY region "
			 "ORDER BY region",
			 &s, err);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW &&
	       o->nregions < MON_STATS_MAX) {
		copy(o->by_region[o->nregions].region,
		     sizeof(o->by_region[0].region), s, 0);
		o->by_region[o->nregions++].reports =
		    sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc == 0)
		rc = one(q,
			 "SELECT status, count(*) FROM decisions GROUP BY "
			 "status ORDER BY status",
			 &s, err);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW &&
	       o->nstatus < 8) {
		copy(o->by_status[o->nstatus].status,
		     sizeof(o->by_status[0].status), s, 0);
		o->by_status[o->nstatus++].n = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return rc;
}

const struct mon_backend mon_backend_sqlite = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .region_put = sq_region_put,
    .region_get = sq_region_get,
    .report_put = sq_report_put,
    .report_get = sq_report_get,
    .audit_put = sq_audit_put,
    .audit_last = sq_audit_last,
    .audit_each = sq_audit_each,
    .insurer_put = sq_insurer_put,
    .identify = sq_identify,
    .report_list = sq_report_list,
    .tx_begin = sq_tx_begin,
    .tx_end = sq_tx_end,
    .doc_put = sq_doc_put,
    .doc_get = sq_doc_get,
    .doc_list = sq_doc_list,
    .decision_put = sq_decision_put,
    .decision_list = sq_decision_list,
    .notice_list = sq_notice_list,
    .stats = sq_stats,
};
