/*
 * Unit tests for the CDA R2 adapter (adapters/cda.c).
 *
 * Data-driven cases: every tests/data/cda/<case>/input.xml is run through
 * adapter_cda and what reaches the sink is written as text and compared
 * with <case>/expected.txt:
 *
 *   record <entry> line <line>
 *   <xmlNodeDump(root, format=1) of the delivered header>
 *   bad <entry> line <line> <quarantine reason>: <why.text>
 *
 * (Set CDA_WRITE_EXPECTED=1 to (re)write expected.txt files after reviewing
 * a change.)  Then the 20 public C-CDA documents from HL7's example
 * repository, a header checked field by field, memory with a huge body
 * streamed through a pipe, XXE, and sniffing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "cda.h"
#include "testutil.h"

/* ---- a sink that writes what it receives as text ---- */

struct out {
	char *buf;
	size_t len, cap;
	long records, bad, encounters;
	enum quarantine_reason last_reason;
	/* an optional field check run on each header */
	void (*check)(xmlNodePtr root, long entry);
};

static void out_add(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->buf = realloc(o->buf, o->cap);
		ck_assert_ptr_nonnull(o->buf);
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void out_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof(line));
	out_add(o, line, (size_t)n);
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (n = n ? n->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    xmlStrEqual(n->name, BAD_CAST name) && n->ns &&
		    xmlStrEqual(n->ns->href, BAD_CAST CDA_NS))
			return n;
	return NULL;
}

static int on_record(void *ctx, struct _xmlNode *root, long line, long entry)
{
	struct out *o = ctx;
	xmlBufferPtr b = xmlBufferCreate();

	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq((const char *)root->name, "ClinicalDocument");
	ck_assert_ptr_null(child(root, "component"));
	o->records++;
	if (child(child(root, "componentOf"), "encompassingEncounter"))
		o->encounters++;
	if (o->check)
		o->check(root, entry);
	out_printf(o, "record %ld line %ld\n", entry, line);
	ck_assert_int_ge(xmlNodeDump(b, root->doc, root, 0, 1), 0);
	out_add(o, (const char *)xmlBufferContent(b),
		(size_t)xmlBufferLength(b));
	out_add(o, "\n", 1);
	xmlBufferFree(b);
	return 0;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	struct out *o = ctx;

	(void)raw;
	(void)rawlen;
	ck_assert_int_lt(reason, QR_COUNT_);
	ck_assert_int_lt(why->code, 0);
	o->bad++;
	o->last_reason = reason;
	out_printf(o, "bad %ld line %ld %s: %s\n", entry, line,
		   quarantine_reason_name(reason), why->text);
	return 0;
}

static const struct adapter_limits limits = {
    .max_line = ADAPTER_DEFAULT_MAX_LINE,
    .max_doc = ADAPTER_DEFAULT_MAX_DOC,
    .max_depth = 64,
};

static int run_path(const char *path, struct out *o)
{
	const struct adapter_sink sink = {
	    .ctx = o, .xml_record = on_record, .bad = on_bad};
	struct input *in;
	struct iza_error err;
	int rc;

	ck_assert_msg(input_open(path, &in, &err) == 0, "cannot open %s", path);
	iza_error_clear(&err);
	rc = adapter_cda.run(in, &limits, &sink, &err);
	input_close(in);
	return rc;
}

static void out_free(struct out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

/* ---- data-driven case folders ---- */

START_TEST(case_folders)
{
	glob_t g;
	size_t i;
	bool write = getenv("CDA_WRITE_EXPECTED") != NULL;

	ck_assert_int_eq(
	    glob(testutil_src("tests/data/cda/*/input.xml"), 0, NULL, &g), 0);
	ck_assert_int_ge(g.gl_pathc, 8);
	for (i = 0; i < g.gl_pathc; i++) {
		char exp_path[4096];
		struct out o = {0};
		char *want;
		size_t n = strlen(g.gl_pathv[i]) - strlen("input.xml");

		ck_assert_int_eq(run_path(g.gl_pathv[i], &o), 0);
		snprintf(exp_path, sizeof(exp_path), "%.*sexpected.txt", (int)n,
			 g.gl_pathv[i]);
		if (write) {
			FILE *f = fopen(exp_path, "w");

			ck_assert_ptr_nonnull(f);
			fputs(o.buf ? o.buf : "", f);
			fclose(f);
		}
		want = testutil_slurp(exp_path, NULL);
		ck_assert_msg(strcmp(want, o.buf ? o.buf : "") == 0,
			      "%s: got\n%s\nwant\n%s", g.gl_pathv[i],
			      o.buf ? o.buf : "", want);
		free(want);
		out_free(&o);
	}
	globfree(&g);
}
END_TEST

/* ---- the public C-CDA examples ---- */

/*
 * How many of the 20 public documents carry componentOf/
 * encompassingEncounter, determined independently of this adapter with
 * libxml2-utils (Debian package libxml2-utils):
 *
 *   cd ../shared/data/cda-hl7-examples
 *   xmllint --nonet --xpath 'count(/node()[local-name()="ClinicalDocument"
 *       and namespace-uri()="urn:hl7-org:v3"]/node()[local-name()=
 *       "componentOf" and namespace-uri()="urn:hl7-org:v3"]/node()[
 *       local-name()="encompassingEncounter" and
 *       namespace-uri()="urn:hl7-org:v3"])' *.xml *.XML | paste -sd+ | bc
 *   -> 10
 */
#define PUBLIC_DOCS	  20
#define PUBLIC_ENCOUNTERS 10

START_TEST(public_examples)
{
	glob_t g;
	struct out all = {0};
	size_t i, ndocs = 0;

	ck_assert_int_eq(
	    glob(testutil_shared("cda-hl7-examples/*.[xX][mM][lL]"), 0, NULL,
		 &g),
	    0);
	for (i = 0; i < g.gl_pathc; i++) {
		struct out o = {0};

		ck_assert_int_eq(run_path(g.gl_pathv[i], &o), 0);
		ck_assert_msg(o.records == 1 && o.bad == 0, "%s: %s",
			      g.gl_pathv[i], o.buf);
		all.encounters += o.encounters;
		ndocs++;
		out_free(&o);
	}
	globfree(&g);
	ck_assert_int_eq(ndocs, PUBLIC_DOCS);
	ck_assert_int_eq(all.encounters, PUBLIC_ENCOUNTERS);
}
END_TEST

static char *xpath_str(xmlNodePtr root, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(root->doc);
	xmlXPathObjectPtr r;
	char *s;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(
	    xmlXPathRegisterNs(ctx, BAD_CAST "hl7", BAD_CAST CDA_NS), 0);
	ctx->node = root;
	r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	ck_assert_ptr_nonnull(r);
	s = (char *)xmlXPathCastToString(r);
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
	return s;
}

static void expect_xpath(xmlNodePtr root, const char *expr, const char *want)
{
	char *got = xpath_str(root, expr);

	ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s', want '%s'", expr,
		      got, want);
	xmlFree(got);
}

/* Values read from the file with xmllint --xpath (local-name() paths). */
static void check_care_plan(xmlNodePtr root, long entry)
{
	ck_assert_int_eq(entry, 1);
	expect_xpath(root, "string(hl7:id/@root)",
		     "db734647-fc99-424c-a864-7e3cda82e703");
	expect_xpath(root, "string(hl7:code/@code)", "52521-2");
	expect_xpath(root, "string(hl7:effectiveTime/@value)",
		     "201308201120-0800");
	expect_xpath(root, "string(hl7:setId/@root)",
		     "004bb033-b948-4f4c-b5bf-a8dbd7d8dd40");
	expect_xpath(root, "string(hl7:versionNumber/@value)", "2");
	expect_xpath(root,
		     "string(hl7:recordTarget/hl7:patientRole/hl7:id/@root)",
		     "2.16.840.1.113883.4.1");
	expect_xpath(
	    root, "string(hl7:recordTarget/hl7:patientRole/hl7:id/@extension)",
	    "444222222");
	expect_xpath(root,
		     "string(hl7:recordTarget/hl7:patientRole/hl7:addr/"
		     "hl7:postalCode)",
		     "97867");
	expect_xpath(root,
		     "string(hl7:recordTarget/hl7:patientRole/hl7:patient/"
		     "hl7:administrativeGenderCode/@code)",
		     "F");
	expect_xpath(root,
		     "string(hl7:recordTarget/hl7:patientRole/hl7:patient/"
		     "hl7:birthTime/@value)",
		     "19750501");
	expect_xpath(root,
		     "string(hl7:componentOf/hl7:encompassingEncounter/"
		     "hl7:code[@codeSystem='2.16.840.1.113883.5.4']/@code)",
		     "IMP");
	expect_xpath(root,
		     "string(hl7:componentOf/hl7:encompassingEncounter/"
		     "hl7:effectiveTime/hl7:low/@value)",
		     "20130615");
	expect_xpath(root,
		     "string(count(hl7:componentOf/hl7:encompassingEncounter/"
		     "hl7:effectiveTime/hl7:high))",
		     "0");
	expect_xpath(root,
		     "string(hl7:componentOf/hl7:encompassingEncounter/"
		     "hl7:id/@extension)",
		     "9937012");
	expect_xpath(root,
		     "string(hl7:custodian/hl7:assignedCustodian/"
		     "hl7:representedCustodianOrganization/hl7:id/@extension)",
		     "321CX");
	/* the body is not there, and nothing else is either */
	expect_xpath(root, "string(count(hl7:component))", "0");
	expect_xpath(root, "string(count(//hl7:structuredBody))", "0");
	expect_xpath(root, "string(count(//hl7:section))", "0");
	expect_xpath(root, "string(count(hl7:recordTarget))", "1");
	expect_xpath(root, "string(count(hl7:author))", "1");
	/* 27 element children in the file, one of them the body */
	expect_xpath(root, "string(count(*))", "26");
}

START_TEST(public_header_fields)
{
	struct out o = {.check = check_care_plan};

	ck_assert_int_eq(
	    run_path(testutil_shared("cda-hl7-examples/"
				     "Documents_Care_Plan_Care_Plan.xml"),
		     &o),
	    0);
	ck_assert_int_eq(o.records, 1);
	ck_assert_int_eq(o.encounters, 1);
	ck_assert_int_eq(o.bad, 0);
	out_free(&o);
}
END_TEST

/* ---- a huge body through a pipe: memory stays bounded ---- */

struct gen {
	int fd;
	int kind; /* 0: many body sections, 1: one huge base64 text */
	unsigned long long bytes, sent;
	bool complete; /* everything written, up to the end tag */
};

static void put(int fd, const char *s, size_t n, bool *ok)
{
	while (*ok && n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*ok = false; /* reader closed the pipe */
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void *generate(void *arg)
{
	static const char head[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\n"
	    "<id root=\"2.16.528.1.1007.3.3.1\" extension=\"big-1\"/>\n"
	    "<recordTarget><patientRole><id root=\"2.16.840.1.113883.2.4.6.3\""
	    " extension=\"111222333\"/></patientRole></recordTarget>\n"
	    "<component>\n";
	struct gen *g = arg;
	char chunk[65536];
	unsigned long long sent = 0;
	bool ok = true;
	size_t i;

	put(g->fd, head, sizeof(head) - 1, &ok);
	if (g->kind == 0) {
		static const char sec[] =
		    "<component><section><title>t</title><text>"
		    "lorem ipsum dolor sit amet, consectetur adipiscing elit "
		    "sed do eiusmod tempor incididunt ut labore et dolore "
		    "magna aliqua</text></section></component>\n";

		put(g->fd, "<structuredBody>\n", 17, &ok);
		for (i = 0; i + sizeof(sec) < sizeof(chunk);
		     i += sizeof(sec) - 1)
			memcpy(chunk + i, sec, sizeof(sec) - 1);
		while (ok && sent < g->bytes) {
			put(g->fd, chunk, i, &ok);
			sent += i;
		}
		put(g->fd, "</structuredBody>\n", 18, &ok);
	} else {
		put(g->fd,
		    "<nonXMLBody><text mediaType=\"application/pdf\" "
		    "representation=\"B64\">",
		    67, &ok);
		memset(chunk, 'A', sizeof(chunk));
		for (i = 76; i < sizeof(chunk); i += 77)
			chunk[i] = '\n';
		while (ok && sent < g->bytes) {
			put(g->fd, chunk, sizeof(chunk), &ok);
			sent += sizeof(chunk);
		}
		put(g->fd, "</text></nonXMLBody>\n", 21, &ok);
	}
	put(g->fd, "</component>\n</ClinicalDocument>\n", 33, &ok);
	g->sent = sent;
	g->complete = ok;
	close(g->fd);
	return NULL;
}

/* Growth of the peak RSS allowed while a huge body streams by.  Under
 * AddressSanitizer the peak is its quarantine of freed blocks (256 MB by
 * default), not our heap, so the bound is checked in the plain builds. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_GROWTH_MAX_KB LONG_MAX
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_GROWTH_MAX_KB LONG_MAX
#endif
#endif
#ifndef RSS_GROWTH_MAX_KB
#define RSS_GROWTH_MAX_KB (64L * 1024)
#endif

static long maxrss_kb(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

static void run_pipe(int kind, unsigned long long bytes, struct out *o,
		     struct gen *res)
{
	struct gen g = {.kind = kind, .bytes = bytes};
	pthread_t t;
	char path[64];
	int fds[2];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(fds), 0);
	g.fd = fds[1];
	ck_assert_int_eq(pthread_create(&t, NULL, generate, &g), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	ck_assert_int_eq(run_path(path, o), 0);
	close(fds[0]); /* a writer still going gets EPIPE and stops */
	pthread_join(t, NULL);
	*res = g;
}

START_TEST(huge_structured_body_streamed)
{
	/* 512 MB of body sections: skipped unbuilt, the header delivered */
	struct out o = {0};
	struct gen g;
	long before = maxrss_kb();

	run_pipe(0, 512ull << 20, &o, &g);
	ck_assert(g.complete && g.sent >= 512ull << 20);
	ck_assert_msg(o.records == 1 && o.bad == 0, "%s", o.buf);
	ck_assert_ptr_null(strstr(o.buf, "lorem"));
	ck_assert_msg(maxrss_kb() - before < RSS_GROWTH_MAX_KB,
		      "max RSS grew by %ld kB", maxrss_kb() - before);
	out_free(&o);
}
END_TEST

START_TEST(huge_text_in_body)
{
	/* one 1 GB base64 text node in nonXMLBody: libxml2 stops at its 10 MB
	 * text node cap (XML_PARSE_HUGE is never set); the document is
	 * reported, the rest of the 1 GB is never read */
	struct out o = {0};
	struct gen g;
	long before = maxrss_kb();

	run_pipe(1, 1ull << 30, &o, &g);
	ck_assert(!g.complete && g.sent < 64ull << 20);
	ck_assert_msg(o.records == 0 && o.bad == 1, "%s", o.buf);
	ck_assert_ptr_nonnull(strstr(o.buf, "record_too_large"));
	ck_assert_ptr_nonnull(strstr(o.buf, "the rest of the file is lost"));
	ck_assert_msg(maxrss_kb() - before < RSS_GROWTH_MAX_KB,
		      "max RSS grew by %ld kB", maxrss_kb() - before);
	out_free(&o);
}
END_TEST

/* ---- XXE: nothing of /etc/passwd appears anywhere ---- */

START_TEST(xxe_refused)
{
	static const char *const cases[] = {
	    "tests/data/cda/xxe-file/input.xml",
	    "tests/data/cda/xxe-parameter/input.xml",
	    "tests/data/cda/xxe-external-dtd/input.xml",
	};
	char *passwd = testutil_slurp("/etc/passwd", NULL);
	char *nl = strchr(passwd, '\n');
	size_t i;

	if (nl)
		*nl = '\0'; /* its first line, e.g. root:x:0:0:... */
	ck_assert_int_gt(strlen(passwd), 4);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct out o = {0};

		ck_assert_int_eq(run_path(testutil_src(cases[i]), &o), 0);
		ck_assert_ptr_nonnull(o.buf);
		ck_assert_msg(strstr(o.buf, passwd) == NULL &&
				  strstr(o.buf, "root:") == NULL,
			      "%s leaked: %s", cases[i], o.buf);
		out_free(&o);
	}
	free(passwd);
}
END_TEST

/* ---- sniffing ---- */

static int sniff(const char *s)
{
	return adapter_cda.sniff(s, strlen(s));
}

START_TEST(sniffing)
{
	ck_assert_int_ge(sniff("<?xml version=\"1.0\"?>\n<ClinicalDocument "
			       "xmlns=\"urn:hl7-org:v3\">"),
			 80);
	ck_assert_int_ge(
	    sniff("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		  "<?xml-stylesheet type=\"text/xsl\" href=\"CDA.xsl\"?>\n"
		  "<!-- a comment <ClinicalDocument> -->\n"
		  "<hl7:ClinicalDocument xmlns:hl7=\"urn:hl7-org:v3\">"),
	    80);
	ck_assert_int_ge(sniff("<batch xmlns=\"urn:hl7-org:v3\">\n"
			       "<ClinicalDocument>"),
			 50);
	/* a cut-off head still counts */
	ck_assert_int_ge(sniff("<ClinicalDocument"), 80);
	/* not CDA */
	ck_assert_int_eq(sniff("<?xml version=\"1.0\"?>\n<ADT_A01 "
			       "xmlns=\"urn:hl7-org:v2xml\"><MSH>"),
			 0);
	ck_assert_int_eq(
	    sniff("<HL7Batch><ADT_A01 xmlns=\"urn:hl7-org:v2xml\">"), 0);
	ck_assert_int_eq(sniff("{\"resourceType\":\"Bundle\"}\n"), 0);
	ck_assert_int_eq(sniff("{\"resourceType\":\"Patient\",\"id\":"
			       "\"ClinicalDocument\"}\n"),
			 0);
	ck_assert_int_ge(sniff("<?xml version=\"1.0\"?>\n<!DOCTYPE "
			       "ClinicalDocument [\n<!ENTITY a \"b\">\n]>\n"
			       "<ClinicalDocument>"),
			 80);
	ck_assert_int_eq(sniff("<MyClinicalDocument xmlns=\"x\">"), 0);
	ck_assert_int_eq(sniff(""), 0);
	ck_assert_int_eq(sniff("<!-- unterminated"), 0);
	ck_assert_int_eq(adapter_cda.sniff("<ClinicalDocument", 3), 0);
}
END_TEST

static Suite *cda_suite(void)
{
	Suite *s = suite_create("cda");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, case_folders);
	tcase_add_test(tc, public_examples);
	tcase_add_test(tc, public_header_fields);
	tcase_add_test(tc, xxe_refused);
	tcase_add_test(tc, sniffing);
	tcase_add_test(tc, huge_structured_body_streamed);
	tcase_add_test(tc, huge_text_in_body);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(cda_suite());
}
