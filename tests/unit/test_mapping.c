/* Unit tests for the mapping engine (gateway/mapping.c): validation errors
 * that name file, rule and field; mapping real FHIR R4 examples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping.h"
#include "period.h"
#include "pseudo.h"
#include "refdata.h"
#include "testutil.h"

static struct vocabulary *voc;
static struct refdata *rd;
static struct pseudo *ps;
static struct mapping *map;
static struct jdom_parser *jp;

static void setup(void)
{
	static const uint8_t key[IZA_KEY_LEN] = {1, 2, 3};
	struct iza_error err;

	iza_error_clear(&err);
	ck_assert_int_eq(
	    vocabulary_load(testutil_src("mappings/vocabulary.json"), &voc,
			    &err),
	    0);
	ck_assert_int_eq(
	    refdata_load(testutil_src("mappings/regions"), &rd, &err), 0);
	ck_assert_int_eq(pseudo_new(key, &ps), 0);
	ck_assert_msg(mapping_load(testutil_src("mappings/fhir-r4.json"), voc,
				   &map, &err) == 0,
		      "%s", err.text);
	jp = jdom_parser_new(0, 0);
	ck_assert_ptr_nonnull(jp);
}

static void teardown(void)
{
	jdom_parser_free(jp);
	mapping_free(map);
	pseudo_free(ps);
	refdata_free(rd);
	vocabulary_free(voc);
}

/* Map a JSON text with a fresh mapper for region ZK02. */
static void map_text(const char *json, struct map_result *out,
		     struct iza_error *why)
{
	struct mapper *mp;
	const struct jval *root;
	struct iza_error err;

	iza_error_clear(&err);
	iza_error_clear(why);
	ck_assert_int_eq(jdom_parse(jp, json, strlen(json), &root, &err), 0);
	ck_assert_int_eq(mapper_new(map, ps, rd, "ZK02",
				    (long)days_from_civil(2025, 6, 1), &mp),
			 0);
	ck_assert_int_eq(mapper_map(mp, "06010713", "msz", root, out, why), 0);
	mapper_free(mp);
}

static void map_file(const char *rel, struct map_result *out,
		     struct iza_error *why)
{
	char *text = testutil_slurp(testutil_shared(rel), NULL);

	map_text(text, out, why);
	free(text);
}

START_TEST(dutch_example_patient)
{
	struct map_result r;
	struct iza_error why;

	/* Patient-f001: BSN 738472983 fails the 11-test (weights 9..2, -1:
	 * sum 250, 250 mod 11 = 8), address 1024 RJ -> Amsterdam ZK02 */
	map_file("fhir-r4-examples/Patient-f001.json", &r, &why);
	ck_assert_int_eq(r.outcome, MAP_PATIENT);
	ck_assert_int_eq(r.patient.has_bsn, 0);
	ck_assert_int_eq(r.patient.pc4, 1024);
	ck_assert_str_eq(r.patient.gemeente, "GM0363");
	ck_assert_str_eq(r.patient.region, "ZK02");
	ck_assert_int_eq(r.in_region, 1);
	ck_assert_int_eq(r.patient.birth_year, 1944);
	ck_assert_str_eq(r.patient.sex, "male");
}
END_TEST

START_TEST(er_visit_that_became_admission)
{
	struct map_result r;
	struct iza_error why;
	int64_t start;

	/* Encounter-emerg: class IMP, classHistory EMER -> IMP */
	map_file("fhir-r4-examples/Encounter-emerg.json", &r, &why);
	ck_assert_int_eq(r.outcome, MAP_ENCOUNTER);
	ck_assert_int_eq(r.nevents, 2);
	ck_assert_str_eq(r.events[0].type, "er_visit");
	ck_assert_str_eq(r.events[0].rule, "er-visit-then-admitted");
	ck_assert_str_eq(r.events[1].type, "admission");
	ck_assert_str_eq(r.events[1].status, "in-progress");
	ck_assert_str_eq(r.events[1].source_id, "emerg");
	ck_assert_int_eq(
	    parse_fhir_instant("2017-02-01T07:15:00+10:00", 25, &start), 0);
	ck_assert(r.events[0].start == start);
	ck_assert(r.events[0].end == IZA_TIME_NONE);
	/* both events carry the same patient key */
	ck_assert(memcmp(r.events[0].patient_key, r.events[1].patient_key,
			 IZA_HASH_LEN) == 0);
}
END_TEST

/* tests/data/front-door conventions (docs/front-door.md): a front-door
 * triage is no GP contact ("unless"), urgency and disposition are kept; a
 * practice triage is a triage and a GP contact; an e-consult is a message */
START_TEST(front_door_triage)
{
	static const char head[] =
	    "{\"resourceType\":\"Encounter\",\"id\":\"t\",\"status\":"
	    "\"finished\",\"class\":{\"code\":\"VR\"},\"subject\":{"
	    "\"reference\":\"Patient/p\"},\"period\":{\"start\":"
	    "\"2025-01-06T19:10:00+01:00\"},\"serviceProvider\":{"
	    "\"identifier\":{\"system\":\"http://fhir.nl/fhir/NamingSystem/"
	    "agb-z\",\"value\":\"01099999\"}},\"type\":[{\"coding\":[{"
	    "\"system\":\"https://iza-gateway.nl/fhir/CodeSystem/"
	    "contact-type\",\"code\":\"";
	char text[1024];
	struct map_result r;
	struct iza_error why;

	snprintf(text, sizeof(text),
		 "%sfrontdoor-triage\"}]}],\"priority\":{\"coding\":[{"
		 "\"system\":\"https://iza-gateway.nl/fhir/CodeSystem/"
		 "nts-urgency\",\"code\":\"U4\"}]},\"hospitalization\":{"
		 "\"dischargeDisposition\":{\"coding\":[{\"system\":"
		 "\"https://iza-gateway.nl/fhir/CodeSystem/"
		 "frontdoor-disposition\",\"code\":\"gp-post\"}]}}}",
		 head);
	map_text(text, &r, &why);
	ck_assert_int_eq(r.outcome, MAP_ENCOUNTER);
	ck_assert_int_eq(r.nevents, 1); /* not also a gp_contact */
	ck_assert_str_eq(r.events[0].type, "frontdoor_triage");
	ck_assert_int_eq(r.events[0].urgency, 4);
	ck_assert_str_eq(r.events[0].disposition, "gp_post");
	snprintf(text, sizeof(text), "%striage\"}]}]}", head);
	map_text(text, &r, &why);
	ck_assert_int_eq(r.nevents, 2);
	ck_assert_str_eq(r.events[0].type, "triage");
	ck_assert_str_eq(r.events[1].type, "gp_contact");
	ck_assert_int_eq(r.events[0].urgency, -1);
	snprintf(text, sizeof(text), "%seconsult\"}]}]}", head);
	map_text(text, &r, &why);
	ck_assert_int_eq(r.nevents, 2);
	ck_assert_str_eq(r.events[0].type, "econsult");
	ck_assert_str_eq(r.events[1].type, "gp_contact");
	ck_assert_str_eq(r.events[1].channel, "message");
	snprintf(text, sizeof(text), "%snurse-call\"}]}]}", head);
	map_text(text, &r, &why);
	ck_assert_int_eq(r.outcome, MAP_QUARANTINE);
}
END_TEST

START_TEST(missing_start_is_quarantined)
{
	struct map_result r;
	struct iza_error why;

	/* Encounter-f001 has no period */
	map_file("fhir-r4-examples/Encounter-f001.json", &r, &why);
	ck_assert_int_eq(r.outcome, MAP_QUARANTINE);
	ck_assert_int_eq(r.reason, QR_MISSING);
	ck_assert_str_eq(why.field, "start");
}
END_TEST

START_TEST(zib_codes_channels_and_sector)
{
	struct map_result r;
	struct iza_error why;

	map_text("{\"resourceType\":\"Encounter\",\"id\":\"a\",\"status\":"
		 "\"finished\",\"class\":{\"code\":\"Virtueel\"},\"type\":[{"
		 "\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":"
		 "\"185317003\"}]}],\"subject\":{\"reference\":\"Patient/p\"},"
		 "\"period\":{\"start\":\"2025-01-02T10:00:00+01:00\"},"
		 "\"serviceProvider\":{\"identifier\":{\"system\":\"http://"
		 "fhir.nl/fhir/NamingSystem/agb-z\",\"value\":\"01058123\"}}}",
		 &r, &why);
	ck_assert_int_eq(r.outcome, MAP_ENCOUNTER);
	ck_assert_int_eq(r.nevents, 1);
	/* the provider's AGB prefix 01 overrides the source's sector */
	ck_assert_str_eq(r.events[0].sector, "huisartsenzorg");
	ck_assert_str_eq(r.events[0].type, "gp_contact");
	ck_assert_str_eq(r.events[0].channel, "phone");
	ck_assert_str_eq(r.events[0].provider, "01058123");

	map_text("{\"resourceType\":\"Encounter\",\"id\":\"b\",\"status\":"
		 "\"finished\",\"class\":{\"code\":\"Thuis\"},\"subject\":{"
		 "\"reference\":\"urn:uuid:p\"},\"period\":{\"start\":"
		 "\"2025-01-02\"}}",
		 &r, &why);
	ck_assert_int_eq(r.outcome, MAP_ENCOUNTER);
	ck_assert_str_eq(r.events[0].type, "outpatient_visit");
	ck_assert_str_eq(r.events[0].sector, "msz");
	ck_assert_str_eq(r.events[0].channel, "home");
}
END_TEST

START_TEST(bad_records)
{
	static const struct {
		const char *json;
		enum quarantine_reason reason;
		const char *field;
	} cases[] = {
	    {"{\"id\":\"x\"}", QR_NO_TYPE, "resourceType"},
	    {"{\"resourceType\":\"Encounter\",\"id\":\"x\",\"status\":"
	     "\"finished\",\"class\":{\"code\":\"XYZ\"},\"subject\":{"
	     "\"reference\":\"Patient/p\"},\"period\":{\"start\":\"2025\"}}",
	     QR_UNKNOWN_CODE, "class"},
	    {"{\"resourceType\":\"Encounter\",\"id\":\"x\",\"status\":"
	     "\"done\",\"class\":{\"code\":\"AMB\"},\"subject\":{"
	     "\"reference\":\"Patient/p\"},\"period\":{\"start\":\"2025\"}}",
	     QR_UNKNOWN_CODE, "status"},
	    {"{\"resourceType\":\"Encounter\",\"id\":\"x\",\"status\":"
	     "\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":{"
	     "\"reference\":\"Patient/p\"},\"period\":{\"start\":"
	     "\"2025-02-29T10:00:00Z\"}}",
	     QR_BAD_DATE, "start"},
	    {"{\"resourceType\":\"Encounter\",\"id\":\"x\",\"status\":"
	     "\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":{"
	     "\"reference\":\"Patient/p\"},\"period\":{\"start\":"
	     "\"2025-02-02T10:00:00Z\",\"end\":\"2025-02-01T10:00:00Z\"}}",
	     QR_BAD_DATE, "end"},
	    {"{\"resourceType\":\"Encounter\",\"id\":\"x\",\"status\":"
	     "\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":{"
	     "\"reference\":\"Patient/\"},\"period\":{\"start\":\"2025\"}}",
	     QR_BAD_VALUE, "patient"},
	    {"{\"resourceType\":\"Patient\",\"gender\":\"male\"}", QR_MISSING,
	     "id"},
	    {"{\"resourceType\":\"Patient\",\"id\":\"p\",\"gender\":\"m\"}",
	     QR_UNKNOWN_CODE, "sex"},
	};
	struct map_result r;
	struct iza_error why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		map_text(cases[i].json, &r, &why);
		ck_assert_msg(r.outcome == MAP_QUARANTINE, "case %zu", i);
		ck_assert_msg(r.reason == cases[i].reason, "case %zu: %s", i,
			      quarantine_reason_name(r.reason));
		ck_assert_str_eq(why.field, cases[i].field);
	}
	map_text("{\"resourceType\":\"Observation\",\"id\":\"o\"}", &r, &why);
	ck_assert_int_eq(r.outcome, MAP_SKIPPED);
	ck_assert_str_eq(r.resource_type, "Observation");
}
END_TEST

START_TEST(references)
{
	char id[64];

	ck_assert_int_eq(fhir_reference_id("Patient/abc", id, sizeof(id)), 3);
	ck_assert_str_eq(id, "abc");
	ck_assert_int_eq(fhir_reference_id("urn:uuid:1-2-3", id, sizeof(id)),
			 5);
	ck_assert_str_eq(id, "1-2-3");
	fhir_reference_id("https://x.nl/fhir/Patient/p9/_history/2", id,
			  sizeof(id));
	ck_assert_str_eq(id, "p9");
	fhir_reference_id("Patient?identifier=http://fhir.nl/fhir/"
			  "NamingSystem/bsn|1",
			  id, sizeof(id));
	ck_assert_str_eq(id,
			 "identifier=http://fhir.nl/fhir/NamingSystem/bsn|1");
	ck_assert_int_eq(fhir_reference_id("Patient/", id, sizeof(id)), -1);
	ck_assert_int_eq(fhir_reference_id("", id, sizeof(id)), -1);
	ck_assert_int_eq(fhir_reference_id("Patient/abcdef", id, 4), -1);
}
END_TEST

/* Write text to a temporary mapping file and load it; returns the error. */
static int load_text(const char *text, struct iza_error *err)
{
	char *dir = testutil_tmpdir();
	char path[512];
	struct mapping *m = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	iza_error_clear(err);
	rc = mapping_load(path, voc, &m, err);
	mapping_free(m);
	ck_assert_ptr_nonnull(strstr(err->file, "bad.json"));
	testutil_rmrf(dir);
	free(dir);
	return rc;
}

#define HEAD "{\"format\":\"iza-mapping/1\",\"id\":\"t\",\"version\":\"1\","
#define ENC_FIELDS                                                             \
	"\"id\":{\"path\":\"id\",\"required\":true},"                          \
	"\"patient\":{\"path\":\"subject.reference\",\"required\":true},"      \
	"\"status\":{\"path\":\"status\",\"required\":true},"                  \
	"\"class\":{\"path\":\"class.code\",\"required\":true},"               \
	"\"start\":{\"path\":\"period.start\",\"type\":\"instant\","           \
	"\"required\":true}"

START_TEST(validation_errors)
{
	static const struct {
		const char *text, *field, *words;
	} cases[] = {
	    {"{\"format\":\"iza-mapping/2\",\"id\":\"t\",\"version\":\"1\","
	     "\"resources\":{}}",
	     "mapping.format", "iza-mapping/1"},
	    {HEAD "\"resourcez\":{}}", "mapping", "unknown member"},
	    {HEAD "\"resources\":{\"Encounter\":{\"role\":\"encounter\","
		  "\"fields\":{" ENC_FIELDS ",\"x\":{\"path\":\"a.foo(\"}},"
		  "\"classify\":[{\"id\":\"r\",\"emit\":{\"type\":"
		  "\"er_visit\"}}]}}}",
	     "resources.Encounter.fields.x", "path:"},
	    {HEAD "\"resources\":{\"Encounter\":{\"role\":\"encounter\","
		  "\"fields\":{" ENC_FIELDS "},\"classify\":[{\"id\":"
		  "\"r1\",\"emit\":{\"type\":\"spa_visit\"}}]}}}",
	     "resources.Encounter.classify.rules[r1]", "not in the vocabulary"},
	    {HEAD "\"resources\":{\"Encounter\":{\"role\":\"encounter\","
		  "\"fields\":{" ENC_FIELDS "},\"classify\":[{\"id\":"
		  "\"r1\",\"if\":{\"klass\":[\"EMER\"]},\"emit\":{\"type\":"
		  "\"er_visit\"}}]}}}",
	     "classify.rules[r1].if", "undeclared field \"klass\""},
	    {HEAD "\"resources\":{\"Encounter\":{\"role\":\"encounter\","
		  "\"fields\":{\"id\":{\"path\":\"id\",\"required\":true}},"
		  "\"classify\":[]}}}",
	     "resources.Encounter.fields", "\"patient\""},
	    {HEAD "\"resources\":{\"Patient\":{\"role\":\"patient\","
		  "\"fields\":{\"id\":{\"path\":\"id\",\"required\":true,"
		  "\"map\":\"nope\"}}}}}",
	     "resources.Patient.fields.id", "map \"nope\""},
	};
	struct iza_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(load_text(cases[i].text, &err), -IZA_EMAPPING);
		ck_assert_msg(strstr(err.field, cases[i].field) != NULL,
			      "case %zu: field '%s'", i, err.field);
		ck_assert_msg(strstr(err.text, cases[i].words) != NULL,
			      "case %zu: text '%s'", i, err.text);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mapping");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dutch_example_patient);
	tcase_add_test(tc, er_visit_that_became_admission);
	tcase_add_test(tc, front_door_triage);
	tcase_add_test(tc, missing_start_is_quarantined);
	tcase_add_test(tc, zib_codes_channels_and_sector);
	tcase_add_test(tc, bad_records);
	tcase_add_test(tc, references);
	tcase_add_test(tc, validation_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
