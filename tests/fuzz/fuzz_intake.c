/*
 * fuzz_intake.c - libFuzzer harness for izagw serve's request handling
 * apart from TLS and sockets (gateway/intake.c through intake_handle):
 * routing, the client's certificate serialNumber, the headers
 * (X-IZA-Submission, Content-Length, Content-Type, ...), the body in
 * pieces, spooling, idempotent submissions, $import's queue and polling,
 * GET /batches/{id} with its quarantine list, /metrics and /healthz.
 *
 * Input:
 *
 *   METHOD URL            (URL without ?query, as libmicrohttpd gives it)
 *   PEER                  the certificate's serialNumber; "-": none
 *   Name: value           headers, up to 16, until an empty line; two
 *                         are the harness's own: X-Fuzz-Chunk: N (the body
 *                         in pieces of N bytes) and X-Fuzz-Cut: N (the
 *                         client goes away after N bytes of it)
 *
 *   body
 *
 * The service runs on a throwaway directory (in /dev/shm when there is
 * one) with an upload limit of 8 KiB.  The ingest is the harness's: it
 * checks that the spool file holds exactly the body sent, for the route's
 * format and the certificate's AGB code; a body starting "FAIL" fails, and
 * every line starting 'Q' is a quarantined record (in a quarantine file,
 * as ingest.c keeps them).  The adapters behind the real ingest have
 * harnesses of their own.
 *
 * Every request must get an answer with a status 200..599 (unless the
 * client went away); a JSON answer must parse and an error answer be an
 * OperationOutcome; 201 names its batch in Content-Location; a 202 $import
 * batch must be done when polled within 10 s; afterwards no spool file and
 * no reserved ("receiving") batch may be left.  Replayed over
 * corpus/intake/ by ctest.
 */
#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BODY 8192
#define FUZZ_HEADERS  16
/* a fresh directory after this many inputs, so the batch log stays small */
#define FUZZ_RECYCLE 5000

static struct intake *svc;
static char root[64], dir[96], qdir[96];
static unsigned long inputs, qfiles;

/* what the ingest must find: set before each request, read by the ingest
 * (in this thread, or in the $import worker while this one polls) */
static struct {
	const char *body, *format;
	size_t len;
	char source[16];
} expect;

static void fail(const char *what)
{
	fprintf(stderr, "intake: %s\n", what);
	abort();
}

static int fuzz_ingest(void *ctx, const char *source, const char *path,
		       const char *format, struct ingest_summary *sum,
		       struct iza_error *err)
{
	char *buf = malloc(FUZZ_MAX_BODY + 1), qpath[200];
	FILE *f = fopen(path, "rb"), *q = NULL;
	size_t n = 0, i, line = 1;

	(void)ctx;
	if (!buf || !f)
		fail("the ingest cannot read the spool file");
	n = fread(buf, 1, FUZZ_MAX_BODY + 1, f);
	fclose(f);
	if (strncmp(path, dir, strlen(dir)) != 0)
		fail("a spool file outside the intake directory");
	if (n != expect.len || (n && memcmp(buf, expect.body, n) != 0))
		fail("the spool file is not the body sent");
	if (strcmp(format, expect.format) != 0)
		fail("the ingest got another format than the route's");
	if (strcmp(source, expect.source) != 0)
		fail("the ingest got another source than the certificate's");
	if (n >= 4 && memcmp(buf, "FAIL", 4) == 0) {
		free(buf);
		return iza_error_set(err, -IZA_EPARSE, NULL, 0, NULL,
				     "the fuzz ingest refuses this body");
	}
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < n; i++) {
		if (i == 0 || buf[i - 1] == '\n') {
			sum->records++;
			if (buf[i] == 'Q') {
				if (!q) {
					snprintf(sum->quarantine_file,
						 sizeof(sum->quarantine_file),
						 "fuzz-%lu.ndjson", qfiles++);
					snprintf(qpath, sizeof(qpath), "%s/%s",
						 qdir, sum->quarantine_file);
					q = fopen(qpath, "w");
					if (!q)
						fail(
						    "cannot write a quarantine "
						    "file");
				}
				fprintf(
				    q,
				    "{\"line\":%zu,\"reason\":\"malformed\","
				    "\"field\":\"x\",\"text\":\"fuzz\"}\n",
				    line);
				sum->quarantined++;
				sum->by_reason[QR_MALFORMED]++;
			}
		}
		if (buf[i] == '\n')
			line++;
	}
	if (q)
		fclose(q);
	sum->bytes = n;
	snprintf(sum->sha256, sizeof(sum->sha256), "%064d", 0);
	free(buf);
	return 0;
}

static void fuzz_metrics(void *ctx, FILE *f)
{
	(void)ctx;
	fprintf(f, "# TYPE izagw_fuzz gauge\nizagw_fuzz 1\n");
}

static void empty_dir(const char *d)
{
	char path[400];
	DIR *dp = opendir(d);
	struct dirent *e;

	while (dp && (e = readdir(dp)) != NULL)
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
			unlink(path);
		}
	if (dp)
		closedir(dp);
}

static void cleanup(void)
{
	intake_stop(svc);
	svc = NULL;
	empty_dir(dir);
	empty_dir(qdir);
	rmdir(dir);
	rmdir(qdir);
	rmdir(root);
}

static void setup(void)
{
	struct intake_config c;
	struct iza_error err = {0};

	if (!root[0]) {
		snprintf(root, sizeof(root), "%s/iza-fuzz-intake-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(root))
			fail("mkdtemp");
		snprintf(dir, sizeof(dir), "%s/intake", root);
		snprintf(qdir, sizeof(qdir), "%s/quarantine", root);
		if (mkdir(qdir, 0700) != 0)
			fail("mkdir");
		atexit(cleanup);
	}
	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.quarantine_dir = qdir;
	c.max_body = FUZZ_MAX_BODY;
	c.ingest = fuzz_ingest;
	c.metrics = fuzz_metrics;
	if (intake_open(&c, &svc, &err) != 0) {
		fprintf(stderr, "intake: %s\n", err.text);
		fail("intake_open");
	}
}

/* a new service on empty directories */
static void recycle(void)
{
	intake_stop(svc);
	svc = NULL;
	empty_dir(dir);
	empty_dir(qdir);
	setup();
}

struct headers {
	const char *name[FUZZ_HEADERS], *value[FUZZ_HEADERS];
	int n;
};

static const char *header_of(void *ctx, const char *name)
{
	const struct headers *h = ctx;
	int i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0)
			return h->value[i];
	return NULL;
}

/* The next line of *p (cut off in place), NULL at the end. */
static char *next_line(char **p)
{
	char *s = *p, *nl;

	if (!s)
		return NULL;
	nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static size_t number(const char *s)
{
	char *end = NULL;
	unsigned long v = strtoul(s, &end, 10);

	return end && end != s ? (size_t)v : 0;
}

/* The answer's invariants (see the top). */
static void check_answer(const struct intake_response *r)
{
	json_t *j = NULL;

	if (r->status < 200 || r->status > 599)
		fail("status out of range");
	if (strstr(r->content_type, "json")) {
		j = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
		if (!j)
			fail("a JSON answer that does not parse");
		if (r->status >= 400 &&
		    !json_is_string(json_object_get(j, "resourceType")))
			fail("an error that is no OperationOutcome");
	}
	if (r->status == 201) {
		const char *id = json_string_value(json_object_get(j, "id"));
		char want[64];

		if (!id)
			fail("a 201 without the batch id");
		snprintf(want, sizeof(want), "/batches/%s", id);
		if (strcmp(r->location, want) != 0)
			fail("a 201 whose Content-Location is not its batch");
	}
	if (r->status == 202 && !r->progress[0])
		fail("a 202 without X-Progress");
	json_decref(j);
}

/* Poll a queued $import batch until it is done (200), at most 10 s. */
static void poll_batch(const char *location, const char *peer,
		       struct headers *h)
{
	struct intake_request rq;
	struct intake_response r;
	int i;

	for (i = 0; i < 10000; i++) {
		memset(&rq, 0, sizeof(rq));
		rq.method = "GET";
		rq.url = location;
		rq.peer_serial = peer;
		rq.header = header_of;
		rq.header_ctx = h;
		if (!location[0])
			fail("a 202 without Content-Location");
		if (intake_handle(svc, &rq, &r) != 0)
			fail("no answer to polling a batch");
		check_answer(&r);
		if (r.status != 202) {
			if (r.status != 200)
				fail("a queued batch that cannot be polled");
			intake_response_release(&r);
			return;
		}
		intake_response_release(&r);
		usleep(1000);
	}
	fail("a queued batch not done within 10 s");
}

/* Nothing of a finished request may be left behind. */
static void check_leftovers(void)
{
	char path[200];
	DIR *dp = opendir(dir);
	struct dirent *e;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	while (dp && (e = readdir(dp)) != NULL)
		if (strncmp(e->d_name, "spool-", 6) == 0 ||
		    strncmp(e->d_name, "queued-", 7) == 0)
			fail("a spool file left behind");
	if (dp)
		closedir(dp);
	snprintf(path, sizeof(path), "%s/intake.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM batches WHERE state IN "
			       "('receiving', 'queued', 'ingesting')",
			       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		fail("cannot read the batch log");
	if (sqlite3_column_int64(s, 0) != 0)
		fail("a batch left receiving or queued");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct intake_request rq;
	struct intake_response r;
	struct headers h;
	char *text, *p, *line, *sp, *peer, *url;
	static const struct {
		const char *url, *format;
	} formats[] = {{"/ndjson", "fhir-ndjson"},
		       {"/fhir/$import", "fhir-ndjson"},
		       {"/fhir", "fhir-bundle"},
		       {"/hl7v2", "auto"},
		       {"/cda", "cda"}};
	size_t i;
	int rc;

	if (!svc)
		setup();
	if (++inputs % FUZZ_RECYCLE == 0)
		recycle();
	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	p = text;
	memset(&rq, 0, sizeof(rq));
	memset(&h, 0, sizeof(h));
	line = next_line(&p);
	sp = line ? strchr(line, ' ') : NULL;
	peer = next_line(&p);
	if (!sp || sp == line || !sp[1] || !peer) {
		free(text);
		return 0;
	}
	*sp = '\0';
	url = sp + 1;
	rq.method = line;
	rq.url = url;
	rq.peer_serial = strcmp(peer, "-") == 0 ? NULL : peer;
	while ((line = next_line(&p)) != NULL && line[0]) {
		char *colon = strchr(line, ':');

		if (!colon || h.n == FUZZ_HEADERS)
			continue;
		*colon = '\0';
		for (colon++; *colon == ' '; colon++)
			;
		if (strcasecmp(line, "X-Fuzz-Chunk") == 0)
			rq.chunk = number(colon);
		else if (strcasecmp(line, "X-Fuzz-Cut") == 0)
			rq.cut_after = number(colon);
		else {
			h.name[h.n] = line;
			h.value[h.n++] = colon;
		}
	}
	rq.header = header_of;
	rq.header_ctx = &h;
	rq.body = p ? p : "";
	rq.len = p ? size - (size_t)(p - text) : 0;

	expect.body = rq.body;
	expect.len = rq.len;
	expect.format = "";
	for (i = 0; i < sizeof(formats) / sizeof(*formats); i++)
		if (strcmp(url, formats[i].url) == 0)
			expect.format = formats[i].format;
	snprintf(expect.source, sizeof(expect.source), "%s",
		 rq.peer_serial && strlen(rq.peer_serial) == 12
		     ? rq.peer_serial + 4
		     : "");

	rc = intake_handle(svc, &rq, &r);
	if (rc == 0) {
		check_answer(&r);
		if (r.status == 202 && strcmp(rq.method, "POST") == 0)
			poll_batch(r.location, rq.peer_serial, &h);
	} else if (!rq.cut_after || rq.cut_after >= rq.len || r.closed) {
		fail("a request without an answer");
	}
	intake_response_release(&r);
	check_leftovers();
	free(text);
	return 0;
}
