/*
 * push.c - the uploader (contract in push.h).
 */
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

struct answer {
	char body[4096];
	size_t len;
	int64_t retry_after;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t k = size * n, room = sizeof(a->body) - 1 - a->len;

	memcpy(a->body + a->len, p, k < room ? k : room);
	a->len += k < room ? k : room;
	a->body[a->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t k = size * n;

	if (k > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char *end;
		long v = strtol(p + 12, &end, 10);

		if (end != p + 12 && v > 0 && v < 7 * 86400)
			a->retry_after = v;
	}
	return k;
}

/* The server's diagnostics from an OperationOutcome, else the status. */
static void diagnostics(const struct answer *a, int status, char *out,
			size_t size)
{
	json_error_t je;
	json_t *o = json_loadb(a->body, a->len, 0, &je);
	const char *d = json_string_value(json_object_get(
	    json_array_get(json_object_get(o, "issue"), 0), "diagnostics"));

	if (d)
		snprintf(out, size, "%s", d);
	else
		snprintf(out, size, "HTTP %d", status);
	json_decref(o);
}

static double jitter(void)
{
	unsigned char b[2] = {0, 0};

	if (RAND_bytes(b, 2) != 1)
		return 0.5;
	return (double)(b[0] << 8 | b[1]) / 65535.0;
}

/* One attempt: 0 with *status set (0: no HTTP answer, why in why). */
static int post(CURL *c, const struct push_config *pc,
		const struct outbox_item *it, int *status, char *why,
		size_t why_size, struct answer *a)
{
	char url[1200], hdr[8192];
	struct curl_slist *h = NULL;
	CURLcode cc;
	long code = 0;
	int n;

	n = snprintf(url, sizeof(url), "%s/reports", pc->url);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -IZA_ECONFIG;
	n = snprintf(hdr, sizeof(hdr), "IZA-JWS: %s", it->jws);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -IZA_ETOOBIG;
	h = curl_slist_append(h, "Content-Type: application/fhir+json");
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Expect:");
	memset(a, 0, sizeof(*a));
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)it->body_len);
	curl_easy_setopt(c, CURLOPT_CAINFO, pc->ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, pc->cert_chain);
	curl_easy_setopt(c, CURLOPT_SSLKEY, pc->key);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT,
			 pc->timeout_s > 0 ? pc->timeout_s : 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (cc != CURLE_OK) {
		*status = 0;
		snprintf(why, why_size, "%s", curl_easy_strerror(cc));
		return 0;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*status = (int)code;
	diagnostics(a, *status, why, why_size);
	return 0;
}

int push_run(struct outbox *ob, const struct push_config *pc, int64_t now,
	     struct push_summary *sum, struct iza_error *err)
{
	CURL *c;
	int rc = 0;

	if (!ob || !pc || !pc->url || !pc->ca || !pc->cert_chain || !pc->key ||
	    !sum)
		return iza_error_set(err, -IZA_ECONFIG, NULL, 0, "monitor",
				     "push needs monitor_url, monitor_ca, "
				     "signing_key and signing_chain");
	memset(sum, 0, sizeof(*sum));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(c = curl_easy_init()))
		return iza_error_set(err, -IZA_ENOMEM, NULL, 0, "curl",
				     "cannot start libcurl");
	for (;;) {
		struct outbox_item it;
		struct answer a;
		char why[160];
		int status = 0;

		/* with --all, "due" is "at any time" */
		rc = outbox_next(ob, pc->all ? INT64_MAX : now, &it, err);
		if (rc <= 0)
			break;
		rc = post(c, pc, &it, &status, why, sizeof(why), &a);
		if (rc == 0) {
			if (status == 200 || status == 201) {
				rc = outbox_mark_sent(ob, it.id, status, now,
						      err);
				sum->sent++;
			} else if (status == 0 || status == 408 ||
				   status == 429 || status >= 500) {
				int64_t next = outbox_backoff(it.attempts + 1,
							      a.retry_after,
							      jitter(), now);

				rc = outbox_mark_retry(ob, it.id, status, why,
						       next, err);
				sum->retry++;
				if (!sum->next_attempt ||
				    next < sum->next_attempt)
					sum->next_attempt = next;
			} else {
				rc = outbox_mark_failed(ob, it.id, status, why,
							err);
				sum->failed++;
			}
		}
		outbox_item_release(&it);
		if (rc)
			break;
		if (pc->all && sum->retry)
			break; /* the monitor is not taking reports now */
	}
	curl_easy_cleanup(c);
	return rc < 0 ? rc : 0;
}
