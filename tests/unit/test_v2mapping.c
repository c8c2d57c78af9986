/* Unit tests for v2 field paths (gateway/v2path.c) and the HL7 v2 / CDA
 * mappings (mappings/hl7v2.json, mappings/cda.json) applied through the
 * mapping engine to hand-written XML records.  The messages are synthetic;
 * the BSNs are 11-test-valid test numbers. */
#define _GNU_SOURCE
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hl7v2.h"
#include "input.h"
#include "mapping.h"
#include "period.h"
#include "pseudo.h"
#include "refdata.h"
#include "testutil.h"
#include "v2path.h"

/* v2.7 XML encoding: PV1-2 is a CWE, PID-3 repeats (MRN, BSN). */
static const char v27[] =
    "<ADT_A01 xmlns=\"urn:hl7-org:v2xml\">"
    "<MSH><MSH.1>|</MSH.1><MSH.2>^~\\&amp;</MSH.2>"
    "<MSH.4><HD.1>06010713</HD.1></MSH.4>"
    "<MSH.7>20250310143000+0100</MSH.7>"
    "<MSH.9><MSG.1>ADT</MSG.1><MSG.2>A01</MSG.2></MSH.9></MSH>"
    "<PID><PID.3><CX.1>MRN77</CX.1><CX.4><HD.1>ZKH</HD.1></CX.4></PID.3>"
    "<PID.3><CX.1>111222333</CX.1><CX.4><HD.1>NLMINBIZA</HD.1></CX.4>"
    "</PID.3><PID.7>19500517</PID.7><PID.8>F</PID.8>"
    "<PID.11><XAD.5>1012 AB</XAD.5></PID.11></PID>"
    "<PV1><PV1.2><CWE.1>I</CWE.1></PV1.2><PV1.4><CWE.1>E</CWE.1></PV1.4>"
    "<PV1.19><CX.1>V123</CX.1></PV1.19>"
    "<PV1.44>20250310140000</PV1.44></PV1></ADT_A01>";

/* v2.3 style, and the shape adapters/hl7v2.c gives ER7: plain PV1-2 and
 * components named SEG.F.C. */
static const char v23[] =
    "<ADT_A04><MSH><MSH.4>06010713</MSH.4><MSH.7>20250104090000</MSH.7>"
    "<MSH.9><MSH.9.1>ADT</MSH.9.1><MSH.9.2>A04</MSH.9.2></MSH.9></MSH>"
    "<PID><PID.3><PID.3.1>123456782</PID.3.1><PID.3.4>NLMINBIZA</PID.3.4>"
    "</PID.3><PID.3><PID.3.1>MRN9</PID.3.1><PID.3.4>ZKH</PID.3.4></PID.3>"
    "<PID.11><PID.11.5>7411 AA</PID.11.5></PID.11></PID>"
    "<PV1><PV1.2>E</PV1.2><PV1.19>V9</PV1.19>"
    "<PV1.44>20250104083000</PV1.44><PV1.45>20250104110000</PV1.45>"
    "</PV1></ADT_A04>";

static int collect(void *ctx, const char *v, size_t len)
{
	char *buf = ctx;
	size_t n = strlen(buf);

	if (n + len + 2 < 256) {
		if (n)
			buf[n++] = ',';
		memcpy(buf + n, v, len);
		buf[n + len] = '\0';
	}
	return 0;
}

static int no_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	(void)ctx;
	(void)entry;
	(void)raw;
	(void)rawlen;
	ck_abort_msg("line %ld refused (%s): %s", line,
		     quarantine_reason_name(reason), why->text);
	return 1;
}

/* Run the adapter over text (from memory) and call fn for each message. */
static void with_messages(const struct adapter *ad, const char *text,
			  int (*fn)(void *, const struct v2msg *, long, long),
			  void *ctx)
{
	static const struct adapter_limits lim = {
	    .max_line = 1u << 20, .max_doc = 4u << 20, .max_depth = 64};
	struct adapter_sink sink = {
	    .ctx = ctx, .v2_message = fn, .bad = no_bad};
	struct input *in = NULL;
	struct iza_error err;
	char path[64];
	int fd = memfd_create("v2", 0);
	size_t len = strlen(text);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ck_assert_int_eq(input_open(path, &in, &err), 0);
	ck_assert_msg(ad->run(in, &lim, &sink, &err) == 0, "%s", err.text);
	input_close(in);
	close(fd);
}

struct eval_case {
	const char *path, *expect;
};

static int eval_one(void *ctx, const struct v2msg *msg, long line, long entry)
{
	const struct eval_case *c = ctx;
	struct v2path *p = NULL;
	struct iza_error err;
	char buf[256] = "";

	(void)line;
	(void)entry;
	ck_assert_msg(v2path_compile(c->path, &p, &err) == 0, "%s: %s", c->path,
		      err.text);
	v2path_eval(p, msg, collect, buf);
	ck_assert_msg(strcmp(buf, c->expect) == 0, "%s: got '%s', want '%s'",
		      c->path, buf, c->expect);
	v2path_free(p);
	return 0;
}

/* path on the first message of an XML (or, with er7, ER7) text */
static void eval_in(const char *text, bool er7, const char *path,
		    const char *expect)
{
	struct eval_case c = {path, expect};

	with_messages(er7 ? &adapter_hl7v2_er7 : &adapter_hl7v2_xml, text,
		      eval_one, &c);
}

static void eval(const char *xml, const char *path, const char *expect)
{
	eval_in(xml, false, path, expect);
}

START_TEST(v2_paths)
{
	struct v2path *p = NULL;
	struct iza_error err;

	eval(v27, "PV1-2.1", "I");
	eval(v23, "PV1-2.1", "E");
	eval(v27, "PID-3[4.1='NLMINBIZA'].1", "111222333");
	eval(v27, "PID-3[4.1!='NLMINBIZA'].1", "MRN77");
	eval(v23, "PID-3[4.1='NLMINBIZA'].1", "123456782");
	eval(v23, "PID-3[4!='NLMINBIZA'].1", "MRN9");
	eval(v27, "PID-3.1", "MRN77,111222333");
	eval(v27, "PID-3(2).1", "111222333");
	eval(v27, "MSH-9.2", "A01");
	eval(v23, "MSH-9", "ADT"); /* first component */
	eval(v27, "PID-11.5", "1012 AB");
	eval(v27, "PV1-45", "");
	eval(v27, "ZBE-1", "");
	ck_assert_int_eq(v2path_compile("PV1-0", &p, &err), -IZA_EMAPPING);
	ck_assert_int_eq(v2path_compile("pv1-2", &p, &err), -IZA_EMAPPING);
	ck_assert_int_eq(v2path_compile("PV1-2.1x", &p, &err), -IZA_EMAPPING);
	ck_assert_ptr_nonnull(strstr(err.text, "column 8"));
	ck_assert_int_eq(v2path_compile("PID-3[4='x", &p, &err), -IZA_EMAPPING);
}
END_TEST

static struct vocabulary *voc;
static struct refdata *rd;
static struct pseudo *ps;

static void setup(void)
{
	static const uint8_t key[IZA_KEY_LEN] = {9};
	struct iza_error err;

	ck_assert_int_eq(
	    vocabulary_load(testutil_src("mappings/vocabulary.json"), &voc,
			    &err),
	    0);
	ck_assert_int_eq(
	    refdata_load(testutil_src("mappings/regions"), &rd, &err), 0);
	ck_assert_int_eq(pseudo_new(key, &ps), 0);
}

static void teardown(void)
{
	pseudo_free(ps);
	refdata_free(rd);
	vocabulary_free(voc);
}

struct map_case {
	struct mapper *mp;
	struct map_result *r;
	struct iza_error *why;
	long n;
};

static int map_one_v2(void *ctx, const struct v2msg *msg, long line, long entry)
{
	struct map_case *c = ctx;

	(void)line;
	(void)entry;
	if (c->n++ == 0)
		ck_assert_int_eq(
		    mapper_map_v2(c->mp, "06010713", "msz", msg, c->r, c->why),
		    0);
	return 0;
}

static void map_with(const char *mapfile, const char *text, bool v2, bool er7,
		     struct map_result *r, struct iza_error *why)
{
	struct mapping *m = NULL;
	struct mapper *mp = NULL;
	struct iza_error err;

	ck_assert_msg(
	    mapping_load(mapfile[0] == '/' ? mapfile : testutil_src(mapfile),
			 voc, &m, &err) == 0,
	    "%s", err.text);
	ck_assert_int_eq(mapper_new(m, ps, rd, "ZK02",
				    (long)days_from_civil(2025, 6, 1), &mp),
			 0);
	iza_error_clear(why);
	if (v2) {
		struct map_case c = {mp, r, why, 0};

		with_messages(er7 ? &adapter_hl7v2_er7 : &adapter_hl7v2_xml,
			      text, map_one_v2, &c);
		ck_assert_int_eq(c.n, 1);
	} else {
		xmlDoc *doc = xmlReadMemory(text, (int)strlen(text), NULL, NULL,
					    XML_PARSE_NONET);

		ck_assert_ptr_nonnull(doc);
		ck_assert_int_eq(mapper_map_xml(mp, "06010713", "msz",
						xmlDocGetRootElement(doc), r,
						why),
				 0);
		xmlFreeDoc(doc);
	}
	mapper_free(mp);
	mapping_free(m);
}

static void map_xml(const char *mapfile, const char *xml, struct map_result *r,
		    struct iza_error *why)
{
	map_with(mapfile, xml, strstr(mapfile, "hl7v2") != NULL, false, r, why);
}

START_TEST(hl7v2_mapping)
{
	struct map_result r;
	struct iza_error why;
	int64_t t;

	/* inpatient visit with admission type E: an emergency admission,
	 * not an ER visit */
	map_xml("mappings/hl7v2.json", v27, &r, &why);
	ck_assert_msg(r.outcome == MAP_ENCOUNTER, "%d %s %s", r.outcome,
		      why.field, why.text);
	ck_assert(r.with_patient);
	ck_assert_int_eq(r.patient.has_bsn, 1);
	ck_assert_int_eq(r.patient.pc4, 1012);
	ck_assert_int_eq(r.patient.birth_year, 1950);
	ck_assert_str_eq(r.patient.sex, "female");
	ck_assert_int_eq(r.in_region, 1);
	ck_assert_int_eq(r.nevents, 1);
	ck_assert_str_eq(r.events[0].type, "admission");
	ck_assert_str_eq(r.events[0].status, "in-progress");
	ck_assert_str_eq(r.events[0].source_id, "V123");
	ck_assert_str_eq(r.events[0].provider, "06010713");
	ck_assert_int_eq(
	    parse_fhir_instant("2025-03-10T14:00:00+01:00", 25, &t), 0);
	ck_assert(r.events[0].start == t);
	ck_assert(r.events[0].end == IZA_TIME_NONE);
	/* the encounter's patient key is the patient's */
	ck_assert(memcmp(r.events[0].patient_key, r.patient.patient_key,
			 IZA_HASH_LEN) == 0);

	/* v2.3 registration of an ER visit, patient in Deventer */
	map_xml("mappings/hl7v2.json", v23, &r, &why);
	ck_assert_int_eq(r.outcome, MAP_ENCOUNTER);
	ck_assert_str_eq(r.events[0].type, "er_visit");
	ck_assert_str_eq(r.events[0].status, "arrived");
	ck_assert_int_eq(r.in_region, 0);
	ck_assert_int_eq(
	    parse_fhir_instant("2025-01-04T11:00:00+01:00", 25, &t), 0);
	ck_assert(r.events[0].end == t);
}
END_TEST

/* An hl7v2 mapping with xpath: paths reads the tree v2msg_to_doc() makes
 * of the model (ER7 element names, in urn:hl7-org:v2xml) for either
 * encoding, and gives what the v2 field paths give. */
START_TEST(hl7v2_xpath_paths)
{
	static const char er7[] =
	    "MSH|^~\\&|HIS|06010713|||20250310143000+0100||ADT^A01|1|P|2.5\r"
	    "PID|1||MRN77^^^ZKH~111222333^^^NLMINBIZA||||19500517|F|||"
	    "^^^^1012 AB\rPV1|1|I||E|||||||||||||||V123||||||||||||||||||"
	    "|||||||20250310140000\r";
	char *tmp = testutil_tmpdir(), path[512];
	size_t len;
	char *json = testutil_slurp(testutil_src("mappings/hl7v2.json"), &len);
	const char *from = "\"id\": {\"path\": \"PV1-19.1\"";
	const char *to = "\"id\": {\"path\": "
			 "\"xpath:string(v2:PV1/v2:PV1.19)\"";
	char *at = strstr(json, from), *text;
	struct map_result r, x;
	struct iza_error why;
	FILE *f;

	ck_assert_ptr_nonnull(at);
	text = malloc(len + 256);
	ck_assert_ptr_nonnull(text);
	/* the id from an XPath, and the v2 namespace declared */
	snprintf(text, len + 256, "%.*s%s%s", (int)(at - json), json, to,
		 at + strlen(from));
	at = strstr(text, "\"maps\":");
	ck_assert_ptr_nonnull(at);
	snprintf(path, sizeof(path), "%s/hl7v2-xpath.json", tmp);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%.*s\"namespaces\": {\"v2\": \"urn:hl7-org:v2xml\"}, %s",
		(int)(at - text), text, at);
	fclose(f);
	map_with(path, er7, true, true, &x, &why);
	ck_assert_msg(x.outcome == MAP_ENCOUNTER, "%d %s %s", x.outcome,
		      why.field, why.text);
	ck_assert_str_eq(x.events[0].source_id, "V123");
	map_with("mappings/hl7v2.json", er7, true, true, &r, &why);
	ck_assert_int_eq(r.outcome, MAP_ENCOUNTER);
	ck_assert_str_eq(r.events[0].type, x.events[0].type);
	ck_assert(memcmp(r.patient.patient_key, x.patient.patient_key,
			 IZA_HASH_LEN) == 0);
	/* the XML encoding: the same tree, so the same XPath */
	map_with(path, v27, true, false, &x, &why);
	ck_assert_int_eq(x.outcome, MAP_ENCOUNTER);
	ck_assert_str_eq(x.events[0].source_id, "V123");
	free(text);
	free(json);
	testutil_rmrf(tmp);
	free(tmp);
}
END_TEST

static const char cda_doc[] =
    "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">"
    "<id root=\"2.16.528.1\" extension=\"doc1\"/>"
    "<effectiveTime value=\"20250301120000+0100\"/>"
    "<recordTarget><patientRole>"
    "<id root=\"2.16.840.1.113883.2.4.6.3\" extension=\"999999990\"/>"
    "<id root=\"2.16.528.1.9\" extension=\"P42\"/>"
    "<addr><postalCode>1012 AB</postalCode></addr>"
    "<patient><administrativeGenderCode code=\"M\"/>"
    "<birthTime value=\"19800101\"/></patient></patientRole></recordTarget>"
    "<componentOf><encompassingEncounter><id root=\"1.2\" extension=\"E7\"/>"
    "<code code=\"99213\" codeSystem=\"2.16.840.1.113883.6.12\">"
    "<translation code=\"EMER\" codeSystem=\"2.16.840.1.113883.5.4\"/></code>"
    "<effectiveTime><low value=\"20250301100000\"/>"
    "<high value=\"20250301113000\"/></effectiveTime>"
    "</encompassingEncounter></componentOf></ClinicalDocument>";

START_TEST(cda_mapping)
{
	struct map_result r;
	struct iza_error why;
	static const char no_enc[] =
	    "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><recordTarget>"
	    "<patientRole><id root=\"2.16.528.1.9\" extension=\"P43\"/>"
	    "</patientRole></recordTarget></ClinicalDocument>";

	map_xml("mappings/cda.json", cda_doc, &r, &why);
	ck_assert_msg(r.outcome == MAP_ENCOUNTER, "%d %s %s", r.outcome,
		      why.field, why.text);
	ck_assert(r.with_patient);
	ck_assert_int_eq(r.patient.has_bsn, 1);
	ck_assert_int_eq(r.patient.birth_year, 1980);
	ck_assert_int_eq(r.nevents, 1);
	ck_assert_str_eq(r.events[0].type, "er_visit"); /* via translation */
	ck_assert_str_eq(r.events[0].source_id, "E7");
	ck_assert_str_eq(r.events[0].status, "finished");

	map_xml("mappings/cda.json", no_enc, &r, &why);
	ck_assert_int_eq(r.outcome, MAP_PATIENT);
	ck_assert_int_eq(r.patient.has_bsn, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("v2mapping");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, v2_paths);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hl7v2_mapping);
	tcase_add_test(tc, hl7v2_xpath_paths);
	tcase_add_test(tc, cda_mapping);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
