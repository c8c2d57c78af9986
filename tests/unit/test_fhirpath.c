/*
 * test_fhirpath.c - the FHIRPath subset (gateway/fhirpath.h) on real FHIR R4
 * example resources from the shared data set; every expected value below was
 * read by hand from those files.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhirpath.h"
#include "json_dom.h"
#include "testutil.h"

/* One parsed resource: buffer and parser owned here, tree in the parser. */
struct res {
	char *buf;
	struct jdom_parser *p;
	const struct jval *root;
};

static void res_parse(struct res *r, const char *buf, size_t len)
{
	struct iza_error err;
	int rc;

	r->p = jdom_parser_new(JDOM_DEFAULT_MAX_DEPTH, 0);
	ck_assert_ptr_nonnull(r->p);
	iza_error_clear(&err);
	rc = jdom_parse(r->p, buf, len, &r->root, &err);
	ck_assert_msg(rc == 0, "parse failed: %s", err.text);
}

static void res_load(struct res *r, const char *rel)
{
	size_t len;

	r->buf = testutil_slurp(testutil_shared(rel), &len);
	res_parse(r, r->buf, len);
}

/* First line of an NDJSON file. */
static void res_load_line1(struct res *r, const char *rel)
{
	size_t len;
	char *nl;

	r->buf = testutil_slurp(testutil_shared(rel), &len);
	nl = strchr(r->buf, '\n');
	if (nl)
		*nl = '\0';
	res_parse(r, r->buf, strlen(r->buf));
}

static void res_text(struct res *r, const char *json)
{
	r->buf = strdup(json);
	ck_assert_ptr_nonnull(r->buf);
	res_parse(r, r->buf, strlen(r->buf));
}

static void res_free(struct res *r)
{
	jdom_parser_free(r->p);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

static struct fp_collection coll;
/* The last expression evaluated into coll: results may point at its
 * literals, so it lives until the next eval_ok() or teardown. */
static struct fhirpath *last_fp;

static void setup(void)
{
	fp_collection_init(&coll);
	last_fp = NULL;
}

static void teardown(void)
{
	fp_collection_release(&coll);
	fhirpath_free(last_fp);
	last_fp = NULL;
}

static struct fhirpath *compile_ok(const char *expr)
{
	struct fhirpath *fp = NULL;
	struct iza_error err;
	int rc;

	iza_error_clear(&err);
	rc = fhirpath_compile(expr, &fp, &err);
	ck_assert_msg(rc == 0, "compile '%s': %s", expr, err.text);
	ck_assert_ptr_nonnull(fp);
	return fp;
}

static void eval_ok(const struct res *r, const char *expr)
{
	struct fhirpath *fp = compile_ok(expr);

	fhirpath_free(last_fp);
	last_fp = fp;
	ck_assert_int_eq(fhirpath_eval(fp, r->root, &coll), 0);
}

static const char *item_text(const struct jval *v, char *buf, size_t size)
{
	switch (v->type) {
	case JT_TRUE:
		return "true";
	case JT_FALSE:
		return "false";
	case JT_NULL:
		return "null";
	case JT_OBJECT:
		return "{object}";
	case JT_ARRAY:
		return "[array]";
	default:
		snprintf(buf, size, "%.*s", (int)v->len, v->u.s);
		return buf;
	}
}

/* expr on r gives exactly the n strings/numbers/booleans that follow, in
 * order (NULL-terminated list). */
static void expect(const struct res *r, const char *expr, ...)
{
	va_list ap;
	const char *want;
	char buf[256];
	size_t i = 0;

	eval_ok(r, expr);
	va_start(ap, expr);
	while ((want = va_arg(ap, const char *)) != NULL) {
		ck_assert_msg(i < coll.n, "'%s': only %zu items, wanted '%s'",
			      expr, coll.n, want);
		ck_assert_msg(strcmp(item_text(coll.items[i], buf, sizeof(buf)),
				     want) == 0,
			      "'%s' item %zu: got '%s', want '%s'", expr, i,
			      buf, want);
		i++;
	}
	va_end(ap);
	ck_assert_msg(coll.n == i, "'%s': %zu items, wanted %zu", expr, coll.n,
		      i);
}

static void expect_empty(const struct res *r, const char *expr)
{
	eval_ok(r, expr);
	ck_assert_msg(coll.n == 0, "'%s': %zu items, wanted none", expr,
		      coll.n);
}

static bool eval_bool(const struct res *r, const char *expr)
{
	struct fhirpath *fp = compile_ok(expr);
	bool b = false;

	ck_assert_int_eq(fhirpath_eval_bool(fp, r->root, &coll, &b), 0);
	fhirpath_free(fp);
	return b;
}

START_TEST(patient_f001)
{
	struct res r;

	res_load(&r, "fhir-r4-examples/Patient-f001.json");
	expect(&r,
	       "identifier.where(system='urn:oid:2.16.840.1.113883.2.4.6.3')"
	       ".value",
	       "738472983", NULL);
	expect(&r,
	       "Patient.identifier.where(system = "
	       "'urn:oid:2.16.840.1.113883.2.4.6.3').count()",
	       "2", NULL);
	/* the mapping file's BSN path */
	expect(&r,
	       "identifier.where(system = "
	       "'http://fhir.nl/fhir/NamingSystem/bsn' or system = "
	       "'urn:oid:2.16.840.1.113883.2.4.6.3').value",
	       "738472983", NULL);
	expect(&r, "Patient.id", "f001", NULL);
	expect(&r, "id", "f001", NULL);
	expect_empty(&r, "Encounter.id");
	expect(&r, "resourceType", "Patient", NULL);
	expect(&r, "gender", "male", NULL);
	expect(&r, "birthDate", "1944-11-17", NULL);
	expect(&r, "active", "true", NULL);
	expect(&r, "deceasedBoolean", "false", NULL);
	expect(&r, "deceasedBoolean = false", "true", NULL);
	expect(&r, "name.given", "Pieter", NULL);
	expect(&r, "name.family", "van de Heuvel", NULL);
	expect(&r, "telecom.use", "mobile", "home", NULL);
	expect(&r, "telecom.where(system = 'email').value",
	       "p.heuvel@gmail.com", NULL);
	expect(&r, "address.where(use = 'home' or use.empty()).postalCode",
	       "1024 RJ", NULL);
	expect(&r, "maritalStatus.coding.code", "M", NULL);
	expect(&r, "communication.preferred", "true", NULL);
	expect(&r, "contact.name.given", "Sarah", NULL);
	expect(&r, "managingOrganization.reference", "Organization/f001", NULL);
	expect(&r, "identifier.count()", "2", NULL);
	expect(&r, "identifier.value.count()", "1", NULL);
	expect(&r, "nothing.count()", "0", NULL);
	expect_empty(&r, "nothing");
	expect_empty(&r, "name.nothing.deeper");
	expect_empty(&r, "gender.more");
	expect(&r, "'Pieter' in name.given", "true", NULL);
	res_free(&r);
}
END_TEST

START_TEST(encounter_f001)
{
	struct res r;

	res_load(&r, "fhir-r4-examples/Encounter-f001.json");
	expect(&r, "class.code", "AMB", NULL);
	expect(&r, "Encounter.class.code", "AMB", NULL);
	expect(&r, "status", "finished", NULL);
	expect(&r,
	       "type.coding.where(system='http://snomed.info/sct').code"
	       ".first()",
	       "270427003", NULL);
	expect(&r, "subject.reference", "Patient/f001", NULL);
	expect(&r, "length.value", "140", NULL);
	expect(&r, "length.value = 140", "true", NULL);
	expect(&r, "length.value != 140", "false", NULL);
	expect(&r, "length.value = '140'", "false", NULL);
	expect(&r, "status in ('finished' | 'in-progress')", "true", NULL);
	expect(&r, "status in 'finished' | 'in-progress'", "true", NULL);
	expect(&r, "status in ('planned' | 'in-progress')", "false", NULL);
	expect(&r, "hospitalization.dischargeDisposition.coding.code",
	       "306689006", NULL);
	expect(&r, "hospitalization.preAdmissionIdentifier.value", "93042",
	       NULL);
	expect(&r, "participant.individual.reference", "Practitioner/f002",
	       NULL);
	expect(&r, "reasonCode.coding.display", "Heart valve replacement",
	       NULL);
	expect_empty(&r, "period.start");
	expect(&r, "period.exists()", "false", NULL);
	expect(&r, "period.empty()", "true", NULL);
	expect(&r, "classHistory.class.code.count()", "0", NULL);
	expect(&r, "class.exists(code = 'AMB')", "true", NULL);
	expect(&r, "class.exists(code = 'EMER')", "false", NULL);
	expect(&r,
	       "type.coding.where(system = 'http://snomed.info/sct' or "
	       "system = 'https://iza-gateway.nl/fhir/CodeSystem/"
	       "contact-channel').code",
	       "270427003", NULL);
	ck_assert(eval_bool(&r, "status = 'finished'"));
	ck_assert(!eval_bool(&r, "status = 'planned'"));
	ck_assert(eval_bool(&r, "identifier"));
	ck_assert(!eval_bool(&r, "period"));
	res_free(&r);
}
END_TEST

START_TEST(encounter_emerg)
{
	struct res r;

	res_load(&r, "fhir-r4-examples/Encounter-emerg.json");
	expect(&r, "class.code", "IMP", NULL);
	expect(&r, "classHistory.class.code", "EMER", "IMP", NULL);
	expect(&r, "period.start", "2017-02-01T07:15:00+10:00", NULL);
	expect_empty(&r, "period.end");
	expect(&r, "subject.reference", "Patient/example", NULL);
	expect(&r, "status in ('finished' | 'in-progress')", "true", NULL);
	expect(&r, "hospitalization.admitSource.coding.code", "emd", NULL);
	expect(&r, "statusHistory.status", "arrived", "triaged", "in-progress",
	       "onleave", "in-progress", NULL);
	expect(&r, "statusHistory.status.count()", "5", NULL);
	expect(&r, "statusHistory.status | statusHistory.status", "arrived",
	       "triaged", "in-progress", "onleave", NULL);
	expect(&r, "(statusHistory.status | status).count()", "4", NULL);
	expect(&r, "location.location.display.count()", "5", NULL);
	expect(
	    &r,
	    "(location.location.display | location.location.display).count()",
	    "3", NULL);
	expect(&r, "statusHistory.where(status = 'in-progress').period.start",
	       "2017-02-01T08:45:00+10:00", "2017-02-01T12:45:00+10:00", NULL);
	expect(&r,
	       "statusHistory.where(status = 'in-progress').period.start"
	       ".last()",
	       "2017-02-01T12:45:00+10:00", NULL);
	expect(&r, "statusHistory.where(period.end.exists().not()).status",
	       "in-progress", NULL);
	expect(&r, "statusHistory.where($this.status = 'onleave').period.end",
	       "2017-02-01T12:45:00+10:00", NULL);
	expect(&r, "classHistory.where(class.code = 'EMER').period.end",
	       "2017-02-01T09:27:00+10:00", NULL);
	expect(&r, "location.where(status = 'reserved').location.display",
	       "Ward 1, Room 42, Bed 1", NULL);
	/* equality of collections is item-wise and order dependent */
	expect(&r, "classHistory.class.code = 'EMER'", "false", NULL);
	expect(&r, "classHistory.class.code = ('EMER' | 'IMP')", "true", NULL);
	expect(&r, "classHistory.class.code = ('IMP' | 'EMER')", "false", NULL);
	expect(&r, "classHistory.class.code != ('IMP' | 'EMER')", "true", NULL);
	expect(&r, "'EMER' in classHistory.class.code", "true", NULL);
	expect(&r, "'AMB' in classHistory.class.code", "false", NULL);
	/* in needs a single left item: several give empty */
	expect_empty(&r, "classHistory.class.code in ('EMER' | 'IMP')");
	expect_empty(&r, "nothing in ('EMER' | 'IMP')");
	expect(&r, "class.code in nothing", "false", NULL);
	expect(&r, "classHistory.exists(class.code = 'EMER')", "true", NULL);
	expect(&r, "classHistory.first().class.code", "EMER", NULL);
	expect(&r, "classHistory.last().class.code", "IMP", NULL);
	expect(&r, "statusHistory.first().status", "arrived", NULL);
	expect_empty(&r, "nothing.first()");
	expect_empty(&r, "nothing.last()");
	res_free(&r);
}
END_TEST

START_TEST(extensions)
{
	struct res r;

	res_load_line1(&r, "fhir-bulk-synthea-10/Patient.000.ndjson");
	expect(&r,
	       "extension('http://hl7.org/fhir/us/core/StructureDefinition/"
	       "us-core-birthsex').valueCode",
	       "F", NULL);
	expect(&r,
	       "Patient.extension('http://hl7.org/fhir/us/core/"
	       "StructureDefinition/us-core-race').extension('ombCategory')"
	       ".valueCoding.code",
	       "2106-3", NULL);
	expect(&r,
	       "extension('http://hl7.org/fhir/StructureDefinition/"
	       "patient-mothersMaidenName').exists()",
	       "true", NULL);
	expect(&r,
	       "extension('http://hl7.org/fhir/StructureDefinition/"
	       "patient-birthPlace').valueAddress.city",
	       "Olathe", NULL);
	/* the shorthand is extension.where(url = ...) */
	expect(&r,
	       "extension.where(url = 'http://hl7.org/fhir/us/core/"
	       "StructureDefinition/us-core-birthsex').valueCode",
	       "F", NULL);
	expect_empty(&r, "extension('http://example.org/none')");
	expect(&r, "extension.count()", "7", NULL);
	expect(&r, "gender", "female", NULL);
	expect(&r, "address.postalCode", "66801", NULL);
	res_free(&r);

	/* primitive extensions (_birthDate) are not navigated */
	res_load(&r, "fhir-r4-examples/Patient-example.json");
	expect(&r, "birthDate", "1974-12-25", NULL);
	expect_empty(&r, "birthDate.extension");
	expect_empty(&r, "birthDate.extension('http://hl7.org/fhir/"
			 "StructureDefinition/patient-birthTime')");
	expect(&r, "name.given", "Peter", "James", "Jim", "Peter", "James",
	       NULL);
	expect(&r, "name.given | name.given", "Peter", "James", "Jim", NULL);
	expect(&r, "name.where(use = 'usual').given", "Jim", NULL);
	expect(&r, "name.given.where($this = 'Jim')", "Jim", NULL);
	expect(&r, "telecom.where(rank = 2).value", "(03) 3410 5613", NULL);
	expect(&r, "telecom.rank", "1", "2", NULL);
	expect(&r, "$this.id", "example", NULL);
	expect(&r, "$this.resourceType", "Patient", NULL);
	expect(&r, "contact.name.family", "du March\xc3\xa9", NULL);
	expect(&r, "contact.name.family = 'du March\\u00e9'", "true", NULL);
	expect(&r, "contact.name.family = 'du March\xc3\xa9'", "true", NULL);
	res_free(&r);
}
END_TEST

/* and/or/not over true, false and empty (FHIRPath three-valued logic). */
START_TEST(logic_tables)
{
	static const char *const v[3] = {"true", "false", "nothing"};
	/* rows: left true/false/empty, columns: right; "" = empty */
	static const char *const and_t[3][3] = {{"true", "false", ""},
						{"false", "false", "false"},
						{"", "false", ""}};
	static const char *const or_t[3][3] = {
	    {"true", "true", "true"}, {"true", "false", ""}, {"true", "", ""}};
	char expr[64];
	struct res r;
	int i, j;

	res_text(&r, "{\"resourceType\":\"Basic\",\"id\":\"x\"}");
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			snprintf(expr, sizeof(expr), "%s and %s", v[i], v[j]);
			if (*and_t[i][j])
				expect(&r, expr, and_t[i][j], NULL);
			else
				expect_empty(&r, expr);
			snprintf(expr, sizeof(expr), "%s or %s", v[i], v[j]);
			if (*or_t[i][j])
				expect(&r, expr, or_t[i][j], NULL);
			else
				expect_empty(&r, expr);
		}
	}
	expect(&r, "true.not()", "false", NULL);
	expect(&r, "false.not()", "true", NULL);
	expect_empty(&r, "nothing.not()");
	expect(&r, "id.not()", "false", NULL); /* one non-boolean is true */
	expect(&r, "(true and false).not()", "true", NULL);
	/* precedence: and binds tighter than or; = tighter than and */
	expect(&r, "true or false and false", "true", NULL);
	expect(&r, "(true or false) and false", "false", NULL);
	expect(&r, "id = 'x' and id != 'y'", "true", NULL);
	expect(&r, "id = 'y' or id = 'x'", "true", NULL);
	/* non-boolean operands count as true */
	expect(&r, "id and true", "true", NULL);
	expect(&r, "id or false", "true", NULL);
	/* eval_bool */
	ck_assert(eval_bool(&r, "true"));
	ck_assert(!eval_bool(&r, "false"));
	ck_assert(!eval_bool(&r, "nothing"));
	ck_assert(eval_bool(&r, "id"));
	ck_assert(eval_bool(&r, "id | resourceType"));
	ck_assert(!eval_bool(&r, "true | false"));
	ck_assert(!eval_bool(&r, "true and nothing"));
	ck_assert(eval_bool(&r, "nothing.empty()"));
	res_free(&r);
}
END_TEST

START_TEST(equality_and_union)
{
	struct res r;

	res_text(&r, "{\"resourceType\":\"Basic\",\"a\":140.0,\"b\":1.40e2,"
		     "\"c\":0.0,\"d\":-0,\"e\":14,\"f\":-140,\"g\":[1,2,2,1],"
		     "\"h\":\"140\",\"n\":null,\"m\":[null,\"x\",null],"
		     "\"o\":{\"k\":1},\"p\":{\"k\":1},\"t\":true}");
	expect(&r, "a = b", "true", NULL);
	expect(&r, "a = 140", "true", NULL);
	expect(&r, "c = d", "true", NULL);
	expect(&r, "c = 0", "true", NULL);
	expect(&r, "a = e", "false", NULL);
	expect(&r, "f = 140", "false", NULL);
	expect(&r, "h = 140", "false", NULL);
	expect(&r, "h = '140'", "true", NULL);
	expect(&r, "'a' = 'a'", "true", NULL);
	expect(&r, "'a' = 'A'", "false", NULL);
	expect(&r, "'a' != 'b'", "true", NULL);
	expect(&r, "true = true", "true", NULL);
	expect(&r, "t = true", "true", NULL);
	expect(&r, "t = 'true'", "false", NULL);
	expect_empty(&r, "nothing = 'a'");
	expect_empty(&r, "'a' = nothing");
	expect_empty(&r, "nothing != 'a'");
	expect(&r, "(a | b | 140).count()", "1", NULL);
	expect(&r, "a | b | c | d | e", "140.0", "0.0", "14", NULL);
	expect(&r, "g", "1", "2", "2", "1", NULL);
	expect(&r, "g | g", "1", "2", NULL);
	expect(&r, "g.count() = 4", "true", NULL);
	expect(&r, "(1 | 2) = (1 | 2)", "true", NULL);
	expect(&r, "(1 | 2) = (2 | 1)", "false", NULL);
	expect(&r, "(1 | 2) = 1", "false", NULL);
	expect_empty(&r, "n");
	expect(&r, "m", "x", NULL);
	expect(&r, "m.count()", "1", NULL);
	/* complex elements: equal only to themselves */
	expect(&r, "o = o", "true", NULL);
	expect(&r, "o = p", "false", NULL);
	expect(&r, "(o | p | o).count()", "2", NULL);
	expect(&r, "o.k = p.k", "true", NULL);
	/* literals and $this at top level */
	expect(&r, "5.count()", "1", NULL);
	expect(&r, "$this.a", "140.0", NULL);
	expect(&r, "$this = $this", "true", NULL);
	expect(&r, "12345", "12345", NULL);
	expect(&r, "(1 | 2 | 3).where($this != 2)", "1", "3", NULL);
	expect(&r, "(1 | 2 | 3).where($this = 2).exists()", "true", NULL);
	expect(&r, "(1 | 2).exists($this = 3)", "false", NULL);
	expect(&r, "Basic.a", "140.0", NULL);
	expect_empty(&r, "basic.a");
	res_free(&r);
}
END_TEST

START_TEST(string_escapes)
{
	struct res r;
	const struct jval *v;
	static const char want[] =
	    "a'b\\c\"d/e\n\t\r\f\xc3\xa9\xf0\x9f\x98\x80`";

	res_text(&r, "{}");
	eval_ok(&r,
		"'a\\'b\\\\c\\\"d\\/e\\n\\t\\r\\f\\u00e9\\uD83D\\uDE00\\`'");
	ck_assert_uint_eq(coll.n, 1);
	v = coll.items[0];
	ck_assert_int_eq(v->type, JT_STRING);
	ck_assert_uint_eq(v->len, sizeof(want) - 1);
	ck_assert(memcmp(v->u.s, want, v->len) == 0);
	expect(&r, "''", "", NULL);
	expect(&r, "''.count()", "1", NULL);
	res_free(&r);
}
END_TEST

START_TEST(reuse_collection)
{
	struct fhirpath *fp[3];
	struct res r;
	const struct jval **items;
	size_t cap;
	int k, i;

	res_load(&r, "fhir-r4-examples/Encounter-emerg.json");
	fp[0] = compile_ok("statusHistory.status | location.location.display");
	fp[1] = compile_ok("statusHistory.where(period.end.exists()).count()");
	fp[2] = compile_ok("classHistory.class.code");
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(fhirpath_eval(fp[i], r.root, &coll), 0);
	items = coll.items;
	cap = coll.cap;
	for (k = 0; k < 1000; k++) {
		for (i = 0; i < 3; i++)
			ck_assert_int_eq(fhirpath_eval(fp[i], r.root, &coll),
					 0);
		ck_assert_uint_eq(coll.n, 2);
		ck_assert_ptr_eq(coll.items, items);
		ck_assert_uint_eq(coll.cap, cap);
	}
	ck_assert_int_eq(fhirpath_eval(fp[1], r.root, &coll), 0);
	ck_assert_uint_eq(coll.n, 1);
	ck_assert_int_eq(coll.items[0]->type, JT_NUMBER);
	ck_assert_uint_eq(coll.items[0]->len, 1);
	ck_assert(coll.items[0]->u.s[0] == '4');
	/* NULL root: empty context */
	ck_assert_int_eq(fhirpath_eval(fp[2], NULL, &coll), 0);
	ck_assert_uint_eq(coll.n, 0);
	ck_assert_int_eq(fhirpath_eval(NULL, r.root, &coll), -IZA_EUSAGE);
	for (i = 0; i < 3; i++)
		fhirpath_free(fp[i]);
	fhirpath_free(NULL);
	fp_collection_release(NULL);
	res_free(&r);
}
END_TEST

/* The shipped mapping file's paths all compile. */
START_TEST(mapping_paths)
{
	static const char *const paths[] = {
	    "active",
	    "address.where(use = 'home' or use.empty()).postalCode",
	    "classHistory.class.code",
	    "identifier.where(system = "
	    "'http://fhir.nl/fhir/NamingSystem/bsn' or system = "
	    "'urn:oid:2.16.840.1.113883.2.4.6.3').value",
	    "meta.lastUpdated",
	    "serviceProvider.identifier.where(system = "
	    "'http://fhir.nl/fhir/NamingSystem/agb-z').value",
	    "type.coding.where(system = 'http://snomed.info/sct' or "
	    "system = "
	    "'https://iza-gateway.nl/fhir/CodeSystem/contact-channel').code",
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		fhirpath_free(compile_ok(paths[i]));
}
END_TEST

struct bad_case {
	const char *expr;
	const char *text;
};

static const struct bad_case bad_cases[] = {
    {"", "empty expression"},
    {"   ", "empty expression"},
    {"foo()", "unknown function 'foo' at column 1"},
    {"name.given.foo(1)", "unknown function 'foo' at column 12"},
    {"identifier.ofType(Identifier)", "unknown function 'ofType' at column 12"},
    {"name.where(use = 'x'))", "unexpected ')' at column 22"},
    {"name.", "expected a name after '.' at column 6"},
    {"name..given", "expected a name after '.' at column 6"},
    {"name.'x'", "expected a name after '.' at column 6"},
    {"'abc", "unterminated string at column 1"},
    {"name = 'abc\\'", "unterminated string at column 8"},
    {"name.where(", "unexpected end of expression at column 12"},
    {"(name", "unexpected end of expression at column 6"},
    {"name = ", "unexpected end of expression at column 8"},
    {"status < 'x'", "unexpected '<' at column 8"},
    {"name[0]", "unexpected '[' at column 5"},
    {"name.first(1)", "function 'first' takes 0 arguments at column 12"},
    {"name.where()", "function 'where' needs 1 argument at column 12"},
    {"name.where(a, b)", "function 'where' takes 1 argument at column 15"},
    {"extension(url)", "extension() needs a string literal at column 11"},
    {"'a\\qb'", "invalid escape in string at column 3"},
    {"'\\uD800'", "invalid \\u escape in string at column 2"},
    {"'\\u00'", "invalid \\u escape in string at column 2"},
    {"'\\u0000'", "invalid \\u escape in string at column 2"},
    {"$index", "unsupported variable '$index' at column 1"},
    {"%resource.id", "unexpected '%' at column 1"},
    {"_birthDate", "names starting with '_' are not supported at column 1"},
    {"birthDate._x", "names starting with '_' are not supported at column 11"},
    {"1.5", "decimal literals are not supported at column 1"},
    {"007", "integer literal with leading zero at column 1"},
    {"1234567890123456789", "integer literal too long at column 1"},
    {"and", "unexpected 'and' at column 1"},
    {"id and or", "unexpected 'or' at column 8"},
    {"status status", "unexpected 'status' at column 8"},
    {"name = 'a' 'b'", "unexpected string at column 12"},
    {"-1", "unexpected '-' at column 1"},
    {"name ! 'x'", "unexpected '!' at column 6"},
    {"na\xc3\xa9me", "unexpected byte 0xc3 at column 3"},
    {"status.where(code = 'a',)", "unexpected ')' at column 25"},
    {"()", "unexpected ')' at column 2"},
};

START_TEST(compile_errors)
{
	const struct bad_case *c = &bad_cases[_i];
	struct fhirpath *fp = (struct fhirpath *)0x1;
	struct iza_error err;
	int rc;

	iza_error_clear(&err);
	rc = fhirpath_compile(c->expr, &fp, &err);
	ck_assert_msg(rc == -IZA_EMAPPING, "'%s': rc %d", c->expr, rc);
	ck_assert_msg(strcmp(err.text, c->text) == 0,
		      "'%s': got \"%s\", want \"%s\"", c->expr, err.text,
		      c->text);
	ck_assert_str_eq(err.field, "");
	ck_assert_ptr_eq(fp, (struct fhirpath *)0x1); /* untouched */
}
END_TEST

START_TEST(limits)
{
	char *buf = malloc(FHIRPATH_MAX_LEN + 2);
	struct fhirpath *fp = NULL;
	struct iza_error err;
	struct res r;
	int i;

	ck_assert_ptr_nonnull(buf);
	/* 64 levels of parentheses are fine, 65 are not */
	for (i = 0; i < FHIRPATH_MAX_DEPTH; i++)
		buf[i] = '(';
	buf[i] = 'a';
	memset(buf + i + 1, ')', FHIRPATH_MAX_DEPTH);
	buf[2 * FHIRPATH_MAX_DEPTH + 1] = '\0';
	fhirpath_free(compile_ok(buf));
	for (i = 0; i <= FHIRPATH_MAX_DEPTH; i++)
		buf[i] = '(';
	buf[i] = '\0';
	iza_error_clear(&err);
	ck_assert_int_eq(fhirpath_compile(buf, &fp, &err), -IZA_EMAPPING);
	ck_assert_str_eq(err.text, "expression nests deeper than 64 at "
				   "column 65");
	/* nesting through function arguments counts too */
	buf[0] = '\0';
	for (i = 0; i <= FHIRPATH_MAX_DEPTH; i++)
		memcpy(buf + 8 * i, "a.where(", 9);
	iza_error_clear(&err);
	ck_assert_int_eq(fhirpath_compile(buf, &fp, &err), -IZA_EMAPPING);
	ck_assert_str_eq(err.text, "expression nests deeper than 64 at "
				   "column 520");

	/* exactly the cap compiles; one byte more does not */
	memset(buf, ' ', FHIRPATH_MAX_LEN);
	buf[0] = 'a';
	buf[FHIRPATH_MAX_LEN] = '\0';
	fhirpath_free(compile_ok(buf));
	buf[FHIRPATH_MAX_LEN] = ' ';
	buf[FHIRPATH_MAX_LEN + 1] = '\0';
	iza_error_clear(&err);
	ck_assert_int_eq(fhirpath_compile(buf, &fp, &err), -IZA_EMAPPING);
	ck_assert_str_eq(err.text, "expression longer than 4096 bytes");

	/* long flat chains (not nesting) are fine: a union of 1000 codes */
	res_text(&r, "{\"status\":\"c999\"}");
	buf[0] = '\0';
	{
		size_t n = 0;

		n += (size_t)snprintf(buf + n, FHIRPATH_MAX_LEN - n,
				      "status in (");
		for (i = 0; i < 1000 && n < 3800; i++)
			n += (size_t)snprintf(buf + n, FHIRPATH_MAX_LEN - n,
					      "%s'c%d'", i ? "|" : "", i);
		snprintf(buf + n, FHIRPATH_MAX_LEN - n, ")");
		expect(&r, buf, "false", NULL);
		ck_assert_int_gt(i, 500);
	}
	res_free(&r);
	free(buf);
}
END_TEST

static Suite *fhirpath_suite(void)
{
	Suite *s = suite_create("fhirpath");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, patient_f001);
	tcase_add_test(tc, encounter_f001);
	tcase_add_test(tc, encounter_emerg);
	tcase_add_test(tc, extensions);
	tcase_add_test(tc, logic_tables);
	tcase_add_test(tc, equality_and_union);
	tcase_add_test(tc, string_escapes);
	tcase_add_test(tc, reuse_collection);
	tcase_add_test(tc, mapping_paths);
	tcase_add_loop_test(tc, compile_errors, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(fhirpath_suite());
}
