/* Unit tests for the flat HL7 v2 message model (adapters/v2msg.c) as both
 * adapters fill it (adapters/hl7v2.c): the entries of ER7 and XML
 * messages, the same message in both encodings giving the same entries,
 * v2.7 and v2.3 style XML giving the same path values, and the hardening
 * of the SAX2 path against the attack files.  Synthetic data only. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hl7v2.h"
#include "input.h"
#include "testutil.h"
#include "v2msg.h"
#include "v2path.h"

struct got {
	char dump[8192]; /* entries of the first message */
	char vals[1024]; /* path values of every message */
	const char *path;
	long messages, bad;
	enum quarantine_reason reason[8];
	char why[8][IZA_ERR_TEXT_MAX];
	int rc;
	struct iza_error err;
};

static void add(char *buf, size_t size, const char *s)
{
	size_t n = strlen(buf);

	snprintf(buf + n, size - n, "%s", s);
}

/* One line per entry: SEG-f(r)[.c[.s]], then "*" (parts), "!" (no value)
 * or "=value". */
static void dump(const struct v2msg *m, char *buf, size_t size)
{
	size_t i;

	buf[0] = '\0';
	add(buf, size, m->name);
	add(buf, size, "\n");
	for (i = 0; i < m->n; i++) {
		const struct v2msg_entry *e = &m->e[i];
		char line[512];
		int k;

		k = snprintf(line, sizeof(line), "%s-%u(%u)",
			     m->segs[e->seg].id, e->field, e->rep);
		if (e->comp)
			k += snprintf(line + k, sizeof(line) - (size_t)k, ".%u",
				      e->comp);
		if (e->sub)
			k += snprintf(line + k, sizeof(line) - (size_t)k, ".%u",
				      e->sub);
		if (e->flags & V2E_PARTS)
			snprintf(line + k, sizeof(line) - (size_t)k, "*\n");
		else if (e->flags & V2E_NOVAL)
			snprintf(line + k, sizeof(line) - (size_t)k, "!\n");
		else
			snprintf(line + k, sizeof(line) - (size_t)k, "=%s\n",
				 v2msg_value(m, e));
		add(buf, size, line);
	}
}

static int collect(void *ctx, const char *v, size_t len)
{
	struct got *g = ctx;
	char one[256];

	snprintf(one, sizeof(one), "%s%.*s", g->vals[0] ? "," : "", (int)len,
		 v);
	add(g->vals, sizeof(g->vals), one);
	return 0;
}

static int on_message(void *ctx, const struct v2msg *msg, long line, long entry)
{
	struct got *g = ctx;

	(void)line;
	(void)entry;
	if (g->messages++ == 0)
		dump(msg, g->dump, sizeof(g->dump));
	if (g->path) {
		struct v2path *p = NULL;
		struct iza_error err;

		ck_assert_int_eq(v2path_compile(g->path, &p, &err), 0);
		v2path_eval(p, msg, collect, g);
		v2path_free(p);
	}
	return 0;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	struct got *g = ctx;

	(void)line;
	(void)entry;
	(void)raw;
	(void)rawlen;
	if (g->bad < 8) {
		g->reason[g->bad] = reason;
		snprintf(g->why[g->bad], sizeof(g->why[0]), "%s", why->text);
	}
	g->bad++;
	return 0;
}

static void run_input(const struct adapter *ad, struct input *in, size_t cap,
		      struct got *g)
{
	const struct adapter_limits lim = {
	    .max_line = cap, .max_doc = 4u << 20, .max_depth = 64};
	struct adapter_sink sink = {
	    .ctx = g, .v2_message = on_message, .bad = on_bad};

	iza_error_clear(&g->err);
	g->rc = ad->run(in, &lim, &sink, &g->err);
}

/* Run an adapter over bytes from memory. */
static void run_bytes(const struct adapter *ad, const char *s, size_t len,
		      size_t cap, const char *path, struct got *g)
{
	struct input *in = NULL;
	struct iza_error err;
	char name[64];
	int fd = memfd_create("v2msg", 0);

	memset(g, 0, sizeof(*g));
	g->path = path;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, len), (ssize_t)len);
	snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
	ck_assert_int_eq(input_open(name, &in, &err), 0);
	run_input(ad, in, cap, g);
	input_close(in);
	close(fd);
}

static void run_text(const struct adapter *ad, const char *s, const char *path,
		     struct got *g)
{
	run_bytes(ad, s, strlen(s), 1u << 20, path, g);
}

/* ER7: repetitions (one empty), components, subcomponents, escapes. */
static const char er7[] =
    "MSH|^~\\&|HIS|06010713|||20250310143000||ADT^A01|1|P|2.5\r"
    "PID|1||MRN77^^^ZKH~~111222333^^^NLMINBIZA&2.16.840.1.113883.2.4.6.3&"
    "ISO||Jans\\S\\en\\T\\x^P\\.br\\Q|\\X41\\|F\r"
    "PV1|1|E|||||||||||||||||V123\r";

static const char er7_entries[] = "ADT_A01\n"
				  "MSH-1(1)=|\n"
				  "MSH-2(1)=^~\\&\n"
				  "MSH-3(1)=HIS\n"
				  "MSH-4(1)=06010713\n"
				  "MSH-7(1)=20250310143000\n"
				  "MSH-9(1)*\n"
				  "MSH-9(1).1=ADT\n"
				  "MSH-9(1).2=A01\n"
				  "MSH-10(1)=1\n"
				  "MSH-11(1)=P\n"
				  "MSH-12(1)=2.5\n"
				  "PID-1(1)=1\n"
				  "PID-3(1)*\n"
				  "PID-3(1).1=MRN77\n"
				  "PID-3(1).4=ZKH\n"
				  "PID-3(2)=\n"
				  "PID-3(3)*\n"
				  "PID-3(3).1=111222333\n"
				  "PID-3(3).4*\n"
				  "PID-3(3).4.1=NLMINBIZA\n"
				  "PID-3(3).4.2=2.16.840.1.113883.2.4.6.3\n"
				  "PID-3(3).4.3=ISO\n"
				  "PID-5(1)*\n"
				  "PID-5(1).1=Jans^en&x\n"
				  "PID-5(1).2=P\nQ\n"
				  "PID-6(1)=A\n"
				  "PID-7(1)=F\n"
				  "PV1-1(1)=1\n"
				  "PV1-2(1)=E\n"
				  "PV1-19(1)=V123\n";

START_TEST(er7_entries_and_values)
{
	struct got g;

	run_text(&adapter_hl7v2_er7, er7, "PID-3[4.1='NLMINBIZA'].1", &g);
	ck_assert_int_eq(g.rc, 0);
	ck_assert_int_eq(g.messages, 1);
	ck_assert_str_eq(g.dump, er7_entries);
	ck_assert_str_eq(g.vals, "111222333");
	run_text(&adapter_hl7v2_er7, er7, "PID-3(2).1", &g);
	ck_assert_str_eq(g.vals, ""); /* the empty repetition keeps place */
	run_text(&adapter_hl7v2_er7, er7, "PID-3(3).4.2", &g);
	ck_assert_str_eq(g.vals, "2.16.840.1.113883.2.4.6.3");
	run_text(&adapter_hl7v2_er7, er7, "PID-3.4", &g);
	ck_assert_str_eq(g.vals, "ZKH,NLMINBIZA"); /* first subcomponent */
	run_text(&adapter_hl7v2_er7, er7, "PID-5", &g);
	ck_assert_str_eq(g.vals, "Jans^en&x"); /* first component */
	run_text(&adapter_hl7v2_er7, er7, "PV1-2.1.1", &g);
	ck_assert_str_eq(g.vals, "E"); /* a leaf is its own first part */
	run_text(&adapter_hl7v2_er7, er7, "PV1-2.2", &g);
	ck_assert_str_eq(g.vals, "");
}
END_TEST

/* The same message in the XML encoding, typed names as in v2.5 XML. */
static const char xml_same[] =
    "<?xml version=\"1.0\"?>\n"
    "<ADT_A01 xmlns=\"urn:hl7-org:v2xml\">\n"
    "<MSH><MSH.1>|</MSH.1><MSH.2>^~\\&amp;</MSH.2><MSH.3>HIS</MSH.3>"
    "<MSH.4>06010713</MSH.4><MSH.7>20250310143000</MSH.7>"
    "<MSH.9><MSG.1>ADT</MSG.1><MSG.2>A01</MSG.2></MSH.9>"
    "<MSH.10>1</MSH.10><MSH.11>P</MSH.11><MSH.12>2.5</MSH.12></MSH>\n"
    "<ADT_A01.PATIENT><PID><PID.1>1</PID.1>"
    "<PID.3><CX.1>MRN77</CX.1><CX.4>ZKH</CX.4></PID.3><PID.3/>"
    "<PID.3><CX.1>111222333</CX.1><CX.4><HD.1>NLMINBIZA</HD.1>"
    "<HD.2>2.16.840.1.113883.2.4.6.3</HD.2><HD.3>ISO</HD.3></CX.4>"
    "</PID.3><PID.5><XPN.1>Jans^en&amp;x</XPN.1><XPN.2>P\nQ</XPN.2>"
    "</PID.5><PID.6>&#65;</PID.6><PID.7><![CDATA[F]]></PID.7></PID>"
    "</ADT_A01.PATIENT>\n"
    "<PV1><PV1.1>1</PV1.1><PV1.2>E</PV1.2><PV1.19>V123</PV1.19></PV1>\n"
    "</ADT_A01>\n";

START_TEST(xml_gives_the_same_entries)
{
	struct got g;

	run_text(&adapter_hl7v2_xml, xml_same, "PID-3[4.1='NLMINBIZA'].1", &g);
	ck_assert_msg(g.rc == 0, "%s", g.err.text);
	ck_assert_int_eq(g.messages, 1);
	ck_assert_str_eq(g.dump, er7_entries);
	ck_assert_str_eq(g.vals, "111222333");
}
END_TEST

/* PV1-2 as a v2.7 CWE and in v2.3 style: other entries, same values. */
START_TEST(cwe_and_plain_read_alike)
{
	static const char v27[] =
	    "<ADT_A01 xmlns=\"urn:hl7-org:v2xml\"><MSH><MSH.9><MSG.1>ADT"
	    "</MSG.1><MSG.2>A01</MSG.2></MSH.9></MSH><PV1><PV1.2><CWE.1>E"
	    "</CWE.1><CWE.3>HL70004</CWE.3></PV1.2></PV1></ADT_A01>";
	static const char v23[] =
	    "<ADT_A01><MSH><MSH.9><MSH.9.1>ADT</MSH.9.1><MSH.9.2>A01"
	    "</MSH.9.2></MSH.9></MSH><PV1><PV1.2>E</PV1.2></PV1></ADT_A01>";
	static const char *const paths[] = {"PV1-2", "PV1-2.1", "PV1-2.1.1",
					    "MSH-9.2", "PV1-2(1)"};
	size_t i;
	struct got a, b;

	run_text(&adapter_hl7v2_xml, v27, NULL, &a);
	ck_assert_str_eq(a.dump, "ADT_A01\nMSH-9(1)*\nMSH-9(1).1=ADT\n"
				 "MSH-9(1).2=A01\nPV1-2(1)*\nPV1-2(1).1=E\n"
				 "PV1-2(1).3=HL70004\n");
	run_text(&adapter_hl7v2_xml, v23, NULL, &b);
	ck_assert_str_eq(b.dump, "ADT_A01\nMSH-9(1)*\nMSH-9(1).1=ADT\n"
				 "MSH-9(1).2=A01\nPV1-2(1)=E\n");
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		run_text(&adapter_hl7v2_xml, v27, paths[i], &a);
		run_text(&adapter_hl7v2_xml, v23, paths[i], &b);
		ck_assert_msg(strcmp(a.vals, b.vals) == 0 && a.vals[0],
			      "%s: '%s' vs '%s'", paths[i], a.vals, b.vals);
	}
	run_text(&adapter_hl7v2_xml, v27, "PV1-2.3", &a);
	ck_assert_str_eq(a.vals, "HL70004");
}
END_TEST

/* What only XML can say: mixed content, repeated and unnumbered parts,
 * deeper nesting, nested segments, other namespaces. */
START_TEST(xml_structure_rules)
{
	static const char doc[] =
	    "<batch><x:ADT_A01 xmlns:x=\"urn:hl7-org:v2xml\"><x:PID>"
	    "<x:PID.3>text<x:CX.1>A</x:CX.1>more<x:CX.1>B</x:CX.1><x:foo>z"
	    "</x:foo><x:CX.4><x:HD.1><x:Y.1>deep</x:Y.1></x:HD.1>"
	    "<x:HD.2><x:Y.2>no</x:Y.2></x:HD.2></x:CX.4></x:PID.3>"
	    "<x:PID.8>M</x:PID.8><x:ZZZ><x:ZZZ.1>in</x:ZZZ.1></x:ZZZ>"
	    "<x:PID.8>F</x:PID.8></x:PID></x:ADT_A01>"
	    "<o:ADT_A02 xmlns:o=\"urn:other\"><PID><PID.8>X</PID.8></PID>"
	    "</o:ADT_A02></batch>";
	struct got g;

	run_text(&adapter_hl7v2_xml, doc, "PID-8", &g);
	ck_assert_msg(g.rc == 0, "%s", g.err.text);
	ck_assert_int_eq(g.messages, 1); /* urn:other is not v2 */
	ck_assert_str_eq(g.dump, "ADT_A01\n"
				 "PID-3(1)*\n"
				 "PID-3(1).1=A\n"
				 "PID-3(1).4*\n"
				 "PID-3(1).4.1=deep\n"
				 "PID-3(1).4.2!\n"
				 "PID-8(1)=M\n"
				 "ZZZ-1(1)=in\n"
				 "PID-8(2)=F\n");
	ck_assert_str_eq(g.vals, "M,F");
	run_text(&adapter_hl7v2_xml, doc, "ZZZ-1", &g);
	ck_assert_str_eq(g.vals, "in"); /* found inside PID */
	run_text(&adapter_hl7v2_xml, doc, "PID-3(1).4.2", &g);
	ck_assert_str_eq(g.vals, "");
	run_text(&adapter_hl7v2_xml, doc, "PID-3[4.2!='x'].1", &g);
	ck_assert_str_eq(g.vals, "A"); /* absent differs from any text */
}
END_TEST

/* The tree for XPath mappings: ER7 naming for both encodings. */
START_TEST(tree_from_the_model)
{
	static const char msg[] =
	    "MSH|^~\\&|A|B|||1||ADT^A04\rPID|1||1^^^X&Y~\rZXY|~a~\r";
	enum quarantine_reason reason;
	struct iza_error why;
	struct v2msg m;
	xmlDocPtr doc = NULL;
	xmlBufferPtr b = xmlBufferCreate();

	v2msg_init(&m);
	ck_assert_int_eq(hl7v2_er7_parse(msg, strlen(msg), &m, &reason, &why),
			 0);
	ck_assert_int_eq(v2msg_to_doc(&m, &doc), 0);
	xmlNodeDump(b, doc, xmlDocGetRootElement(doc), 0, 0);
	ck_assert_str_eq(
	    (const char *)xmlBufferContent(b),
	    "<ADT_A04 xmlns=\"urn:hl7-org:v2xml\"><MSH><MSH.1>|</MSH.1>"
	    "<MSH.2>^~\\&amp;</MSH.2><MSH.3>A</MSH.3><MSH.4>B</MSH.4>"
	    "<MSH.7>1</MSH.7><MSH.9><MSH.9.1>ADT</MSH.9.1><MSH.9.2>A04"
	    "</MSH.9.2></MSH.9></MSH><PID><PID.1>1</PID.1><PID.3><PID.3.1>1"
	    "</PID.3.1><PID.3.4><PID.3.4.1>X</PID.3.4.1><PID.3.4.2>Y"
	    "</PID.3.4.2></PID.3.4></PID.3><PID.3/></PID><ZXY><ZXY.1/>"
	    "<ZXY.1>a</ZXY.1><ZXY.1/></ZXY></ADT_A04>");
	xmlBufferFree(b);
	xmlFreeDoc(doc);
	/* the storage is reused: a second message replaces the first */
	ck_assert_int_eq(
	    hl7v2_er7_parse("MSH|^~\\&|C\r", 11, &m, &reason, &why),
	    -IZA_EMISSING);
	ck_assert_uint_eq(m.n, 0);
	v2msg_release(&m);
}
END_TEST

static void run_attack(const char *file, struct got *g)
{
	struct input *in = NULL;
	struct iza_error err;
	char rel[128];

	memset(g, 0, sizeof(*g));
	snprintf(rel, sizeof(rel), "tests/data/xml-attacks/%s", file);
	ck_assert_int_eq(input_open(testutil_src(rel), &in, &err), 0);
	run_input(&adapter_hl7v2_xml, in, 1u << 20, g);
	input_close(in);
}

/* The hardening of xml_secure.h on the SAX2 path. */
START_TEST(xml_attacks)
{
	static const char *const refused[] = {
	    "xxe_file.xml", "xxe_http.xml", "xxe_parameter.xml",
	    "billion_laughs.xml", "quadratic_blowup.xml"};
	struct got g;
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		run_attack(refused[i], &g);
		ck_assert_msg(g.rc == -IZA_EINVALID, "%s: %d", refused[i],
			      g.rc);
		ck_assert_int_eq(g.messages, 0);
		ck_assert_ptr_nonnull(strstr(g.err.text, "declares entities"));
		ck_assert_ptr_null(strstr(g.err.text, "root:"));
	}
	run_attack("xxe_external_dtd.xml", &g);
	ck_assert_ptr_null(strstr(g.dump, "root:"));
	run_attack("undeclared_entity_ref.xml", &g);
	ck_assert_msg(g.rc == 0, "%s", g.err.text);
	ck_assert_int_eq(g.messages, 1);
	ck_assert_int_eq(g.bad, 1);
	ck_assert_ptr_nonnull(strstr(g.why[0], "entity reference"));
	/* record 41 (line 44) is bad: unlike the reader's look-ahead, every
	 * message before it is delivered, record 41 is reported */
	run_attack("invalid_utf8.xml", &g);
	ck_assert_int_eq(g.rc, -IZA_EUTF8);
	ck_assert_int_eq(g.messages, 40);
	ck_assert_int_eq(g.bad, 1);
	ck_assert_int_eq(g.err.line, 44);
	ck_assert_ptr_nonnull(strstr(g.err.text, "message 41"));
	ck_assert_ptr_nonnull(strstr(g.err.text, "UTF-8"));
	ck_assert_ptr_null(strstr(g.err.text, "0x"));
	ck_assert_ptr_null(strstr(g.err.text, "ller"));
	run_attack("bad_encoding_decl.xml", &g);
	ck_assert_int_lt(g.rc, 0);
	ck_assert_ptr_nonnull(strstr(g.err.text, "ncoding"));
	run_attack("wrong_encoding_decl.xml", &g);
	ck_assert_int_lt(g.rc, 0);
}
END_TEST

/* Caps: a huge text element stops after about the cap; too deep and too
 * many elements refuse the message only. */
START_TEST(xml_caps)
{
	size_t big = 8u << 20, i, n;
	char *s = malloc(big + 256);
	struct got g;

	ck_assert_ptr_nonnull(s);
	n = (size_t)snprintf(s, 256, "<b><ADT_A01><PID><PID.5>");
	memset(s + n, 'x', big);
	n += big;
	n += (size_t)snprintf(s + n, 256, "</PID.5></PID></ADT_A01></b>");
	run_bytes(&adapter_hl7v2_xml, s, n, 1u << 20, NULL, &g);
	ck_assert_int_eq(g.rc, -IZA_ETOOBIG);
	ck_assert_int_eq(g.bad, 1);
	ck_assert_int_eq(g.reason[0], QR_TOO_LARGE);

	/* 100 deep inside a message (cap 64), then a good message */
	n = (size_t)snprintf(s, 256, "<b><ADT_A01><PID>");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(s + n, 16, "<PID.1>");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(s + n, 16, "</PID.1>");
	n += (size_t)snprintf(s + n, 256,
			      "</PID></ADT_A01><ADT_A02><PID><PID.8>F</PID.8>"
			      "</PID></ADT_A02></b>");
	run_bytes(&adapter_hl7v2_xml, s, n, 1u << 20, "PID-8", &g);
	ck_assert_msg(g.rc == 0, "%s", g.err.text);
	ck_assert_int_eq(g.bad, 1);
	ck_assert_ptr_nonnull(strstr(g.why[0], "deeper than 64"));
	ck_assert_int_eq(g.messages, 1);
	ck_assert_str_eq(g.vals, "F");

	/* more than 100,000 elements in one message */
	n = (size_t)snprintf(s, 256, "<ADT_A01><PID>");
	for (i = 0; i < 100001; i++)
		n += (size_t)snprintf(s + n, 16, "<PID.1/>");
	n += (size_t)snprintf(s + n, 256, "</PID></ADT_A01>");
	run_bytes(&adapter_hl7v2_xml, s, n, 4u << 20, NULL, &g);
	ck_assert_msg(g.rc == 0, "%s", g.err.text);
	ck_assert_int_eq(g.messages, 0);
	ck_assert_int_eq(g.bad, 1);
	ck_assert_int_eq(g.reason[0], QR_TOO_LARGE);
	free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("v2msg");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, er7_entries_and_values);
	tcase_add_test(tc, xml_gives_the_same_entries);
	tcase_add_test(tc, cwe_and_plain_read_alike);
	tcase_add_test(tc, xml_structure_rules);
	tcase_add_test(tc, tree_from_the_model);
	tcase_add_test(tc, xml_attacks);
	tcase_add_test(tc, xml_caps);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
