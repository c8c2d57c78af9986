/* Unit tests for the hardened XML reader (adapters/xml_secure.c): XXE,
 * entity expansion attacks, depth, size and node caps, bad encodings;
 * every case must end in a clear error with bounded time and memory, and
 * no file contents may ever appear anywhere. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "input.h"
#include "testutil.h"
#include "xml_secure.h"

#define ATTACKS "tests/data/xml-attacks/"

struct run {
	xmlBufferPtr out; /* serialised records and their text content */
	char errors[4096];
	size_t errlen;
	int records, refused;
	int rc;
	long line; /* line of the fatal error */
	struct iza_error err;
};

static void add_error(struct run *run, const struct iza_error *e)
{
	char buf[512];
	size_t n;

	iza_error_format(e, buf, sizeof(buf));
	n = strlen(buf);
	if (run->errlen + n + 2 < sizeof(run->errors)) {
		memcpy(run->errors + run->errlen, buf, n);
		run->errlen += n;
		run->errors[run->errlen++] = '\n';
		run->errors[run->errlen] = '\0';
	}
}

/* Every element named ADT_A01 is a record. */
static void drive(struct input *in, const struct xml_limits *lim,
		  struct run *run)
{
	struct xml_reader *r;
	int rc;

	memset(run, 0, sizeof(*run));
	run->out = xmlBufferCreate();
	ck_assert_ptr_nonnull(run->out);
	ck_assert_int_eq(xml_reader_new(in, lim, &r, &run->err), 0);
	rc = xml_reader_next(r, &run->err);
	while (rc == 1) {
		xmlTextReaderPtr tr = xml_reader_raw(r);
		const xmlChar *name = xmlTextReaderConstLocalName(tr);
		xmlNodePtr node;
		struct iza_error e;

		if (xmlTextReaderNodeType(tr) != XML_READER_TYPE_ELEMENT ||
		    !name || strcmp((const char *)name, "ADT_A01") != 0) {
			rc = xml_reader_next(r, &run->err);
			continue;
		}
		iza_error_clear(&e);
		if (xml_reader_expand(r, &node, &e) == 0) {
			xmlChar *text = xmlNodeGetContent(node);

			xmlNodeDump(run->out, node->doc, node, 0, 0);
			if (text)
				xmlBufferCat(run->out, text);
			xmlFree(text);
			run->records++;
		} else {
			run->refused++;
			add_error(run, &e);
			if (xml_reader_broken(r)) {
				run->err = e;
				rc = e.code;
				break;
			}
		}
		rc = xml_reader_skip(r, &run->err);
	}
	run->rc = rc < 0 ? rc : 0;
	if (rc < 0) {
		run->line = run->err.line;
		add_error(run, &run->err);
	}
	xml_reader_free(r);
	if (getenv("IZA_TEST_VERBOSE"))
		fprintf(stderr, "records %d refused %d rc %d\n%s", run->records,
			run->refused, run->rc, run->errors);
}

static void run_file(const char *rel, const struct xml_limits *lim,
		     struct run *run)
{
	struct input *in;
	struct iza_error err;

	ck_assert_int_eq(input_open(testutil_src(rel), &in, &err), 0);
	drive(in, lim, run);
	input_close(in);
}

static void run_done(struct run *run)
{
	xmlBufferFree(run->out);
}

/* Nothing from /etc/passwd anywhere: records, text, errors. */
static void assert_no_passwd(const struct run *run)
{
	const char *out = (const char *)xmlBufferContent(run->out);

	ck_assert_ptr_null(strstr(out ? out : "", "root:"));
	ck_assert_ptr_null(strstr(run->errors, "root:"));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long max_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static const struct xml_limits small = {
    .max_depth = 64, .max_record = 1u << 20, .max_nodes = 100000};

START_TEST(xxe_file_entity)
{
	struct run run;

	run_file(ATTACKS "xxe_file.xml", &small, &run);
	ck_assert_int_eq(run.rc, -IZA_EINVALID);
	ck_assert_int_eq(run.records, 0);
	ck_assert_ptr_nonnull(strstr(run.errors, "declares entities"));
	ck_assert_int_ge(run.line, 3);
	assert_no_passwd(&run);
	run_done(&run);
}
END_TEST

START_TEST(xxe_http_entity)
{
	double t0 = now();
	struct run run;

	run_file(ATTACKS "xxe_http.xml", &small, &run);
	ck_assert_int_eq(run.rc, -IZA_EINVALID);
	ck_assert_int_eq(run.records, 0);
	ck_assert(now() - t0 < 2.0); /* no network wait */
	assert_no_passwd(&run);
	run_done(&run);
}
END_TEST

START_TEST(xxe_parameter_entity)
{
	struct run run;

	run_file(ATTACKS "xxe_parameter.xml", &small, &run);
	ck_assert_int_lt(run.rc, 0);
	ck_assert_int_eq(run.records, 0);
	assert_no_passwd(&run);
	run_done(&run);
}
END_TEST

START_TEST(external_dtd_never_loaded)
{
	struct run run;

	run_file(ATTACKS "xxe_external_dtd.xml", &small, &run);
	ck_assert_int_eq(run.rc, 0);
	ck_assert_int_eq(run.records, 1);
	ck_assert_ptr_nonnull(
	    strstr((const char *)xmlBufferContent(run.out), "Jansen"));
	assert_no_passwd(&run);
	run_done(&run);
}
END_TEST

/* Defence in depth: even code that asks libxml2 for entity substitution and
 * DTD loading gets nothing from the file system once xml_secure_init()
 * installed the refusing loader. */
START_TEST(loader_refuses_even_with_noent)
{
	const char *paths[] = {ATTACKS "xxe_file.xml",
			       ATTACKS "xxe_parameter.xml",
			       ATTACKS "xxe_external_dtd.xml"};
	size_t i;

	xml_secure_init();
	ck_assert_ptr_null(
	    xmlLoadExternalEntity("file:///etc/passwd", NULL, NULL));
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		size_t len;
		char *data = testutil_slurp(testutil_src(paths[i]), &len);
		xmlDocPtr doc = xmlReadMemory(
		    data, (int)len, NULL, NULL,
		    XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR |
			XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

		if (doc) {
			xmlChar *mem = NULL;
			int n = 0;

			xmlDocDumpMemory(doc, &mem, &n);
			ck_assert_ptr_null(
			    strstr(mem ? (const char *)mem : "", "root:"));
			xmlFree(mem);
			xmlFreeDoc(doc);
		}
		free(data);
	}
}
END_TEST

START_TEST(billion_laughs)
{
	double t0 = now();
	long rss0 = max_rss_kb();
	struct run run;

	run_file(ATTACKS "billion_laughs.xml", &small, &run);
	ck_assert_int_lt(run.rc, 0);
	ck_assert_int_eq(run.records, 0);
	ck_assert(now() - t0 < 2.0);
	ck_assert_int_lt(max_rss_kb() - rss0, 16 * 1024);
	run_done(&run);
}
END_TEST

START_TEST(quadratic_blowup)
{
	double t0 = now();
	long rss0 = max_rss_kb();
	struct run run;

	run_file(ATTACKS "quadratic_blowup.xml", &small, &run);
	ck_assert_int_eq(run.rc, -IZA_EINVALID);
	ck_assert_int_eq(run.records, 0);
	ck_assert(now() - t0 < 2.0);
	ck_assert_int_lt(max_rss_kb() - rss0, 16 * 1024);
	run_done(&run);
}
END_TEST

START_TEST(undeclared_entity_reference_refused)
{
	struct run run;

	run_file(ATTACKS "undeclared_entity_ref.xml", &small, &run);
	ck_assert_int_eq(run.rc, 0);
	ck_assert_int_eq(run.refused, 1);
	ck_assert_int_eq(run.records, 1);
	ck_assert_ptr_nonnull(strstr(run.errors, "entity reference"));
	ck_assert_ptr_nonnull(strstr(run.errors, ":5:"));
	run_done(&run);
}
END_TEST

START_TEST(bad_encoding_declaration)
{
	struct run run;

	run_file(ATTACKS "bad_encoding_decl.xml", &small, &run);
	ck_assert_int_lt(run.rc, 0);
	ck_assert_int_eq(run.records, 0);
	ck_assert_ptr_nonnull(strstr(run.errors, "ncoding"));
	run_done(&run);

	run_file(ATTACKS "wrong_encoding_decl.xml", &small, &run);
	ck_assert_int_lt(run.rc, 0);
	ck_assert_int_eq(run.records, 0);
	run_done(&run);
}
END_TEST

START_TEST(invalid_utf8_names_the_line)
{
	struct run run;

	run_file(ATTACKS "invalid_utf8.xml", &small, &run);
	ck_assert_int_eq(run.rc, -IZA_EUTF8);
	/* the records before it are delivered, but for those still in the
	 * reader's look-ahead (about 4.5 KB) when the error was found */
	ck_assert_int_ge(run.records, 20);
	ck_assert_int_le(run.records, 40);
	ck_assert_int_eq(run.line, 44);
	ck_assert_ptr_nonnull(strstr(run.errors, "UTF-8"));
	/* no bytes of the name in the error */
	ck_assert_ptr_null(strstr(run.errors, "0x"));
	ck_assert_ptr_null(strstr(run.errors, "ller"));
	run_done(&run);
}
END_TEST

/* Write data to a temp file and drive it. */
static void run_bytes(const char *data, size_t len,
		      const struct xml_limits *lim, struct run *run)
{
	char *dir = testutil_tmpdir();
	char path[512];
	struct input *in;
	struct iza_error err;
	FILE *f;

	snprintf(path, sizeof(path), "%s/doc.xml", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(input_open(path, &in, &err), 0);
	drive(in, lim, run);
	ck_assert_int_le(input_bytes(in), len);
	input_close(in);
	testutil_rmrf(dir);
	free(dir);
}

static char *repeat(const char *head, const char *unit, size_t times,
		    const char *unit2, size_t times2, const char *tail,
		    size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), u2 = strlen(unit2),
	       tl = strlen(tail), i;
	size_t n = hl + ul * times + u2 * times2 + tl;
	char *buf = malloc(n + 1), *p = buf;

	ck_assert_ptr_nonnull(buf);
	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < times; i++, p += ul)
		memcpy(p, unit, ul);
	for (i = 0; i < times2; i++, p += u2)
		memcpy(p, unit2, u2);
	memcpy(p, tail, tl);
	p[tl] = '\0';
	*len = n;
	return buf;
}

START_TEST(deep_nesting_100000)
{
	long rss0 = max_rss_kb();
	double t0 = now();
	size_t len;
	char *doc = repeat("<batch>\n<ADT_A01>", "<a>", 100000, "</a>", 100000,
			   "</ADT_A01></batch>\n", &len);
	struct xml_limits deflim = {0};
	struct run run;

	run_bytes(doc, len, &small, &run);
	ck_assert_int_eq(run.rc, -IZA_ETOODEEP);
	ck_assert_int_eq(run.records, 0);
	ck_assert_ptr_nonnull(strstr(run.errors, "dep"));
	ck_assert_int_eq(run.line, 2);
	run_done(&run);
	/* default limits: libxml2's own 256 cap */
	run_bytes(doc, len, &deflim, &run);
	ck_assert_int_eq(run.rc, -IZA_ETOODEEP);
	ck_assert_int_eq(run.records, 0);
	run_done(&run);
	/* outside any record */
	memcpy(doc + 8, "<ZZZ_A01>", 9);
	run_bytes(doc, len, &small, &run);
	ck_assert_int_eq(run.rc, -IZA_ETOODEEP);
	run_done(&run);
	free(doc);
	ck_assert(now() - t0 < 5.0);
	ck_assert_int_lt(max_rss_kb() - rss0, 32 * 1024);
}
END_TEST

START_TEST(too_many_nodes)
{
	size_t len;
	char *doc = repeat("<batch><ADT_A01>", "<x a='1' b='2'/>", 150000, "",
			   0, "</ADT_A01><ADT_A01/></batch>", &len);
	struct xml_limits lim = small;
	struct run run;

	lim.max_record = 16u << 20;
	run_bytes(doc, len, &lim, &run);
	ck_assert_int_eq(run.rc, -IZA_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(run.errors, "100000"));
	run_done(&run);
	free(doc);
	/* under the '<' cap but over the node cap (attributes count): the
	 * record is refused, the next one still delivered */
	doc = repeat("<batch><ADT_A01>", "<x a='1' b='2' c='3'/>", 40, "", 0,
		     "</ADT_A01><ADT_A01/></batch>", &len);
	lim.max_nodes = 100;
	run_bytes(doc, len, &lim, &run);
	ck_assert_int_eq(run.rc, 0);
	ck_assert_int_eq(run.refused, 1);
	ck_assert_int_eq(run.records, 1);
	run_done(&run);
	free(doc);
}
END_TEST

/* A 1 GB text element streamed through a pipe: refused after about
 * max_record bytes, quickly, with bounded memory. */
static void huge_element(const struct xml_limits *lim, size_t max_read)
{
	static const char head[] =
	    "<?xml version=\"1.0\"?>\n<batch>\n<ADT_A01><PID><PID.5>";
	long rss0 = max_rss_kb();
	double t0 = now();
	struct input *in;
	struct iza_error err;
	struct run run;
	char path[64];
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static char chunk[1 << 16];
		size_t total = 0;

		close(fds[0]);
		memset(chunk, 'a', sizeof(chunk));
		if (write(fds[1], head, sizeof(head) - 1) < 0)
			_exit(1);
		while (total < (1ull << 30)) {
			if (write(fds[1], chunk, sizeof(chunk)) < 0)
				_exit(0); /* reader gave up: expected */
			total += sizeof(chunk);
		}
		_exit(2); /* the reader read the whole gigabyte */
	}
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	ck_assert_int_eq(input_open(path, &in, &err), 0);
	drive(in, lim, &run);
	ck_assert_int_lt(run.rc, 0);
	ck_assert_int_eq(run.records, 0);
	ck_assert_int_le(input_bytes(in), max_read);
	ck_assert_int_eq(run.line, 3);
	input_close(in);
	close(fds[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ck_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 2));
	ck_assert(now() - t0 < 10.0);
	ck_assert_int_lt(max_rss_kb() - rss0, 64 * 1024);
	run_done(&run);
}

START_TEST(one_gigabyte_element_small_cap)
{
	huge_element(&small, 4u << 20);
}
END_TEST

START_TEST(one_gigabyte_element_default_cap)
{
	struct xml_limits deflim = {0};

	/* libxml2's 10 MB text cap or ours (16 MiB), whichever first */
	huge_element(&deflim, 24u << 20);
}
END_TEST

START_TEST(malformed_record_then_stop)
{
	size_t len;
	char *doc = repeat("<batch>\n", "<ADT_A01><PID/></ADT_A01>\n", 400,
			   "<ADT_A01><PID></ADT_A01>\n", 1,
			   "<ADT_A01/></batch>\n", &len);
	struct run run;

	run_bytes(doc, len, &small, &run);
	free(doc);
	ck_assert_int_eq(run.rc, -IZA_EPARSE);
	ck_assert_int_ge(run.records, 200);
	ck_assert_int_le(run.records, 400);
	ck_assert_int_eq(run.line, 402);
	ck_assert_ptr_nonnull(strstr(run.errors, "not well-formed"));
	run_done(&run);
}
END_TEST

START_TEST(bytes_hashed_and_counted)
{
	static const char doc[] = "<batch>\n<ADT_A01><PID/></ADT_A01>\n"
				  "<ADT_A01><PV1/></ADT_A01>\n</batch>\n";
	char *dir = testutil_tmpdir();
	char path[512], hex[65];
	struct input *in;
	struct iza_error err;
	struct run run;
	FILE *f;

	snprintf(path, sizeof(path), "%s/d.xml", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fwrite(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	ck_assert_int_eq(input_open(path, &in, &err), 0);
	drive(in, &small, &run);
	ck_assert_int_eq(run.rc, 0);
	ck_assert_int_eq(run.records, 2);
	ck_assert_int_eq(input_bytes(in), sizeof(doc) - 1);
	input_sha256_hex(in, hex);
	ck_assert_int_eq(strlen(hex), 64);
	input_close(in);
	run_done(&run);
	testutil_rmrf(dir);
	free(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("xml_secure");
	TCase *tc = tcase_create("attacks");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, xxe_file_entity);
	tcase_add_test(tc, xxe_http_entity);
	tcase_add_test(tc, xxe_parameter_entity);
	tcase_add_test(tc, external_dtd_never_loaded);
	tcase_add_test(tc, loader_refuses_even_with_noent);
	tcase_add_test(tc, billion_laughs);
	tcase_add_test(tc, quadratic_blowup);
	tcase_add_test(tc, undeclared_entity_reference_refused);
	tcase_add_test(tc, bad_encoding_declaration);
	tcase_add_test(tc, invalid_utf8_names_the_line);
	tcase_add_test(tc, deep_nesting_100000);
	tcase_add_test(tc, too_many_nodes);
	tcase_add_test(tc, one_gigabyte_element_small_cap);
	tcase_add_test(tc, one_gigabyte_element_default_cap);
	tcase_add_test(tc, malformed_record_then_stop);
	tcase_add_test(tc, bytes_hashed_and_counted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
