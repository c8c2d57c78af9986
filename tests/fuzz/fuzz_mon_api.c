/*
 * fuzz_mon_api.c - libFuzzer harness for izamon's request handling apart
 * from TLS (monitor/mon_api.c): routing, path and query parsing, request
 * bodies (attestations), visibility, and every answer's shape.
 *
 * Input: a first line "METHOD URL" (URL with an optional ?query), a second
 * line "ROLE CODE" (insurer 3311, region ZK02 or anything else), the rest
 * the body.  The store (SQLite, in a temporary file) holds the example
 * front-door plan, one enrolled region and one insurer.  Every request must
 * get an answer with a status 200..599, and a JSON answer must parse; an
 * error answer must be an OperationOutcome.  Replayed over corpus/mon_api/
 * by ctest.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalogue.h"
#include "mon_api.h"
#include "mon_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mon_store store;
static struct catalogue cat;
static bool ready;

static void fail(const char *what, const struct iza_error *err)
{
	fprintf(stderr, "mon_api: %s: %s\n", what, err ? err->text : "");
	abort();
}

static void setup(void)
{
	static const char plan_file[] =
	    IZA_SOURCE_DIR "/mappings/plans/zk02-digital-front-door.json";
	struct iza_error err = {0};
	struct mon_region r;
	char path[64], url[80], *body;
	int64_t version;
	enum mon_put res;
	long len;
	FILE *f;
	json_t *doc;
	int fd;

	snprintf(path, sizeof(path), "/tmp/iza-fuzz-api-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		fail("mkstemp", NULL);
	close(fd);
	unlink(path);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	if (catalogue_load(IZA_SOURCE_DIR "/mappings", &cat, &err) != 0)
		fail("catalogue", &err);
	if (mon_store_open(url, true, &store, &err) != 0)
		fail("store", &err);
	memset(&r, 0, sizeof(r));
	snprintf(r.code, sizeof(r.code), "ZK02");
	snprintf(r.cert_sha256, sizeof(r.cert_sha256), "%064d", 1);
	snprintf(r.plans, sizeof(r.plans), "plan-zk02-front-door");
	if (store.ops->region_put(store.impl, &r, &err) != 0 ||
	    store.ops->insurer_put(store.impl, "3311", "2222", &err) != 0)
		fail("enrol", &err);
	f = fopen(plan_file, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		fail("plan file", NULL);
	body = malloc((size_t)len + 1);
	if (!body || fread(body, 1, (size_t)len, f) != (size_t)len)
		fail("plan file", NULL);
	fclose(f);
	body[len] = '\0';
	doc = json_loads(body, 0, NULL);
	if (!json_is_object(doc))
		fail("plan JSON", NULL);
	if (store.ops->doc_put(store.impl, "plan",
			       json_string_value(json_object_get(doc, "id")),
			       body, (size_t)len, "00", 1, &version, &res,
			       &err) != 0)
		fail("plan", &err);
	json_decref(doc);
	free(body);
	ready = true;
}

/* The query argument key of the URL (ctx: the text after '?'), "" when
 * absent (mon_api.h's contract). */
static const char *query_arg(void *ctx, const char *key)
{
	static char value[256];
	const char *q = ctx, *p = q;
	size_t k = strlen(key);

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > k && strncmp(p, key, k) == 0 && p[k] == '=') {
			snprintf(value, sizeof(value), "%.*s", (int)(n - k - 1),
				 p + k + 1);
			return value;
		}
		p = end ? end + 1 : NULL;
	}
	return "";
}

/* "A B" into a and b (each cut to its size); false without a space. */
static bool two_words(const char *s, char *a, size_t na, char *b, size_t nb)
{
	const char *sp = strchr(s, ' ');

	if (!sp || sp == s || !sp[1])
		return false;
	snprintf(a, na, "%.*s", (int)(sp - s), s);
	snprintf(b, nb, "%s", sp + 1);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char method[16] = "", url[512] = "", role[16] = "", code[16] = "";
	char *text, *line2, *body, *query;
	struct mon_api_request rq;
	struct mon_api_response out;
	int handled;

	if (!ready)
		setup();
	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	line2 = strchr(text, '\n');
	body = line2 ? strchr(line2 + 1, '\n') : NULL;
	if (line2)
		*line2++ = '\0';
	if (body)
		*body++ = '\0';
	if (!two_words(text, method, sizeof(method), url, sizeof(url))) {
		free(text);
		return 0;
	}
	if (!line2 || !two_words(line2, role, sizeof(role), code, sizeof(code)))
		role[0] = code[0] = '\0';
	query = strchr(url, '?');
	if (query)
		*query++ = '\0';
	memset(&rq, 0, sizeof(rq));
	memset(&out, 0, sizeof(out));
	rq.method = method;
	rq.url = url;
	rq.role = role;
	rq.code = code;
	rq.subject = "CN=fuzz";
	rq.arg = query_arg;
	rq.arg_ctx = query ? query : "";
	rq.body = body ? body : "";
	rq.len = body ? strlen(body) : 0;
	rq.now = 1796220000;
	handled = mon_api_handle(&store, &cat.cat, &rq, &out);
	if (handled) {
		if (out.status < 200 || out.status > 599)
			fail("status out of range", NULL);
		if (out.content_type && strstr(out.content_type, "json")) {
			json_t *j = json_loadb(out.body ? out.body : "",
					       out.len, 0, NULL);

			if (!j)
				fail("a JSON answer that does not parse", NULL);
			if (out.status >= 400 &&
			    !json_is_string(json_object_get(j, "resourceType")))
				fail("an error that is no OperationOutcome",
				     NULL);
			json_decref(j);
		}
	}
	free(out.body);
	free(text);
	return 0;
}
