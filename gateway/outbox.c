/*
 * outbox.c - the durable outbox of signed reports (contract in outbox.h).
 *
 * Decisions:
 *  - One table, one row per report id; the body is a BLOB of the exact
 *    bytes signed, never re-serialised.
 *  - State changes are single UPDATE statements (SQLite makes each one
 *    atomic and durable in WAL mode with synchronous = FULL): there is no
 *    moment at which a report is neither queued nor sent.
 */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sqlite_util.h"

#define OUTBOX_BUSY_MS 5000

struct outbox {
	sqlite3 *db;
	char *path;
};

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS reports("
    " id TEXT PRIMARY KEY,"
    " region TEXT NOT NULL,"
    " plan TEXT NOT NULL,"
    " period TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " body BLOB NOT NULL,"
    " jws TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL,"
    " last_status INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '',"
    " sent_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS reports_due ON reports(state, next_attempt, "
    "created);"
    /* the periods the scheduler closed, each by one report */
    "CREATE TABLE IF NOT EXISTS closings("
    " period TEXT PRIMARY KEY,"
    " report_id TEXT NOT NULL UNIQUE REFERENCES reports(id),"
    " closed_at INTEGER NOT NULL);"
    /* the scheduler's failed attempts at a period not closed yet */
    "CREATE TABLE IF NOT EXISTS closing_failures("
    " period TEXT PRIMARY KEY,"
    " attempts INTEGER NOT NULL,"
    " last_at INTEGER NOT NULL,"
    " last_error TEXT NOT NULL);";

static int db_fail(struct outbox *ob, struct iza_error *err, const char *what)
{
	return iza_sqlite_error(err, ob->path, ob->db, what);
}

void outbox_close(struct outbox *ob)
{
	if (!ob)
		return;
	sqlite3_close(ob->db);
	free(ob->path);
	free(ob);
}

int outbox_open(const char *path, bool create, struct outbox **out,
		struct iza_error *err)
{
	struct outbox *ob;
	bool readonly = false;
	int rc = 0;

	if (!path || !out)
		return -IZA_EUSAGE;
	if (access(path, F_OK) != 0) {
		int fd;

		if (!create)
			return iza_error_set(err, -IZA_ENOTFOUND, path, 0, NULL,
					     "no outbox");
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return iza_error_set(err, -IZA_EIO, path, 0, NULL,
					     "cannot create the outbox: %s",
					     strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	ob = calloc(1, sizeof(*ob));
	if (!ob || !(ob->path = strdup(path))) {
		free(ob);
		return -IZA_ENOMEM;
	}
	if (iza_sqlite_open(path, 0, &ob->db, &readonly) != SQLITE_OK ||
	    sqlite3_busy_timeout(ob->db, OUTBOX_BUSY_MS) != SQLITE_OK ||
	    (!readonly &&
	     (sqlite3_exec(
		  ob->db,
		  "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL,
		  NULL, NULL) != SQLITE_OK ||
	      sqlite3_exec(ob->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)))
		rc = db_fail(ob, err, "cannot open the outbox");
	if (rc == 0 && readonly) {
		/* read-only, the schema cannot be made: a file without it
		 * (created, then the disk was full) holds no outbox yet */
		sqlite3_stmt *s = NULL;
		bool has = false;

		if (sqlite3_prepare_v2(ob->db,
				       "SELECT 1 FROM sqlite_master WHERE "
				       "name = 'reports'",
				       -1, &s, NULL) == SQLITE_OK)
			has = sqlite3_step(s) == SQLITE_ROW;
		sqlite3_finalize(s);
		if (!has)
			rc = iza_error_set(err, -IZA_ENOTFOUND, path, 0, NULL,
					   "no outbox");
	}
	if (rc) {
		outbox_close(ob);
		return rc;
	}
	*out = ob;
	return 0;
}

void outbox_item_release(struct outbox_item *it)
{
	if (!it)
		return;
	free(it->body);
	free(it->jws);
	it->body = it->jws = NULL;
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
	sqlite3_bind_text(s, i, t ? t : "", -1, SQLITE_TRANSIENT);
}

int outbox_enqueue(struct outbox *ob, const char *id, const char *region,
		   const char *plan, const char *period, const char *body,
		   size_t len, const char *jws, int64_t now, bool *added,
		   struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0, step;

	if (!ob || !id || !id[0] || !body || !jws)
		return -IZA_EUSAGE;
	if (len > OUTBOX_MAX_BODY)
		return iza_error_set(err, -IZA_ETOOBIG, ob->path, 0, id,
				     "report larger than %u bytes",
				     OUTBOX_MAX_BODY);
	if (added)
		*added = false;
	if (sqlite3_prepare_v2(ob->db,
			       "INSERT INTO reports(id, region, plan, period, "
			       "created, body, jws, state, next_attempt) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', "
			       "?5) ON CONFLICT(id) DO NOTHING",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot queue the report");
	bind_text(s, 1, id);
	bind_text(s, 2, region);
	bind_text(s, 3, plan);
	bind_text(s, 4, period);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_blob(s, 6, body, (int)len, SQLITE_STATIC);
	bind_text(s, 7, jws);
	step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE)
		return db_fail(ob, err, "cannot queue the report");
	if (sqlite3_changes(ob->db) == 1) {
		if (added)
			*added = true;
		return 0;
	}
	/* already there: the same report, or another under its id? */
	if (sqlite3_prepare_v2(ob->db, "SELECT body FROM reports WHERE id = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot read the outbox");
	bind_text(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(s, 0) != len ||
		    memcmp(sqlite3_column_blob(s, 0), body, len) != 0)
			rc = iza_error_set(err, -IZA_EEXISTS, ob->path, 0, id,
					   "another report is queued under "
					   "this report id");
	} else {
		rc = db_fail(ob, err, "cannot read the outbox");
	}
	sqlite3_finalize(s);
	return rc;
}

static const char *const state_name[] = {"queued", "sent", "failed"};

/* The state in column col ("queued" when unknown or NULL). */
static enum outbox_state state_at(sqlite3_stmt *s, int col)
{
	const char *st = (const char *)sqlite3_column_text(s, col);
	int i;

	for (i = 0; st && i < 3; i++)
		if (strcmp(st, state_name[i]) == 0)
			return (enum outbox_state)i;
	return OUTBOX_QUEUED;
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

#define ITEM_COLS                                                              \
	"id, region, plan, period, created, next_attempt, sent_at, "           \
	"attempts, last_status, last_error, state"

static void read_item(sqlite3_stmt *s, struct outbox_item *it)
{
	memset(it, 0, sizeof(*it));
	copy_text(it->id, sizeof(it->id), s, 0);
	copy_text(it->region, sizeof(it->region), s, 1);
	copy_text(it->plan, sizeof(it->plan), s, 2);
	copy_text(it->period, sizeof(it->period), s, 3);
	it->created = sqlite3_column_int64(s, 4);
	it->next_attempt = sqlite3_column_int64(s, 5);
	it->sent_at = sqlite3_column_int64(s, 6);
	it->attempts = sqlite3_column_int(s, 7);
	it->last_status = sqlite3_column_int(s, 8);
	copy_text(it->last_error, sizeof(it->last_error), s, 9);
	it->state = state_at(s, 10);
}

int outbox_next(struct outbox *ob, int64_t now, struct outbox_item *it,
		struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc, step;

	if (!ob || !it)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(ob->db,
			       "SELECT " ITEM_COLS ", body, jws FROM reports "
			       "WHERE state = 'queued' AND next_attempt <= ?1 "
			       "ORDER BY created, id LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot read the outbox");
	sqlite3_bind_int64(s, 1, now);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 11);
		const char *jws = (const char *)sqlite3_column_text(s, 12);

		read_item(s, it);
		it->body = malloc(n + 1);
		it->jws = jws ? strdup(jws) : NULL;
		if (!it->body || !it->jws) {
			outbox_item_release(it);
			rc = -IZA_ENOMEM;
		} else {
			if (n)
				memcpy(it->body, sqlite3_column_blob(s, 11), n);
			it->body[n] = '\0';
			it->body_len = n;
			rc = 1;
		}
	} else if (step == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(ob, err, "cannot read the outbox");
	}
	sqlite3_finalize(s);
	return rc;
}

static int update(struct outbox *ob, const char *sql, const char *id,
		  int status, const char *why, int64_t t, struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int step;

	if (!ob || !id)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(ob->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot update the outbox");
	bind_text(s, 1, id);
	sqlite3_bind_int(s, 2, status);
	bind_text(s, 3, why);
	sqlite3_bind_int64(s, 4, t);
	step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE)
		return db_fail(ob, err, "cannot update the outbox");
	if (sqlite3_changes(ob->db) != 1)
		return iza_error_set(err, -IZA_ENOTFOUND, ob->path, 0, id,
				     "no such report in the outbox");
	return 0;
}

int outbox_mark_sent(struct outbox *ob, const char *id, int status, int64_t now,
		     struct iza_error *err)
{
	return update(
	    ob,
	    "UPDATE reports SET state = 'sent', attempts = attempts + "
	    "1, last_status = ?2, last_error = ?3, sent_at = ?4 "
	    "WHERE id = ?1",
	    id, status, "", now, err);
}

int outbox_mark_retry(struct outbox *ob, const char *id, int status,
		      const char *why, int64_t next_attempt,
		      struct iza_error *err)
{
	return update(ob,
		      "UPDATE reports SET attempts = attempts + 1, last_status "
		      "= ?2, last_error = ?3, next_attempt = ?4 WHERE id = ?1 "
		      "AND state = 'queued'",
		      id, status, why, next_attempt, err);
}

int outbox_mark_failed(struct outbox *ob, const char *id, int status,
		       const char *why, struct iza_error *err)
{
	return update(ob,
		      "UPDATE reports SET state = 'failed', attempts = "
		      "attempts + 1, last_status = ?2, last_error = ?3, "
		      "next_attempt = ?4 WHERE id = ?1 AND state = 'queued'",
		      id, status, why, 0, err);
}

int64_t outbox_backoff(int attempts, int64_t retry_after, double jitter,
		       int64_t now)
{
	int64_t d = 30;
	int i;

	for (i = 1; i < attempts && d < 6 * 3600; i++)
		d *= 2;
	if (d > 6 * 3600)
		d = 6 * 3600;
	if (jitter < 0)
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	d = (int64_t)((double)d * (0.8 + 0.4 * jitter));
	if (retry_after > d)
		d = retry_after;
	return now + d;
}

int outbox_stats(struct outbox *ob, struct outbox_stats *st,
		 struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int step;

	if (!ob || !st)
		return -IZA_EUSAGE;
	memset(st, 0, sizeof(*st));
	if (sqlite3_prepare_v2(ob->db,
			       "SELECT coalesce(sum(state = 'queued'), 0), "
			       "coalesce(sum(state = 'sent'), 0), "
			       "coalesce(sum(state = 'failed'), 0), "
			       "coalesce(min(CASE WHEN state = 'queued' THEN "
			       "created END), 0), "
			       "coalesce(max(sent_at), 0) FROM reports",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot read the outbox");
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		st->queued = sqlite3_column_int64(s, 0);
		st->sent = sqlite3_column_int64(s, 1);
		st->failed = sqlite3_column_int64(s, 2);
		st->oldest_queued = sqlite3_column_int64(s, 3);
		st->last_sent = sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	return step == SQLITE_ROW ? 0
				  : db_fail(ob, err, "cannot read the outbox");
}

int outbox_failed(struct outbox *ob,
		  int (*cb)(void *ctx, const struct outbox_item *it), void *ctx,
		  struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int step = SQLITE_DONE, rc = 0;

	if (!ob || !cb)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(ob->db,
			       "SELECT " ITEM_COLS " FROM reports WHERE state "
			       "= 'failed' ORDER BY created, id",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot read the outbox");
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct outbox_item it;

		read_item(s, &it);
		rc = cb(ctx, &it);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_fail(ob, err, "cannot read the outbox");
	sqlite3_finalize(s);
	return rc;
}

static int exec_sql(struct outbox *ob, const char *sql, struct iza_error *err)
{
	if (sqlite3_exec(ob->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot update the outbox");
	return 0;
}

int outbox_closing(struct outbox *ob, const char *period, char *report_id,
		   size_t size, int64_t *closed_at, struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int step;

	if (!ob || !period)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(ob->db,
			       "SELECT report_id, closed_at FROM closings "
			       "WHERE period = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot read the outbox");
	bind_text(s, 1, period);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		if (report_id && size)
			copy_text(report_id, size, s, 0);
		if (closed_at)
			*closed_at = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return db_fail(ob, err, "cannot read the outbox");
	return step == SQLITE_ROW;
}

int outbox_enqueue_closing(struct outbox *ob, const char *id,
			   const char *region, const char *plan,
			   const char *period, const char *body, size_t len,
			   const char *jws, int64_t now, struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	char before[80];
	int rc, step;

	if (!ob || !period)
		return -IZA_EUSAGE;
	rc = exec_sql(ob, "BEGIN IMMEDIATE", err);
	if (rc)
		return rc;
	rc = outbox_closing(ob, period, before, sizeof(before), NULL, err);
	if (rc == 1)
		rc = iza_error_set(err, -IZA_EEXISTS, ob->path, 0, period,
				   "the period was closed before, by report "
				   "%s",
				   before);
	if (rc == 0)
		rc = outbox_enqueue(ob, id, region, plan, period, body, len,
				    jws, now, NULL, err);
	if (rc == 0 &&
	    sqlite3_prepare_v2(ob->db,
			       "INSERT INTO closings(period, report_id, "
			       "closed_at) VALUES (?1, ?2, ?3)",
			       -1, &s, NULL) != SQLITE_OK)
		rc = db_fail(ob, err, "cannot record the closing");
	if (rc == 0) {
		bind_text(s, 1, period);
		bind_text(s, 2, id);
		sqlite3_bind_int64(s, 3, now);
		step = sqlite3_step(s);
		sqlite3_finalize(s);
		if (step != SQLITE_DONE)
			rc = db_fail(ob, err, "cannot record the closing");
	}
	if (rc == 0 && sqlite3_prepare_v2(ob->db,
					  "DELETE FROM closing_failures WHERE "
					  "period = ?1",
					  -1, &s, NULL) == SQLITE_OK) {
		bind_text(s, 1, period);
		sqlite3_step(s);
		sqlite3_finalize(s);
	}
	if (rc == 0)
		return exec_sql(ob, "COMMIT", err);
	sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int outbox_closing_failed(struct outbox *ob, const char *period,
			  const char *why, int64_t now, struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int step;

	if (!ob || !period)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(
		ob->db,
		"INSERT INTO closing_failures(period, attempts, last_at, "
		"last_error) VALUES (?1, 1, ?2, ?3) ON CONFLICT(period) DO "
		"UPDATE SET attempts = attempts + 1, last_at = ?2, "
		"last_error = ?3",
		-1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot record the failure");
	bind_text(s, 1, period);
	sqlite3_bind_int64(s, 2, now);
	bind_text(s, 3, why);
	step = sqlite3_step(s);
	sqlite3_finalize(s);
	return step == SQLITE_DONE
		   ? 0
		   : db_fail(ob, err, "cannot record the failure");
}

int outbox_closings(struct outbox *ob,
		    int (*cb)(void *ctx, const struct outbox_closing *c),
		    void *ctx, struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int step = SQLITE_DONE, rc = 0;

	if (!ob || !cb)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(
		ob->db,
		"SELECT p.period, c.report_id, c.closed_at, r.state, "
		"r.sent_at, f.attempts, f.last_at, f.last_error FROM (SELECT "
		"period FROM closings UNION SELECT period FROM "
		"closing_failures) p LEFT JOIN closings c USING (period) LEFT "
		"JOIN reports r ON r.id = c.report_id LEFT JOIN "
		"closing_failures f USING (period) ORDER BY p.period",
		-1, &s, NULL) != SQLITE_OK)
		return db_fail(ob, err, "cannot read the outbox");
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct outbox_closing c;

		memset(&c, 0, sizeof(c));
		copy_text(c.period, sizeof(c.period), s, 0);
		copy_text(c.report_id, sizeof(c.report_id), s, 1);
		c.closed_at = sqlite3_column_int64(s, 2);
		c.state = state_at(s, 3);
		c.sent_at = sqlite3_column_int64(s, 4);
		c.failures = sqlite3_column_int(s, 5);
		c.failed_at = sqlite3_column_int64(s, 6);
		copy_text(c.last_error, sizeof(c.last_error), s, 7);
		rc = cb(ctx, &c);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_fail(ob, err, "cannot read the outbox");
	sqlite3_finalize(s);
	return rc;
}
