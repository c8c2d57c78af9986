/* test_mon_store.c - izamon's storage interface over both backends, SQLite
 * (monitor/mon_sqlite.c) and, when IZA_TEST_PG_URL names a server,
 * PostgreSQL (monitor/mon_pg.c), each case on a fresh database; and the
 * audit chain above them (monitor/mon_store.c): reports stored once, the
 * same bytes again a duplicate, other bytes under a used id a conflict;
 * enrolment replaced, documents versioned, counts; decisions, notices and
 * the audit log refusing UPDATE and DELETE from anyone with direct access;
 * processes racing for one milestone recording it once; a lost PostgreSQL
 * connection re-established; the audit chain verified and every kind of
 * tampering found; database names without passwords. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mon_store.h"
#include "testdb.h"
#include "testutil.h"

static struct testdb db;
static const char *url;

static void setup_sqlite(void)
{
	testdb_make(&db, TESTDB_SQLITE);
	url = db.url;
}

static void setup_pg(void)
{
	testdb_make(&db, TESTDB_PG);
	url = db.url;
}

static void teardown(void)
{
	testdb_drop(&db);
}

START_TEST(reports_once)
{
	struct iza_error err = {0};
	struct mon_store st;
	struct mon_report r, got;
	enum mon_put res;
	char body[] = "{\"resourceType\":\"Bundle\"}", other[] = "{}";
	char binary[] = {'a', '\0', '\\', 'x', (char)0xff, '\''};

	ck_assert_int_eq(mon_store_open(url, false, &st, &err), -IZA_ENOTFOUND);
	ck_assert_int_eq(mon_store_open("mysql:x", true, &st, &err),
			 -IZA_ECONFIG);
	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "r-1");
	snprintf(r.region, sizeof(r.region), "ZK02");
	snprintf(r.plan, sizeof(r.plan), "p");
	snprintf(r.period, sizeof(r.period), "2025-Q1");
	r.body = body;
	r.body_len = strlen(body);
	r.jws = "h..s";
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_INSERTED);
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_DUPLICATE);
	r.body = other;
	r.body_len = strlen(other);
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_CONFLICT);
	ck_assert_int_eq(st.ops->report_get(st.impl, "r-1", &got, &err), 1);
	ck_assert_str_eq(got.body, body); /* the first bytes stand */
	ck_assert_str_eq(got.jws, "h..s");
	mon_report_release(&got);
	ck_assert_int_eq(st.ops->report_get(st.impl, "r-2", &got, &err), 0);
	/* the exact bytes, whatever they are */
	snprintf(r.id, sizeof(r.id), "r-bin");
	r.body = binary;
	r.body_len = sizeof(binary);
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_INSERTED);
	ck_assert_int_eq(st.ops->report_get(st.impl, "r-bin", &got, &err), 1);
	ck_assert_uint_eq(got.body_len, sizeof(binary));
	ck_assert(memcmp(got.body, binary, sizeof(binary)) == 0);
	mon_report_release(&got);
	mon_store_close(&st);
	mon_store_close(NULL);
	mon_report_release(NULL);
}
END_TEST

static int count_report(void *ctx, const struct mon_report *r)
{
	(void)r;
	++*(int *)ctx;
	return 0;
}

struct docs {
	char ids[4][16];
	int64_t versions[4];
	int n;
};

static int note_doc(void *ctx, const char *id, int64_t version, int64_t loaded)
{
	struct docs *d = ctx;

	(void)loaded;
	snprintf(d->ids[d->n], sizeof(d->ids[0]), "%s", id);
	d->versions[d->n++] = version;
	return 0;
}

/* Enrolment replaced, identities, documents versioned by their bytes,
 * reports filtered, the counts of GET /metrics. */
START_TEST(enrolment_documents_counts)
{
	struct iza_error err = {0};
	struct mon_store st;
	struct mon_region reg, got;
	struct mon_report r;
	struct mon_stats stats;
	struct docs d;
	enum mon_put res;
	char role[16], code[16], *body = NULL;
	size_t len = 0;
	int64_t version = 0;
	int n = 0;

	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	memset(&reg, 0, sizeof(reg));
	snprintf(reg.code, sizeof(reg.code), "ZK02");
	snprintf(reg.cert_sha256, sizeof(reg.cert_sha256), "aa");
	snprintf(reg.plans, sizeof(reg.plans), "p1");
	ck_assert_int_eq(st.ops->region_put(st.impl, &reg, &err), 0);
	snprintf(reg.cert_sha256, sizeof(reg.cert_sha256), "bb");
	snprintf(reg.plans, sizeof(reg.plans), "p1,p2");
	ck_assert_int_eq(st.ops->region_put(st.impl, &reg, &err), 0);
	ck_assert_int_eq(st.ops->region_get(st.impl, "ZK02", &got, &err), 1);
	ck_assert_str_eq(got.cert_sha256, "bb");
	ck_assert_str_eq(got.plans, "p1,p2");
	ck_assert_int_eq(st.ops->region_get(st.impl, "ZK99", &got, &err), 0);
	ck_assert_int_eq(st.ops->insurer_put(st.impl, "3311", "cc", &err), 0);
	ck_assert_int_eq(st.ops->insurer_put(st.impl, "3311", "dd", &err), 0);
	ck_assert_int_eq(st.ops->identify(st.impl, "bb", role, code, &err), 1);
	ck_assert_str_eq(role, "region");
	ck_assert_str_eq(code, "ZK02");
	ck_assert_int_eq(st.ops->identify(st.impl, "dd", role, code, &err), 1);
	ck_assert_str_eq(role, "insurer");
	ck_assert_str_eq(code, "3311");
	ck_assert_int_eq(st.ops->identify(st.impl, "cc", role, code, &err), 0);

	ck_assert_int_eq(st.ops->doc_put(st.impl, "plan", "p1", "{}", 2, "s1",
					 10, &version, &res, &err),
			 0);
	ck_assert_int_eq(res, MON_INSERTED);
	ck_assert_int_eq(version, 1);
	ck_assert_int_eq(st.ops->doc_put(st.impl, "plan", "p1", "{}", 2, "s1",
					 11, &version, &res, &err),
			 0);
	ck_assert_int_eq(res, MON_DUPLICATE);
	ck_assert_int_eq(version, 1);
	ck_assert_int_eq(st.ops->doc_put(st.impl, "plan", "p1", "{ }", 3, "s2",
					 12, &version, &res, &err),
			 0);
	ck_assert_int_eq(res, MON_INSERTED);
	ck_assert_int_eq(version, 2);
	ck_assert_int_eq(st.ops->doc_put(st.impl, "plan", "p0", "[]", 2, "s3",
					 13, &version, &res, &err),
			 0);
	ck_assert_int_eq(st.ops->doc_put(st.impl, "key", "2026", "[]", 2, "s3",
					 13, &version, &res, &err),
			 0);
	ck_assert_int_eq(
	    st.ops->doc_get(st.impl, "plan", "p1", &body, &len, &version, &err),
	    1);
	ck_assert_str_eq(body, "{ }");
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(version, 2);
	free(body);
	body = NULL;
	ck_assert_int_eq(
	    st.ops->doc_get(st.impl, "plan", "p9", &body, &len, &version, &err),
	    0);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(st.ops->doc_list(st.impl, "plan", note_doc, &d, &err),
			 0);
	ck_assert_int_eq(d.n, 2);
	ck_assert_str_eq(d.ids[0], "p0");
	ck_assert_int_eq(d.versions[0], 1);
	ck_assert_str_eq(d.ids[1], "p1");
	ck_assert_int_eq(d.versions[1], 2);

	memset(&r, 0, sizeof(r));
	snprintf(r.region, sizeof(r.region), "ZK02");
	snprintf(r.plan, sizeof(r.plan), "p1");
	r.body = "{}";
	r.body_len = 2;
	r.jws = "";
	snprintf(r.id, sizeof(r.id), "a");
	snprintf(r.period, sizeof(r.period), "2025-Q1");
	r.received = 200;
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	snprintf(r.id, sizeof(r.id), "b");
	snprintf(r.period, sizeof(r.period), "2025-Q2");
	r.received = 100;
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(
	    st.ops->report_list(st.impl, "", "", "", count_report, &n, &err),
	    0);
	ck_assert_int_eq(n, 2);
	n = 0;
	ck_assert_int_eq(st.ops->report_list(st.impl, "ZK02", "p1", "2025-Q2",
					     count_report, &n, &err),
			 0);
	ck_assert_int_eq(n, 1);
	n = 0;
	ck_assert_int_eq(st.ops->report_list(st.impl, "ZK14", "", "",
					     count_report, &n, &err),
			 0);
	ck_assert_int_eq(n, 0);

	ck_assert_int_eq(st.ops->stats(st.impl, &stats, &err), 0);
	ck_assert_int_eq(stats.reports, 2);
	ck_assert_int_eq(stats.regions, 1);
	ck_assert_int_eq(stats.insurers, 1);
	ck_assert_int_eq(stats.plans, 2);
	ck_assert_int_eq(stats.keys, 1);
	ck_assert_int_eq(stats.decisions, 0);
	ck_assert_int_eq(stats.notice_cents, 0);
	ck_assert_int_eq(stats.last_received, 200);
	ck_assert_uint_eq(stats.nregions, 1);
	ck_assert_int_eq(stats.by_region[0].reports, 2);
	mon_store_close(&st);
}
END_TEST

/* A decision for plan p, milestone m with two notices of 60 and 40 cents,
 * recorded through st; returns what mon_decision_record said. */
static int record(struct mon_store *st, const char *actor, enum mon_put *res,
		  struct iza_error *err)
{
	struct mon_decision d;
	struct mon_notice n[2];
	int i;

	memset(&d, 0, sizeof(d));
	snprintf(d.plan, sizeof(d.plan), "p");
	snprintf(d.milestone, sizeof(d.milestone), "m");
	d.plan_version = 1;
	snprintf(d.status, sizeof(d.status), "met");
	d.decided = 100;
	d.recorded = 200;
	snprintf(d.key, sizeof(d.key), "2026.1");
	d.evidence = "{\"reports\":[]}";
	memset(n, 0, sizeof(n));
	for (i = 0; i < 2; i++) {
		snprintf(n[i].id, sizeof(n[i].id), "p/m/%s",
			 i ? "7095" : "3311");
		snprintf(n[i].plan, sizeof(n[i].plan), "p");
		snprintf(n[i].milestone, sizeof(n[i].milestone), "m");
		snprintf(n[i].insurer, sizeof(n[i].insurer), "%s",
			 i ? "7095" : "3311");
		snprintf(n[i].payee, sizeof(n[i].payee), "AGB:01000001");
		n[i].amount = i ? 40 : 60;
		snprintf(n[i].key, sizeof(n[i].key), "2026.1");
		n[i].issued = 200;
		n[i].schedule = "[]";
	}
	return mon_decision_record(st, &d, n, 2, 200, actor, "", "p/m", res,
				   err);
}

static void refused(const char *sqlite_sql, const char *pg_sql, const char *why)
{
	char msg[512] = "";

	ck_assert_msg(testdb_exec(&db, sqlite_sql, pg_sql, msg, sizeof(msg)),
		      "%s was allowed", pg_sql ? pg_sql : sqlite_sql);
	ck_assert_msg(strstr(msg, why), "'%s' lacks '%s'", msg, why);
}

/* Decisions, notices and the audit log cannot be changed or removed, not
 * even with direct access to the database. */
START_TEST(append_only)
{
	struct iza_error err = {0};
	struct mon_store st;
	enum mon_put res;
	int64_t n = 0;

	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	ck_assert_int_eq(record(&st, "CN=test", &res, &err), 0);
	ck_assert_int_eq(res, MON_INSERTED);
	ck_assert_int_eq(record(&st, "CN=test", &res, &err), 0);
	ck_assert_int_eq(res, MON_DUPLICATE);
	mon_store_close(&st);
	refused("UPDATE decisions SET status = 'missed'", NULL,
		"a decision stands");
	refused("DELETE FROM notices", NULL, "a notice is never removed");
	refused("DELETE FROM decisions", NULL, "a decision stands");
	refused("UPDATE notices SET amount = 1", NULL,
		"a notice is never changed");
	refused("UPDATE audit SET what = 'x'", NULL,
		"the audit log is append-only");
	refused("DELETE FROM audit", NULL, "the audit log is append-only");
	/* TRUNCATE skips row triggers; PostgreSQL's refuse it too */
	refused("DELETE FROM audit", "TRUNCATE audit",
		"the audit log is append-only");
	refused("DELETE FROM notices", "TRUNCATE notices, decisions",
		"a notice is never removed");
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	mon_store_close(&st);
}
END_TEST

/* Eight processes, each with its own connection, record the same
 * milestone at once: one records it with its two notices, the others
 * find it decided; the audit chain holds. */
START_TEST(decided_once_racing)
{
	struct iza_error err = {0};
	struct mon_store st;
	pid_t pids[8];
	int go[2], i, inserted = 0, duplicate = 0;
	int64_t n = 0;

	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	mon_store_close(&st);
	ck_assert_int_eq(pipe(go), 0);
	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			enum mon_put res = MON_CONFLICT;
			char c, actor[16];
			int rc;

			close(go[1]);
			snprintf(actor, sizeof(actor), "CN=racer-%d", i);
			if (mon_store_open(url, false, &st, &err) != 0)
				_exit(3);
			/* start together: when the parent closes the pipe */
			if (read(go[0], &c, 1) < 0)
				_exit(4);
			rc = record(&st, actor, &res, &err);
			/* and an audit entry each, racing for the chain */
			if (rc == 0)
				rc = mon_audit_append(&st, 300, "test.race",
						      actor, "", "x", &err);
			if (rc != 0)
				fprintf(stderr, "racer %d: %s\n", i, err.text);
			mon_store_close(&st);
			_exit(rc ? 2 : res == MON_INSERTED ? 0 : 1);
		}
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < 8; i++) {
		int status = 0;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status));
		ck_assert_msg(WEXITSTATUS(status) <= 1, "racer %d exited %d", i,
			      WEXITSTATUS(status));
		inserted += WEXITSTATUS(status) == 0;
		duplicate += WEXITSTATUS(status) == 1;
	}
	ck_assert_int_eq(inserted, 1);
	ck_assert_int_eq(duplicate, 7);
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	{
		struct mon_stats s;

		ck_assert_int_eq(st.ops->stats(st.impl, &s, &err), 0);
		ck_assert_int_eq(s.decisions, 1);
		ck_assert_int_eq(s.notices, 2);
		ck_assert_int_eq(s.notice_cents, 100);
		ck_assert_int_eq(s.audit_entries, 9);
	}
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), 0);
	ck_assert_int_eq(n, 9);
	mon_store_close(&st);
}
END_TEST

START_TEST(audit_chain)
{
	struct iza_error err = {0};
	struct mon_store st;
	int64_t n = 0;
	int i;

	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	for (i = 0; i < 5; i++) {
		char what[32];

		snprintf(what, sizeof(what), "report r-%d", i);
		ck_assert_int_eq(mon_audit_append(&st, 1000 + i,
						  "report.received", "CN=ZK02",
						  "ZK02", what, &err),
				 0);
	}
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), 0);
	ck_assert_int_eq(n, 5);
	mon_store_close(&st);

	/* reordering two entries (swap their contents) */
	ck_assert_int_eq(
	    testdb_exec(&db,
			"DROP TRIGGER audit_no_update; DROP TRIGGER "
			"audit_no_delete; UPDATE audit SET seq = -1 WHERE seq "
			"= 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE "
			"audit SET seq = 3 WHERE seq = -1",
			"DROP TRIGGER audit_no_update ON audit; DROP TRIGGER "
			"audit_no_delete ON audit; UPDATE audit SET seq = -1 "
			"WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = "
			"3; UPDATE audit SET seq = 3 WHERE seq = -1",
			NULL, 0),
	    0);
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 2);
	mon_store_close(&st);
	/* restore the order, then remove entry 4 */
	ck_assert_int_eq(
	    testdb_exec(&db,
			"DROP TRIGGER audit_no_update; DROP TRIGGER "
			"audit_no_delete; "
			"UPDATE audit SET seq = -1 WHERE seq = 2; "
			"UPDATE audit SET seq = 2 WHERE seq = 3; "
			"UPDATE audit SET seq = 3 WHERE seq = -1; "
			"DELETE FROM audit WHERE seq = 4",
			"DROP TRIGGER audit_no_update ON audit; DROP TRIGGER "
			"audit_no_delete ON audit; "
			"UPDATE audit SET seq = -1 WHERE seq = 2; "
			"UPDATE audit SET seq = 2 WHERE seq = 3; "
			"UPDATE audit SET seq = 3 WHERE seq = -1; "
			"DELETE FROM audit WHERE seq = 4",
			NULL, 0),
	    0);
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 5);
	ck_assert_ptr_nonnull(strstr(err.text, "broken"));
	mon_store_close(&st);
}
END_TEST

/* Text moved from one field to the next (actor "a<TAB>b" and an empty
 * on_behalf, against actor "a" and on_behalf "b"): the same characters in
 * a row, but another entry, so the chain breaks. */
START_TEST(audit_fields_cannot_shift)
{
	struct iza_error err = {0};
	struct mon_store st;
	int64_t n = 0;

	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	ck_assert_int_eq(
	    mon_audit_append(&st, 1000, "e", "a\tb", "", "w", &err), 0);
	mon_store_close(&st);
	ck_assert_int_eq(testdb_exec(&db,
				     "DROP TRIGGER audit_no_update; UPDATE "
				     "audit SET actor = 'a', on_behalf = "
				     "'b' || char(9) WHERE seq = 1",
				     "DROP TRIGGER audit_no_update ON audit; "
				     "UPDATE audit SET actor = 'a', on_behalf "
				     "= 'b' || chr(9) WHERE seq = 1",
				     NULL, 0),
			 0);
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 1);
	mon_store_close(&st);
}
END_TEST

/* PostgreSQL: a connection the server ended (a restart, a failover) fails
 * the statement that finds it broken, naming the database; the next
 * statement reconnects.  (SQLite has no connection to lose.) */
START_TEST(reconnects)
{
	struct iza_error err = {0};
	struct mon_store st;
	struct mon_stats s;
	int64_t n = 0;

	if (db.kind != TESTDB_PG)
		return;
	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	ck_assert_int_eq(mon_audit_append(&st, 1, "e", "a", "", "w", &err), 0);
	ck_assert_int_eq(
	    testdb_exec(&db, "SELECT 1",
			"SELECT pg_terminate_backend(pid, 10000) FROM "
			"pg_stat_activity WHERE datname = current_database() "
			"AND pid <> pg_backend_pid()",
			NULL, 0),
	    0);
	ck_assert_int_eq(st.ops->stats(st.impl, &s, &err), -IZA_ESTORE);
	ck_assert_ptr_nonnull(strstr(err.file, db.name));
	ck_assert_int_eq(st.ops->stats(st.impl, &s, &err), 0);
	ck_assert_int_eq(s.audit_entries, 1);
	ck_assert_int_eq(mon_audit_append(&st, 2, "e", "a", "", "w", &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	mon_store_close(&st);
}
END_TEST

static void name_is(const char *url_in, const char *want)
{
	char buf[256];

	ck_assert_str_eq(mon_store_name(url_in, buf, sizeof(buf)), want);
}

/* What errors, logs and the audit log call a database: never with its
 * password. */
START_TEST(names_without_password)
{
	struct iza_error err = {0};
	struct mon_store st;
	char small[8];

	name_is("sqlite:/srv/izamon.db", "sqlite:/srv/izamon.db");
	name_is("postgresql://izamon@db.example:5432/izamon",
		"postgresql://izamon@db.example:5432/izamon");
	name_is("postgresql://izamon:s3cret@db.example/izamon",
		"postgresql://izamon@db.example/izamon");
	name_is("postgresql://izamon:s3cret@db.example/izamon?sslmode="
		"verify-full&password=x&connect_timeout=5",
		"postgresql://izamon@db.example/izamon?sslmode=verify-full&"
		"connect_timeout=5");
	name_is("postgresql://db.example/izamon?password=x",
		"postgresql://db.example/izamon");
	name_is("postgresql://a:b@h", "postgresql://a@h");
	name_is("postgresql://a:p@ss@h:5/d", "postgresql://a@h:5/d");
	name_is("postgresql://h/d", "postgresql://h/d");
	ck_assert_str_eq(
	    mon_store_name("postgresql://u:p@h", small, sizeof(small)),
	    "postgre");
	/* an unreachable server: the error names the database, not the
	 * password, and says why */
	ck_assert_int_eq(mon_store_open("postgresql://izatest:s3cret@127.0.0."
					"1:1/izamon?password=zz",
					false, &st, &err),
			 -IZA_ESTORE);
	ck_assert_str_eq(err.file, "postgresql://izatest@127.0.0.1:1/izamon");
	ck_assert_ptr_null(strstr(err.text, "s3cret"));
	ck_assert_ptr_null(strstr(err.text, "zz"));
	ck_assert_ptr_nonnull(strstr(err.text, "cannot connect"));
	/* a malformed URL is refused without echoing it */
	ck_assert_int_eq(mon_store_open("postgresql://u:s3cret@h/db?nosuch=1",
					false, &st, &err),
			 -IZA_ECONFIG);
	ck_assert_ptr_null(strstr(err.text, "s3cret"));
	ck_assert_ptr_null(strstr(err.file, "s3cret"));
}
END_TEST

static void store_tests(TCase *tc)
{
	tcase_add_test(tc, reports_once);
	tcase_add_test(tc, enrolment_documents_counts);
	tcase_add_test(tc, append_only);
	tcase_add_test(tc, decided_once_racing);
	tcase_add_test(tc, audit_fields_cannot_shift);
	tcase_add_test(tc, audit_chain);
	tcase_add_test(tc, reconnects);
}

static Suite *suite(void)
{
	Suite *s = suite_create("mon_store");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, names_without_password);
	suite_add_tcase(s, tc);
	testdb_add_cases(s, "store", setup_sqlite, setup_pg, teardown,
			 store_tests);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
