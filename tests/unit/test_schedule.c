/* test_schedule.c - when the scheduler closes a period (gateway/schedule.c):
 * closing days worked out by hand from the calendar, the period after each
 * kind (across year ends), the names of the kinds, and the timer thread
 * (a tick at start, more at its interval, none after stop). */
#include <pthread.h>
#include <unistd.h>

#include "schedule.h"
#include "testutil.h"

static struct period P(const char *label) {
	struct iza_error err = {0};
	struct period p;

	ck_assert_msg(period_parse(label, &p, &err) == 0, "%s", label);
	return p;
}

static long
day(int y, int m, int d)
{
	return (long)days_from_civil(y, m, d);
}

START_TEST(close_days)
{
	struct schedule sc = {.enabled = true, .close_after_days = 10};
	struct period p;

	/* 2026-Q3 ends 30 September: 10 days later is 10 October */
	p = P("2026-Q3");
	ck_assert_int_eq(schedule_close_day(&sc, &p), day(2026, 10, 10));
	/* February 2026 has 28 days: + 10 is 10 March */
	p = P("2026-02");
	ck_assert_int_eq(schedule_close_day(&sc, &p), day(2026, 3, 10));
	/* 2024 is a leap year: February ends on the 29th */
	p = P("2024-02");
	ck_assert_int_eq(schedule_close_day(&sc, &p), day(2024, 3, 10));
	/* Q4 crosses the year end */
	p = P("2026-Q4");
	ck_assert_int_eq(schedule_close_day(&sc, &p), day(2027, 1, 10));
	/* a year with 31 days: 31 January */
	sc.close_after_days = 31;
	p = P("2025");
	ck_assert_int_eq(schedule_close_day(&sc, &p), day(2026, 1, 31));
	/* 0 days: the last day itself */
	sc.close_after_days = 0;
	p = P("2026-Q1");
	ck_assert_int_eq(schedule_close_day(&sc, &p), day(2026, 3, 31));
}
END_TEST

START_TEST(next_periods)
{
	static const char *const pairs[][2] = {
	    {"2026-Q3", "2026-Q4"}, {"2026-Q4", "2027-Q1"},
	    {"2026-11", "2026-12"}, {"2026-12", "2027-01"},
	    {"2026", "2027"},	    {"2025-01", "2025-02"}};
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct period p = P(pairs[i][0]), n;

		ck_assert_int_eq(schedule_next(&p, &n), 0);
		ck_assert_str_eq(n.label, pairs[i][1]);
		ck_assert_int_eq(n.kind, p.kind);
	}
}
END_TEST

START_TEST(kind_names)
{
	enum period_kind k;

	ck_assert_int_eq(schedule_parse_every("quarter", &k), 0);
	ck_assert_int_eq(k, PERIOD_QUARTER);
	ck_assert_int_eq(schedule_parse_every("month", &k), 0);
	ck_assert_int_eq(k, PERIOD_MONTH);
	ck_assert_int_eq(schedule_parse_every("year", &k), 0);
	ck_assert_int_eq(k, PERIOD_YEAR);
	ck_assert_int_eq(schedule_parse_every("Quarter", &k), -IZA_EINVALID);
	ck_assert_int_eq(schedule_parse_every(NULL, &k), -IZA_EINVALID);
	ck_assert_str_eq(schedule_every_name(PERIOD_QUARTER), "quarter");
}
END_TEST

static pthread_mutex_t ticks_mu = PTHREAD_MUTEX_INITIALIZER;
static int ticks;

static void tick(void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&ticks_mu);
	ticks++;
	pthread_mutex_unlock(&ticks_mu);
}

static int ticks_now(void)
{
	int n;

	pthread_mutex_lock(&ticks_mu);
	n = ticks;
	pthread_mutex_unlock(&ticks_mu);
	return n;
}

START_TEST(timer)
{
	struct schedule sc = {.enabled = true, .check_seconds = 1};
	struct scheduler *s = NULL;
	struct iza_error err = {0};
	int i, after;

	ticks = 0;
	ck_assert_int_eq(scheduler_start(&sc, tick, NULL, &s, &err), 0);
	/* one tick at start, a second one a second later */
	for (i = 0; i < 300 && ticks_now() < 2; i++)
		usleep(10000);
	ck_assert_int_ge(ticks_now(), 2);
	scheduler_stop(s);
	after = ticks_now();
	usleep(1200000);
	ck_assert_int_eq(ticks_now(), after);
	sc.check_seconds = 0;
	ck_assert_int_eq(scheduler_start(&sc, tick, NULL, &s, &err),
			 -IZA_EUSAGE);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("schedule");
	TCase *tc = tcase_create("schedule");

	tcase_add_test(tc, close_days);
	tcase_add_test(tc, next_periods);
	tcase_add_test(tc, kind_names);
	tcase_add_test(tc, timer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
