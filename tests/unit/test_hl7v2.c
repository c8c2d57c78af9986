/* Unit tests for the HL7 v2 adapters (adapters/hl7v2.c): data-driven case
 * folders tests/data/hl7v2/<case>/ with input.hl7 (ER7) or input.xml (XML
 * encoding) and expected.txt, found at run time; plus sniffing and the ER7
 * element contract.  IZA_UPDATE_EXPECTED=1 rewrites expected.txt. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7v2.h"
#include "input.h"
#include "testutil.h"

struct out {
	xmlBufferPtr b;
	long records, bad;
};

static void cat(struct out *o, const char *s)
{
	xmlBufferCat(o->b, (const xmlChar *)s);
}

/* A delivered message: its tree as v2msg_to_doc() builds it (for ER7 the
 * tree the adapter used to deliver). */
static int on_message(void *ctx, const struct v2msg *msg, long line, long entry)
{
	struct out *o = ctx;
	xmlDocPtr doc = NULL;
	char head[96];

	snprintf(head, sizeof(head), "message %ld line %ld\n", entry, line);
	cat(o, head);
	ck_assert_int_eq(v2msg_to_doc(msg, &doc), 0);
	xmlNodeDump(o->b, doc, xmlDocGetRootElement(doc), 0, 1);
	xmlFreeDoc(doc);
	cat(o, "\n");
	o->records++;
	return 0;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	struct out *o = ctx;
	char head[96];

	(void)entry;
	(void)why;
	(void)raw;
	(void)rawlen;
	snprintf(head, sizeof(head), "line %ld %s\n", line,
		 quarantine_reason_name(reason));
	cat(o, head);
	o->bad++;
	return 0;
}

static const struct adapter_limits lim = {
    .max_line = 1u << 20, .max_doc = 4u << 20, .max_depth = 64};

/* Run an adapter over a file; the output as described in expected.txt. */
static char *run_adapter(const struct adapter *ad, const char *path,
			 struct out *o)
{
	struct adapter_sink sink = {
	    .ctx = o, .v2_message = on_message, .bad = on_bad};
	struct input *in;
	struct iza_error err;
	char *res;
	int rc;

	memset(o, 0, sizeof(*o));
	o->b = xmlBufferCreate();
	ck_assert_int_eq(input_open(path, &in, &err), 0);
	iza_error_clear(&err);
	rc = ad->run(in, &lim, &sink, &err);
	if (rc) {
		char line[128];

		snprintf(line, sizeof(line), "fatal line %ld %s\n", err.line,
			 iza_errname(rc));
		cat(o, line);
	}
	input_close(in);
	res = strdup((const char *)xmlBufferContent(o->b));
	xmlBufferFree(o->b);
	ck_assert_ptr_nonnull(res);
	return res;
}

START_TEST(case_folders)
{
	glob_t g;
	size_t i, ncases = 0;
	int failed = 0;

	ck_assert_int_eq(
	    glob(testutil_src("tests/data/hl7v2/*/input.*"), 0, NULL, &g), 0);
	for (i = 0; i < g.gl_pathc; i++) {
		const char *path = g.gl_pathv[i];
		const struct adapter *ad = strstr(path, "input.xml")
					       ? &adapter_hl7v2_xml
					       : &adapter_hl7v2_er7;
		char exp_path[1024], *slash;
		struct out o;
		char *got = run_adapter(ad, path, &o);
		FILE *f;

		snprintf(exp_path, sizeof(exp_path), "%s", path);
		slash = strrchr(exp_path, '/');
		snprintf(slash + 1,
			 sizeof(exp_path) - (size_t)(slash + 1 - exp_path),
			 "expected.txt");
		if (getenv("IZA_UPDATE_EXPECTED")) {
			f = fopen(exp_path, "wb");
			ck_assert_ptr_nonnull(f);
			fputs(got, f);
			fclose(f);
		} else {
			size_t len;
			char *want = testutil_slurp(exp_path, &len);

			if (strcmp(want, got) != 0) {
				fprintf(stderr, "case %s differs:\n%s\n", path,
					got);
				failed++;
			}
			free(want);
		}
		free(got);
		ncases++;
	}
	globfree(&g);
	ck_assert_int_ge(ncases, 19);
	ck_assert_msg(failed == 0, "%d case(s) differ", failed);
}
END_TEST

/* The tree of an ER7 message string. */
static xmlDocPtr er7_doc(const char *msg)
{
	enum quarantine_reason reason;
	struct iza_error why;
	struct v2msg m;
	xmlDocPtr doc = NULL;

	v2msg_init(&m);
	ck_assert_int_eq(hl7v2_er7_parse(msg, strlen(msg), &m, &reason, &why),
			 0);
	ck_assert_int_eq(v2msg_to_doc(&m, &doc), 0);
	v2msg_release(&m);
	return doc;
}

static char *dump(xmlDocPtr doc)
{
	xmlBufferPtr b = xmlBufferCreate();
	char *s;

	xmlNodeDump(b, doc, xmlDocGetRootElement(doc), 0, 0);
	s = strdup((const char *)xmlBufferContent(b));
	xmlBufferFree(b);
	return s;
}

START_TEST(er7_contract)
{
	xmlDocPtr doc =
	    er7_doc("MSH|^~\\&|A|06010713|||20240101||ADT^A04^ADT_A01|1|P|2.5"
		    "\rPID|1||1^^^X~2^^^NLMINBIZA&2.16&ISO^NNNLD||"
		    "A\\S\\B^C\rPV1|1|E||E\rZXY|~a~\r");
	char *s = dump(doc);

	/* trigger event names the root; MSH.1/MSH.2 as text */
	ck_assert_ptr_nonnull(strstr(
	    s, "<ADT_A04 xmlns=\"urn:hl7-org:v2xml\"><MSH><MSH.1>|</MSH.1>"
	       "<MSH.2>^~\\&amp;</MSH.2><MSH.3>A</MSH.3>"));
	/* repetitions are siblings; subcomponents only where present */
	ck_assert_ptr_nonnull(strstr(
	    s, "<PID.3><PID.3.1>1</PID.3.1><PID.3.4>X</PID.3.4></PID.3>"
	       "<PID.3><PID.3.1>2</PID.3.1><PID.3.4><PID.3.4.1>NLMINBIZA"
	       "</PID.3.4.1><PID.3.4.2>2.16</PID.3.4.2><PID.3.4.3>ISO"
	       "</PID.3.4.3></PID.3.4><PID.3.5>NNNLD</PID.3.5></PID.3>"));
	/* escapes decoded after splitting */
	ck_assert_ptr_nonnull(strstr(
	    s, "<PID.5><PID.5.1>A^B</PID.5.1><PID.5.2>C</PID.5.2></PID.5>"));
	/* a one-component field is plain text: PV1-2 vs PV1-4 */
	ck_assert_ptr_nonnull(
	    strstr(s, "<PV1><PV1.1>1</PV1.1><PV1.2>E</PV1.2><PV1.4>E</PV1.4>"
		      "</PV1>"));
	/* empty repetitions keep positions */
	ck_assert_ptr_nonnull(
	    strstr(s, "<ZXY><ZXY.1/><ZXY.1>a</ZXY.1><ZXY.1/></ZXY>"));
	free(s);
	xmlFreeDoc(doc);
}
END_TEST

START_TEST(er7_errors_carry_no_values)
{
	static const char *bad[] = {
	    "MSH|^~\\&|A|B|||20240101||ADT^A01|1|P|2.5|||||NL|UNICODE "
	    "UTF-8\rPID|1||1||Jans\xffPRIVATE\r",
	    "MSH|^~\\&|A|B|||20240101||ADT^A01|1|P|2.5\rPID|1||1||Ja\x01"
	    "PRIVATE\r",
	    "MSH|^~\\&|A|B|||20240101||ADT^A01|1|P|2.5\rpid|PRIVATE\r",
	    "MSH|^~\\&|A|B|||20240101|||1|P|2.5\rPID|PRIVATE\r",
	    "MSH|^^\\&|A|PRIVATE\r",
	    "MSHPRIVATE\r",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum quarantine_reason reason;
		struct iza_error why;
		struct v2msg m;
		char buf[512];

		iza_error_clear(&why);
		v2msg_init(&m);
		ck_assert_int_lt(
		    hl7v2_er7_parse(bad[i], strlen(bad[i]), &m, &reason, &why),
		    0);
		ck_assert_uint_eq(m.n, 0);
		v2msg_release(&m);
		iza_error_format(&why, buf, sizeof(buf));
		ck_assert_msg(strstr(buf, "PRIVATE") == NULL, "%s", buf);
		ck_assert_msg(strstr(buf, "Jans") == NULL, "%s", buf);
	}
}
END_TEST

START_TEST(too_many_elements)
{
	size_t n = 300000, i;
	char *msg = malloc(64 + 2 * n);
	enum quarantine_reason reason;
	struct iza_error why;
	struct v2msg m;
	size_t len;

	ck_assert_ptr_nonnull(msg);
	v2msg_init(&m);
	len = (size_t)snprintf(msg, 64, "MSH|^~\\&|A|B|||1||ADT^A01\rPID");
	for (i = 0; i < n; i++) {
		msg[len++] = '|';
		msg[len++] = 'x';
	}
	ck_assert_int_eq(hl7v2_er7_parse(msg, len, &m, &reason, &why),
			 -IZA_ETOOBIG);
	ck_assert_int_eq(reason, QR_TOO_LARGE);
	v2msg_release(&m);
	free(msg);
}
END_TEST

START_TEST(sniffing)
{
	static const char er7[] = "MSH|^~\\&|A|B\r";
	static const char mllp[] = "\x0b"
				   "MSH|^~\\&|A|B\r";
	static const char bom_er7[] = "\xef\xbb\xbf\r\nMSH#@*$!#A\r";
	static const char fhs[] = "FHS|^~\\&|A\r";
	static const char xml[] =
	    "<?xml version=\"1.0\"?>\n<!-- x -->\n<ADT_A01 "
	    "xmlns=\"urn:hl7-org:v2xml\"><MSH/></ADT_A01>";
	static const char batch[] = "<?xml version=\"1.0\"?><batch><v2:ADT_A03 "
				    "xmlns:v2=\"urn:hl7-org:v2xml\"/></batch>";
	static const char nsonly[] =
	    "<Messages xmlns=\"urn:hl7-org:v2xml\"><Other/></Messages>";
	static const char cda[] =
	    "<?xml version=\"1.0\"?><ClinicalDocument "
	    "xmlns=\"urn:hl7-org:v3\"><id root=\"1\"/></ClinicalDocument>";
	static const char fhir[] = "{\"resourceType\":\"Encounter\"}\n";
	static const char text[] = "MS|x\rMSHA|\r";

	ck_assert_int_ge(adapter_hl7v2_er7.sniff(er7, sizeof(er7) - 1), 80);
	ck_assert_int_ge(adapter_hl7v2_er7.sniff(mllp, sizeof(mllp) - 1), 80);
	ck_assert_int_ge(adapter_hl7v2_er7.sniff(bom_er7, sizeof(bom_er7) - 1),
			 80);
	ck_assert_int_ge(adapter_hl7v2_er7.sniff(fhs, sizeof(fhs) - 1), 50);
	ck_assert_int_eq(adapter_hl7v2_xml.sniff(er7, sizeof(er7) - 1), 0);
	ck_assert_int_ge(adapter_hl7v2_xml.sniff(xml, sizeof(xml) - 1), 80);
	ck_assert_int_ge(adapter_hl7v2_xml.sniff(batch, sizeof(batch) - 1), 50);
	ck_assert_int_ge(adapter_hl7v2_xml.sniff(nsonly, sizeof(nsonly) - 1),
			 50);
	ck_assert_int_eq(adapter_hl7v2_er7.sniff(xml, sizeof(xml) - 1), 0);
	ck_assert_int_eq(adapter_hl7v2_xml.sniff(cda, sizeof(cda) - 1), 0);
	ck_assert_int_eq(adapter_hl7v2_er7.sniff(cda, sizeof(cda) - 1), 0);
	ck_assert_int_eq(adapter_hl7v2_xml.sniff(fhir, sizeof(fhir) - 1), 0);
	ck_assert_int_eq(adapter_hl7v2_er7.sniff(fhir, sizeof(fhir) - 1), 0);
	ck_assert_int_eq(adapter_hl7v2_er7.sniff(text, sizeof(text) - 1), 0);
	ck_assert_int_eq(adapter_hl7v2_er7.sniff("", 0), 0);
	ck_assert_int_eq(adapter_hl7v2_xml.sniff("", 0), 0);
	ck_assert_int_eq(adapter_hl7v2_xml.sniff("<", 1), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hl7v2");
	TCase *tc = tcase_create("adapters");

	tcase_add_test(tc, case_folders);
	tcase_add_test(tc, er7_contract);
	tcase_add_test(tc, er7_errors_carry_no_values);
	tcase_add_test(tc, too_many_elements);
	tcase_add_test(tc, sniffing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
