/* test_plan.c - plan definitions (monitor/plan.c): the example plans in
 * mappings/plans/ load against the real KPI catalogue and vocabulary with
 * the values and payment splits worked out by hand; each validation rule
 * refuses a broken plan naming the JSON path and the reason. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "plan.h"
#include "testutil.h"

static struct catalogue full;
static struct plan_catalogue cat;

static void setup(void)
{
	struct iza_error err;

	ck_assert_int_eq(catalogue_load(testutil_src("mappings"), &full, &err),
			 0);
	cat = full.cat;
}

static void teardown(void)
{
	catalogue_free(&full);
}

START_TEST(front_door_example)
{
	struct iza_error err;
	struct plan *p;
	const struct plan_milestone *m;

	ck_assert_int_eq(
	    plan_load(
		testutil_src("mappings/plans/zk02-digital-front-door.json"),
		&cat, &p, &err),
	    0);
	ck_assert_str_eq(p->id, "plan-zk02-front-door");
	ck_assert_str_eq(p->regions[0], "ZK02");
	ck_assert_ptr_null(p->regions[1]);
	ck_assert_str_eq(p->insurer, "3311");
	ck_assert_int_eq(p->budget, 150000000);
	ck_assert_uint_eq(p->nkpis, 1);
	ck_assert_int_eq(p->kpis[0].baseline_value, 120000); /* 0.12 */
	ck_assert_int_eq(p->kpis[0].target, 250000);	     /* 0.25 */
	ck_assert_int_eq(p->kpis[0].lower, 20000);
	ck_assert_int_eq(p->kpis[0].upper, 0);
	ck_assert_int_eq(p->kpis[0].direction, PLAN_INCREASE);
	ck_assert_str_eq(p->kpis[0].baseline.label, "2024");
	ck_assert_uint_eq(p->nmilestones, 3);
	m = &p->milestones[0];
	ck_assert_int_eq(m->kind, PLAN_EFFORT);
	ck_assert_ptr_null(m->kpi);
	ck_assert_uint_eq(m->npayments, 1);
	ck_assert_int_eq(m->payments[0].amount, 50000000);
	m = &p->milestones[1];
	ck_assert_int_eq(m->kind, PLAN_RESULT);
	ck_assert_ptr_eq(m->kpi, &p->kpis[0]);
	ck_assert_str_eq(m->period.label, "2025-Q4");
	ck_assert_int_eq(m->target, 180000); /* its own 0.18 */
	ck_assert_int_eq(m->payments[0].amount, 25000000);
	ck_assert_int_eq(m->payments[1].amount, 25000000);
	/* 2026-01-31 is day 20484 since 1970-01-01 */
	ck_assert_int_eq(m->day, 20484);
	m = &p->milestones[2];
	ck_assert_int_eq(m->target, 250000); /* the KPI's target */
	ck_assert_int_eq(m->payments[0].amount, 37500000); /* shares 3:1 */
	ck_assert_int_eq(m->payments[1].amount, 12500000);
	plan_free(p);
}
END_TEST

START_TEST(acute_care_example)
{
	struct iza_error err;
	struct plan *p;
	const struct plan_milestone *m;

	ck_assert_int_eq(
	    plan_load(testutil_src("mappings/plans/zk20-acute-care.json"), &cat,
		      &p, &err),
	    0);
	ck_assert_uint_eq(p->nkpis, 2);
	ck_assert_int_eq(p->kpis[1].direction, PLAN_DECREASE);
	ck_assert_int_eq(p->kpis[1].target, 38000LL * PLAN_SCALE);
	ck_assert_int_eq(p->kpis[1].upper, 500LL * PLAN_SCALE);
	ck_assert_str_eq(p->parties[2], "URA:12345678");
	m = &p->milestones[1];
	/* 200,000,000 cents over three equal dates: 66,666,666 r 2; the two
	 * cents go to the first two dates */
	ck_assert_uint_eq(m->npayments, 3);
	ck_assert_int_eq(m->payments[0].amount, 66666667);
	ck_assert_int_eq(m->payments[1].amount, 66666667);
	ck_assert_int_eq(m->payments[2].amount, 66666666);
	ck_assert_str_eq(m->payments[2].label, "2027-09-30");
	plan_free(p);
}
END_TEST

START_TEST(mental_health_example)
{
	struct iza_error err;
	struct plan *p;
	const struct plan_milestone *m;

	ck_assert_int_eq(
	    plan_load(
		testutil_src("mappings/plans/zk23-mental-health-access.json"),
		&cat, &p, &err),
	    0);
	ck_assert_str_eq(p->regions[0], "ZK23");
	ck_assert_str_eq(p->payee, "AGB:22000001");
	ck_assert_str_eq(p->kpis[0].id, "ggz-patients");
	ck_assert_int_eq(p->kpis[0].lower, 150LL * PLAN_SCALE);
	m = &p->milestones[1];
	ck_assert_ptr_eq(m->kpi, &p->kpis[1]);
	ck_assert_int_eq(m->target, 240000); /* its own target, 0.24 */
	m = &p->milestones[2];
	ck_assert_int_eq(m->target, 5800LL * PLAN_SCALE); /* the KPI's */
	ck_assert_int_eq(m->payments[0].amount, 15000000);
	ck_assert_int_eq(m->payments[1].amount, 15000000);
	plan_free(p);
}
END_TEST

/* A valid plan to break one rule at a time. */
static const char *base =
    "{\"format\":\"iza-plan/1\",\"id\":\"plan-t\",\"name\":\"t\","
    "\"regions\":[\"ZK02\"],\"parties\":[\"AGB:01000001\"],"
    "\"payee\":\"AGB:01000001\","
    "\"coordinating_insurer\":\"3311\",\"sectors\":[\"huisartsenzorg\"],"
    "\"budget_cents\":1000,"
    "\"kpis\":[{\"kpi\":\"digital-contact-share\","
    "\"baseline\":{\"period\":\"2024\",\"value\":0.1},\"target\":0.2,"
    "\"bandwidth\":{\"lower\":0.01},\"direction\":\"increase\","
    "\"due\":\"2026-12-31\"}],"
    "\"milestones\":[{\"id\":\"m1\",\"kind\":\"result\","
    "\"kpi\":\"digital-contact-share\",\"period\":\"2025\","
    "\"date\":\"2026-01-31\",\"amount_cents\":600,"
    "\"payments\":[{\"date\":\"2026-02-28\",\"share\":1}]},"
    "{\"id\":\"m2\",\"kind\":\"effort\",\"description\":\"done\","
    "\"date\":\"2025-06-30\",\"amount_cents\":400,"
    "\"payments\":[{\"date\":\"2025-07-31\",\"share\":1}]}]}";

/* Parse base with path (dot-separated, [n] for arrays) set to value (JSON
 * text, or NULL to delete it); expect a refusal naming field and text. */
static void refused(const char *path, const char *value, const char *field,
		    const char *text)
{
	json_t *doc = json_loads(base, 0, NULL), *at = doc, *v;
	char buf[128], *tok, *next;
	struct iza_error err;
	struct plan *p;
	int rc;

	ck_assert_ptr_nonnull(doc);
	snprintf(buf, sizeof(buf), "%s", path);
	tok = buf;
	for (;;) {
		next = strchr(tok, '.');
		if (next)
			*next = '\0';
		if (!next)
			break;
		if (*tok == '[')
			at = json_array_get(at, strtoul(tok + 1, NULL, 10));
		else
			at = json_object_get(at, tok);
		ck_assert_ptr_nonnull(at);
		tok = next + 1;
	}
	if (value) {
		v = json_loads(value, JSON_DECODE_ANY, NULL);
		ck_assert_ptr_nonnull(v);
		json_object_set_new(at, tok, v);
	} else {
		json_object_del(at, tok);
	}
	rc = plan_parse("plan.json", doc, &cat, &p, &err);
	ck_assert_msg(rc == -IZA_ECONFIG, "%s: accepted", path);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(err.file, "plan.json");
	ck_assert_str_eq(err.field, field);
	ck_assert_msg(strstr(err.text, text), "%s: text '%s'", path, err.text);
	json_decref(doc);
}

START_TEST(base_is_valid)
{
	json_t *doc = json_loads(base, 0, NULL);
	struct iza_error err;
	struct plan *p;

	ck_assert_int_eq(plan_parse("plan.json", doc, &cat, &p, &err), 0);
	ck_assert_int_eq(p->milestones[0].payments[0].amount, 600);
	plan_free(p);
	json_decref(doc);
}
END_TEST

START_TEST(validation_errors)
{
	refused("format", "\"iza-plan/2\"", "format", "iza-plan/1");
	refused("id", "\"Plan T\"", "id", "an id is");
	refused("colour", "\"red\"", "", "unknown member \"colour\"");
	refused("regions", "[]", "regions", "non-empty");
	refused("regions", "[\"ZK2\"]", "regions[0]", "ZK and two digits");
	refused("regions", "[\"ZK02\",\"ZK02\"]", "regions[0]", "twice");
	refused("parties", "[\"AGB:1234\"]", "parties[0]", "eight digits");
	refused("payee", "\"AGB:09999999\"", "payee", "one of the parties");
	refused("sectors", "[\"bakery\"]", "sectors[0]", "vocabulary");
	refused("coordinating_insurer", "\"33110\"", "coordinating_insurer",
		"four digits");
	refused("budget_cents", "12.5", "budget_cents", "cents");
	refused("kpis.[0].kpi", "\"waiting-time\"", "kpis[0].kpi", "catalogue");
	refused("kpis.[0].target", "0.2000001", "kpis[0].target",
		"six decimals");
	refused("kpis.[0].target", "0.05", "kpis[0].target",
		"does not improve");
	refused("kpis.[0].direction", "\"up\"", "kpis[0].direction",
		"increase");
	refused("kpis.[0].bandwidth.lower", "-0.01", "kpis[0].bandwidth",
		"not negative");
	refused("kpis.[0].baseline.period", "\"2024-Q5\"",
		"kpis[0].baseline.period", "not a period");
	refused("kpis.[0].due", "\"2026-02-30\"", "kpis[0].due",
		"calendar date");
	refused("milestones.[0].target", "0.1", "milestones[0].target",
		"baseline");
	refused("milestones.[1].id", "\"m1\"", "milestones[1].id", "twice");
	refused("milestones.[0].kind", "\"hope\"", "milestones[0].kind",
		"result");
	refused("milestones.[0].kpi", "\"bed-days\"", "milestones[0].kpi",
		"plan's kpis");
	refused("milestones.[1].kpi", "\"digital-contact-share\"",
		"milestones[1].kind", "attested");
	refused("milestones.[1].description", NULL, "milestones[1].description",
		"missing");
	refused("milestones.[0].amount_cents", "700",
		"milestones[1].amount_cents", "more than budget_cents");
	refused("milestones.[0].amount_cents", "0",
		"milestones[0].amount_cents", "positive");
	refused("milestones.[0].payments.[0].date", "\"2026-01-30\"",
		"milestones[0].payments[0].date", "before the milestone");
	refused("milestones.[0].payments",
		"[{\"date\":\"2026-03-31\",\"share\":1},"
		"{\"date\":\"2026-03-31\",\"share\":1}]",
		"milestones[0].payments[1].date", "must increase");
	refused("milestones.[0].payments.[0].share", "0",
		"milestones[0].payments[0].share", "whole number");
	refused("milestones.[0].payments", "[]", "milestones[0].payments",
		"non-empty");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, front_door_example);
	tcase_add_test(tc, acute_care_example);
	tcase_add_test(tc, mental_health_example);
	tcase_add_test(tc, base_is_valid);
	tcase_add_test(tc, validation_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
