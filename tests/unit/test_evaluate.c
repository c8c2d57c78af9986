/* test_evaluate.c - result milestones (monitor/evaluate.c): exactly on
 * target, on the bandwidth edge and one millionth past it, both directions,
 * suppressed and missing evidence, corrections before and after the
 * decision, late evidence, several regions, and independence from the time
 * the evaluation runs.  Every expected status is worked out by hand from the
 * rules in evaluate.h. */
#include <jansson.h>
#include <string.h>

#include "evaluate.h"
#include "indicator.h"
#include "testutil.h"

/* Milestone m1: digital-contact-share for 2025-Q4, target 0.18, lower
 * tolerance 0.02 (increase), date 2026-01-31, so the deadline is
 * 2026-02-01 00:00 Amsterdam (CET) = 2026-01-31T23:00:00Z = 1769900400.
 * Milestone m2: bed-days for 2025, target 38000, upper tolerance 500
 * (decrease), date 2026-03-31 (deadline 2026-03-31T22:00:00Z, CEST). */
#define DEADLINE 1769900400LL
#define DAY	 86400LL

static const char *plan_head =
    "{\"format\":\"iza-plan/1\",\"id\":\"plan-t\",\"name\":\"t\","
    "\"regions\":";
static const char *plan_tail =
    ",\"parties\":[\"AGB:01000001\"],"
    "\"payee\":\"AGB:01000001\","
    "\"coordinating_insurer\":\"3311\",\"sectors\":[\"huisartsenzorg\"],"
    "\"budget_cents\":1000,"
    "\"kpis\":[{\"kpi\":\"digital-contact-share\","
    "\"baseline\":{\"period\":\"2024\",\"value\":0.1},\"target\":0.25,"
    "\"bandwidth\":{\"lower\":0.02},\"direction\":\"increase\","
    "\"due\":\"2026-12-31\"},"
    "{\"kpi\":\"bed-days\",\"baseline\":{\"period\":\"2024\",\"value\":"
    "41000},\"target\":38000,\"bandwidth\":{\"upper\":500},"
    "\"direction\":\"decrease\",\"due\":\"2026-12-31\"}],"
    "\"milestones\":[{\"id\":\"m1\",\"kind\":\"result\","
    "\"kpi\":\"digital-contact-share\",\"period\":\"2025-Q4\","
    "\"target\":0.18,\"date\":\"2026-01-31\",\"amount_cents\":600,"
    "\"payments\":[{\"date\":\"2026-02-28\",\"share\":1}]},"
    "{\"id\":\"m2\",\"kind\":\"result\",\"kpi\":\"bed-days\","
    "\"period\":\"2025\",\"date\":\"2026-03-31\",\"amount_cents\":400,"
    "\"payments\":[{\"date\":\"2026-04-30\",\"share\":1}]}]}";

static struct plan *plan;
static struct observation obs[16];
static size_t nobs;
static struct ms_eval ev;

static struct plan *make_plan(const char *regions)
{
	static const char *const kpis[] = {"digital-contact-share", "bed-days",
					   NULL};
	static const char *const sectors[] = {"huisartsenzorg", NULL};
	struct plan_catalogue cat = {kpis, sectors};
	char text[4096];
	struct iza_error err;
	struct plan *p;
	json_t *doc;

	snprintf(text, sizeof(text), "%s%s%s", plan_head, regions, plan_tail);
	doc = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(plan_parse("t.json", doc, &cat, &p, &err), 0);
	json_decref(doc);
	return p;
}

static void setup(void)
{
	plan = make_plan("[\"ZK02\"]");
	nobs = 0;
	memset(&ev, 0, sizeof(ev));
}

static void teardown(void)
{
	ms_eval_release(&ev);
	plan_free(plan);
}

/* An observation: value in millionths, or absent ("masked", ...). */
static const struct observation *add(const char *report, const char *region,
				     const char *kpi, const char *period,
				     int64_t received, int64_t value,
				     const char *absent)
{
	struct observation *o = &obs[nobs++];

	memset(o, 0, sizeof(*o));
	snprintf(o->report, sizeof(o->report), "%s", report);
	snprintf(o->region, sizeof(o->region), "%s", region);
	snprintf(o->period, sizeof(o->period), "%s", period);
	snprintf(o->ind.kpi, sizeof(o->ind.kpi), "%s", kpi);
	o->received = received;
	if (absent)
		snprintf(o->ind.absent, sizeof(o->ind.absent), "%s", absent);
	o->ind.has_value = absent == NULL;
	o->ind.value = value;
	return o;
}

/* m1's evidence in ZK02 for 2025-Q4 */
static const struct observation *q4(const char *report, int64_t received,
				    int64_t value)
{
	return add(report, "ZK02", "digital-contact-share", "2025-Q4", received,
		   value, NULL);
}

static void eval(int milestone, int64_t now)
{
	ms_eval_release(&ev);
	ck_assert_int_eq(ms_evaluate(plan, &plan->milestones[milestone], obs,
				     nobs, now, &ev),
			 0);
}

START_TEST(deadline_is_end_of_day_amsterdam)
{
	ck_assert_int_eq(ms_deadline(&plan->milestones[0]), DEADLINE);
	/* 2026-04-01 00:00 CEST = 2026-03-31T22:00:00Z */
	ck_assert_int_eq(ms_deadline(&plan->milestones[1]),
			 DEADLINE + 59 * DAY - 3600);
}
END_TEST

START_TEST(judge_increase_edges)
{
	const struct plan_kpi *k = &plan->kpis[0]; /* lower 0.02 */

	ck_assert_int_eq(ms_judge(k, 180000, 180000), MS_MET);
	ck_assert_int_eq(ms_judge(k, 180000, 180001), MS_MET);
	ck_assert_int_eq(ms_judge(k, 180000, 179999), MS_MET_BANDWIDTH);
	ck_assert_int_eq(ms_judge(k, 180000, 160000), MS_MET_BANDWIDTH);
	ck_assert_int_eq(ms_judge(k, 180000, 159999), MS_MISSED);
}
END_TEST

START_TEST(judge_decrease_edges)
{
	const struct plan_kpi *k = &plan->kpis[1]; /* upper 500 */
	const int64_t t = 38000LL * PLAN_SCALE;

	ck_assert_int_eq(ms_judge(k, t, t), MS_MET);
	ck_assert_int_eq(ms_judge(k, t, t - 1), MS_MET);
	ck_assert_int_eq(ms_judge(k, t, t + 500LL * PLAN_SCALE),
			 MS_MET_BANDWIDTH);
	ck_assert_int_eq(ms_judge(k, t, t + 500LL * PLAN_SCALE + 1), MS_MISSED);
}
END_TEST

START_TEST(exactly_on_target_is_met_at_receipt)
{
	q4("r1", DEADLINE - 10 * DAY, 180000);
	eval(0, DEADLINE - 5 * DAY);
	ck_assert_int_eq(ev.status, MS_MET);
	ck_assert(ev.final);
	ck_assert(!ev.late);
	ck_assert_int_eq(ev.at, DEADLINE - 10 * DAY);
	ck_assert_str_eq(ev.used[0]->report, "r1");
	ck_assert(!ev.corrected);
	ck_assert_ptr_nonnull(strstr(ev.reason, "ZK02 digital-contact-share "
						"0.18 (target 0.18)"));
}
END_TEST

START_TEST(bandwidth_edge)
{
	q4("r1", DEADLINE - DAY, 160000); /* exactly target - lower */
	eval(0, DEADLINE + DAY);
	ck_assert_int_eq(ev.status, MS_MET_BANDWIDTH);
	ck_assert(ev.final);
	ck_assert_int_eq(ev.at, DEADLINE - DAY);
}
END_TEST

START_TEST(below_bandwidth_pending_then_missed)
{
	q4("r1", DEADLINE - DAY, 159999);
	eval(0, DEADLINE - 1);
	ck_assert_int_eq(ev.status, MS_PENDING);
	ck_assert(!ev.final);
	ck_assert_ptr_nonnull(strstr(ev.reason, "so far missed"));
	ck_assert_str_eq(ev.used[0]->report, "r1");
	eval(0, DEADLINE);
	ck_assert_int_eq(ev.status, MS_MISSED);
	ck_assert(ev.final);
	ck_assert_int_eq(ev.at, DEADLINE);
}
END_TEST

START_TEST(suppressed_is_never_zero)
{
	add("r1", "ZK02", "digital-contact-share", "2025-Q4", DEADLINE - DAY, 0,
	    "masked");
	eval(0, DEADLINE - 1);
	ck_assert_int_eq(ev.status, MS_PENDING);
	ck_assert_ptr_nonnull(strstr(ev.reason, "suppressed"));
	eval(0, DEADLINE + 30 * DAY);
	ck_assert_int_eq(ev.status, MS_NOT_EVALUABLE);
	ck_assert(!ev.final);
	ck_assert_str_eq(ev.reason, "ZK02: suppressed by disclosure control");
	ck_assert_str_eq(ev.used[0]->report, "r1");
}
END_TEST

START_TEST(missing_is_not_evaluable)
{
	/* other KPI, other period, other region, not yet received: none of
	 * them is m1's evidence */
	add("r1", "ZK02", "bed-days", "2025-Q4", DEADLINE - DAY, 1, NULL);
	add("r2", "ZK02", "digital-contact-share", "2025-Q3", DEADLINE - DAY,
	    900000, NULL);
	add("r3", "ZK23", "digital-contact-share", "2025-Q4", DEADLINE - DAY,
	    900000, NULL);
	q4("r4", DEADLINE + 2 * DAY, 900000);
	eval(0, DEADLINE + DAY);
	ck_assert_int_eq(ev.status, MS_NOT_EVALUABLE);
	ck_assert_ptr_null(ev.used[0]);
	ck_assert_str_eq(ev.reason, "ZK02: no report");
	add("r5", "ZK02", "digital-contact-share", "2025-Q4", DEADLINE - DAY, 0,
	    "unknown");
	eval(0, DEADLINE + DAY);
	ck_assert_str_eq(ev.reason, "ZK02: not computable");
}
END_TEST

START_TEST(late_correction_does_not_change_the_decision)
{
	q4("r1", DEADLINE - 20 * DAY, 190000);
	q4("r2", DEADLINE - 10 * DAY, 100000); /* the region corrects down */
	eval(0, DEADLINE + DAY);
	ck_assert_int_eq(ev.status, MS_MET);
	ck_assert_int_eq(ev.at, DEADLINE - 20 * DAY);
	ck_assert_str_eq(ev.used[0]->report, "r1");
	ck_assert_str_eq(ev.latest[0]->report, "r2");
	ck_assert(ev.corrected);
	/* before the correction arrived the same decision, uncorrected */
	eval(0, DEADLINE - 15 * DAY);
	ck_assert_int_eq(ev.status, MS_MET);
	ck_assert_int_eq(ev.at, DEADLINE - 20 * DAY);
	ck_assert(!ev.corrected);
}
END_TEST

START_TEST(correction_before_the_decision_counts)
{
	q4("r1", DEADLINE - 20 * DAY, 100000);
	q4("r2", DEADLINE - 10 * DAY, 190000);
	eval(0, DEADLINE - 15 * DAY);
	ck_assert_int_eq(ev.status, MS_PENDING);
	eval(0, DEADLINE + DAY);
	ck_assert_int_eq(ev.status, MS_MET);
	ck_assert_int_eq(ev.at, DEADLINE - 10 * DAY);
	ck_assert_str_eq(ev.used[0]->report, "r2");
}
END_TEST

START_TEST(missed_at_deadline_stands)
{
	q4("r1", DEADLINE - DAY, 100000);
	q4("r2", DEADLINE + DAY, 190000); /* too late to change a miss */
	eval(0, DEADLINE + 2 * DAY);
	ck_assert_int_eq(ev.status, MS_MISSED);
	ck_assert_int_eq(ev.at, DEADLINE);
	ck_assert_str_eq(ev.used[0]->report, "r1");
	ck_assert(ev.corrected);
	ck_assert_str_eq(ev.latest[0]->report, "r2");
}
END_TEST

START_TEST(late_evidence_decides_when_none_was_complete)
{
	add("r1", "ZK02", "digital-contact-share", "2025-Q4", DEADLINE - DAY, 0,
	    "masked");
	q4("r2", DEADLINE + 3 * DAY, 170000);
	q4("r3", DEADLINE + 4 * DAY, 100000);
	eval(0, DEADLINE + 10 * DAY);
	ck_assert_int_eq(ev.status, MS_MET_BANDWIDTH);
	ck_assert(ev.late);
	ck_assert_int_eq(ev.at, DEADLINE + 3 * DAY);
	ck_assert_str_eq(ev.used[0]->report, "r2");
	ck_assert(ev.corrected);
}
END_TEST

START_TEST(same_receipt_time_ties_by_report_id)
{
	q4("r-b", DEADLINE - DAY, 100000);
	q4("r-a", DEADLINE - DAY, 190000);
	eval(0, DEADLINE + DAY);
	/* r-b sorts after r-a, so it is the latest: missed */
	ck_assert_int_eq(ev.status, MS_MISSED);
	ck_assert_str_eq(ev.used[0]->report, "r-b");
}
END_TEST

START_TEST(several_regions_take_the_worst)
{
	plan_free(plan);
	plan = make_plan("[\"ZK02\",\"ZK23\"]");
	q4("a1", DEADLINE - 9 * DAY, 200000);
	eval(0, DEADLINE - DAY);
	ck_assert_int_eq(ev.status, MS_PENDING);
	ck_assert_str_eq(ev.reason, "awaiting evidence: ZK23: no report");
	add("b1", "ZK23", "digital-contact-share", "2025-Q4",
	    DEADLINE - 8 * DAY, 165000, NULL);
	eval(0, DEADLINE + DAY);
	ck_assert_int_eq(ev.status, MS_MET_BANDWIDTH);
	ck_assert_int_eq(ev.at, DEADLINE - 8 * DAY);
	ck_assert_str_eq(ev.used[0]->report, "a1");
	ck_assert_str_eq(ev.used[1]->report, "b1");
}
END_TEST

START_TEST(decrease_milestone)
{
	add("r1", "ZK02", "bed-days", "2025", DEADLINE, 38400LL * PLAN_SCALE,
	    NULL);
	eval(1, DEADLINE + DAY);
	ck_assert_int_eq(ev.status, MS_MET_BANDWIDTH);
	ck_assert_ptr_nonnull(strstr(ev.reason, "bed-days 38400 (target "
						"38000)"));
}
END_TEST

START_TEST(status_names_round_trip)
{
	int s;

	for (s = MS_PENDING; s <= MS_NOT_EVALUABLE; s++)
		ck_assert_int_eq(ms_status_parse(ms_status_name(s)), s);
	ck_assert_int_eq(ms_status_parse("paid"), -1);
}
END_TEST

START_TEST(indicators_from_a_gateway_report)
{
	size_t len;
	char *body = testutil_slurp(
	    testutil_src("tests/data/report/nl-small-2025-Q1.json"), &len);
	struct indicator *ind;
	struct iza_error err;
	int n = indicators_read(body, len, &ind, &err);

	/* bed-days 3, digital-contact-share 0.428571, er-patients 3,
	 * er-visits 4, er-visits-avoided -3, in the Bundle's order */
	ck_assert_int_eq(n, 5);
	ck_assert_str_eq(ind[1].kpi, "digital-contact-share");
	ck_assert(ind[1].has_value);
	ck_assert_int_eq(ind[1].value, 428571);
	ck_assert_int_eq(ind[0].value, 3LL * PLAN_SCALE);
	ck_assert_str_eq(ind[4].kpi, "er-visits-avoided");
	ck_assert_int_eq(ind[4].value, -3LL * PLAN_SCALE);
	free(ind);
	free(body);
}
END_TEST

START_TEST(indicators_absent_and_refused)
{
	static const char masked[] =
	    "{\"entry\":[{\"resource\":{\"resourceType\":\"Measure\"}},"
	    "{\"resource\":{\"resourceType\":\"MeasureReport\",\"measure\":"
	    "\"https://x.nl/fhir/Measure/ggz-patients|2025.1\",\"group\":[{"
	    "\"id\":\"main\",\"extension\":[{\"url\":\"http://hl7.org/fhir/"
	    "StructureDefinition/data-absent-reason\",\"valueCode\":"
	    "\"masked\"}]}]}},"
	    "{\"resource\":{\"resourceType\":\"MeasureReport\",\"measure\":"
	    "\"https://x.nl/fhir/Measure/bed-days\",\"group\":[{}]}}]}";
	static const char bad[] =
	    "{\"entry\":[{\"resource\":{\"resourceType\":\"MeasureReport\"}}]}";
	struct indicator *ind;
	struct iza_error err;

	ck_assert_int_eq(indicators_read(masked, strlen(masked), &ind, &err),
			 2);
	ck_assert_str_eq(ind[0].kpi, "ggz-patients");
	ck_assert(!ind[0].has_value);
	ck_assert_str_eq(ind[0].absent, "masked");
	ck_assert_str_eq(ind[1].kpi, "bed-days");
	ck_assert_str_eq(ind[1].absent, "missing");
	free(ind);
	ck_assert_int_eq(indicators_read(bad, strlen(bad), &ind, &err),
			 -IZA_EINVALID);
	ck_assert_str_eq(err.field, "entry[0]");
	ck_assert_int_eq(indicators_read("{", 1, &ind, &err), -IZA_EINVALID);
}
END_TEST

START_TEST(value_format)
{
	char b[32];

	plan_value_format(250000, b);
	ck_assert_str_eq(b, "0.25");
	plan_value_format(-17000000, b);
	ck_assert_str_eq(b, "-17");
	plan_value_format(-1, b);
	ck_assert_str_eq(b, "-0.000001");
	plan_value_format(38000500000LL, b);
	ck_assert_str_eq(b, "38000.5");
	plan_value_format(0, b);
	ck_assert_str_eq(b, "0");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("evaluate");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, deadline_is_end_of_day_amsterdam);
	tcase_add_test(tc, judge_increase_edges);
	tcase_add_test(tc, judge_decrease_edges);
	tcase_add_test(tc, exactly_on_target_is_met_at_receipt);
	tcase_add_test(tc, bandwidth_edge);
	tcase_add_test(tc, below_bandwidth_pending_then_missed);
	tcase_add_test(tc, suppressed_is_never_zero);
	tcase_add_test(tc, missing_is_not_evaluable);
	tcase_add_test(tc, late_correction_does_not_change_the_decision);
	tcase_add_test(tc, correction_before_the_decision_counts);
	tcase_add_test(tc, missed_at_deadline_stands);
	tcase_add_test(tc, late_evidence_decides_when_none_was_complete);
	tcase_add_test(tc, same_receipt_time_ties_by_report_id);
	tcase_add_test(tc, several_regions_take_the_worst);
	tcase_add_test(tc, decrease_milestone);
	tcase_add_test(tc, status_names_round_trip);
	tcase_add_test(tc, indicators_from_a_gateway_report);
	tcase_add_test(tc, indicators_absent_and_refused);
	tcase_add_test(tc, value_format);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
