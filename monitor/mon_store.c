/*
 * mon_store.c - backend dispatch and the audit log's hash chain (contract in
 * mon_store.h).
 */
#include "mon_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static const struct mon_backend *const backends[] = {&mon_backend_sqlite,
						     &mon_backend_pg, NULL};

int mon_store_open(const char *url, bool create, struct mon_store *out,
		   struct iza_error *err)
{
	const char *colon = url ? strchr(url, ':') : NULL;
	size_t i;

	if (!colon || !out)
		return iza_error_set(
		    err, -IZA_ECONFIG, NULL, 0, "database",
		    "expected a database URL like "
		    "sqlite:PATH or postgresql://USER@HOST/DB");
	memset(out, 0, sizeof(*out));
	for (i = 0; backends[i]; i++)
		if (strlen(backends[i]->scheme) == (size_t)(colon - url) &&
		    strncmp(backends[i]->scheme, url, (size_t)(colon - url)) ==
			0) {
			int rc = backends[i]->open(colon + 1, create,
						   &out->impl, err);

			if (rc == 0)
				out->ops = backends[i];
			return rc;
		}
	return iza_error_set(
	    err, -IZA_ECONFIG, NULL, 0, "database",
	    "unknown database kind (this build has sqlite: and "
	    "postgresql:)");
}

/* Append n bytes of s to buf (size bytes, *at used), truncating. */
static void put(char *buf, size_t size, size_t *at, const char *s, size_t n)
{
	if (*at + 1 >= size)
		return;
	if (n > size - 1 - *at)
		n = size - 1 - *at;
	memcpy(buf + *at, s, n);
	*at += n;
	buf[*at] = '\0';
}

char *mon_store_name(const char *url, char *buf, size_t size)
{
	const char *auth = url ? strstr(url, "://") : NULL, *end, *at, *q;
	size_t used = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (!url)
		return buf;
	if (!auth) { /* sqlite:PATH and the like hold no password */
		put(buf, size, &used, url, strlen(url));
		return buf;
	}
	auth += 3;
	put(buf, size, &used, url, (size_t)(auth - url));
	end = auth + strcspn(auth, "/?#");
	/* the last '@' before the path: a password with an '@' in it is
	 * hidden whole */
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	at = at > auth ? at - 1 : NULL;
	if (at) { /* USER[:PASSWORD]@: the user only */
		const char *colon = memchr(auth, ':', (size_t)(at - auth));

		put(buf, size, &used, auth,
		    (size_t)((colon ? colon : at) - auth));
		auth = at;
	}
	q = strchr(end, '?');
	put(buf, size, &used, auth,
	    (size_t)((q ? q : end + strlen(end)) - auth));
	if (!q)
		return buf;
	/* the query without any password= parameter */
	for (q++; *q;) {
		size_t n = strcspn(q, "&");

		if (!(n >= 9 && strncmp(q, "password=", 9) == 0)) {
			put(buf, size, &used, strchr(buf, '?') ? "&" : "?", 1);
			put(buf, size, &used, q, n);
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return buf;
}

void mon_store_close(struct mon_store *s)
{
	if (!s || !s->ops)
		return;
	s->ops->close(s->impl);
	s->ops = NULL;
	s->impl = NULL;
}

void mon_report_release(struct mon_report *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->jws);
	r->body = r->jws = NULL;
}

/* SHA-256 over a canonical text of the entry and its predecessor's hash. */
static int entry_hash(const struct mon_audit_entry *e,
		      uint8_t out[MON_HASH_LEN])
{
	char text[1024], prev[2 * MON_HASH_LEN + 1];
	unsigned int len = 0;
	int n, i;

	for (i = 0; i < MON_HASH_LEN; i++)
		snprintf(prev + 2 * i, 3, "%02x", e->prev[i]);
	/* every text field with its length first, so that no text can be
	 * moved from one field to the next without changing the hash */
	n = snprintf(text, sizeof(text),
		     "iza-audit/2\n%s\n%" PRId64 "\t%" PRId64
		     "\t%zu:%s\t%zu:%s\t%zu:%s\t%zu:%s\n",
		     prev, e->seq, e->time, strlen(e->event), e->event,
		     strlen(e->actor), e->actor, strlen(e->on_behalf),
		     e->on_behalf, strlen(e->what), e->what);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -IZA_ETOOBIG;
	return EVP_Digest(text, (size_t)n, out, &len, EVP_sha256(), NULL) &&
		       len == MON_HASH_LEN
		   ? 0
		   : -IZA_ECRYPTO;
}

/* Append an audit entry inside the caller's transaction. */
static int audit_append_in_tx(struct mon_store *s, int64_t now,
			      const char *event, const char *actor,
			      const char *on_behalf, const char *what,
			      struct iza_error *err)
{
	struct mon_audit_entry last, e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = s->ops->audit_last(s->impl, &last, err);
	if (rc < 0)
		return rc;
	e.seq = rc == 1 ? last.seq + 1 : 1;
	if (rc == 1)
		memcpy(e.prev, last.hash, MON_HASH_LEN);
	e.time = now;
	snprintf(e.event, sizeof(e.event), "%s", event ? event : "");
	snprintf(e.actor, sizeof(e.actor), "%s", actor ? actor : "");
	snprintf(e.on_behalf, sizeof(e.on_behalf), "%s",
		 on_behalf ? on_behalf : "");
	snprintf(e.what, sizeof(e.what), "%s", what ? what : "");
	rc = entry_hash(&e, e.hash);
	if (rc)
		return iza_error_set(err, rc, NULL, 0, "audit",
				     "cannot hash the audit entry");
	return s->ops->audit_put(s->impl, &e, err);
}

int mon_audit_append(struct mon_store *s, int64_t now, const char *event,
		     const char *actor, const char *on_behalf, const char *what,
		     struct iza_error *err)
{
	int rc;

	if (!s || !s->ops)
		return -IZA_EUSAGE;
	/* reading the last entry and appending after it is one step, also
	 * when izamon serve and a CLI command write at the same time */
	rc = s->ops->tx_begin(s->impl, err);
	if (rc)
		return rc;
	rc = audit_append_in_tx(s, now, event, actor, on_behalf, what, err);
	if (rc) {
		s->ops->tx_end(s->impl, false, err);
		return rc;
	}
	return s->ops->tx_end(s->impl, true, err);
}

int mon_decision_record(struct mon_store *s, const struct mon_decision *d,
			const struct mon_notice *notices, size_t n, int64_t now,
			const char *actor, const char *on_behalf,
			const char *what, enum mon_put *res,
			struct iza_error *err)
{
	int rc = s->ops->tx_begin(s->impl, err);

	if (rc)
		return rc;
	rc = s->ops->decision_put(s->impl, d, notices, n, res, err);
	if (rc == 0 && *res == MON_INSERTED)
		rc = audit_append_in_tx(s, now, "milestone.decided", actor,
					on_behalf, what, err);
	if (rc) {
		s->ops->tx_end(s->impl, false, err);
		return rc;
	}
	return s->ops->tx_end(s->impl, true, err);
}

struct chain {
	int64_t expect;
	uint8_t prev[MON_HASH_LEN];
	struct iza_error *err;
	int rc;
};

static int check_entry(void *ctx, const struct mon_audit_entry *e)
{
	struct chain *c = ctx;
	uint8_t h[MON_HASH_LEN];

	if (e->seq != c->expect || memcmp(e->prev, c->prev, MON_HASH_LEN)) {
		c->rc =
		    iza_error_set(c->err, -IZA_ESTORE, NULL, e->seq, "audit",
				  "audit entry %" PRId64 ": the chain is "
				  "broken (an entry before it was removed "
				  "or moved)",
				  e->seq);
		return 1;
	}
	if (entry_hash(e, h) || memcmp(h, e->hash, MON_HASH_LEN)) {
		c->rc = iza_error_set(
		    c->err, -IZA_ESTORE, NULL, e->seq, "audit",
		    "audit entry %" PRId64 " was changed", e->seq);
		return 1;
	}
	memcpy(c->prev, e->hash, MON_HASH_LEN);
	c->expect++;
	return 0;
}

int mon_audit_verify(struct mon_store *s, int64_t *n, struct iza_error *err)
{
	struct chain c;
	int rc;

	if (!s || !s->ops)
		return -IZA_EUSAGE;
	memset(&c, 0, sizeof(c));
	c.expect = 1;
	c.err = err;
	rc = s->ops->audit_each(s->impl, check_entry, &c, err);
	if (c.rc)
		return c.rc;
	if (rc < 0)
		return rc;
	if (n)
		*n = c.expect - 1;
	return 0;
}
