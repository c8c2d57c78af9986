/* test_period.c - periods, Amsterdam time and FHIR instants. */
#include "period.h"

#include <string.h>

#include "testutil.h"

/* Hand-computed anchors: 2025-01-01T00:00:00Z = 20089 days * 86400. */
#define T2025 INT64_C(1735689600)
#define DAY   INT64_C(86400)

static const char *fmt(int64_t t)
{
	static char buf[21];

	format_utc(t, buf);
	return buf;
}

static int64_t instant(const char *s)
{
	int64_t t = 0;
	int rc = parse_fhir_instant(s, strlen(s), &t);

	ck_assert_msg(rc == 0, "parse %s: %d", s, rc);
	return t;
}

static int instant_rc(const char *s)
{
	int64_t t = 12345;
	int rc = parse_fhir_instant(s, strlen(s), &t);

	if (rc != 0)
		ck_assert_int_eq(t, 12345); /* output untouched on error */
	return rc;
}

START_TEST(civil_days)
{
	int y, m, d;

	ck_assert_int_eq(days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(days_from_civil(1969, 12, 31), -1);
	ck_assert_int_eq(days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(days_from_civil(2025, 1, 1), 20089);
	ck_assert_int_eq(days_from_civil(1900, 1, 1), -25567);
	civil_from_days(20089, &y, &m, &d);
	ck_assert(y == 2025 && m == 1 && d == 1);
	civil_from_days(-25567, &y, &m, &d);
	ck_assert(y == 1900 && m == 1 && d == 1);
	civil_from_days(11016, &y, &m, &d);
	ck_assert(y == 2000 && m == 2 && d == 29);
	/* round trip over 1900..2999 */
	for (int64_t z = days_from_civil(1900, 1, 1);
	     z <= days_from_civil(2999, 12, 31); z += 17) {
		civil_from_days(z, &y, &m, &d);
		ck_assert_int_eq(days_from_civil(y, m, d), z);
	}
}
END_TEST

START_TEST(leap_years)
{
	int y, m, d;

	/* 2024 leap, 2100 not (century), 2000 leap (400), 1900 not */
	ck_assert_int_eq(parse_fhir_date("2024-02-29", 10, &y, &m, &d), 0);
	ck_assert_int_eq(parse_fhir_date("2000-02-29", 10, &y, &m, &d), 0);
	ck_assert_int_eq(parse_fhir_date("2100-02-29", 10, &y, &m, &d),
			 -IZA_EDATE);
	ck_assert_int_eq(parse_fhir_date("1900-02-29", 10, &y, &m, &d),
			 -IZA_EDATE);
	ck_assert_int_eq(parse_fhir_date("2025-02-29", 10, &y, &m, &d),
			 -IZA_EDATE);
	ck_assert_int_eq(
	    days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 1), 29);
	ck_assert_int_eq(
	    days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 1), 28);
	ck_assert_int_eq(
	    days_from_civil(2001, 1, 1) - days_from_civil(2000, 1, 1), 366);
	civil_from_days(days_from_civil(2100, 2, 28) + 1, &y, &m, &d);
	ck_assert(y == 2100 && m == 3 && d == 1);
}
END_TEST

START_TEST(offsets)
{
	/* 2025: CEST from 2025-03-30T01:00Z to 2025-10-26T01:00Z */
	int64_t spring = T2025 + 88 * DAY + 3600;
	int64_t autumn = T2025 + 298 * DAY + 3600;

	ck_assert_str_eq(fmt(spring), "2025-03-30T01:00:00Z");
	ck_assert_str_eq(fmt(autumn), "2025-10-26T01:00:00Z");
	ck_assert_int_eq(ams_offset_at_utc(spring - 1), 3600);
	ck_assert_int_eq(ams_offset_at_utc(spring), 7200);
	ck_assert_int_eq(ams_offset_at_utc(autumn - 1), 7200);
	ck_assert_int_eq(ams_offset_at_utc(autumn), 3600);
	ck_assert_int_eq(ams_offset_at_utc(T2025), 3600);
	/* 2024: last Sundays are 31 March and 27 October */
	ck_assert_int_eq(ams_offset_at_utc(instant("2024-03-31T00:59:59Z")),
			 3600);
	ck_assert_int_eq(ams_offset_at_utc(instant("2024-03-31T01:00:00Z")),
			 7200);
	ck_assert_int_eq(ams_offset_at_utc(instant("2024-10-27T00:59:59Z")),
			 7200);
	ck_assert_int_eq(ams_offset_at_utc(instant("2024-10-27T01:00:00Z")),
			 3600);
	/* the same rule before 1996 (documented), and far outside: CET */
	ck_assert_int_eq(ams_offset_at_utc(instant("1990-10-15T12:00:00Z")),
			 7200);
	ck_assert_int_eq(ams_offset_at_utc(INT64_MIN), 3600);
	ck_assert_int_eq(ams_offset_at_utc(INT64_MAX), 3600);
}
END_TEST

START_TEST(local_to_utc)
{
	/* ordinary winter and summer times */
	ck_assert_str_eq(fmt(ams_local_to_utc(2025, 1, 1, 0, 0, 0)),
			 "2024-12-31T23:00:00Z");
	ck_assert_str_eq(fmt(ams_local_to_utc(2025, 7, 1, 12, 0, 0)),
			 "2025-07-01T10:00:00Z");
	/* gap: 2025-03-30 02:30 does not exist; read as CET = 01:30Z */
	ck_assert_int_eq(ams_local_to_utc(2025, 3, 30, 2, 30, 0),
			 T2025 + 88 * DAY + 5400);
	ck_assert_str_eq(fmt(ams_local_to_utc(2025, 3, 30, 1, 59, 59)),
			 "2025-03-30T00:59:59Z");
	ck_assert_str_eq(fmt(ams_local_to_utc(2025, 3, 30, 3, 0, 0)),
			 "2025-03-30T01:00:00Z");
	/* overlap: 2025-10-26 02:30 occurs twice; first pass (CEST) 00:30Z */
	ck_assert_int_eq(ams_local_to_utc(2025, 10, 26, 2, 30, 0),
			 T2025 + 298 * DAY + 1800);
	ck_assert_str_eq(fmt(ams_local_to_utc(2025, 10, 26, 1, 59, 59)),
			 "2025-10-25T23:59:59Z");
	ck_assert_str_eq(fmt(ams_local_to_utc(2025, 10, 26, 3, 0, 0)),
			 "2025-10-26T02:00:00Z");
}
END_TEST

START_TEST(local_date)
{
	int y, m, d;

	/* midnight in winter: 23:00Z is already the next local day */
	ams_local_date(instant("2024-12-31T22:59:59Z"), &y, &m, &d);
	ck_assert(y == 2024 && m == 12 && d == 31);
	ams_local_date(instant("2024-12-31T23:00:00Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 1 && d == 1);
	/* midnight in summer: 22:00Z */
	ams_local_date(instant("2025-06-30T21:59:59Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 6 && d == 30);
	ams_local_date(instant("2025-06-30T22:00:00Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 7 && d == 1);
	/* the evenings before and after the switches */
	ams_local_date(instant("2025-03-29T23:00:00Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 3 && d == 30);
	ams_local_date(instant("2025-03-30T22:00:00Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 3 && d == 31);
	ams_local_date(instant("2025-03-30T21:59:59Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 3 && d == 30);
	ams_local_date(instant("2025-10-25T22:00:00Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 10 && d == 26);
	ams_local_date(instant("2025-10-26T22:59:59Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 10 && d == 26);
	ams_local_date(instant("2025-10-26T23:00:00Z"), &y, &m, &d);
	ck_assert(y == 2025 && m == 10 && d == 27);
	/* leap day */
	ams_local_date(instant("2024-02-28T23:00:00Z"), &y, &m, &d);
	ck_assert(y == 2024 && m == 2 && d == 29);
}
END_TEST

START_TEST(periods)
{
	struct period p, months[12];
	struct iza_error err;

	ck_assert_int_eq(period_parse("2025-Q1", &p, &err), 0);
	ck_assert_int_eq(p.kind, PERIOD_QUARTER);
	ck_assert_int_eq(p.index, 1);
	ck_assert_int_eq(p.start, T2025 - 3600);
	ck_assert_str_eq(fmt(p.start), "2024-12-31T23:00:00Z");
	ck_assert_str_eq(fmt(p.end), "2025-03-31T22:00:00Z");
	ck_assert_int_eq(p.end, INT64_C(1743458400));
	ck_assert_str_eq(p.label, "2025-Q1");
	ck_assert_str_eq(p.first_day, "2025-01-01");
	ck_assert_str_eq(p.last_day, "2025-03-31");
	ck_assert_int_eq(period_months(&p, months), 3);
	ck_assert_str_eq(months[0].label, "2025-01");
	ck_assert_str_eq(months[2].label, "2025-03");
	ck_assert_int_eq(months[0].start, p.start);
	ck_assert_int_eq(months[2].end, p.end);
	ck_assert_int_eq(months[0].end, months[1].start);

	ck_assert_int_eq(period_parse("2025", &p, &err), 0);
	ck_assert_int_eq(p.kind, PERIOD_YEAR);
	ck_assert_str_eq(fmt(p.start), "2024-12-31T23:00:00Z");
	ck_assert_str_eq(fmt(p.end), "2025-12-31T23:00:00Z");
	ck_assert_str_eq(p.last_day, "2025-12-31");
	ck_assert_int_eq(period_months(&p, months), 12);
	ck_assert_str_eq(months[11].label, "2025-12");

	ck_assert_int_eq(period_parse("2025-03", &p, &err), 0);
	ck_assert_int_eq(p.kind, PERIOD_MONTH);
	ck_assert_str_eq(fmt(p.start), "2025-02-28T23:00:00Z");
	ck_assert_str_eq(fmt(p.end), "2025-03-31T22:00:00Z");
	ck_assert_int_eq(period_months(&p, months), 1);

	ck_assert_int_eq(period_parse("2025-10", &p, &err), 0);
	ck_assert_str_eq(fmt(p.start), "2025-09-30T22:00:00Z");
	ck_assert_str_eq(fmt(p.end), "2025-10-31T23:00:00Z");
	ck_assert_int_eq(p.end - p.start, 31 * DAY + 3600); /* 25-hour day */

	ck_assert_int_eq(period_parse("2024-02", &p, &err), 0);
	ck_assert_str_eq(p.last_day, "2024-02-29");
	ck_assert_int_eq(period_parse("2100-02", &p, &err), 0);
	ck_assert_str_eq(p.last_day, "2100-02-28");
	ck_assert_int_eq(period_parse("2000-Q1", &p, &err), 0);
	ck_assert_int_eq(p.end - p.start, 91 * DAY - 3600);
	ck_assert_int_eq(period_parse("2025-Q4", &p, &err), 0);
	ck_assert_str_eq(p.first_day, "2025-10-01");
	ck_assert_str_eq(fmt(p.end), "2025-12-31T23:00:00Z");

	ck_assert_int_eq(period_make(PERIOD_QUARTER, 2025, 2, &p), 0);
	ck_assert_str_eq(p.label, "2025-Q2");
	ck_assert_str_eq(fmt(p.start), "2025-03-31T22:00:00Z");
	ck_assert_str_eq(p.last_day, "2025-06-30");
}
END_TEST

START_TEST(period_bounds)
{
	struct period p;
	struct iza_error err;
	static const char *bad[] = {
	    "1899",	"3000",	      "2025-Q0", "2025-Q5", "2025-00",
	    "2025-13",	"2025-1",     "2025-q1", "25",	    "",
	    "2025-Q1x", "2025-03-01", "20x5",	 " 2025",   "2025-"};
	size_t i;

	ck_assert_int_eq(period_parse("1900", &p, &err), 0);
	ck_assert_str_eq(fmt(p.start), "1899-12-31T23:00:00Z");
	ck_assert_int_eq(period_parse("2999-12", &p, &err), 0);
	ck_assert_str_eq(fmt(p.end), "2999-12-31T23:00:00Z");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		iza_error_clear(&err);
		ck_assert_msg(period_parse(bad[i], &p, &err) < 0, "%s", bad[i]);
		ck_assert_int_lt(err.code, 0);
		ck_assert_str_eq(err.field, "period");
	}
	ck_assert_int_eq(period_make(PERIOD_MONTH, 2025, 13, &p),
			 -IZA_EINVALID);
	ck_assert_int_eq(period_make(PERIOD_YEAR, 2025, 1, &p), -IZA_EINVALID);
	ck_assert_int_eq(period_make(PERIOD_YEAR, 1899, 0, &p), -IZA_EINVALID);
	ck_assert_int_eq(period_parse(NULL, &p, &err), -IZA_EMISSING);
}
END_TEST

START_TEST(fhir_instants)
{
	ck_assert_int_eq(instant("2025-01-01T00:00:00Z"), T2025);
	ck_assert_str_eq(fmt(instant("2025-03-14T09:26:53.589793Z")),
			 "2025-03-14T09:26:53Z");
	ck_assert_str_eq(fmt(instant("2025-03-14T09:26:53+01:00")),
			 "2025-03-14T08:26:53Z");
	ck_assert_str_eq(fmt(instant("2025-03-14T09:26:53-05:30")),
			 "2025-03-14T14:56:53Z");
	ck_assert_str_eq(fmt(instant("2025-01-01T00:30:00+14:00")),
			 "2024-12-31T10:30:00Z");
	ck_assert_str_eq(fmt(instant("2025-07-01T00:00:00.1-00:00")),
			 "2025-07-01T00:00:00Z");
	/* dates: start of the local day/month/year */
	ck_assert_str_eq(fmt(instant("2025")), "2024-12-31T23:00:00Z");
	ck_assert_str_eq(fmt(instant("2025-07")), "2025-06-30T22:00:00Z");
	ck_assert_str_eq(fmt(instant("2025-07-15")), "2025-07-14T22:00:00Z");
	ck_assert_str_eq(fmt(instant("2024-02-29")), "2024-02-28T23:00:00Z");
	/* tolerance: a time without offset is Amsterdam local time */
	ck_assert_str_eq(fmt(instant("2025-07-15T10:00:00")),
			 "2025-07-15T08:00:00Z");
	ck_assert_str_eq(fmt(instant("2025-03-30T02:30:00")),
			 "2025-03-30T01:30:00Z");
	ck_assert_str_eq(fmt(instant("2025-10-26T02:30:00.5")),
			 "2025-10-26T00:30:00Z");
	ck_assert_str_eq(fmt(instant("2025-12-31T23:59:59.999999999Z")),
			 "2025-12-31T23:59:59Z");
	/* len limits the text: no NUL needed */
	{
		int64_t t;

		ck_assert_int_eq(
		    parse_fhir_instant("2025-01-01T00:00:00Zjunk", 20, &t), 0);
		ck_assert_int_eq(t, T2025);
	}
}
END_TEST

START_TEST(fhir_rejects)
{
	static const char *edate[] = {
	    "2025-02-30",
	    "2025-02-29",
	    "2100-02-29",
	    "2025-13",
	    "2025-00",
	    "2025-04-31",
	    "2025-01-00",
	    "0000",
	    "2025-01-01T24:00:00Z",
	    "2025-01-01T23:60:00Z",
	    "2025-01-01T23:59:60Z",
	    "2025-01-01T10:00:00+15:00",
	    "2025-01-01T10:00:00+14:30",
	    "2025-01-01T10:00:00+01:60",
	};
	static const char *eparse[] = {
	    "",
	    "202",
	    "20250",
	    "2025-1",
	    "2025-01-1",
	    "2025/01/01",
	    "2025-01-01T10:00Z", /* seconds are required */
	    "2025-01-01T10:00",
	    "2025-01-01t10:00:00Z",
	    "2025-01-01T10:00:00z",
	    "2025-01-01 10:00:00Z",
	    "2025-01-01T10:00:00.Z",
	    "2025-01-01T10:00:00.1234567890Z",
	    "2025-01-01T10:00:00+0100",
	    "2025-01-01T10:00:00+01",
	    "2025-01-01T10:00:00Z ",
	    "2025-01-01T1:00:00Z",
	    "2025-01T10:00:00Z",
	    "2025T10:00:00Z",
	    "2025-01-01T",
	    "+2025-01-01",
	    "2025-01-01T10:00:00+01:00:00",
	    "2025-01-01T10:0a:00Z",
	};
	size_t i;
	int64_t t;

	for (i = 0; i < sizeof(edate) / sizeof(edate[0]); i++)
		ck_assert_msg(instant_rc(edate[i]) == -IZA_EDATE, "%s: %d",
			      edate[i], instant_rc(edate[i]));
	for (i = 0; i < sizeof(eparse) / sizeof(eparse[0]); i++)
		ck_assert_msg(instant_rc(eparse[i]) == -IZA_EPARSE, "%s: %d",
			      eparse[i], instant_rc(eparse[i]));
	ck_assert_int_lt(parse_fhir_instant(NULL, 0, &t), 0);
	/* a short len cuts a valid text into an invalid one */
	ck_assert_int_eq(parse_fhir_instant("2025-01-01T10:00:00Z", 18, &t),
			 -IZA_EPARSE);
}
END_TEST

START_TEST(fhir_dates)
{
	int y = 0, m = 0, d = 0;

	ck_assert_int_eq(parse_fhir_date("1987", 4, &y, &m, &d), 0);
	ck_assert(y == 1987 && m == 0 && d == 0);
	ck_assert_int_eq(parse_fhir_date("1987-06", 7, &y, &m, &d), 0);
	ck_assert(y == 1987 && m == 6 && d == 0);
	ck_assert_int_eq(parse_fhir_date("1987-06-30", 10, &y, &m, &d), 0);
	ck_assert(y == 1987 && m == 6 && d == 30);
	y = m = d = -7;
	ck_assert_int_eq(parse_fhir_date("1987-06-31", 10, &y, &m, &d),
			 -IZA_EDATE);
	ck_assert(y == -7 && m == -7 && d == -7);
	ck_assert_int_eq(
	    parse_fhir_date("1987-06-30T10:00:00Z", 20, &y, &m, &d),
	    -IZA_EPARSE);
	ck_assert_int_eq(parse_fhir_date("87-06-30", 8, &y, &m, &d),
			 -IZA_EPARSE);
}
END_TEST

START_TEST(formatting)
{
	char buf[21];

	format_utc(0, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	format_utc(-1, buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
	format_utc(T2025 + 86399, buf);
	ck_assert_str_eq(buf, "2025-01-01T23:59:59Z");
	format_utc(INT64_MIN, buf); /* IZA_TIME_NONE does not crash */
	ck_assert_int_eq(strlen(buf), 20);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("period");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, civil_days);
	tcase_add_test(tc, leap_years);
	tcase_add_test(tc, offsets);
	tcase_add_test(tc, local_to_utc);
	tcase_add_test(tc, local_date);
	tcase_add_test(tc, periods);
	tcase_add_test(tc, period_bounds);
	tcase_add_test(tc, fhir_instants);
	tcase_add_test(tc, fhir_rejects);
	tcase_add_test(tc, fhir_dates);
	tcase_add_test(tc, formatting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
