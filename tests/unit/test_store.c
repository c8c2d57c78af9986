/* test_store.c - the SQLite event store: dedup, corrections, scans, batches,
 * persistence, schema version, the encounter index's rare paths (Bloom
 * false positives, staging flushes, key collisions), migration from v1, and
 * a throughput measurement. */
#include "store.h"
#include "testutil.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define T0  1704067200 /* 2024-01-01T00:00:00Z */
#define DAY 86400

static const char *const counted[] = {"finished", "in-progress", "arrived",
				      "triaged", NULL};

/* ---- helpers ------------------------------------------------------------- */

static char *dir;
static char dbpath[512];
static struct store *st;

static void setup(void)
{
	struct iza_error err;

	dir = testutil_tmpdir();
	snprintf(dbpath, sizeof(dbpath), "%s/events.db", dir);
	ck_assert_int_eq(store_open(dbpath, true, &st, &err), 0);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	testutil_rmrf(dir);
	free(dir);
	dir = NULL;
}

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

#define COPY(f, s) copy(f, sizeof(f), s)

static struct canon_event ev(const char *source, const char *id,
			     const char *type, int64_t start, int64_t end,
			     int64_t lu, int64_t version, const char *status,
			     int pat)
{
	struct canon_event e;

	memset(&e, 0, sizeof(e));
	COPY(e.source, source);
	COPY(e.source_id, id);
	COPY(e.type, type);
	COPY(e.channel, "in_person");
	COPY(e.status, status);
	COPY(e.provider, "06010001");
	COPY(e.sector, "msz");
	COPY(e.rule, "r1");
	COPY(e.disposition, "");
	memset(e.patient_key, pat, sizeof(e.patient_key));
	e.start = start;
	e.end = end;
	e.last_updated = lu;
	e.version = version;
	e.urgency = -1;
	return e;
}

static struct canon_patient patient(const char *source, int pat,
				    const char *region, int64_t lu)
{
	struct canon_patient p;

	memset(&p, 0, sizeof(p));
	COPY(p.source, source);
	memset(p.patient_key, pat, sizeof(p.patient_key));
	memset(p.pseudonym, 0xA0 + pat, sizeof(p.pseudonym));
	p.has_bsn = 1;
	p.pc4 = 1234;
	COPY(p.gemeente, "GM0363");
	COPY(p.region, region);
	p.birth_year = 1950;
	COPY(p.sex, "female");
	p.last_updated = lu;
	p.version = 1;
	p.active = 1;
	return p;
}

static enum put_result put1(const struct canon_event *e)
{
	struct iza_error err;
	enum put_result r;

	ck_assert_int_eq(store_put_encounter(st, e, 1, &r, &err), 0);
	return r;
}

static enum put_result putp(const struct canon_patient *p)
{
	struct iza_error err;
	enum put_result r;

	ck_assert_int_eq(store_put_patient(st, p, &r, &err), 0);
	return r;
}

/* Scan results flattened to text: one "type|status|start|end|region|pseud|by"
 * line per row, so expectations are exact strings. */
struct collect {
	char buf[8192];
	size_t len;
	int rows;
	int stop_after;
};

static int collect_cb(void *ctx, const struct event_row *r)
{
	struct collect *c = ctx;
	int n;

	n = snprintf(c->buf + c->len, sizeof(c->buf) - c->len,
		     "%s|%s|%lld|%lld|%s|%s|%d|%s|%d\n", r->type, r->status,
		     (long long)(r->start - T0),
		     r->end == IZA_TIME_NONE ? -1LL : (long long)(r->end - T0),
		     r->region,
		     r->pseudonym
			 ? (r->pseudonym[0] == r->pseudonym[31] ? "P" : "?")
			 : "-",
		     r->birth_year, r->channel, r->urgency);
	ck_assert_int_gt(n, 0);
	c->len += (size_t)n;
	ck_assert_uint_lt(c->len, sizeof(c->buf));
	c->rows++;
	if (c->stop_after && c->rows == c->stop_after)
		return 42;
	return 0;
}

static const char *scan(int64_t from, int64_t to, bool overlap,
			const char *const *types, const char *const *statuses)
{
	static struct collect c;
	struct event_filter f = {.from = from,
				 .to = to,
				 .overlap = overlap,
				 .types = types,
				 .statuses = statuses};
	struct iza_error err;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(store_scan(st, &f, collect_cb, &c, &err), 0);
	return c.buf;
}

static struct store_stats stats(void)
{
	struct store_stats s;
	struct iza_error err;

	ck_assert_int_eq(store_stats(st, &s, &err), 0);
	return s;
}

/* ---- put sequences ------------------------------------------------------- */

START_TEST(test_insert_duplicate_update_stale)
{
	struct canon_event e = ev("A", "enc1", "er_visit", T0 + 3600, T0 + 7200,
				  T0 + 100, 1, "finished", 1);
	struct canon_event older = e, newer = e, same_age = e;

	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	ck_assert_int_eq(put1(&e), PUT_DUPLICATE);

	/* same (last_updated, version), different content -> replaced */
	COPY(same_age.channel, "video");
	ck_assert_int_eq(put1(&same_age), PUT_UPDATED);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "er_visit|finished|3600|7200||-|0|video|-1\n");

	/* older -> stale, nothing changes */
	older.last_updated = T0 + 50;
	COPY(older.channel, "phone");
	ck_assert_int_eq(put1(&older), PUT_STALE);
	/* same time, lower version -> stale as well */
	older.last_updated = T0 + 100;
	older.version = 0;
	ck_assert_int_eq(put1(&older), PUT_STALE);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "er_visit|finished|3600|7200||-|0|video|-1\n");

	/* newer -> replaced even with the original content */
	newer.last_updated = T0 + 200;
	newer.urgency = 2;
	ck_assert_int_eq(put1(&newer), PUT_UPDATED);
	ck_assert_int_eq(put1(&newer), PUT_DUPLICATE);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "er_visit|finished|3600|7200||-|0|in_person|2\n");

	ck_assert_int_eq(stats().events, 1);
	ck_assert_int_eq(stats().encounters, 1);
}
END_TEST

START_TEST(test_version_only)
{
	/* neither side has last_updated: version decides */
	struct canon_event e = ev("A", "v", "gp_contact", T0, IZA_TIME_NONE,
				  IZA_TIME_NONE, 3, "finished", 1);

	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	e.version = 2;
	ck_assert_int_eq(put1(&e), PUT_STALE);
	e.version = 4;
	ck_assert_int_eq(put1(&e), PUT_UPDATED);
	e.version = 4;
	ck_assert_int_eq(put1(&e), PUT_DUPLICATE);
	/* a resend that has last_updated is newer than one without */
	e.version = 1;
	e.last_updated = T0;
	ck_assert_int_eq(put1(&e), PUT_UPDATED);
	e.last_updated = IZA_TIME_NONE;
	e.version = 99;
	ck_assert_int_eq(put1(&e), PUT_STALE);
}
END_TEST

START_TEST(test_entered_in_error)
{
	struct canon_event a = ev("A", "e1", "er_visit", T0 + 10, T0 + 20,
				  T0 + 1, 1, "finished", 1);
	struct canon_event b = ev("A", "e2", "er_visit", T0 + 30, T0 + 40,
				  T0 + 1, 1, "finished", 1);

	ck_assert_int_eq(put1(&a), PUT_INSERTED);
	ck_assert_int_eq(put1(&b), PUT_INSERTED);
	ck_assert_int_eq(scan(T0, T0 + DAY, false, NULL, counted)[0] != 0, 1);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, counted),
			 "er_visit|finished|10|20||-|0|in_person|-1\n"
			 "er_visit|finished|30|40||-|0|in_person|-1\n");

	/* the source retracts e1 */
	a.last_updated = T0 + 2;
	COPY(a.status, "entered-in-error");
	ck_assert_int_eq(put1(&a), PUT_UPDATED);
	ck_assert_int_eq(put1(&a), PUT_DUPLICATE);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, counted),
			 "er_visit|finished|30|40||-|0|in_person|-1\n");
	/* kept as sent: visible without a status filter (storage order: one
	 * event replaced by one is rewritten where it was) */
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "er_visit|entered-in-error|10|20||-|0|in_person|-1\n"
			 "er_visit|finished|30|40||-|0|in_person|-1\n");
	/* a late copy of the original does not resurrect it */
	a.last_updated = T0 + 1;
	COPY(a.status, "finished");
	ck_assert_int_eq(put1(&a), PUT_STALE);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, counted),
			 "er_visit|finished|30|40||-|0|in_person|-1\n");
}
END_TEST

START_TEST(test_two_events_replaced_by_one)
{
	struct canon_event set[2];
	struct iza_error err;
	enum put_result r;
	struct store_stats s;

	set[0] = ev("H", "visit9", "er_visit", T0 + 100, T0 + 200, T0, 1,
		    "finished", 1);
	set[1] = ev("H", "visit9", "admission", T0 + 200, T0 + 3 * DAY, T0, 1,
		    "finished", 1);
	ck_assert_int_eq(store_put_encounter(st, set, 2, &r, &err), 0);
	ck_assert_int_eq(r, PUT_INSERTED);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "er_visit|finished|100|200||-|0|in_person|-1\n"
			 "admission|finished|200|259200||-|0|in_person|-1\n");

	/* same set in the other order: still a duplicate */
	{
		struct canon_event rev[2] = {set[1], set[0]};

		ck_assert_int_eq(store_put_encounter(st, rev, 2, &r, &err), 0);
		ck_assert_int_eq(r, PUT_DUPLICATE);
	}

	/* the resend only has the admission */
	set[1].last_updated = T0 + 5;
	ck_assert_int_eq(store_put_encounter(st, &set[1], 1, &r, &err), 0);
	ck_assert_int_eq(r, PUT_UPDATED);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "admission|finished|200|259200||-|0|in_person|-1\n");
	s = stats();
	ck_assert_int_eq(s.events, 1);
	ck_assert_int_eq(s.encounters, 1);

	/* and then a class we do not count: the set is emptied */
	ck_assert_int_eq(
	    store_put_empty_encounter(st, "H", "visit9", T0 + 6, 1, &r, &err),
	    0);
	ck_assert_int_eq(r, PUT_UPDATED);
	ck_assert_int_eq(
	    store_put_empty_encounter(st, "H", "visit9", T0 + 6, 1, &r, &err),
	    0);
	ck_assert_int_eq(r, PUT_DUPLICATE);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL), "");
	s = stats();
	ck_assert_int_eq(s.events, 0);
	ck_assert_int_eq(s.encounters, 1);

	/* n == 0 through store_put_encounter: evs[0] is the key only */
	set[0].last_updated = T0 + 5;
	ck_assert_int_eq(store_put_encounter(st, set, 0, &r, &err), 0);
	ck_assert_int_eq(r, PUT_STALE);
}
END_TEST

START_TEST(test_invalid_sets)
{
	struct canon_event set[2];
	struct iza_error err;
	enum put_result r = PUT_STALE;

	set[0] = ev("H", "x", "er_visit", T0, T0, T0, 1, "finished", 1);
	set[1] = ev("H", "y", "admission", T0, T0, T0, 1, "finished", 1);
	ck_assert_int_eq(store_put_encounter(st, set, 2, &r, &err),
			 -IZA_EUSAGE);
	set[1] = ev("H", "x", "er_visit", T0, T0, T0, 1, "finished", 1);
	ck_assert_int_eq(store_put_encounter(st, set, 2, &r, &err),
			 -IZA_EINVALID);
	ck_assert_ptr_nonnull(strstr(err.text, "er_visit"));
	ck_assert_int_eq(store_put_encounter(st, NULL, 0, &r, &err),
			 -IZA_EUSAGE);
	ck_assert_int_eq(r, PUT_STALE); /* output untouched on error */
	ck_assert_int_eq(stats().encounters, 0);
}
END_TEST

/* ---- patients --------------------------------------------------------------
 */

START_TEST(test_patient_after_encounter)
{
	struct canon_event e = ev("G", "c1", "gp_contact", T0 + 60,
				  IZA_TIME_NONE, T0, 1, "finished", 7);
	struct canon_patient p = patient("G", 7, "ZK01", T0);
	struct canon_patient other_source = patient("H", 7, "ZK99", T0);
	struct store_stats s;

	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	/* same patient_key from another source must not join */
	ck_assert_int_eq(putp(&other_source), PUT_INSERTED);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "gp_contact|finished|60|-1||-|0|in_person|-1\n");
	s = stats();
	ck_assert_int_eq(s.events_without_patient, 1);

	ck_assert_int_eq(putp(&p), PUT_INSERTED);
	ck_assert_str_eq(
	    scan(T0, T0 + DAY, false, NULL, NULL),
	    "gp_contact|finished|60|-1|ZK01|P|1950|in_person|-1\n");
	s = stats();
	ck_assert_int_eq(s.events_without_patient, 0);
	ck_assert_int_eq(s.patients, 2);

	ck_assert_int_eq(putp(&p), PUT_DUPLICATE);
	p.pc4 = 4321; /* same age, other content */
	ck_assert_int_eq(putp(&p), PUT_UPDATED);
	p.last_updated = T0 + 10;
	COPY(p.region, "ZK02");
	ck_assert_int_eq(putp(&p), PUT_UPDATED);
	p.last_updated = T0 + 5;
	COPY(p.region, "ZK03");
	ck_assert_int_eq(putp(&p), PUT_STALE);
	ck_assert_str_eq(
	    scan(T0, T0 + DAY, false, NULL, NULL),
	    "gp_contact|finished|60|-1|ZK02|P|1950|in_person|-1\n");
}
END_TEST

START_TEST(test_patient_before_encounter)
{
	/* the same final state whatever the arrival order */
	struct canon_event e = ev("G", "c1", "gp_contact", T0 + 60,
				  IZA_TIME_NONE, T0, 1, "finished", 7);
	struct canon_patient p = patient("G", 7, "ZK01", T0);

	ck_assert_int_eq(putp(&p), PUT_INSERTED);
	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	ck_assert_str_eq(
	    scan(T0, T0 + DAY, false, NULL, NULL),
	    "gp_contact|finished|60|-1|ZK01|P|1950|in_person|-1\n");
}
END_TEST

/* ---- scans -----------------------------------------------------------------
 */

START_TEST(test_overlap_bed_days)
{
	int64_t feb = T0 + 31 * DAY, mar = feb + 29 * DAY;
	struct canon_event a = ev("H", "adm1", "admission", feb - 2 * DAY,
				  feb + 3 * DAY, T0, 1, "finished", 1);
	struct canon_event b = ev("H", "adm2", "admission", feb - 5 * DAY,
				  feb - 1 * DAY, T0, 1, "finished", 1);
	struct canon_event c = ev("H", "adm3", "admission", feb + 20 * DAY,
				  IZA_TIME_NONE, T0, 1, "in-progress", 1);
	struct canon_event d = ev("H", "adm4", "admission", mar + DAY,
				  mar + 2 * DAY, T0, 1, "finished", 1);
	struct canon_event x = ev("H", "er1", "er_visit", feb + DAY,
				  feb + DAY + 3600, T0, 1, "finished", 1);
	static const char *const adm[] = {"admission", NULL};
	const char *out;

	put1(&a);
	put1(&b);
	put1(&c);
	put1(&d);
	put1(&x);
	/* start in February: only adm3 */
	out = scan(feb, mar, false, adm, NULL);
	ck_assert_str_eq(out, "admission|in-progress|4406400|-1||-|0|in_"
			      "person|-1\n");
	/* overlapping February: adm1 (started in January) and adm3 (open) */
	out = scan(feb, mar, true, adm, NULL);
	ck_assert_str_eq(out,
			 "admission|finished|2505600|2937600||-|0|in_person|-"
			 "1\n"
			 "admission|in-progress|4406400|-1||-|0|in_person|-"
			 "1\n");
	/* type lists and empty lists */
	{
		static const char *const both[] = {"er_visit", "admission",
						   NULL};
		static const char *const none[] = {NULL};

		out = scan(feb, mar, true, both, NULL);
		ck_assert_int_eq(strlen(out) > 0, 1);
		ck_assert_ptr_nonnull(strstr(out, "er_visit"));
		ck_assert_str_eq(scan(feb, mar, true, none, NULL), "");
		ck_assert_str_eq(scan(feb, mar, true, NULL, none), "");
	}
}
END_TEST

START_TEST(test_scan_order_and_stop)
{
	/* rows come out in storage order: the order of the puts, a replaced
	 * set at the place of its replacement */
	struct canon_event e[5] = {
	    ev("B", "2", "er_visit", T0 + 5, IZA_TIME_NONE, T0, 1, "finished",
	       1),
	    ev("A", "9", "er_visit", T0 + 5, IZA_TIME_NONE, T0, 1, "finished",
	       1),
	    ev("A", "1", "triage", T0 + 5, IZA_TIME_NONE, T0, 1, "finished", 1),
	    ev("C", "1", "gp_contact", T0 + 1, IZA_TIME_NONE, T0, 1, "finished",
	       1),
	    ev("A", "1", "er_visit", T0 + 5, IZA_TIME_NONE, T0, 1, "finished",
	       1),
	};
	struct event_filter f = {.from = T0, .to = T0 + DAY};
	struct collect c;
	struct iza_error err;
	enum put_result r;
	struct canon_event pair[2];
	int i;

	for (i = 0; i < 4; i++)
		put1(&e[i]);
	pair[0] = e[2];
	pair[1] = e[4];
	ck_assert_int_eq(store_put_encounter(st, pair, 2, &r, &err), 0);
	ck_assert_int_eq(r, PUT_UPDATED); /* A/1 gained an er_visit */
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "er_visit|finished|5|-1||-|0|in_person|-1\n"
			 "er_visit|finished|5|-1||-|0|in_person|-1\n"
			 "gp_contact|finished|1|-1||-|0|in_person|-1\n"
			 "triage|finished|5|-1||-|0|in_person|-1\n"
			 "er_visit|finished|5|-1||-|0|in_person|-1\n");

	/* the callback's nonzero value stops the scan and is returned */
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	ck_assert_int_eq(store_scan(st, &f, collect_cb, &c, &err), 42);
	ck_assert_int_eq(c.rows, 2);
	/* the cached statement is reusable afterwards */
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(store_scan(st, &f, collect_cb, &c, &err), 0);
	ck_assert_int_eq(c.rows, 5);
}
END_TEST

static int nested_cb(void *ctx, const struct event_row *r)
{
	struct event_filter f = {.from = T0, .to = T0 + DAY};
	struct collect inner;
	struct iza_error err;

	(void)r;
	memset(&inner, 0, sizeof(inner));
	ck_assert_int_eq(store_scan(st, &f, collect_cb, &inner, &err), 0);
	*(int *)ctx += inner.rows;
	return 0;
}

START_TEST(test_scan_nested)
{
	struct canon_event a = ev("A", "1", "er_visit", T0 + 1, IZA_TIME_NONE,
				  T0, 1, "finished", 1);
	struct canon_event b = ev("A", "2", "er_visit", T0 + 2, IZA_TIME_NONE,
				  T0, 1, "finished", 1);
	struct event_filter f = {.from = T0, .to = T0 + DAY};
	struct iza_error err;
	int total = 0;

	put1(&a);
	put1(&b);
	ck_assert_int_eq(store_scan(st, &f, nested_cb, &total, &err), 0);
	ck_assert_int_eq(total, 4);
}
END_TEST

/* ---- batches, persistence, files ----------------------------------------- */

START_TEST(test_batch_abort_and_commit)
{
	struct canon_event e =
	    ev("A", "1", "er_visit", T0, IZA_TIME_NONE, T0, 1, "finished", 1);
	struct canon_patient p = patient("A", 1, "ZK01", T0);
	struct batch_info info = {.file = "export.ndjson",
				  .sha256_hex = "00ff",
				  .source = "A",
				  .format = "fhir-ndjson",
				  .started = T0};
	struct batch_counts counts = {
	    .records = 2, .events_stored = 1, .patients = 1};
	struct iza_error err;
	struct store_stats s;

	ck_assert_int_eq(store_batch_begin(st, &err), 0);
	ck_assert_int_eq(store_batch_begin(st, &err), -IZA_EUSAGE);
	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	ck_assert_int_eq(putp(&p), PUT_INSERTED);
	store_batch_abort(st);
	s = stats();
	ck_assert_int_eq(s.events + s.encounters + s.patients + s.batches, 0);
	store_batch_abort(st); /* harmless when none is open */
	ck_assert_int_eq(store_batch_end(st, &info, &counts, &err),
			 -IZA_EUSAGE);

	ck_assert_int_eq(store_batch_begin(st, &err), 0);
	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	ck_assert_int_eq(putp(&p), PUT_INSERTED);
	ck_assert_int_eq(store_batch_end(st, &info, &counts, &err), 0);

	/* reopen: everything persisted, including the batch row */
	store_close(st);
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
	s = stats();
	ck_assert_int_eq(s.events, 1);
	ck_assert_int_eq(s.encounters, 1);
	ck_assert_int_eq(s.patients, 1);
	ck_assert_int_eq(s.batches, 1);
	ck_assert_int_eq(put1(&e), PUT_DUPLICATE);
	ck_assert_str_eq(scan(T0, T0 + DAY, false, NULL, NULL),
			 "er_visit|finished|0|-1|ZK01|P|1950|in_person|-1\n");
}
END_TEST

START_TEST(test_close_with_open_batch)
{
	struct canon_event e =
	    ev("A", "1", "er_visit", T0, IZA_TIME_NONE, T0, 1, "finished", 1);
	struct iza_error err;

	ck_assert_int_eq(store_batch_begin(st, &err), 0);
	put1(&e);
	store_close(st); /* an unfinished batch is rolled back */
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
	ck_assert_int_eq(stats().events, 0);
}
END_TEST

START_TEST(test_open_errors)
{
	struct store *s2 = NULL;
	struct iza_error err;
	char path[600];
	struct stat sb;
	FILE *f;

	/* created 0600 */
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);

	/* missing file without create */
	snprintf(path, sizeof(path), "%s/missing.db", dir);
	iza_error_clear(&err);
	ck_assert_int_eq(store_open(path, false, &s2, &err), -IZA_ENOTFOUND);
	ck_assert_ptr_null(s2);
	ck_assert_ptr_nonnull(strstr(err.text, path));
	ck_assert_int_ne(stat(path, &sb), 0); /* and not created */

	/* not an SQLite file */
	snprintf(path, sizeof(path), "%s/garbage.db", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 4096; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	iza_error_clear(&err);
	ck_assert_int_eq(store_open(path, false, &s2, &err), -IZA_ESTORE);
	ck_assert_ptr_null(s2);
	ck_assert_ptr_nonnull(strstr(err.text, "not a"));

	/* an SQLite database of someone else */
	{
		sqlite3 *db;

		snprintf(path, sizeof(path), "%s/other.db", dir);
		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		ck_assert_int_eq(
		    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
		ck_assert_int_eq(store_open(path, false, &s2, &err),
				 -IZA_ESTORE);
		ck_assert_ptr_nonnull(strstr(err.text, "not an IZA"));
		/* and left untouched: still in rollback-journal mode */
		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		{
			sqlite3_stmt *q;

			ck_assert_int_eq(
			    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
					       &q, NULL),
			    SQLITE_OK);
			ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
			ck_assert_str_eq(
			    (const char *)sqlite3_column_text(q, 0), "delete");
			sqlite3_finalize(q);
		}
		sqlite3_close(db);
	}

	/* a directory */
	ck_assert_int_eq(store_open(dir, false, &s2, &err), -IZA_ESTORE);
}
END_TEST

START_TEST(test_schema_version)
{
	struct iza_error err;
	sqlite3 *db;

	ck_assert_int_eq(store_schema_version(st), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(STORE_SCHEMA_VERSION, 2);
	store_close(st);
	st = NULL;

	/* the file says v1 and carries our application id */
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	{
		sqlite3_stmt *s;

		ck_assert_int_eq(
		    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL),
		    SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(s, 0), 2);
		sqlite3_finalize(s);
	}
	/* a store from a newer program is refused, not damaged */
	ck_assert_int_eq(
	    sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), -IZA_ESTORE);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(err.text, "newer"));

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(db, "PRAGMA user_version = 2", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
	ck_assert_int_eq(store_schema_version(st), 2);
}
END_TEST

START_TEST(test_empty_file_is_migrated)
{
	struct store *s2 = NULL;
	struct iza_error err;
	char path[600];
	FILE *f;

	/* an existing empty file is a v0 store: migrated forward at open */
	snprintf(path, sizeof(path), "%s/empty.db", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(store_open(path, false, &s2, &err), 0);
	ck_assert_int_eq(store_schema_version(s2), STORE_SCHEMA_VERSION);
	store_close(s2);
}
END_TEST

static int first_row_cb(void *ctx, const struct event_row *r)
{
	struct event_row *out = ctx;

	ck_assert_str_eq(r->type, "er_visit");
	ck_assert_str_eq(r->channel, "phone");
	ck_assert_str_eq(r->sector, "msz");
	ck_assert_str_eq(r->provider, "06010001");
	ck_assert_str_eq(r->status, "finished");
	ck_assert_str_eq(r->region, "ZK05");
	ck_assert_str_eq(r->disposition, "gp_post");
	ck_assert_ptr_nonnull(r->pseudonym);
	ck_assert_int_eq(r->pseudonym[0], 0xA3);
	ck_assert_int_eq(r->pseudonym[IZA_HASH_LEN - 1], 0xA3);
	*out = *r;
	return 1;
}

START_TEST(test_row_fields)
{
	struct canon_event e =
	    ev("A", "f1", "er_visit", T0 + 9, T0 + 99, T0, 1, "finished", 3);
	struct canon_patient p = patient("A", 3, "ZK05", T0);
	struct event_filter f = {.from = T0, .to = T0 + DAY};
	struct iza_error err;
	struct event_row row;

	COPY(e.channel, "phone");
	COPY(e.disposition, "gp_post");
	e.urgency = 3;
	p.birth_year = 1961;
	put1(&e);
	putp(&p);
	ck_assert_int_eq(store_scan(st, &f, first_row_cb, &row, &err), 1);
	ck_assert_int_eq(row.start, T0 + 9);
	ck_assert_int_eq(row.end, T0 + 99);
	ck_assert_int_eq(row.urgency, 3);
	ck_assert_int_eq(row.birth_year, 1961);
}
END_TEST

START_TEST(test_null_args)
{
	struct iza_error err;
	struct store *s2 = NULL;

	store_close(NULL);
	store_batch_abort(NULL);
	ck_assert_int_eq(store_open(NULL, true, &s2, &err), -IZA_EUSAGE);
	ck_assert_int_eq(store_scan(st, NULL, collect_cb, NULL, &err),
			 -IZA_EUSAGE);
	ck_assert_int_eq(store_schema_version(NULL), 0);
}
END_TEST

/* ---- the encounter index: rare paths ------------------------------------ */

static struct canon_event evn(const char *id, int64_t start, int64_t lu)
{
	return ev("G", id, "gp_contact", start, IZA_TIME_NONE, lu, 1,
		  "finished", 1);
}

static void put_ids(const char *prefix, int from, int to, int64_t lu,
		    enum put_result want)
{
	char id[32];
	int i;

	for (i = from; i < to; i++) {
		struct canon_event e;

		snprintf(id, sizeof(id), "%s%d", prefix, i);
		e = evn(id, T0 + i, lu);
		ck_assert_int_eq(put1(&e), want);
	}
}

static void hooks(size_t staging_max, bool bloom_maybe,
		  void (*key_hash)(const char *, const char *, uint64_t *,
				   uint64_t *))
{
	struct store_test_hooks h = {.key_hash = key_hash,
				     .staging_max = staging_max,
				     .bloom_maybe = bloom_maybe};

	ck_assert_int_eq(store_set_test_hooks(st, &h), 0);
}

static void batch_end(void)
{
	struct batch_info info = {.file = "f",
				  .sha256_hex = "",
				  .source = "G",
				  .format = "test",
				  .started = T0};
	struct iza_error err;

	ck_assert_int_eq(store_batch_end(st, &info, NULL, &err), 0);
}

static void batch_begin(void)
{
	struct iza_error err;

	ck_assert_int_eq(store_batch_begin(st, &err), 0);
}

/* Rows of the events table, live or not (a second connection: WAL). */
static int count_rows(const char *where)
{
	char sql[256];
	sqlite3 *db;
	sqlite3_stmt *q;
	int n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE %s",
		 where);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

START_TEST(test_bloom_false_positive)
{
	/* every key "maybe present": each new key is looked up in staging
	 * and enc, found in neither, and inserted */
	hooks(0, true, NULL);
	put_ids("fp", 0, 50, T0, PUT_INSERTED);
	put_ids("fp", 0, 50, T0, PUT_DUPLICATE);
	batch_begin();
	put_ids("fp", 50, 100, T0, PUT_INSERTED); /* staged */
	put_ids("fp", 40, 60, T0, PUT_DUPLICATE); /* in enc, staged */
	put_ids("fp", 0, 10, T0 + 1, PUT_UPDATED);
	batch_end();
	ck_assert_int_eq(stats().encounters, 100);
	ck_assert_int_eq(stats().events, 100);
	ck_assert_int_eq(count_rows("1"), 100); /* rewritten in place */
}
END_TEST

START_TEST(test_staging_flush_mid_batch)
{
	struct iza_error err;

	hooks(4, false, NULL); /* a flush every 4 new keys */
	batch_begin();
	put_ids("s", 0, 30, T0, PUT_INSERTED);
	/* found in enc (flushed) and in staging (the last few) */
	put_ids("s", 0, 30, T0, PUT_DUPLICATE);
	put_ids("s", 0, 30, T0 - 1, PUT_STALE);
	put_ids("s", 10, 20, T0 + 1, PUT_UPDATED);
	put_ids("s", 10, 20, T0 + 1, PUT_DUPLICATE);
	put_ids("s", 10, 12, T0 + 2, PUT_UPDATED); /* updated twice */
	ck_assert_int_eq(stats().encounters, 30);  /* counts staged ones */
	batch_end();
	ck_assert_int_eq(stats().events, 30);
	ck_assert_int_eq(count_rows("1"), 30); /* updates rewrote in place */

	/* reopen: a fresh Bloom filter built from enc */
	store_close(st);
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
	put_ids("s", 0, 10, T0, PUT_DUPLICATE);
	put_ids("s", 10, 12, T0 + 2, PUT_DUPLICATE);
	put_ids("s", 12, 20, T0 + 1, PUT_DUPLICATE);
	put_ids("s", 30, 35, T0, PUT_INSERTED);
	ck_assert_int_eq(stats().encounters, 35);
}
END_TEST

/* Every id gets the same ekey; chk tells them apart. */
static void collide_hash(const char *source, const char *id, uint64_t *a,
			 uint64_t *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *p;

	for (p = source; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	h = (h ^ '|') * 0x100000001b3ULL;
	for (p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	*a = 42;
	*b = h;
}

START_TEST(test_forced_collision)
{
	struct iza_error err;
	struct canon_event e;
	enum put_result r;

	hooks(3, false, collide_hash);
	put_ids("c", 0, 5, T0, PUT_INSERTED); /* ekeys 42..46 */
	put_ids("c", 0, 5, T0, PUT_DUPLICATE);
	batch_begin();
	put_ids("c", 5, 12, T0, PUT_INSERTED); /* across flushes */
	put_ids("c", 0, 12, T0, PUT_DUPLICATE);
	put_ids("c", 3, 8, T0 + 1, PUT_UPDATED);
	batch_end();
	put_ids("c", 3, 8, T0 + 1, PUT_DUPLICATE);
	put_ids("c", 0, 3, T0 - 1, PUT_STALE);
	ck_assert_int_eq(stats().encounters, 12);
	ck_assert_int_eq(stats().events, 12);
	ck_assert_str_eq(scan(T0 + 4, T0 + 5, false, NULL, NULL),
			 "gp_contact|finished|4|-1||-|0|in_person|-1\n");

	/* the same after reopening, with the same hash */
	store_close(st);
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
	hooks(0, false, collide_hash);
	put_ids("c", 0, 12, T0 - 1, PUT_STALE);
	put_ids("c", 12, 64, T0, PUT_INSERTED); /* ekeys 42..105 taken */
	/* the 65th colliding key: the search gives up */
	e = evn("c64", T0, T0);
	ck_assert_int_eq(store_put_encounter(st, &e, 1, &r, &err), -IZA_ESTORE);
	ck_assert_ptr_nonnull(strstr(err.text, "collisions"));
	ck_assert_int_eq(stats().encounters, 64);
}
END_TEST

START_TEST(test_update_multi_event_after_flush)
{
	struct canon_event set[2];
	struct iza_error err;
	enum put_result r;

	hooks(2, false, NULL);
	batch_begin();
	set[0] =
	    ev("H", "v1", "er_visit", T0 + 100, T0 + 200, T0, 1, "finished", 1);
	set[1] = ev("H", "v1", "admission", T0 + 200, T0 + DAY, T0, 1,
		    "finished", 1);
	ck_assert_int_eq(store_put_encounter(st, set, 2, &r, &err), 0);
	ck_assert_int_eq(r, PUT_INSERTED);
	put_ids("m", 0, 5, T0, PUT_INSERTED); /* flushes v1 into enc */
	/* changed set of the same size: both rows rewritten in place */
	set[0].last_updated = set[1].last_updated = T0 + 1;
	COPY(set[1].status, "cancelled");
	ck_assert_int_eq(store_put_encounter(st, set, 2, &r, &err), 0);
	ck_assert_int_eq(r, PUT_UPDATED);
	put_ids("m", 5, 10, T0, PUT_INSERTED);
	batch_end();
	ck_assert_int_eq(count_rows("live = 0 AND source_id = 'v1'"), 0);
	ck_assert_int_eq(count_rows("live = 1 AND source_id = 'v1' AND"
				    " status = 'cancelled'"),
			 1);
	ck_assert_int_eq(count_rows("live = 1 AND source_id = 'v1'"), 2);
	ck_assert_str_eq(scan(T0 + 100, T0 + 201, false, NULL, counted),
			 "er_visit|finished|100|200||-|0|in_person|-1\n");
	ck_assert_int_eq(stats().events, 12);

	/* and to one event: the two live rows die, one is appended */
	set[1].last_updated = T0 + 2;
	ck_assert_int_eq(store_put_encounter(st, &set[1], 1, &r, &err), 0);
	ck_assert_int_eq(r, PUT_UPDATED);
	ck_assert_int_eq(count_rows("live = 0 AND source_id = 'v1'"), 2);
	ck_assert_int_eq(count_rows("live = 1 AND source_id = 'v1'"), 1);
	ck_assert_int_eq(stats().events, 11);
	ck_assert_int_eq(stats().encounters, 11);
}
END_TEST

START_TEST(test_update_of_missing_row)
{
	struct canon_event e = evn("gone", T0, T0);
	struct iza_error err;
	enum put_result r;
	sqlite3 *db;

	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	/* a damaged store: the row the index names is gone */
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(db, "DELETE FROM events", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	e.last_updated = T0 + 1;
	ck_assert_int_eq(store_put_encounter(st, &e, 1, &r, &err), -IZA_ESTORE);
	ck_assert_ptr_nonnull(strstr(err.text, "not there"));
}
END_TEST

START_TEST(test_abort_with_staged_entries)
{
	struct store_stats s;

	batch_begin();
	put_ids("a", 0, 5, T0, PUT_INSERTED); /* staged only */
	store_batch_abort(st);
	s = stats();
	ck_assert_int_eq(s.events + s.encounters, 0);
	ck_assert_int_eq(count_rows("1"), 0);
	/* the Bloom filter still has their bits: lookups find nothing */
	put_ids("a", 0, 5, T0, PUT_INSERTED);
	ck_assert_int_eq(stats().encounters, 5);

	/* with a flush inside the aborted batch */
	hooks(2, false, NULL);
	batch_begin();
	put_ids("a", 5, 12, T0, PUT_INSERTED);
	put_ids("a", 0, 2, T0 + 1, PUT_UPDATED);
	store_batch_abort(st);
	s = stats();
	ck_assert_int_eq(s.events, 5);
	ck_assert_int_eq(s.encounters, 5);
	ck_assert_int_eq(count_rows("live = 0"), 0);
	put_ids("a", 0, 5, T0, PUT_DUPLICATE);
	put_ids("a", 5, 12, T0, PUT_INSERTED);
}
END_TEST

/* Patients as a second connection sees them (committed rows only). */
static int count_patient_rows(void)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int n;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM patients",
					    -1, &q, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

START_TEST(test_patient_staging)
{
	struct store_test_hooks h = {.patient_staging_max = 3};
	struct canon_patient p;
	struct canon_event e;
	struct iza_error err;
	int i;

	ck_assert_int_eq(store_set_test_hooks(st, &h), 0);
	batch_begin();
	/* 8 new patients: two flushes of 3 in the batch, 2 left staged */
	for (i = 1; i <= 8; i++) {
		p = patient("G", i, "ZK01", T0);
		ck_assert_int_eq(putp(&p), PUT_INSERTED);
	}
	/* each compared with the row it has, staged or written */
	for (i = 1; i <= 8; i++) {
		p = patient("G", i, "ZK01", T0);
		ck_assert_int_eq(putp(&p), PUT_DUPLICATE);
		p.last_updated = T0 - 1;
		ck_assert_int_eq(putp(&p), PUT_STALE);
	}
	/* the same key in another source is another patient */
	p = patient("H", 1, "ZK01", T0);
	ck_assert_int_eq(putp(&p), PUT_INSERTED);
	/* newer: updated, then the same again a duplicate; equal meta with
	 * other content: updated */
	p = patient("G", 8, "ZK02", T0 + 1);
	ck_assert_int_eq(putp(&p), PUT_UPDATED);
	ck_assert_int_eq(putp(&p), PUT_DUPLICATE);
	p.pc4 = 4321;
	ck_assert_int_eq(putp(&p), PUT_UPDATED);
	ck_assert_int_eq(putp(&p), PUT_DUPLICATE);
	/* a scan inside the batch joins the staged row of patient 8 */
	e = ev("G", "e8", "gp_contact", T0 + 10, IZA_TIME_NONE, T0, 1,
	       "finished", 8);
	ck_assert_int_eq(put1(&e), PUT_INSERTED);
	ck_assert_str_eq(
	    scan(T0 + 10, T0 + 11, false, NULL, NULL),
	    "gp_contact|finished|10|-1|ZK02|P|1950|in_person|-1\n");
	ck_assert_int_eq(stats().patients, 9);
	ck_assert_int_eq(count_patient_rows(), 0); /* nothing committed */
	batch_end();
	ck_assert_int_eq(count_patient_rows(), 9);

	/* an aborted batch leaves neither its staged nor its written rows */
	batch_begin();
	for (i = 20; i < 25; i++) {
		p = patient("G", i, "ZK01", T0);
		ck_assert_int_eq(putp(&p), PUT_INSERTED);
	}
	p = patient("G", 8, "ZK03", T0 + 5);
	ck_assert_int_eq(putp(&p), PUT_UPDATED);
	store_batch_abort(st);
	ck_assert_int_eq(stats().patients, 9);
	p = patient("G", 8, "ZK02", T0 + 1);
	p.pc4 = 4321;
	ck_assert_int_eq(putp(&p), PUT_DUPLICATE);
	p = patient("G", 20, "ZK01", T0);
	ck_assert_int_eq(putp(&p), PUT_INSERTED);

	/* after reopening, the rows come from the table */
	store_close(st);
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
	for (i = 1; i <= 7; i++) {
		p = patient("G", i, "ZK01", T0);
		ck_assert_int_eq(putp(&p), PUT_DUPLICATE);
	}
	p = patient("G", 8, "ZK02", T0 + 1);
	p.pc4 = 4321;
	ck_assert_int_eq(putp(&p), PUT_DUPLICATE);
	ck_assert_str_eq(
	    scan(T0 + 10, T0 + 11, false, NULL, NULL),
	    "gp_contact|finished|10|-1|ZK02|P|1950|in_person|-1\n");
	ck_assert_int_eq(count_patient_rows(), 10);
}
END_TEST

/* The v1 schema as the previous program created it. */
static const char v1_schema[] =
    "CREATE TABLE encounters(source TEXT NOT NULL, source_id TEXT NOT NULL,"
    " last_updated INTEGER, version INTEGER NOT NULL,"
    " content_hash INTEGER NOT NULL,"
    " PRIMARY KEY(source, source_id)) WITHOUT ROWID;"
    "CREATE TABLE events(source TEXT NOT NULL, source_id TEXT NOT NULL,"
    " type TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,"
    " provider TEXT NOT NULL, sector TEXT NOT NULL, rule TEXT NOT NULL,"
    " start INTEGER, \"end\" INTEGER, urgency INTEGER,"
    " disposition TEXT NOT NULL, patient_key BLOB NOT NULL,"
    " PRIMARY KEY(source, source_id, type)) WITHOUT ROWID;"
    "CREATE INDEX events_start ON events(start);"
    "CREATE TABLE patients(source TEXT NOT NULL, patient_key BLOB NOT NULL,"
    " pseudonym BLOB NOT NULL, has_bsn INTEGER NOT NULL,"
    " pc4 INTEGER NOT NULL, gemeente TEXT NOT NULL, region TEXT NOT NULL,"
    " birth_year INTEGER NOT NULL, sex TEXT NOT NULL, last_updated INTEGER,"
    " version INTEGER NOT NULL, active INTEGER NOT NULL,"
    " PRIMARY KEY(source, patient_key)) WITHOUT ROWID;"
    "CREATE TABLE batches(id INTEGER PRIMARY KEY, file TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, source TEXT NOT NULL, format TEXT NOT NULL,"
    " started INTEGER NOT NULL, finished INTEGER NOT NULL,"
    " records INTEGER NOT NULL, events_stored INTEGER NOT NULL,"
    " duplicates INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " stale INTEGER NOT NULL, excluded INTEGER NOT NULL,"
    " quarantined INTEGER NOT NULL, patients INTEGER NOT NULL);"
    "PRAGMA application_id = 1230651719; PRAGMA user_version = 1;";

/* pk: patient_key byte; x'..' blobs of 32 bytes */
#define PK1                                                                    \
	"x'0101010101010101010101010101010101010101010101010101010101010101'"
#define PK3                                                                    \
	"x'0303030303030303030303030303030303030303030303030303030303030303'"

static const char v1_rows[] =
    "INSERT INTO encounters VALUES"
    " ('H', 'visit9', 1704067200, 1, 0)," /* two events */
    " ('A', 'e1', 1704067201, 1, 0),"	  /* one event */
    " ('A', 'empty', NULL, 4, 0),"	  /* no event */
    " ('A', 'e2', 1704067201, 1, 0);"
    "INSERT INTO events VALUES"
    " ('H', 'visit9', 'er_visit', 'in_person', 'finished', '06010001',"
    "  'msz', 'r1', 1704067300, 1704067400, NULL, '', " PK1 "),"
    " ('H', 'visit9', 'admission', 'in_person', 'finished', '06010001',"
    "  'msz', 'r1', 1704067400, 1704326400, NULL, '', " PK1 "),"
    " ('A', 'e1', 'er_visit', 'phone', 'finished', '06010001',"
    "  'msz', 'r1', 1704067209, 1704067299, 3, 'gp_post', " PK3 "),"
    " ('A', 'e2', 'er_visit', 'in_person', 'entered-in-error', '06010001',"
    "  'msz', 'r1', 1704067210, NULL, NULL, '', " PK3 ");"
    "INSERT INTO patients VALUES ('A', " PK3 ", x'"
    "A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3',"
    " 1, 1234, 'GM0363', 'ZK05', 1961, 'female', 1704067200, 1, 1);"
    "INSERT INTO batches VALUES (1, 'f', '', 'A', 'fhir-ndjson', 1, 2, 4, 5,"
    " 0, 0, 0, 0, 0, 1);";

START_TEST(test_migration_from_v1)
{
	struct canon_event set[2], e1;
	struct store_stats s;
	struct iza_error err;
	enum put_result r;
	char path[600];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/v1.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, v1_schema, NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, v1_rows, NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	store_close(st);
	st = NULL;
	ck_assert_int_eq(store_open(path, false, &st, &err), 0);
	ck_assert_int_eq(store_schema_version(st), 2);
	s = stats();
	ck_assert_int_eq(s.events, 4);
	ck_assert_int_eq(s.encounters, 4);
	ck_assert_int_eq(s.patients, 1);
	ck_assert_int_eq(s.batches, 1);
	ck_assert_int_eq(s.events_without_patient, 2);
	/* copied by encounter, (source, source_id, type): A/e1, A/e2, then
	 * H/visit9's admission and er_visit */
	ck_assert_str_eq(
	    scan(T0, T0 + DAY, false, NULL, NULL),
	    "er_visit|finished|9|99|ZK05|P|1961|phone|3\n"
	    "er_visit|entered-in-error|10|-1|ZK05|P|1961|in_person|-1\n"
	    "admission|finished|200|259200||-|0|in_person|-1\n"
	    "er_visit|finished|100|200||-|0|in_person|-1\n");

	/* the same content is a duplicate (hash recomputed), order kept */
	set[0] = ev("H", "visit9", "er_visit", T0 + 100, T0 + 200, T0, 1,
		    "finished", 1);
	set[1] = ev("H", "visit9", "admission", T0 + 200, T0 + 3 * DAY, T0, 1,
		    "finished", 1);
	ck_assert_int_eq(store_put_encounter(st, set, 2, &r, &err), 0);
	ck_assert_int_eq(r, PUT_DUPLICATE);
	e1 = ev("A", "e1", "er_visit", T0 + 9, T0 + 99, T0 + 1, 1, "finished",
		3);
	COPY(e1.channel, "phone");
	COPY(e1.disposition, "gp_post");
	e1.urgency = 3;
	ck_assert_int_eq(put1(&e1), PUT_DUPLICATE);
	e1.last_updated = T0;
	ck_assert_int_eq(put1(&e1), PUT_STALE);
	ck_assert_int_eq(store_put_empty_encounter(st, "A", "empty",
						   IZA_TIME_NONE, 4, &r, &err),
			 0);
	ck_assert_int_eq(r, PUT_DUPLICATE);
	/* a newer version replaces migrated rows */
	set[0].last_updated = set[1].last_updated = T0 + 5;
	ck_assert_int_eq(store_put_encounter(st, &set[0], 1, &r, &err), 0);
	ck_assert_int_eq(r, PUT_UPDATED);
	s = stats();
	ck_assert_int_eq(s.events, 3);
	ck_assert_int_eq(s.encounters, 4);

	/* the v1 tables are gone, the file says v2 */
	store_close(st);
	st = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	{
		sqlite3_stmt *q;

		ck_assert_int_eq(
		    sqlite3_prepare_v2(db,
				       "SELECT group_concat(name, ',') FROM"
				       " (SELECT name FROM sqlite_master"
				       " ORDER BY name)",
				       -1, &q, NULL),
		    SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(q, 0),
				 "batches,enc,events,patients");
		sqlite3_finalize(q);
		ck_assert_int_eq(
		    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL),
		    SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(q, 0), 2);
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
}
END_TEST

START_TEST(test_migration_refuses_orphans)
{
	struct iza_error err;
	char path[600];
	sqlite3 *db;

	/* an event without its encounter row: not copied silently */
	snprintf(path, sizeof(path), "%s/v1bad.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, v1_schema, NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, v1_rows, NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "DELETE FROM encounters WHERE source_id"
				      " = 'e1'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	store_close(st);
	st = NULL;
	ck_assert_int_eq(store_open(path, false, &st, &err), -IZA_ESTORE);
	ck_assert_str_eq(err.file, path);
	ck_assert_ptr_nonnull(strstr(err.text, "belong to no encounter"));
	/* rolled back: still a v1 store */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	{
		sqlite3_stmt *q;

		ck_assert_int_eq(
		    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL),
		    SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(q, 0), 1);
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	ck_assert_int_eq(store_open(dbpath, false, &st, &err), 0);
}
END_TEST

START_TEST(test_other_connection_commits)
{
	struct store *s2 = NULL;
	struct iza_error err;
	struct canon_event e;
	enum put_result r;

	/* st builds its Bloom filter, then another connection stores a key:
	 * st must see it (data_version changed: filter rebuilt) */
	put_ids("o", 0, 3, T0, PUT_INSERTED);
	ck_assert_int_eq(store_open(dbpath, false, &s2, &err), 0);
	e = evn("o7", T0, T0);
	ck_assert_int_eq(store_put_encounter(s2, &e, 1, &r, &err), 0);
	ck_assert_int_eq(r, PUT_INSERTED);
	store_close(s2);
	ck_assert_int_eq(put1(&e), PUT_DUPLICATE);
	ck_assert_int_eq(stats().encounters, 4);
}
END_TEST

/* ---- throughput (printed, not asserted) ------------------------------------
 */

#define BENCH_N 200000

static void fill_random_id(char *id, size_t size, uint64_t *rng)
{
	/* FHIR ids are usually UUIDs: random keys, the B-tree's worst case */
	uint64_t a, b;

	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	a = *rng;
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	b = *rng;
	snprintf(id, size, "%08llx-%04llx-4%03llx-%04llx-%012llx",
		 (unsigned long long)(a >> 32),
		 (unsigned long long)(a >> 16 & 0xffff),
		 (unsigned long long)(a & 0xfff), (unsigned long long)(b >> 48),
		 (unsigned long long)(b & 0xffffffffffffULL));
}

static int count_cb(void *ctx, const struct event_row *r)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_throughput)
{
	struct canon_event e =
	    ev("01234567", "", "er_visit", T0, T0 + 3600, T0, 1, "finished", 1);
	struct batch_info info = {.file = "bench",
				  .sha256_hex = "",
				  .source = "01234567",
				  .format = "bench",
				  .started = T0};
	struct iza_error err;
	struct timespec t0, t1, c0, c1;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	enum put_result r;
	double secs, cpu;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	ck_assert_int_eq(store_batch_begin(st, &err), 0);
	for (i = 0; i < BENCH_N; i++) {
		fill_random_id(e.source_id, sizeof(e.source_id), &rng);
		e.start = T0 + (int64_t)(rng % (365 * DAY));
		e.end = e.start + 3600;
		e.patient_key[0] = (uint8_t)i;
		e.patient_key[1] = (uint8_t)(i >> 8);
		e.patient_key[2] = (uint8_t)(i >> 16);
		if (store_put_encounter(st, &e, 1, &r, &err) != 0)
			ck_abort_msg("put failed: %s", err.text);
		if (r != PUT_INSERTED)
			ck_abort_msg("unexpected put result %d at %d", r, i);
	}
	ck_assert_int_eq(store_batch_end(st, &info, NULL, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = (double)(c1.tv_sec - c0.tv_sec) +
	      (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	/* wall time includes the commit's fdatasync and waiting for a core;
	 * CPU time is the fairer figure on a shared machine */
	printf("store throughput: %d fresh encounter puts (random UUID ids, "
	       "one batch): wall %.3f s = %.0f/s, cpu %.3f s = %.0f/s\n",
	       BENCH_N, secs, BENCH_N / secs, cpu, BENCH_N / cpu);
	ck_assert_int_eq(stats().events, BENCH_N);

	/* and a full-year KPI scan over them */
	{
		struct event_filter f = {.from = T0, .to = T0 + 366 * DAY};
		int rows = 0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ck_assert_int_eq(store_scan(st, &f, count_cb, &rows, &err), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("store scan: %d rows in %.3f s = %.0f rows/s\n", rows,
		       secs, rows / secs);
		ck_assert_int_eq(rows, BENCH_N);
	}
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	TCase *tb = tcase_create("bench");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_insert_duplicate_update_stale);
	tcase_add_test(tc, test_version_only);
	tcase_add_test(tc, test_entered_in_error);
	tcase_add_test(tc, test_two_events_replaced_by_one);
	tcase_add_test(tc, test_invalid_sets);
	tcase_add_test(tc, test_patient_after_encounter);
	tcase_add_test(tc, test_patient_before_encounter);
	tcase_add_test(tc, test_overlap_bed_days);
	tcase_add_test(tc, test_scan_order_and_stop);
	tcase_add_test(tc, test_scan_nested);
	tcase_add_test(tc, test_batch_abort_and_commit);
	tcase_add_test(tc, test_close_with_open_batch);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_schema_version);
	tcase_add_test(tc, test_empty_file_is_migrated);
	tcase_add_test(tc, test_row_fields);
	tcase_add_test(tc, test_null_args);
	tcase_add_test(tc, test_bloom_false_positive);
	tcase_add_test(tc, test_staging_flush_mid_batch);
	tcase_add_test(tc, test_forced_collision);
	tcase_add_test(tc, test_update_multi_event_after_flush);
	tcase_add_test(tc, test_abort_with_staged_entries);
	tcase_add_test(tc, test_update_of_missing_row);
	tcase_add_test(tc, test_patient_staging);
	tcase_add_test(tc, test_migration_from_v1);
	tcase_add_test(tc, test_migration_refuses_orphans);
	tcase_add_test(tc, test_other_connection_commits);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_set_timeout(tb, 240);
	tcase_add_test(tb, test_throughput);
	suite_add_tcase(s, tb);
	return s;
}

int main(void)
{
	return testutil_run(store_suite());
}
