/* test_outbox.c - the durable outbox (gateway/outbox.c): queue, order,
 * due times, retries, definitive failures, statistics, the same report
 * twice and another report under a used id, persistence across reopening,
 * the backoff schedule (exponential, jittered, capped, Retry-After), and
 * the scheduler's closings (one report per period). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "outbox.h"
#include "testutil.h"

static char *dir;
static char path[600];

static void setup(void)
{
	dir = testutil_tmpdir();
	snprintf(path, sizeof(path), "%s/outbox.db", dir);
}

static void teardown(void)
{
	testutil_rmrf(dir);
	free(dir);
}

static struct outbox *open_ob(void)
{
	struct iza_error err = {0};
	struct outbox *ob = NULL;

	ck_assert_msg(outbox_open(path, true, &ob, &err) == 0, "%s", err.text);
	return ob;
}

static void queue(struct outbox *ob, const char *id, const char *body,
		  int64_t now, bool want_added)
{
	struct iza_error err = {0};
	bool added = !want_added;

	ck_assert_msg(outbox_enqueue(ob, id, "ZK02", "plan-a", "2025-Q1", body,
				     strlen(body), "h..s", now, &added,
				     &err) == 0,
		      "%s", err.text);
	ck_assert(added == want_added);
}

START_TEST(queue_order_and_states)
{
	struct iza_error err = {0};
	struct outbox *ob = open_ob();
	struct outbox_item it;
	struct outbox_stats st;
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	queue(ob, "r-1", "{\"a\":1}", 100, true);
	queue(ob, "r-2", "{\"b\":2}", 200, true);
	queue(ob, "r-1", "{\"a\":1}", 300, false); /* the same report again */
	ck_assert_int_eq(outbox_enqueue(ob, "r-1", "ZK02", "p", "2025-Q1",
					"{\"a\":2}", 7, "x..y", 400, NULL,
					&err),
			 -IZA_EEXISTS);

	/* nothing due before its time */
	ck_assert_int_eq(outbox_next(ob, 99, &it, &err), 0);
	ck_assert_int_eq(outbox_next(ob, 250, &it, &err), 1);
	ck_assert_str_eq(it.id, "r-1");
	ck_assert_str_eq(it.body, "{\"a\":1}");
	ck_assert_int_eq(it.body_len, 7);
	ck_assert_str_eq(it.jws, "h..s");
	ck_assert_str_eq(it.period, "2025-Q1");
	outbox_item_release(&it);

	/* a 503: retry later; the next due is r-2 */
	ck_assert_int_eq(outbox_mark_retry(ob, "r-1", 503,
					   "service unavailable", 1000, &err),
			 0);
	ck_assert_int_eq(outbox_next(ob, 250, &it, &err), 1);
	ck_assert_str_eq(it.id, "r-2");
	outbox_item_release(&it);
	/* a definitive 403: failed, kept with its reason */
	ck_assert_int_eq(
	    outbox_mark_failed(ob, "r-2", 403, "region not enrolled", &err), 0);
	ck_assert_int_eq(outbox_next(ob, 500, &it, &err), 0);
	ck_assert_int_eq(outbox_next(ob, 1000, &it, &err), 1);
	ck_assert_str_eq(it.id, "r-1");
	ck_assert_int_eq(it.attempts, 1);
	ck_assert_int_eq(it.last_status, 503);
	outbox_item_release(&it);
	ck_assert_int_eq(outbox_mark_sent(ob, "r-1", 201, 1001, &err), 0);
	ck_assert_int_eq(outbox_mark_retry(ob, "r-1", 500, "x", 5, &err),
			 -IZA_ENOTFOUND); /* sent is final */
	ck_assert_int_eq(outbox_stats(ob, &st, &err), 0);
	ck_assert_int_eq(st.queued, 0);
	ck_assert_int_eq(st.sent, 1);
	ck_assert_int_eq(st.failed, 1);
	outbox_close(ob);
}
END_TEST

static int collect(void *ctx, const struct outbox_item *it)
{
	char *buf = ctx;

	snprintf(buf + strlen(buf), 200 - strlen(buf), "%s:%d:%s;", it->id,
		 it->last_status, it->last_error);
	return 0;
}

START_TEST(persists_across_reopen)
{
	struct iza_error err = {0};
	struct outbox *ob = open_ob();
	struct outbox_stats st;
	struct outbox_item it;
	char failed[200] = "";

	queue(ob, "r-1", "{}", 100, true);
	queue(ob, "r-2", "[]", 110, true);
	ck_assert_int_eq(outbox_mark_failed(ob, "r-1", 409, "conflict", &err),
			 0);
	outbox_close(ob);
	ck_assert_int_eq(outbox_open(path, false, &ob, &err), 0);
	ck_assert_int_eq(outbox_stats(ob, &st, &err), 0);
	ck_assert_int_eq(st.queued, 1);
	ck_assert_int_eq(st.oldest_queued, 110);
	ck_assert_int_eq(outbox_next(ob, 200, &it, &err), 1);
	ck_assert_str_eq(it.id, "r-2");
	outbox_item_release(&it);
	ck_assert_int_eq(outbox_failed(ob, collect, failed, &err), 0);
	ck_assert_str_eq(failed, "r-1:409:conflict;");
	outbox_close(ob);
	outbox_item_release(NULL);
	outbox_close(NULL);
	snprintf(path, sizeof(path), "%s/missing.db", dir);
	ck_assert_int_eq(outbox_open(path, false, &ob, &err), -IZA_ENOTFOUND);
}
END_TEST

START_TEST(backoff_schedule)
{
	/* 30 s, 60 s, 120 s ... within +-20 %, capped at 6 h */
	ck_assert_int_eq(outbox_backoff(1, 0, 0.5, 1000), 1030);
	ck_assert_int_eq(outbox_backoff(2, 0, 0.5, 1000), 1060);
	ck_assert_int_eq(outbox_backoff(3, 0, 0.5, 1000), 1120);
	ck_assert_int_eq(outbox_backoff(1, 0, 0.0, 0), 24);
	ck_assert_int_eq(outbox_backoff(1, 0, 1.0, 0), 36);
	ck_assert_int_eq(outbox_backoff(40, 0, 0.5, 0), 6 * 3600);
	ck_assert_int_eq(outbox_backoff(40, 0, 1.0, 0), 6 * 3600 * 12 / 10);
	/* Retry-After wins when later */
	ck_assert_int_eq(outbox_backoff(1, 600, 0.5, 1000), 1600);
	ck_assert_int_eq(outbox_backoff(5, 10, 0.5, 1000), 1000 + 480);
}
END_TEST

static int count_closings(void *ctx, const struct outbox_closing *c)
{
	struct outbox_closing *last = ctx;

	*last = *c; /* the last one seen */
	return 0;
}

/* Closings: a period is closed by exactly one report, queued in the same
 * transaction; a second closing of it queues nothing; failures are counted
 * until the period closes. */
START_TEST(closings_once)
{
	struct iza_error err = {0};
	struct outbox *ob = open_ob();
	struct outbox_closing seen;
	struct outbox_stats st;
	char id[80] = "";
	int64_t at = 0;

	ck_assert_int_eq(
	    outbox_closing(ob, "2026-Q3", id, sizeof(id), &at, &err), 0);
	ck_assert_int_eq(
	    outbox_closing_failed(ob, "2026-Q3", "budget", 100, &err), 0);
	ck_assert_int_eq(
	    outbox_closing_failed(ob, "2026-Q3", "budget again", 160, &err), 0);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(outbox_closings(ob, count_closings, &seen, &err), 0);
	ck_assert_str_eq(seen.period, "2026-Q3");
	ck_assert_str_eq(seen.report_id, "");
	ck_assert_int_eq(seen.failures, 2);
	ck_assert_int_eq(seen.failed_at, 160);
	ck_assert_str_eq(seen.last_error, "budget again");

	ck_assert_msg(outbox_enqueue_closing(ob, "r-1", "ZK02", "plan-a",
					     "2026-Q3", "{}", 2, "h..s", 200,
					     &err) == 0,
		      "%s", err.text);
	ck_assert_int_eq(
	    outbox_closing(ob, "2026-Q3", id, sizeof(id), &at, &err), 1);
	ck_assert_str_eq(id, "r-1");
	ck_assert_int_eq(at, 200);
	/* a second report for the closed period: refused, nothing queued */
	ck_assert_int_eq(outbox_enqueue_closing(ob, "r-2", "ZK02", "plan-a",
						"2026-Q3", "{}", 2, "h..s", 300,
						&err),
			 -IZA_EEXISTS);
	ck_assert_ptr_nonnull(strstr(err.text, "r-1"));
	ck_assert_int_eq(outbox_stats(ob, &st, &err), 0);
	ck_assert_int_eq(st.queued, 1);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(outbox_closings(ob, count_closings, &seen, &err), 0);
	ck_assert_str_eq(seen.report_id, "r-1");
	ck_assert_int_eq(seen.failures, 0); /* cleared by the closing */
	ck_assert_int_eq(seen.state, OUTBOX_QUEUED);
	ck_assert_int_eq(outbox_mark_sent(ob, "r-1", 201, 400, &err), 0);
	ck_assert_int_eq(outbox_closings(ob, count_closings, &seen, &err), 0);
	ck_assert_int_eq(seen.state, OUTBOX_SENT);
	ck_assert_int_eq(seen.sent_at, 400);
	outbox_close(ob);
	/* and after reopening */
	ob = open_ob();
	ck_assert_int_eq(
	    outbox_closing(ob, "2026-Q3", id, sizeof(id), NULL, &err), 1);
	ck_assert_int_eq(
	    outbox_closing(ob, "2026-Q4", id, sizeof(id), NULL, &err), 0);
	outbox_close(ob);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc = tcase_create("outbox");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, queue_order_and_states);
	tcase_add_test(tc, persists_across_reopen);
	tcase_add_test(tc, backoff_schedule);
	tcase_add_test(tc, closings_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
