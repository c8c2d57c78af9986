/* test_disclosure.c - the minimum-cell-size rule (gateway/disclosure.c). */
#include <stdio.h>
#include <string.h>

#include "disclosure.h"
#include "testutil.h"

static struct disclosure_params params(int k, bool override)
{
	struct disclosure_params dp;

	disclosure_params_init(&dp);
	dp.k = k;
	dp.test_override = override;
	return dp;
}

static const struct disclosure_params K10 = {
    .k = 10,
    .test_override = false,
    .provider_rule = true,
    .provider_min = DISCLOSURE_PROVIDER_MIN,
    .provider_dominance = DISCLOSURE_PROVIDER_DOMINANCE,
    .provider_nk = DISCLOSURE_PROVIDER_NK,
    .provider_p = DISCLOSURE_PROVIDER_P};

/* A released-looking cell: value and counts all set. */
static struct kpi_cell count_cell(int64_t persons)
{
	struct kpi_cell c;

	memset(&c, 0, sizeof(c));
	c.has_value = true;
	c.value = (double)(persons * 3);
	c.has_numerator = true;
	c.numerator = persons * 3;
	c.persons = persons;
	return c;
}

static struct kpi_cell share_cell(int64_t num, int64_t den, int64_t persons,
				  int64_t rest_persons)
{
	struct kpi_cell c;

	memset(&c, 0, sizeof(c));
	c.has_value = true;
	c.value = den ? (double)num / (double)den : 0.0;
	c.has_numerator = c.has_denominator = true;
	c.numerator = num;
	c.denominator = den;
	c.persons = persons;
	c.den_persons = persons + rest_persons;
	c.rest_persons = rest_persons;
	return c;
}

static struct kpi_cell avoided_cell(int64_t persons, int64_t baseline_persons)
{
	struct kpi_cell c;

	memset(&c, 0, sizeof(c));
	c.has_value = true;
	c.has_numerator = c.has_denominator = true;
	c.numerator = persons * 2; /* observed */
	c.persons = persons;
	c.baseline = baseline_persons * 2;
	c.baseline_persons = baseline_persons;
	c.baseline_year = 2023;
	c.expected = (double)c.baseline * 1.01;
	c.denominator = (int64_t)(c.expected + 0.5);
	c.value = c.expected - (double)c.numerator;
	c.pop_period = 400000;
	c.pop_baseline = 396000;
	return c;
}

static void assert_cleared(const struct kpi_cell *c)
{
	ck_assert(c->suppressed);
	ck_assert(!c->has_value);
	ck_assert(!c->has_numerator);
	ck_assert(!c->has_denominator);
	ck_assert(c->value == 0.0);
	ck_assert_int_eq(c->numerator, 0);
	ck_assert_int_eq(c->denominator, 0);
	ck_assert_int_eq(c->persons, 0);
	ck_assert_int_eq(c->den_persons, 0);
	ck_assert_int_eq(c->rest_persons, 0);
	ck_assert_int_eq(c->baseline, 0);
	ck_assert_int_eq(c->baseline_persons, 0);
	ck_assert(c->expected == 0.0);
	ck_assert(c->reason[0] != '\0');
	ck_assert(strstr(c->reason, "fewer than k=10 persons") ||
		  strncmp(c->reason, "secondary:", 10) == 0);
}

static void assert_released(const struct kpi_cell *c)
{
	ck_assert(!c->suppressed);
	ck_assert(c->has_value);
	ck_assert_str_eq(c->reason, "");
}

/* The reason text never carries a digit other than those of k. */
static void assert_reason_has_no_count(const struct kpi_cell *c)
{
	const char *p = strstr(c->reason, "k=10");
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; c->reason[i]; i++) {
		if (&c->reason[i] >= p + 2 && &c->reason[i] < p + 4)
			continue;
		ck_assert_msg(c->reason[i] < '0' || c->reason[i] > '9',
			      "reason has a digit: %s", c->reason);
	}
}

static const enum kpi_kind count_kinds[] = {KPI_COUNT, KPI_DISTINCT,
					    KPI_BED_DAYS};

START_TEST(count_kinds_boundary)
{
	enum kpi_kind kind = count_kinds[_i];
	struct kpi_cell c;

	c = count_cell(9);
	disclosure_apply_cell(&K10, kind, &c);
	assert_cleared(&c);
	ck_assert_str_eq(c.reason, "fewer than k=10 persons");

	c = count_cell(10);
	disclosure_apply_cell(&K10, kind, &c);
	assert_released(&c);
	ck_assert_int_eq(c.numerator, 30);
	ck_assert_int_eq(c.persons, 10);
	ck_assert(c.value == 30.0);

	c = count_cell(11);
	disclosure_apply_cell(&K10, kind, &c);
	assert_released(&c);
	ck_assert_int_eq(c.numerator, 33);
}
END_TEST

START_TEST(zero_cell_suppressed_with_same_text)
{
	struct kpi_cell c = count_cell(0), d = count_cell(9);

	disclosure_apply_cell(&K10, KPI_COUNT, &c);
	disclosure_apply_cell(&K10, KPI_COUNT, &d);
	assert_cleared(&c);
	/* a zero cell must not be told apart from a small one */
	ck_assert_str_eq(c.reason, d.reason);
}
END_TEST

START_TEST(share_boundaries)
{
	struct kpi_cell c;

	/* numerator persons k-1 / k / k+1, complement comfortably large */
	c = share_cell(9, 100, 9, 91);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_cleared(&c);
	assert_reason_has_no_count(&c);

	c = share_cell(10, 100, 10, 90);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_released(&c);
	ck_assert_int_eq(c.numerator, 10);
	ck_assert_int_eq(c.denominator, 100);

	c = share_cell(11, 100, 11, 89);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_released(&c);

	/* complement persons k-1 / k / k+1 (98 of 100 discloses the 2) */
	c = share_cell(91, 100, 91, 9);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_cleared(&c);
	c = share_cell(90, 100, 90, 10);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_released(&c);
	c = share_cell(89, 100, 89, 11);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_released(&c);
	/* the complement attack itself: 98 of 100 */
	c = share_cell(98, 100, 98, 2);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_cleared(&c);
	ck_assert_str_eq(c.rule, RULE_MIN_K);
}
END_TEST

START_TEST(share_numerator_ok_rest_small)
{
	struct kpi_cell c = share_cell(98, 100, 50, 2),
			big = share_cell(98, 100, 50, 9);
	struct kpi_cell other = share_cell(12, 100, 12, 5);

	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_cleared(&c);
	disclosure_apply_cell(&K10, KPI_SHARE, &big);
	assert_cleared(&big);
	/* which side failed is not told */
	disclosure_apply_cell(&K10, KPI_SHARE, &other);
	ck_assert_str_eq(c.reason, other.reason);
}
END_TEST

START_TEST(share_event_counts_also_checked)
{
	struct kpi_cell c;

	/* enough persons but fewer than k numerator events cannot happen in
	 * real data; the count rule still holds on its own */
	c = share_cell(9, 100, 10, 20);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_cleared(&c);
	/* denominator - numerator events < k */
	c = share_cell(95, 104, 40, 10);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_cleared(&c);
	c = share_cell(95, 105, 40, 10);
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_released(&c);
	/* a share without counts is not released */
	c = share_cell(50, 100, 40, 40);
	c.has_denominator = false;
	disclosure_apply_cell(&K10, KPI_SHARE, &c);
	assert_cleared(&c);
}
END_TEST

START_TEST(avoided_boundaries)
{
	struct kpi_cell c;

	c = avoided_cell(9, 100);
	disclosure_apply_cell(&K10, KPI_AVOIDED, &c);
	assert_cleared(&c);
	ck_assert_int_eq(c.baseline_year, 2023); /* kept: not a count */

	c = avoided_cell(10, 100);
	disclosure_apply_cell(&K10, KPI_AVOIDED, &c);
	assert_released(&c);
	ck_assert_int_eq(c.numerator, 20);

	c = avoided_cell(11, 100);
	disclosure_apply_cell(&K10, KPI_AVOIDED, &c);
	assert_released(&c);

	/* small baseline: k-1 / k / k+1 */
	c = avoided_cell(100, 9);
	disclosure_apply_cell(&K10, KPI_AVOIDED, &c);
	assert_cleared(&c);
	assert_reason_has_no_count(&c);
	c = avoided_cell(100, 10);
	disclosure_apply_cell(&K10, KPI_AVOIDED, &c);
	assert_released(&c);
	ck_assert_int_eq(c.baseline, 20);
	c = avoided_cell(100, 11);
	disclosure_apply_cell(&K10, KPI_AVOIDED, &c);
	assert_released(&c);
}
END_TEST

START_TEST(no_value_cell_not_suppressed)
{
	struct kpi_cell c = avoided_cell(100, 0);

	c.has_value = false;
	snprintf(c.reason, sizeof(c.reason), "no baseline population");
	disclosure_apply_cell(&K10, KPI_AVOIDED, &c);
	ck_assert(!c.suppressed);
	ck_assert(!c.has_value);
	ck_assert_str_eq(c.reason, "no baseline population");
	/* but nothing of it is released either */
	ck_assert(!c.has_numerator);
	ck_assert_int_eq(c.numerator, 0);
	ck_assert_int_eq(c.persons, 0);

	c = count_cell(3);
	c.has_value = false;
	c.reason[0] = '\0';
	disclosure_apply_cell(&K10, KPI_COUNT, &c);
	ck_assert(!c.suppressed);
	ck_assert_str_eq(c.reason, "not computable");
}
END_TEST

START_TEST(params_k9_refused_without_override)
{
	struct disclosure_params dp = params(9, false);
	struct iza_error err;
	int rc;

	iza_error_clear(&err);
	rc = disclosure_check_params(&dp, &err);
	ck_assert_int_eq(rc, -IZA_ECONFIG);
	ck_assert_int_eq(err.code, -IZA_ECONFIG);
	ck_assert_str_eq(err.field, "disclosure.k");
	ck_assert_ptr_nonnull(strstr(err.text, "k=9"));
	ck_assert_ptr_nonnull(strstr(err.text, "override"));

	dp.test_override = true;
	iza_error_clear(&err);
	ck_assert_int_eq(disclosure_check_params(&dp, &err), 0);
	ck_assert_int_eq(err.code, 0);

	dp.k = 0;
	ck_assert_int_eq(disclosure_check_params(&dp, &err), -IZA_ECONFIG);
	dp.k = 10;
	dp.test_override = false;
	ck_assert_int_eq(disclosure_check_params(&dp, NULL), 0);
	dp.k = 25;
	ck_assert_int_eq(disclosure_check_params(&dp, NULL), 0);
	ck_assert_int_eq(disclosure_check_params(NULL, &err), -IZA_EUSAGE);

	disclosure_params_init(&dp);
	ck_assert_int_eq(dp.k, DISCLOSURE_MIN_K);
	ck_assert(!dp.test_override);
}
END_TEST

START_TEST(k9_override_applies_k9)
{
	struct disclosure_params dp = params(9, true);
	struct kpi_cell c = count_cell(9), d = count_cell(8);

	disclosure_apply_cell(&dp, KPI_COUNT, &c);
	assert_released(&c);
	disclosure_apply_cell(&dp, KPI_COUNT, &d);
	ck_assert(d.suppressed);
	ck_assert_str_eq(d.reason, "fewer than k=9 persons");
}
END_TEST

START_TEST(invalid_params_fail_closed)
{
	struct disclosure_params dp = params(3, false);
	struct kpi_cell c = count_cell(9);

	disclosure_apply_cell(&dp, KPI_COUNT, &c);
	assert_cleared(&c);
	c = count_cell(9);
	disclosure_apply_cell(NULL, KPI_COUNT, &c);
	assert_cleared(&c);
}
END_TEST

START_TEST(larger_k)
{
	struct disclosure_params dp = params(20, false);
	struct kpi_cell c = count_cell(19);

	disclosure_apply_cell(&dp, KPI_DISTINCT, &c);
	ck_assert(c.suppressed);
	ck_assert_str_eq(c.reason, "fewer than k=20 persons");
}
END_TEST

/* A suppressed total takes all its strata with it; otherwise the total is
 * their sum. */
START_TEST(strata_of_suppressed_total)
{
	struct kpi_def def;
	struct kpi_stratum st[2];
	struct kpi_value v;
	struct kpi_results r;

	memset(&def, 0, sizeof(def));
	memset(st, 0, sizeof(st));
	memset(&v, 0, sizeof(v));
	memset(&r, 0, sizeof(r));
	def.id = "er-visits";
	def.kind = KPI_COUNT;
	snprintf(st[0].stratifier, sizeof(st[0].stratifier), "age_band");
	snprintf(st[0].value, sizeof(st[0].value), "0-17");
	st[0].cell = count_cell(12);
	snprintf(st[1].stratifier, sizeof(st[1].stratifier), "age_band");
	snprintf(st[1].value, sizeof(st[1].value), "18-64");
	st[1].cell = count_cell(11);
	v.def = &def;
	v.cell = count_cell(9); /* inconsistent on purpose: total fails */
	v.strata = st;
	v.nstrata = 2;
	r.values = &v;
	r.n = 1;
	disclosure_apply(&K10, &r);
	assert_cleared(&v.cell);
	assert_cleared(&st[0].cell);
	assert_cleared(&st[1].cell);
}
END_TEST

/* Three age bands and the total; persons of the bands given. */
static void age_bands(struct kpi_stratum st[3], struct kpi_value *v,
		      struct kpi_def *def, int64_t a, int64_t b, int64_t c)
{
	static const char *const band[3] = {"0-17", "18-64", "65+"};
	int64_t p[3] = {a, b, c};
	int i;

	memset(def, 0, sizeof(*def));
	memset(st, 0, 3 * sizeof(*st));
	memset(v, 0, sizeof(*v));
	def->id = "er-visits";
	def->kind = KPI_COUNT;
	for (i = 0; i < 3; i++) {
		snprintf(st[i].stratifier, sizeof(st[i].stratifier),
			 "age_band");
		snprintf(st[i].value, sizeof(st[i].value), "%s", band[i]);
		st[i].cell = count_cell(p[i]);
	}
	v->def = def;
	v->cell = count_cell(a + b + c);
	v->strata = st;
	v->nstrata = 3;
}

/* Two suppressed strata: neither is the total minus released cells, and
 * their sum (total - released = 13 persons) rests on >= k persons. */
START_TEST(two_small_strata_need_no_secondary)
{
	struct kpi_def def;
	struct kpi_stratum st[3];
	struct kpi_value v;
	struct kpi_results r = {.values = &v, .n = 1};

	age_bands(st, &v, &def, 6, 50, 7);
	disclosure_apply(&K10, &r);
	assert_released(&v.cell);
	assert_cleared(&st[0].cell);
	assert_released(&st[1].cell);
	assert_cleared(&st[2].cell);
}
END_TEST

/* The union rule: 3 + 4 persons suppressed, so total - 18-64 would release
 * a 7-person group (0-17 and 65+ together): 18-64 goes too. */
START_TEST(suppressed_strata_union_below_k)
{
	struct kpi_def def;
	struct kpi_stratum st[3];
	struct kpi_value v;
	struct kpi_results r = {.values = &v, .n = 1};

	age_bands(st, &v, &def, 3, 50, 4);
	disclosure_apply(&K10, &r);
	assert_released(&v.cell);
	assert_cleared(&st[0].cell);
	assert_cleared(&st[1].cell);
	ck_assert_ptr_nonnull(strstr(st[1].cell.reason, "secondary"));
	assert_cleared(&st[2].cell);
}
END_TEST

/* One small band: the smallest other band is the complementary
 * suppression (cheapest first), the larger one stays released. */
START_TEST(one_small_stratum_cheapest_complement)
{
	struct kpi_def def;
	struct kpi_stratum st[3];
	struct kpi_value v;
	struct kpi_results r = {.values = &v, .n = 1};

	age_bands(st, &v, &def, 40, 2, 25);
	disclosure_apply(&K10, &r);
	assert_released(&v.cell);
	assert_released(&st[0].cell);
	assert_cleared(&st[1].cell);
	assert_cleared(&st[2].cell);
	ck_assert_ptr_nonnull(strstr(st[2].cell.reason, "secondary"));
}
END_TEST

START_TEST(results_and_strata)
{
	struct kpi_def defs[3];
	struct kpi_stratum st[3];
	struct kpi_value vals[3];
	struct kpi_results r;

	memset(defs, 0, sizeof(defs));
	memset(st, 0, sizeof(st));
	memset(vals, 0, sizeof(vals));
	memset(&r, 0, sizeof(r));
	defs[0].id = "er-visits";
	defs[0].kind = KPI_COUNT;
	defs[1].id = "digital-share";
	defs[1].kind = KPI_SHARE;

	snprintf(st[0].stratifier, sizeof(st[0].stratifier), "age_band");
	snprintf(st[0].value, sizeof(st[0].value), "0-17");
	st[0].cell = count_cell(4);
	snprintf(st[1].stratifier, sizeof(st[1].stratifier), "age_band");
	snprintf(st[1].value, sizeof(st[1].value), "18-64");
	st[1].cell = count_cell(40);
	snprintf(st[2].stratifier, sizeof(st[2].stratifier), "channel");
	snprintf(st[2].value, sizeof(st[2].value), "video");
	st[2].cell = share_cell(30, 35, 30, 5);

	vals[0].def = &defs[0];
	vals[0].cell = count_cell(44);
	vals[0].strata = st;
	vals[0].nstrata = 2;
	vals[1].def = &defs[1];
	vals[1].cell = share_cell(300, 1000, 250, 600);
	vals[1].strata = &st[2];
	vals[1].nstrata = 1;
	vals[2].def = NULL; /* no rule known: fail closed */
	vals[2].cell = count_cell(500);
	r.values = vals;
	r.n = 3;

	disclosure_apply(&K10, &r);
	assert_released(&vals[0].cell);
	assert_cleared(&st[0].cell);
	/* 18-64 alone would give 0-17 as total - 18-64: secondary suppression
	 */
	assert_cleared(&st[1].cell);
	ck_assert_ptr_nonnull(strstr(st[1].cell.reason, "secondary"));
	/* the share's only channel stratum fails (complement 5 persons); a
	 * stratifier's strata add up to the total, so a lone stratum is the
	 * total: the linear audit suppresses the total too */
	assert_cleared(&st[2].cell);
	assert_cleared(&vals[1].cell);
	ck_assert_ptr_nonnull(strstr(vals[1].cell.reason, "secondary"));
	ck_assert(vals[2].cell.suppressed);
	ck_assert(!vals[2].cell.has_value);
	ck_assert_int_eq(vals[2].cell.numerator, 0);

	/* idempotent */
	disclosure_apply(&K10, &r);
	assert_released(&vals[0].cell);
	assert_cleared(&st[0].cell);
	ck_assert_int_eq(vals[0].cell.numerator, 132);

	disclosure_apply(&K10, NULL);
}
END_TEST

/* A count cell of 100 persons with the given providers' contributions. */
static struct kpi_cell provider_cell(int n, const char *const *ids,
				     const int64_t *amount)
{
	struct kpi_cell c = count_cell(100);
	int i;

	c.nproviders = n;
	for (i = 0; i < n; i++) {
		c.prov_total += amount[i];
		if (amount[i] > c.prov_top[0]) {
			c.prov_top[1] = c.prov_top[0];
			memcpy(c.prov_top_id[1], c.prov_top_id[0], 33);
			c.prov_top[0] = amount[i];
			snprintf(c.prov_top_id[0], 33, "%s", ids[i]);
		} else if (amount[i] > c.prov_top[1]) {
			c.prov_top[1] = amount[i];
			snprintf(c.prov_top_id[1], 33, "%s", ids[i]);
		}
	}
	return c;
}

static bool released_with(const struct disclosure_params *dp,
			  enum kpi_kind kind, struct kpi_cell c)
{
	disclosure_apply_cell(dp, kind, &c);
	if (c.suppressed) {
		ck_assert_ptr_nonnull(strstr(c.reason, "provider rule"));
		ck_assert_str_eq(c.rule, RULE_PROVIDER);
		ck_assert_int_eq(c.nproviders, 0); /* cleared */
		ck_assert_str_eq(c.prov_top_id[0], "");
	}
	return !c.suppressed;
}

/* One hospital supplies every ER visit of the region: its own figure.
 * Released only with its consent (a region with one hospital must still be
 * able to report). */
START_TEST(provider_single_needs_consent)
{
	static const char *const ids[] = {"06010713"};
	static const int64_t amt[] = {300};
	static const char *const yes[] = {"06010713", NULL};
	static const char *const other[] = {"01058123", NULL};
	struct disclosure_params dp = params(10, false);

	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(1, ids, amt)));
	dp.consent = other;
	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(1, ids, amt)));
	dp.consent = yes;
	ck_assert(released_with(&dp, KPI_COUNT, provider_cell(1, ids, amt)));
}
END_TEST

/* Provider self-subtraction: with two providers, each knows its own part
 * and learns the other's from the total: both must consent. */
START_TEST(provider_two_need_both)
{
	static const char *const ids[] = {"06010713", "01058123"};
	static const int64_t amt[] = {150, 150};
	static const char *const one[] = {"06010713", NULL};
	static const char *const both[] = {"01058123", "06010713", NULL};
	struct disclosure_params dp = params(10, false);

	dp.consent = one;
	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(2, ids, amt)));
	dp.consent = both;
	ck_assert(released_with(&dp, KPI_COUNT, provider_cell(2, ids, amt)));
}
END_TEST

/* Dominance: of three hospitals one supplies 85 % (> 80 %). */
START_TEST(provider_dominance)
{
	static const char *const ids[] = {"06010713", "06011111", "06012222"};
	static const int64_t dom[] = {85, 10, 5};
	static const int64_t even[] = {40, 35, 25};
	static const int64_t edge[] = {80, 15, 5}; /* exactly 80 %: passes */
	static const char *const big[] = {"06010713", NULL};
	struct disclosure_params dp = params(10, false);

	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(3, ids, dom)));
	ck_assert(released_with(&dp, KPI_COUNT, provider_cell(3, ids, even)));
	ck_assert(released_with(&dp, KPI_COUNT, provider_cell(3, ids, edge)));
	dp.consent = big;
	ck_assert(released_with(&dp, KPI_COUNT, provider_cell(3, ids, dom)));
	/* configurable, but not weaker than 80 % outside tests */
	dp.consent = NULL;
	dp.provider_dominance = 0.35;
	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(3, ids, even)));
	dp.provider_dominance = 0.95;
	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(3, ids, dom)));
	ck_assert_int_eq(disclosure_check_params(&dp, NULL), -IZA_ECONFIG);
}
END_TEST

/* Bed days: one hospital with 90 % of the bed days; and the (2, 85 %) rule:
 * two hospitals with 60 % + 30 % of three. */
START_TEST(provider_magnitude_rules)
{
	static const char *const ids[] = {"06010713", "06011111", "06012222"};
	static const int64_t ninety[] = {900, 60, 40};
	static const int64_t two[] = {600, 300, 100};
	static const int64_t fine[] = {400, 350, 250};
	static const char *const first[] = {"06010713", NULL};
	static const char *const top2[] = {"06010713", "06011111", NULL};
	struct disclosure_params dp = params(10, false);

	ck_assert(
	    !released_with(&dp, KPI_BED_DAYS, provider_cell(3, ids, ninety)));
	ck_assert(
	    !released_with(&dp, KPI_BED_DAYS, provider_cell(3, ids, two)));
	/* the same shares in a count KPI pass (no magnitude rule) */
	ck_assert(released_with(&dp, KPI_COUNT, provider_cell(3, ids, two)));
	ck_assert(
	    released_with(&dp, KPI_BED_DAYS, provider_cell(3, ids, fine)));
	dp.consent = first;
	ck_assert(
	    !released_with(&dp, KPI_BED_DAYS, provider_cell(3, ids, two)));
	dp.consent = top2;
	ck_assert(released_with(&dp, KPI_BED_DAYS, provider_cell(3, ids, two)));
}
END_TEST

/* Unknown providers cannot consent; too many to track fails closed; the
 * rule can be switched off only in test mode. */
START_TEST(provider_unknown_and_limits)
{
	static const char *const ids[] = {""};
	static const int64_t amt[] = {300};
	static const char *const any[] = {"", "06010713", NULL};
	struct disclosure_params dp = params(10, false);
	struct kpi_cell c;

	dp.consent = any;
	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(1, ids, amt)));
	c = count_cell(100);
	c.nproviders = -1;
	ck_assert(!released_with(&dp, KPI_COUNT, c));

	dp.provider_rule = false;
	ck_assert_int_eq(disclosure_check_params(&dp, NULL), -IZA_ECONFIG);
	ck_assert(!released_with(&dp, KPI_COUNT, provider_cell(1, ids, amt)));
	dp.test_override = true;
	ck_assert_int_eq(disclosure_check_params(&dp, NULL), 0);
	ck_assert(released_with(&dp, KPI_COUNT, provider_cell(1, ids, amt)));
	dp.provider_rule = true;
	dp.provider_min = 2;
	ck_assert_int_eq(disclosure_check_params(&dp, NULL), 0);
	dp.test_override = false;
	ck_assert_int_eq(disclosure_check_params(&dp, NULL), -IZA_ECONFIG);
}
END_TEST

/* Structural zeros: a stratum declared zero by definition is released as
 * 0 (no person is behind it), and it is no use as a complementary
 * suppression; an undeclared zero is suppressed as before. */
START_TEST(structural_zero_released)
{
	static char z[] = "age_band=0-17";
	char *zeros[] = {z, NULL};
	struct kpi_def def;
	struct kpi_stratum st[3];
	struct kpi_value v;
	struct kpi_results r = {.values = &v, .n = 1};

	age_bands(st, &v, &def, 0, 60, 40);
	def.structural_zeros = zeros;
	st[0].cell.numerator = 0;
	st[0].cell.value = 0;
	disclosure_apply(&K10, &r);
	assert_released(&v.cell);
	assert_released(&st[0].cell);
	ck_assert_int_eq(st[0].cell.numerator, 0);
	assert_released(&st[1].cell);
	assert_released(&st[2].cell);

	/* 65+ is a zero too but not declared: suppressed; then 0-17 (known)
	 * cannot hide it, so 18-64 goes (total - 18-64 = 65+) */
	age_bands(st, &v, &def, 0, 100, 0);
	def.structural_zeros = zeros;
	st[0].cell.numerator = st[2].cell.numerator = 0;
	disclosure_apply(&K10, &r);
	assert_released(&st[0].cell);
	assert_cleared(&st[2].cell);
	assert_cleared(&st[1].cell);

	/* a declared stratum that is not zero follows the normal rules */
	age_bands(st, &v, &def, 3, 60, 40);
	def.structural_zeros = zeros;
	disclosure_apply(&K10, &r);
	assert_cleared(&st[0].cell);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("disclosure");
	TCase *tc = tcase_create("minimum");

	tcase_add_loop_test(tc, count_kinds_boundary, 0, 3);
	tcase_add_test(tc, zero_cell_suppressed_with_same_text);
	tcase_add_test(tc, share_boundaries);
	tcase_add_test(tc, share_numerator_ok_rest_small);
	tcase_add_test(tc, share_event_counts_also_checked);
	tcase_add_test(tc, avoided_boundaries);
	tcase_add_test(tc, no_value_cell_not_suppressed);
	tcase_add_test(tc, params_k9_refused_without_override);
	tcase_add_test(tc, k9_override_applies_k9);
	tcase_add_test(tc, invalid_params_fail_closed);
	tcase_add_test(tc, larger_k);
	tcase_add_test(tc, results_and_strata);
	tcase_add_test(tc, strata_of_suppressed_total);
	tcase_add_test(tc, two_small_strata_need_no_secondary);
	tcase_add_test(tc, suppressed_strata_union_below_k);
	tcase_add_test(tc, one_small_stratum_cheapest_complement);
	tcase_add_test(tc, provider_single_needs_consent);
	tcase_add_test(tc, provider_two_need_both);
	tcase_add_test(tc, provider_dominance);
	tcase_add_test(tc, provider_magnitude_rules);
	tcase_add_test(tc, provider_unknown_and_limits);
	tcase_add_test(tc, structural_zero_released);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
