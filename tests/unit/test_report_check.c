/* test_report_check.c - the allow-list check of report Bundles
 * (common/report_check.c): a real report passes; a Patient resource, a
 * BSN, a pseudonym (hex and base64), a subject-level MeasureReport, an
 * unknown field, free text where only codes belong, a negative count and
 * another Bundle type are each refused, naming the place but never the
 * smuggled value. */
#include <string.h>

#include "report_check.h"
#include "testutil.h"

static json_t *load(void)
{
	json_error_t je;
	json_t *b = json_load_file(
	    testutil_src("tests/data/report/nl-small-2025-Q1.json"), 0, &je);

	ck_assert_msg(b != NULL, "fixture: %s", je.text);
	return b;
}

/* The first MeasureReport with strata (else the first one). */
static json_t *first_report(json_t *b)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(b, "entry"), i, e)
	{
		json_t *r = json_object_get(e, "resource");

		if (strcmp(
			json_string_value(json_object_get(r, "resourceType")),
			"MeasureReport") == 0 &&
		    json_array_size(json_object_get(
			json_array_get(json_object_get(r, "group"), 0),
			"stratifier")) > 0)
			return r;
	}
	json_array_foreach(json_object_get(b, "entry"), i, e)
	{
		json_t *r = json_object_get(e, "resource");

		if (strcmp(
			json_string_value(json_object_get(r, "resourceType")),
			"MeasureReport") == 0)
			return r;
	}
	ck_abort_msg("no MeasureReport in the fixture");
	return NULL;
}

static void refused(json_t *b, const char *want, const char *secret)
{
	struct iza_error err = {0};

	ck_assert_int_eq(report_check(b, &err), -IZA_EINVALID);
	ck_assert_msg(strstr(err.text, want) != NULL, "error '%s', want '%s'",
		      err.text, want);
	if (secret)
		ck_assert_msg(strstr(err.text, secret) == NULL,
			      "the error repeats the value");
	json_decref(b);
}

START_TEST(real_report_passes)
{
	struct iza_error err = {0};
	json_t *b = load();

	ck_assert_msg(report_check(b, &err) == 0, "%s", err.text);
	json_decref(b);
}
END_TEST

START_TEST(patient_resource_refused)
{
	json_t *b = load();

	json_array_append_new(json_object_get(b, "entry"),
			      json_pack("{s:{s:s,s:s}}", "resource",
					"resourceType", "Patient", "id", "p1"));
	refused(b, "a Patient resource may not leave the region", NULL);
}
END_TEST

START_TEST(bsn_refused_even_in_free_text)
{
	json_t *b = load();

	json_object_set_new(json_object_get(first_report(b), "reporter"),
			    "display", json_string("Amsterdam 111222333"));
	refused(b, "reporter.display: holds a BSN-like number", "111222333");
}
END_TEST

/* The report's own UUIDs may hold nine digits that pass the 11-test by
 * chance (one report in twenty): a UUID is not a BSN; the same digits
 * outside a UUID are. 123456782 passes the 11-test. */
START_TEST(uuid_digits_are_not_a_bsn)
{
	struct iza_error err = {0};
	json_t *b = load(), *r = first_report(b);
	const char *id = "0e8f3a2c-1b4d-4c6e-9a7b-123456782abc";
	char url[64];

	snprintf(url, sizeof(url), "urn:uuid:%s", id);
	json_object_set_new(r, "id", json_string(id));
	json_object_set_new(json_array_get(json_object_get(b, "entry"), 0),
			    "fullUrl", json_string(url));
	ck_assert_msg(report_check(b, &err) == 0, "%s", err.text);
	json_decref(b);

	b = load();
	json_object_set_new(json_object_get(first_report(b), "reporter"),
			    "display", json_string("x-123456782abc"));
	refused(b, "reporter.display: holds a BSN-like number", "123456782");
	b = load();
	/* not a UUID: a group too long */
	json_object_set_new(
	    json_object_get(first_report(b), "reporter"), "display",
	    json_string("0e8f3a2c-1b4d-4c6e-9a7b-123456782abcd"));
	refused(b, "reporter.display: holds a BSN-like number", "123456782");
}
END_TEST

START_TEST(pseudonyms_refused)
{
	static const char hex[] =
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	static const char b64[] =
	    "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
	json_t *b = load(), *g;

	g = json_array_get(json_object_get(first_report(b), "group"), 0);
	json_object_set_new(g, "id", json_string(hex));
	refused(b, "group[].id: holds a long hexadecimal string", hex);
	b = load();
	json_object_set_new(json_object_get(first_report(b), "reporter"),
			    "display", json_string(b64));
	refused(b, "holds a long encoded string", b64);
}
END_TEST

START_TEST(subject_level_refused)
{
	json_t *b = load(), *r = first_report(b);

	json_object_set_new(r, "type", json_string("individual"));
	refused(b, "only summary MeasureReports", NULL);
	b = load();
	json_object_set_new(first_report(b), "subject",
			    json_pack("{s:s}", "reference", "Patient/p1"));
	refused(b, "subject.reference: not an allowed field", "Patient/p1");
	b = load();
	json_object_set_new(first_report(b), "evaluatedResource",
			    json_pack("[{s:s}]", "reference", "Encounter/e1"));
	refused(b, "evaluatedResource[].reference: not an allowed field", NULL);
}
END_TEST

START_TEST(kinds_enforced)
{
	json_t *b = load(), *g;

	/* free text where a code belongs */
	json_object_set_new(first_report(b), "status",
			    json_string("complete; patient was upset"));
	refused(b, "status: not a value of this field's kind", "upset");
	/* a negative count */
	b = load();
	g = json_array_get(json_object_get(first_report(b), "group"), 0);
	json_object_set_new(
	    g, "population",
	    json_pack("[{s:s,s:i}]", "id", "initial-population", "count", -3));
	refused(b, "group[].population[].count: not a count", NULL);
	/* a note added to an entry, a Bundle of another type */
	b = load();
	json_object_set_new(json_array_get(json_object_get(b, "entry"), 0),
			    "search", json_pack("{s:s}", "mode", "match"));
	refused(b, "search: not an allowed field", NULL);
	b = load();
	json_object_set_new(b, "type", json_string("transaction"));
	refused(b, "type must be collection", NULL);
	ck_assert_int_eq(report_check(NULL, NULL), -IZA_EINVALID);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("report_check");
	TCase *tc = tcase_create("allow-list");

	tcase_add_test(tc, real_report_passes);
	tcase_add_test(tc, patient_resource_refused);
	tcase_add_test(tc, bsn_refused_even_in_free_text);
	tcase_add_test(tc, uuid_digits_are_not_a_bsn);
	tcase_add_test(tc, pseudonyms_refused);
	tcase_add_test(tc, subject_level_refused);
	tcase_add_test(tc, kinds_enforced);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
