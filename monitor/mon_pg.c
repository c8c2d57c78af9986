/*
 * mon_pg.c - the PostgreSQL backend of izamon's storage (contract in
 * mon_store.h), over libpq.  The schema is mon_sqlite.c's, table for table
 * and constraint for constraint (BLOB is BYTEA); PL/pgSQL triggers refuse
 * UPDATE, DELETE and TRUNCATE where SQLite's refuse UPDATE and DELETE.
 *
 * Every value travels as a statement parameter (PQexecParams); the only SQL
 * sent as plain text is constant (schema, BEGIN, COMMIT).  Results come in
 * text form (BYTEA hex-decoded with PQunescapeBytea).
 *
 * Writers serialise like SQLite's BEGIN IMMEDIATE: tx_begin (and doc_put)
 * start a READ COMMITTED transaction and take a transaction-scoped advisory
 * lock for the izamon schema before reading anything, so that every read
 * after it sees what the previous holder committed
 * (docs/decisions/0015-izamon-postgresql.md).
 */
#include "mon_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* Type OIDs of the parameters we send (pg_type.h is a server header). */
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_TEXT  25

struct pg {
	PGconn *conn;
	char name[IZA_ERR_FILE_MAX]; /* the database as errors name it */
	bool in_tx;
};

/* The lock every writing transaction takes first: a constant ("IZAM") and
 * the schema, so that two izamon databases in one PostgreSQL database (two
 * schemas) do not wait for each other. */
#define WRITE_LOCK                                                             \
	"SELECT pg_advisory_xact_lock(1230651725, "                            \
	"hashtext(coalesce(current_schema(), '')))"

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
    " body BYTEA NOT NULL,"
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
    " body BYTEA NOT NULL,"
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
    "CREATE TABLE IF NOT EXISTS audit("
    " seq BIGINT PRIMARY KEY,"
    " time BIGINT NOT NULL,"
    " event TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " on_behalf TEXT NOT NULL,"
    " what TEXT NOT NULL,"
    " prev_hash BYTEA NOT NULL,"
    " hash BYTEA NOT NULL);"
    /* one function for every refusal: the message is the argument */
    "CREATE OR REPLACE FUNCTION izamon_refuse() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';"
    " END $$;"
    "CREATE OR REPLACE TRIGGER decisions_stand BEFORE UPDATE ON decisions"
    " FOR EACH ROW EXECUTE FUNCTION izamon_refuse('a decision stands');"
    "CREATE OR REPLACE TRIGGER decisions_kept BEFORE DELETE ON decisions"
    " FOR EACH ROW EXECUTE FUNCTION izamon_refuse('a decision stands');"
    "CREATE OR REPLACE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON"
    " decisions FOR EACH STATEMENT EXECUTE FUNCTION"
    " izamon_refuse('a decision stands');"
    "CREATE OR REPLACE TRIGGER notices_stand BEFORE UPDATE ON notices"
    " FOR EACH ROW EXECUTE FUNCTION izamon_refuse('a notice is never "
    "changed');"
    "CREATE OR REPLACE TRIGGER notices_kept BEFORE DELETE ON notices"
    " FOR EACH ROW EXECUTE FUNCTION izamon_refuse('a notice is never "
    "removed');"
    "CREATE OR REPLACE TRIGGER notices_no_truncate BEFORE TRUNCATE ON"
    " notices FOR EACH STATEMENT EXECUTE FUNCTION"
    " izamon_refuse('a notice is never removed');"
    "CREATE OR REPLACE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION izamon_refuse('the audit log is "
    "append-only');"
    "CREATE OR REPLACE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION izamon_refuse('the audit log is "
    "append-only');"
    "CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION izamon_refuse('the audit log is "
    "append-only');";

/* What open checks before it runs schema_sql: all 7 tables and 9
 * triggers present means nothing to do (DDL takes table locks). */
static const char *const schema_check_sql =
    "SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = "
    "current_schema() AND tablename IN ('regions', 'reports', 'insurers', "
    "'documents', 'decisions', 'notices', 'audit')), (SELECT count(*) FROM "
    "pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = "
    "t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND "
    "t.tgenabled <> 'D' AND t.tgname IN ('decisions_stand', "
    "'decisions_kept', 'decisions_no_truncate', 'notices_stand', "
    "'notices_kept', 'notices_no_truncate', 'audit_no_update', "
    "'audit_no_delete', 'audit_no_truncate'))";
#define SCHEMA_TABLES	7
#define SCHEMA_TRIGGERS 9

/* Statement parameters: values as text (integers in decimal), BYTEA as
 * binary. */
#define MAX_PARAMS 10
struct params {
	int n;
	const char *val[MAX_PARAMS];
	int len[MAX_PARAMS], fmt[MAX_PARAMS];
	Oid type[MAX_PARAMS];
	char num[MAX_PARAMS][24];
};

static void p_text(struct params *p, const char *t)
{
	p->val[p->n] = t ? t : "";
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->type[p->n++] = OID_TEXT;
}

static void p_i64(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	p->val[p->n] = p->num[p->n];
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->type[p->n++] = OID_INT8;
}

static void p_bytes(struct params *p, const void *b, size_t len)
{
	p->val[p->n] = len ? b : "";
	p->len[p->n] = (int)len;
	p->fmt[p->n] = 1;
	p->type[p->n++] = OID_BYTEA;
}

/* The server's reason, on one line. */
static void reason(struct pg *q, const PGresult *res, char *buf, size_t size)
{
	const char *m =
	    res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t i;

	if (!m || !*m)
		m = q->conn ? PQerrorMessage(q->conn) : "";
	if (!*m)
		m = "unknown error";
	/* whitespace runs (libpq's line breaks and indents) become one
	 * space */
	for (i = 0; *m && i + 1 < size; m++) {
		bool space =
		    *m == ' ' || *m == '\n' || *m == '\r' || *m == '\t';

		if (!space)
			buf[i++] = *m;
		else if (i > 0 && buf[i - 1] != ' ')
			buf[i++] = ' ';
	}
	while (i > 0 && buf[i - 1] == ' ')
		i--;
	buf[i] = '\0';
}

/* A store error naming the database and the server's reason; clears
 * res. */
static int fail(struct pg *q, PGresult *res, struct iza_error *err,
		const char *what)
{
	char why[200];

	reason(q, res, why, sizeof(why));
	PQclear(res);
	return iza_error_set(err, -IZA_ESTORE, q->name, 0, NULL, "%s: %s", what,
			     why);
}

/*
 * Run sql with parameters p (NULL: none).  0 and *out (the caller clears
 * it; out NULL: cleared here) when the statement succeeded, else a store
 * error.  A connection found broken before a statement outside a
 * transaction is re-established first (izamon serve outlives a server
 * restart); a statement is never sent twice.
 */
static int exec(struct pg *q, const char *sql, const struct params *p,
		PGresult **out, const char *what, struct iza_error *err)
{
	PGresult *res;
	ExecStatusType st;

	if (PQstatus(q->conn) == CONNECTION_BAD && !q->in_tx)
		PQreset(q->conn);
	if (PQstatus(q->conn) == CONNECTION_BAD)
		return fail(q, NULL, err, what);
	res = PQexecParams(q->conn, sql, p ? p->n : 0, p ? p->type : NULL,
			   p ? p->val : NULL, p ? p->len : NULL,
			   p ? p->fmt : NULL, 0);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return fail(q, res, err, what);
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

static void copy(char *dst, size_t size, const PGresult *res, int row, int col)
{
	snprintf(dst, size, "%s", PQgetvalue(res, row, col));
}

static int64_t i64(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* A BYTEA value as a NUL-terminated heap copy (caller frees); NULL when
 * out of memory. */
static char *bytes(const PGresult *res, int row, int col, size_t *len)
{
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea(
	    (const unsigned char *)PQgetvalue(res, row, col), &n);
	char *out = raw ? malloc(n + 1) : NULL;

	if (out) {
		if (n)
			memcpy(out, raw, n);
		out[n] = '\0';
		*len = n;
	}
	PQfreemem(raw);
	return out;
}

/* libpq's notices ("relation already exists, skipping") go nowhere:
 * library code does not print. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void pg_close(void *impl)
{
	struct pg *q = impl;

	if (!q)
		return;
	PQfinish(q->conn);
	free(q);
}

/* The name errors give the database: the URL's user, host, port and
 * database, never its password. */
static void set_name(struct pg *q, const char *url)
{
	const char *user = PQuser(q->conn), *host = PQhost(q->conn),
		   *port = PQport(q->conn), *db = PQdb(q->conn);

	if (PQstatus(q->conn) == CONNECTION_BAD && (!db || !*db)) {
		mon_store_name(url, q->name, sizeof(q->name));
		return;
	}
	snprintf(q->name, sizeof(q->name), "postgresql://%s%s%s%s%s/%s",
		 user && *user ? user : "", user && *user ? "@" : "",
		 host ? host : "", port && *port ? ":" : "", port ? port : "",
		 db ? db : "");
}

/* Create or complete the schema under the write lock (two izamon init at
 * once, or an open that adds a table a newer version brought). */
static int make_schema(struct pg *q, struct iza_error *err)
{
	PGresult *res;
	int rc;

	rc = exec(q, "BEGIN", NULL, NULL, "cannot create the schema", err);
	if (rc)
		return rc;
	rc = exec(q, WRITE_LOCK, NULL, NULL, "cannot create the schema", err);
	if (rc == 0) {
		/* several statements, no parameters: PQexec */
		res = PQexec(q->conn, schema_sql);
		rc = PQresultStatus(res) == PGRES_COMMAND_OK
			 ? (PQclear(res), 0)
			 : fail(q, res, err, "cannot create the schema");
	}
	if (rc == 0)
		rc = exec(q, "COMMIT", NULL, NULL, "cannot create the schema",
			  err);
	if (rc)
		PQclear(PQexec(q->conn, "ROLLBACK"));
	return rc;
}

static int pg_open_url(const char *url, bool create, void **impl,
		       struct iza_error *err)
{
	/* defaults first: what the URL says overrides them (expand_dbname) */
	const char *const keys[] = {"connect_timeout",
				    "fallback_application_name",
				    "client_encoding", "dbname", NULL};
	const char *const vals[] = {"10", "izamon", "UTF8", url, NULL};
	PQconninfoOption *opts;
	char *perr = NULL;
	PGresult *res = NULL;
	struct pg *q;
	int rc;

	/* parsed first, so that a malformed URL is refused without echoing
	 * any of it (it may hold a password) */
	opts = PQconninfoParse(url, &perr);
	PQfreemem(perr);
	if (!opts) {
		char name[IZA_ERR_FILE_MAX];

		mon_store_name(url, name, sizeof(name));
		return iza_error_set(err, -IZA_ECONFIG, name, 0, "database",
				     "not a PostgreSQL connection URL "
				     "(postgresql://USER@HOST:PORT/DATABASE)");
	}
	PQconninfoFree(opts);
	q = calloc(1, sizeof(*q));
	if (!q)
		return -IZA_ENOMEM;
	q->conn = PQconnectdbParams(keys, vals, 1);
	if (!q->conn) {
		free(q);
		return -IZA_ENOMEM;
	}
	set_name(q, url);
	if (PQstatus(q->conn) != CONNECTION_OK) {
		rc = fail(q, NULL, err, "cannot connect to the database");
		pg_close(q);
		return rc;
	}
	PQsetNoticeProcessor(q->conn, quiet, NULL);
	/* a writer waits for the write lock a bounded time (SQLite's busy
	 * timeout), unless the server or role sets a limit of its own */
	rc = exec(q,
		  "SELECT set_config('lock_timeout', '30s', false) WHERE "
		  "current_setting('lock_timeout') = '0'",
		  NULL, NULL, "cannot configure the session", err);
	if (rc == 0)
		rc = exec(q, schema_check_sql, NULL, &res,
			  "cannot read the schema", err);
	if (rc == 0) {
		int64_t tables = i64(res, 0, 0), triggers = i64(res, 0, 1);

		PQclear(res);
		if (tables == 0 && !create)
			rc =
			    iza_error_set(err, -IZA_ENOTFOUND, q->name, 0, NULL,
					  "no monitoring database (izamon "
					  "init makes one)");
		else if (tables != SCHEMA_TABLES || triggers != SCHEMA_TRIGGERS)
			rc = make_schema(q, err);
	}
	if (rc) {
		pg_close(q);
		return rc;
	}
	*impl = q;
	return 0;
}

/* where is what follows "postgresql:" in the URL: "//USER@HOST/DB". */
static int pg_open(const char *where, bool create, void **impl,
		   struct iza_error *err)
{
	size_t n = strlen("postgresql:") + strlen(where) + 1;
	char *url = malloc(n);
	int rc;

	if (!url)
		return -IZA_ENOMEM;
	snprintf(url, n, "postgresql:%s", where);
	rc = pg_open_url(url, create, impl, err);
	/* the URL may hold a password: do not leave it in freed memory */
	memset(url, 0, n);
	free(url);
	return rc;
}

static int pg_region_put(void *impl, const struct mon_region *r,
			 struct iza_error *err)
{
	struct params p = {0};

	p_text(&p, r->code);
	p_text(&p, r->cert_sha256);
	p_text(&p, r->plans);
	return exec(impl,
		    "INSERT INTO regions(code, cert_sha256, plans) VALUES ($1, "
		    "$2, $3) ON CONFLICT (code) DO UPDATE SET cert_sha256 = "
		    "EXCLUDED.cert_sha256, plans = EXCLUDED.plans",
		    &p, NULL, "cannot enrol", err);
}

static int pg_region_get(void *impl, const char *code, struct mon_region *out,
			 struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc;

	p_text(&p, code);
	rc = exec(impl,
		  "SELECT code, cert_sha256, plans FROM regions WHERE code = "
		  "$1",
		  &p, &res, "cannot read", err);
	if (rc)
		return rc;
	if (PQntuples(res) > 0) {
		copy(out->code, sizeof(out->code), res, 0, 0);
		copy(out->cert_sha256, sizeof(out->cert_sha256), res, 0, 1);
		copy(out->plans, sizeof(out->plans), res, 0, 2);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

static int pg_report_put(void *impl, const struct mon_report *r,
			 enum mon_put *res, struct iza_error *err)
{
	struct pg *q = impl;
	struct params p = {0};
	PGresult *pr;
	int rc;

	p_text(&p, r->id);
	p_text(&p, r->region);
	p_text(&p, r->plan);
	p_text(&p, r->period);
	p_i64(&p, r->received);
	p_text(&p, r->signer_sha256);
	p_bytes(&p, r->body, r->body_len);
	p_text(&p, r->jws);
	/* no failing INSERT: it would end a transaction around it */
	rc = exec(q,
		  "INSERT INTO reports(id, region, plan, period, received, "
		  "signer_sha256, body, jws) VALUES ($1, $2, $3, $4, $5, $6, "
		  "$7, $8) ON CONFLICT (id) DO NOTHING",
		  &p, &pr, "cannot store the report", err);
	if (rc)
		return rc;
	if (strcmp(PQcmdTuples(pr), "1") == 0) {
		PQclear(pr);
		*res = MON_INSERTED;
		return 0;
	}
	PQclear(pr);
	/* the id is taken: the same bytes, or another report? */
	memset(&p, 0, sizeof(p));
	p_text(&p, r->id);
	p_bytes(&p, r->body, r->body_len);
	rc = exec(q, "SELECT body = $2 FROM reports WHERE id = $1", &p, &pr,
		  "cannot read the stored report", err);
	if (rc)
		return rc;
	if (PQntuples(pr) != 1) {
		PQclear(pr);
		return iza_error_set(err, -IZA_ESTORE, q->name, 0, NULL,
				     "cannot read the stored report: it "
				     "vanished");
	}
	*res = strcmp(PQgetvalue(pr, 0, 0), "t") == 0 ? MON_DUPLICATE
						      : MON_CONFLICT;
	PQclear(pr);
	return 0;
}

static int pg_report_get(void *impl, const char *id, struct mon_report *out,
			 struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc;

	p_text(&p, id);
	rc = exec(impl,
		  "SELECT id, region, plan, period, received, signer_sha256, "
		  "body, jws FROM reports WHERE id = $1",
		  &p, &res, "cannot read", err);
	if (rc)
		return rc;
	if (PQntuples(res) > 0) {
		memset(out, 0, sizeof(*out));
		copy(out->id, sizeof(out->id), res, 0, 0);
		copy(out->region, sizeof(out->region), res, 0, 1);
		copy(out->plan, sizeof(out->plan), res, 0, 2);
		copy(out->period, sizeof(out->period), res, 0, 3);
		out->received = i64(res, 0, 4);
		copy(out->signer_sha256, sizeof(out->signer_sha256), res, 0, 5);
		out->body = bytes(res, 0, 6, &out->body_len);
		out->jws = strdup(PQgetvalue(res, 0, 7));
		if (!out->body || !out->jws) {
			mon_report_release(out);
			rc = -IZA_ENOMEM;
		} else {
			rc = 1;
		}
	}
	PQclear(res);
	return rc;
}

static int pg_audit_put(void *impl, const struct mon_audit_entry *e,
			struct iza_error *err)
{
	struct params p = {0};

	p_i64(&p, e->seq);
	p_i64(&p, e->time);
	p_text(&p, e->event);
	p_text(&p, e->actor);
	p_text(&p, e->on_behalf);
	p_text(&p, e->what);
	p_bytes(&p, e->prev, MON_HASH_LEN);
	p_bytes(&p, e->hash, MON_HASH_LEN);
	return exec(impl,
		    "INSERT INTO audit(seq, time, event, actor, on_behalf, "
		    "what, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, "
		    "$7, $8)",
		    &p, NULL, "cannot write the audit log", err);
}

static void read_hash(uint8_t out[MON_HASH_LEN], const PGresult *res, int row,
		      int col)
{
	size_t n = 0;
	char *h = bytes(res, row, col, &n);

	if (h && n == MON_HASH_LEN)
		memcpy(out, h, MON_HASH_LEN);
	free(h);
}

static void read_entry(const PGresult *res, int row, struct mon_audit_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = i64(res, row, 0);
	e->time = i64(res, row, 1);
	copy(e->event, sizeof(e->event), res, row, 2);
	copy(e->actor, sizeof(e->actor), res, row, 3);
	copy(e->on_behalf, sizeof(e->on_behalf), res, row, 4);
	copy(e->what, sizeof(e->what), res, row, 5);
	read_hash(e->prev, res, row, 6);
	read_hash(e->hash, res, row, 7);
}

#define AUDIT_COLS "seq, time, event, actor, on_behalf, what, prev_hash, hash"

static int pg_audit_last(void *impl, struct mon_audit_entry *out,
			 struct iza_error *err)
{
	PGresult *res;
	int rc = exec(impl,
		      "SELECT " AUDIT_COLS " FROM audit ORDER BY seq DESC "
		      "LIMIT 1",
		      NULL, &res, "cannot read", err);

	if (rc)
		return rc;
	if (PQntuples(res) > 0) {
		read_entry(res, 0, out);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

/* In pages of AUDIT_PAGE entries after the last seq seen, so that a long
 * log is never held in memory whole. */
#define AUDIT_PAGE 5000

static int pg_audit_each(void *impl,
			 int (*cb)(void *ctx, const struct mon_audit_entry *e),
			 void *ctx, struct iza_error *err)
{
	int64_t after = INT64_MIN;
	bool stop = false;
	int rc = 0;

	while (rc == 0 && !stop) {
		struct params p = {0};
		PGresult *res;
		int i, n;

		p_i64(&p, after);
		p_i64(&p, AUDIT_PAGE);
		rc = exec(impl,
			  "SELECT " AUDIT_COLS " FROM audit WHERE seq > $1 "
			  "ORDER BY seq LIMIT $2",
			  &p, &res, "cannot read the audit log", err);
		if (rc)
			break;
		n = PQntuples(res);
		for (i = 0; i < n && !stop; i++) {
			struct mon_audit_entry e;

			read_entry(res, i, &e);
			after = e.seq;
			stop = cb(ctx, &e) != 0;
		}
		PQclear(res);
		if (n < AUDIT_PAGE)
			break;
	}
	return rc;
}

static int pg_insurer_put(void *impl, const char *code, const char *fp,
			  struct iza_error *err)
{
	struct params p = {0};

	p_text(&p, code);
	p_text(&p, fp);
	return exec(impl,
		    "INSERT INTO insurers(code, cert_sha256) VALUES ($1, $2) "
		    "ON CONFLICT (code) DO UPDATE SET cert_sha256 = "
		    "EXCLUDED.cert_sha256",
		    &p, NULL, "cannot enrol", err);
}

static int pg_identify(void *impl, const char *fp, char role[16], char code[16],
		       struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc;

	p_text(&p, fp);
	rc = exec(impl,
		  "SELECT 'region', code FROM regions WHERE cert_sha256 = $1 "
		  "UNION ALL SELECT 'insurer', code FROM insurers WHERE "
		  "cert_sha256 = $1",
		  &p, &res, "cannot read", err);
	if (rc)
		return rc;
	if (PQntuples(res) > 0) {
		copy(role, 16, res, 0, 0);
		copy(code, 16, res, 0, 1);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

static int pg_report_list(void *impl, const char *region, const char *plan,
			  const char *period,
			  int (*cb)(void *ctx, const struct mon_report *r),
			  void *ctx, struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, region);
	p_text(&p, plan);
	p_text(&p, period);
	rc = exec(impl,
		  "SELECT id, region, plan, period, received, signer_sha256 "
		  "FROM reports WHERE ($1 = '' OR region = $1) AND ($2 = '' "
		  "OR plan = $2) AND ($3 = '' OR period = $3) ORDER BY "
		  "received, id",
		  &p, &res, "cannot list reports", err);
	if (rc)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		struct mon_report r;

		memset(&r, 0, sizeof(r));
		copy(r.id, sizeof(r.id), res, i, 0);
		copy(r.region, sizeof(r.region), res, i, 1);
		copy(r.plan, sizeof(r.plan), res, i, 2);
		copy(r.period, sizeof(r.period), res, i, 3);
		r.received = i64(res, i, 4);
		copy(r.signer_sha256, sizeof(r.signer_sha256), res, i, 5);
		if (cb(ctx, &r))
			break;
	}
	PQclear(res);
	return 0;
}

/* the latest version of document kind/id: 1 and *version, *sha (and a
 * heap body when body is not NULL), 0 none */
static int doc_latest(struct pg *q, const char *kind, const char *id,
		      int64_t *version, char sha[65], char **body, size_t *len,
		      struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc;

	p_text(&p, kind);
	p_text(&p, id);
	rc = exec(q,
		  body ? "SELECT version, sha256, body FROM documents WHERE "
			 "kind = $1 AND id = $2 ORDER BY version DESC LIMIT 1"
		       : "SELECT version, sha256 FROM documents WHERE kind = "
			 "$1 AND id = $2 ORDER BY version DESC LIMIT 1",
		  &p, &res, "cannot read documents", err);
	if (rc)
		return rc;
	if (PQntuples(res) > 0) {
		*version = i64(res, 0, 0);
		copy(sha, 65, res, 0, 1);
		rc = 1;
		if (body && !(*body = bytes(res, 0, 2, len)))
			rc = -IZA_ENOMEM;
	}
	PQclear(res);
	return rc;
}

static int pg_tx_begin(void *impl, struct iza_error *err)
{
	struct pg *q = impl;
	int rc;

	/* READ COMMITTED: each statement after the lock reads what the
	 * previous holder committed (a REPEATABLE READ snapshot would date
	 * from before the wait) */
	rc = exec(q, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL, NULL,
		  "cannot start a transaction", err);
	if (rc)
		return rc;
	q->in_tx = true;
	rc = exec(q, WRITE_LOCK, NULL, NULL, "cannot take the write lock", err);
	if (rc) {
		PQclear(PQexec(q->conn, "ROLLBACK"));
		q->in_tx = false;
	}
	return rc;
}

static int pg_tx_end(void *impl, bool commit, struct iza_error *err)
{
	struct pg *q = impl;
	PGresult *res;
	int rc = 0;

	if (commit) {
		rc = exec(q, "COMMIT", NULL, &res, "cannot commit", err);
		/* COMMIT of a transaction a failed statement ended rolls
		 * back, and says so only in its command tag */
		if (rc == 0) {
			if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
				rc = iza_error_set(
				    err, -IZA_ESTORE, q->name, 0, NULL,
				    "cannot commit: the transaction was "
				    "rolled back");
			PQclear(res);
		}
	} else {
		PQclear(PQexec(q->conn, "ROLLBACK"));
		rc = -IZA_ESTORE;
	}
	q->in_tx = false;
	return rc;
}

static int pg_doc_put(void *impl, const char *kind, const char *id,
		      const char *body, size_t len, const char *sha256,
		      int64_t now, int64_t *version, enum mon_put *res,
		      struct iza_error *err)
{
	struct pg *q = impl;
	char sha[65];
	int64_t latest = 0;
	int rc = pg_tx_begin(q, err);

	if (rc)
		return rc;
	rc = doc_latest(q, kind, id, &latest, sha, NULL, NULL, err);
	if (rc == 1 && strcmp(sha, sha256) == 0) {
		*version = latest;
		*res = MON_DUPLICATE;
		rc = 0;
	} else if (rc >= 0) {
		struct params p = {0};

		p_text(&p, kind);
		p_text(&p, id);
		p_i64(&p, latest + 1);
		p_i64(&p, now);
		p_text(&p, sha256);
		p_bytes(&p, body, len);
		rc = exec(q,
			  "INSERT INTO documents(kind, id, version, loaded, "
			  "sha256, body) VALUES ($1, $2, $3, $4, $5, $6)",
			  &p, NULL, "cannot store the document", err);
		*version = latest + 1;
		*res = MON_INSERTED;
	}
	if (rc == 0)
		return pg_tx_end(q, true, err);
	pg_tx_end(q, false, NULL);
	return rc;
}

static int pg_doc_get(void *impl, const char *kind, const char *id, char **body,
		      size_t *len, int64_t *version, struct iza_error *err)
{
	char sha[65];

	return doc_latest(impl, kind, id, version, sha, body, len, err);
}

static int pg_doc_list(void *impl, const char *kind,
		       int (*cb)(void *ctx, const char *id, int64_t version,
				 int64_t loaded),
		       void *ctx, struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, kind);
	rc = exec(impl,
		  "SELECT id, version, loaded FROM documents d WHERE kind = $1 "
		  "AND version = (SELECT max(version) FROM documents e WHERE "
		  "e.kind = d.kind AND e.id = d.id) ORDER BY id",
		  &p, &res, "cannot list documents", err);
	if (rc)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		char id[128];

		copy(id, sizeof(id), res, i, 0);
		if (cb(ctx, id, i64(res, i, 1), i64(res, i, 2)))
			break;
	}
	PQclear(res);
	return 0;
}

static int put_notice(struct pg *q, const struct mon_notice *n,
		      struct iza_error *err)
{
	struct params p = {0};

	p_text(&p, n->id);
	p_text(&p, n->plan);
	p_text(&p, n->milestone);
	p_text(&p, n->insurer);
	p_text(&p, n->payee);
	p_i64(&p, n->amount);
	p_text(&p, n->key);
	p_i64(&p, n->issued);
	p_text(&p, n->schedule);
	return exec(q,
		    "INSERT INTO notices(id, plan, milestone, insurer, payee, "
		    "amount, key, issued, schedule) VALUES ($1, $2, $3, $4, "
		    "$5, $6, $7, $8, $9)",
		    &p, NULL, "cannot store a payment notice", err);
}

static int pg_decision_put(void *impl, const struct mon_decision *d,
			   const struct mon_notice *notices, size_t n,
			   enum mon_put *res, struct iza_error *err)
{
	struct pg *q = impl;
	struct params p = {0};
	PGresult *r;
	size_t i;
	int rc;

	/* inside the caller's tx_begin: the write lock is held, so of two
	 * evaluations racing for one milestone the second waits and then
	 * finds it decided (the primary key backs this up) */
	p_text(&p, d->plan);
	p_text(&p, d->milestone);
	rc = exec(q,
		  "SELECT count(*) FROM decisions WHERE plan = $1 AND "
		  "milestone = $2",
		  &p, &r, "cannot read decisions", err);
	if (rc)
		return rc;
	if (i64(r, 0, 0) > 0) {
		PQclear(r);
		*res = MON_DUPLICATE;
		return 0;
	}
	PQclear(r);
	p_i64(&p, d->plan_version);
	p_text(&p, d->status);
	p_i64(&p, d->decided);
	p_i64(&p, d->recorded);
	p_i64(&p, d->late ? 1 : 0);
	p_text(&p, d->key);
	p_text(&p, d->evidence);
	rc = exec(q,
		  "INSERT INTO decisions(plan, milestone, plan_version, "
		  "status, decided, recorded, late, key, evidence) VALUES ($1, "
		  "$2, $3, $4, $5, $6, $7, $8, $9)",
		  &p, NULL, "cannot record the decision", err);
	for (i = 0; rc == 0 && i < n; i++)
		rc = put_notice(q, &notices[i], err);
	*res = MON_INSERTED;
	return rc;
}

static int pg_decision_list(void *impl, const char *plan,
			    int (*cb)(void *ctx, const struct mon_decision *d),
			    void *ctx, struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, plan);
	rc = exec(impl,
		  "SELECT plan, milestone, plan_version, status, decided, "
		  "recorded, late, key, evidence FROM decisions WHERE ($1 = '' "
		  "OR plan = $1) ORDER BY plan, milestone",
		  &p, &res, "cannot list decisions", err);
	if (rc)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		struct mon_decision d;

		memset(&d, 0, sizeof(d));
		copy(d.plan, sizeof(d.plan), res, i, 0);
		copy(d.milestone, sizeof(d.milestone), res, i, 1);
		d.plan_version = i64(res, i, 2);
		copy(d.status, sizeof(d.status), res, i, 3);
		d.decided = i64(res, i, 4);
		d.recorded = i64(res, i, 5);
		d.late = i64(res, i, 6) != 0;
		copy(d.key, sizeof(d.key), res, i, 7);
		d.evidence = PQgetvalue(res, i, 8);
		if (cb(ctx, &d))
			break;
	}
	PQclear(res);
	return 0;
}

static int pg_notice_list(void *impl, const char *plan, const char *insurer,
			  int (*cb)(void *ctx, const struct mon_notice *n),
			  void *ctx, struct iza_error *err)
{
	struct params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, plan);
	p_text(&p, insurer);
	rc = exec(impl,
		  "SELECT id, plan, milestone, insurer, payee, amount, key, "
		  "issued, schedule FROM notices WHERE ($1 = '' OR plan = $1) "
		  "AND ($2 = '' OR insurer = $2) ORDER BY plan, milestone, "
		  "insurer",
		  &p, &res, "cannot list notices", err);
	if (rc)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		struct mon_notice n;

		memset(&n, 0, sizeof(n));
		copy(n.id, sizeof(n.id), res, i, 0);
		copy(n.plan, sizeof(n.plan), res, i, 1);
		copy(n.milestone, sizeof(n.milestone), res, i, 2);
		copy(n.insurer, sizeof(n.insurer), res, i, 3);
		copy(n.payee, sizeof(n.payee), res, i, 4);
		n.amount = i64(res, i, 5);
		copy(n.key, sizeof(n.key), res, i, 6);
		n.issued = i64(res, i, 7);
		n.schedule = PQgetvalue(res, i, 8);
		if (cb(ctx, &n))
			break;
	}
	PQclear(res);
	return 0;
}

static int pg_stats(void *impl, struct mon_stats *o, struct iza_error *err)
{
	PGresult *res;
	int rc, i;

	memset(o, 0, sizeof(*o));
	/* one statement, so that the counts are of one snapshot */
	rc = exec(impl,
		  "SELECT (SELECT count(*) FROM reports), (SELECT count(*) "
		  "FROM audit WHERE event = 'report.refused'), (SELECT "
		  "count(*) FROM regions), (SELECT count(*) FROM insurers), "
		  "(SELECT count(DISTINCT id) FROM documents WHERE kind = "
		  "'plan'), (SELECT count(DISTINCT id) FROM documents WHERE "
		  "kind = 'key'), (SELECT count(*) FROM decisions), (SELECT "
		  "count(*) FROM notices), (SELECT coalesce(sum(amount), 0) "
		  "FROM notices), (SELECT count(*) FROM audit), (SELECT "
		  "coalesce(max(received), 0) FROM reports)",
		  NULL, &res, "cannot count", err);
	if (rc)
		return rc;
	o->reports = i64(res, 0, 0);
	o->refused = i64(res, 0, 1);
	o->regions = i64(res, 0, 2);
	o->insurers = i64(res, 0, 3);
	o->plans = i64(res, 0, 4);
	o->keys = i64(res, 0, 5);
	o->decisions = i64(res, 0, 6);
	o->notices = i64(res, 0, 7);
	o->notice_cents = i64(res, 0, 8);
	o->audit_entries = i64(res, 0, 9);
	o->last_received = i64(res, 0, 10);
	PQclear(res);
	rc = exec(impl,
		  "SELECT region, count(*) FROM reports GROUP BY region ORDER "
		  "BY region",
		  NULL, &res, "cannot count", err);
	if (rc)
		return rc;
	for (i = 0; i < PQntuples(res) && o->nregions < MON_STATS_MAX; i++) {
		copy(o->by_region[o->nregions].region,
		     sizeof(o->by_region[0].region), res, i, 0);
		o->by_region[o->nregions++].reports = i64(res, i, 1);
	}
	PQclear(res);
	rc = exec(impl,
		  "SELECT status, count(*) FROM decisions GROUP BY status "
		  "ORDER BY status",
		  NULL, &res, "cannot count", err);
	if (rc)
		return rc;
	for (i = 0; i < PQntuples(res) && o->nstatus < 8; i++) {
		copy(o->by_status[o->nstatus].status,
		     sizeof(o->by_status[0].status), res, i, 0);
		o->by_status[o->nstatus++].n = i64(res, i, 1);
	}
	PQclear(res);
	return 0;
}

const struct mon_backend mon_backend_pg = {
    .scheme = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .region_put = pg_region_put,
    .region_get = pg_region_get,
    .report_put = pg_report_put,
    .report_get = pg_report_get,
    .audit_put = pg_audit_put,
    .audit_last = pg_audit_last,
    .audit_each = pg_audit_each,
    .insurer_put = pg_insurer_put,
    .identify = pg_identify,
    .report_list = pg_report_list,
    .tx_begin = pg_tx_begin,
    .tx_end = pg_tx_end,
    .doc_put = pg_doc_put,
    .doc_get = pg_doc_get,
    .doc_list = pg_doc_list,
    .decision_put = pg_decision_put,
    .decision_list = pg_decision_list,
    .notice_list = pg_notice_list,
    .stats = pg_stats,
};
