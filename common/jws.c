/*
 * jws.c - detached ES256 JWS with x5c (contract in jws.h).
 *
 * Decisions:
 *  - Base64 (standard for x5c, URL-safe without padding for the JWS parts)
 *    is coded here, strictly: a character outside the alphabet, padding in
 *    base64url, or non-zero trailing bits is an error.
 *  - The header is parsed with jansson rejecting duplicate members (a
 *    second "alg" must not be able to override the first).
 *  - Verification trusts only the CA file given: the x5c certificates after
 *    the first are untrusted intermediates, the first must chain to a CA in
 *    the file at the given time, and its key must be P-256.
 */
#include "jws.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

struct jws_signer {
	EVP_PKEY *key;
	STACK_OF(X509) * chain;
};

/* ---- base64 ---- */

static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const uint8_t *p, size_t n, bool url)
{
	const char *alpha = url ? b64url : b64std;
	size_t cap = (n + 2) / 3 * 4 + 1, o = 0, i;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v =
		    (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		out[o++] = alpha[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 |
			     (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = alpha[v >> 6 & 63];
		else if (!url)
			out[o++] = '=';
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

char *jws_b64url(const void *data, size_t len)
{
	return b64_encode(data, len, true);
}

static int b64_value(char c, bool url)
{
	const char *alpha = url ? b64url : b64std;
	const char *p = c ? strchr(alpha, c) : NULL;

	return p ? (int)(p - alpha) : -1;
}

/* Decode s[0..n); *out heap (free()).  Strict: standard base64 must be
 * padded to a multiple of 4, base64url must not be padded. */
static int b64_decode(const char *s, size_t n, bool url, uint8_t **out,
		      size_t *outlen)
{
	size_t pad = 0, i, o = 0, full;
	uint8_t *buf;
	uint32_t acc = 0;
	int bits = 0;

	if (!url) {
		if (n % 4)
			return -IZA_EPARSE;
		while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
			pad++;
	} else if (n % 4 == 1) {
		return -IZA_EPARSE;
	}
	full = n - pad;
	buf = malloc(full * 3 / 4 + 3);
	if (!buf)
		return -IZA_ENOMEM;
	for (i = 0; i < full; i++) {
		int v = b64_value(s[i], url);

		if (v < 0) {
			free(buf);
			return -IZA_EPARSE;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1))) { /* non-zero trailing bits */
		free(buf);
		return -IZA_EPARSE;
	}
	*out = buf;
	*outlen = o;
	return 0;
}

/* ---- signer ---- */

void jws_signer_free(struct jws_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key);
	sk_X509_pop_free(s->chain, X509_free);
	free(s);
}

static bool is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t len = 0;

	return k && EVP_PKEY_base_id(k) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group),
					      &len) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

int jws_signer_load(const char *key_pem_path, const char *chain_pem_path,
		    struct jws_signer **out, struct iza_error *err)
{
	struct jws_signer *s = calloc(1, sizeof(*s));
	FILE *f = NULL;
	X509 *x;
	int rc = 0;

	if (!s)
		return -IZA_ENOMEM;
	f = fopen(key_pem_path, "r");
	if (!f || !(s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		rc = iza_error_set(err, -IZA_ECRYPTO, key_pem_path, 0, NULL,
				   "cannot read the signing key");
		goto out;
	}
	fclose(f);
	f = NULL;
	if (!is_p256(s->key)) {
		rc = iza_error_set(err, -IZA_ECRYPTO, key_pem_path, 0, NULL,
				   "the signing key is not EC P-256 (ES256)");
		goto out;
	}
	s->chain = sk_X509_new_null();
	f = fopen(chain_pem_path, "r");
	if (!s->chain || !f) {
		rc = iza_error_set(err, -IZA_ECRYPTO, chain_pem_path, 0, NULL,
				   "cannot read the certificate chain");
		goto out;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (sk_X509_num(s->chain) >= JWS_MAX_CHAIN ||
		    !sk_X509_push(s->chain, x)) {
			X509_free(x);
			rc = iza_error_set(err, -IZA_ECRYPTO, chain_pem_path, 0,
					   NULL,
					   "more than %d certificates in the "
					   "chain",
					   JWS_MAX_CHAIN);
			goto out;
		}
	if (sk_X509_num(s->chain) == 0 ||
	    X509_check_private_key(sk_X509_value(s->chain, 0), s->key) != 1) {
		rc = iza_error_set(err, -IZA_ECRYPTO, chain_pem_path, 0, NULL,
				   "the first certificate of the chain is not "
				   "the signing key's");
		goto out;
	}
out:
	if (f)
		fclose(f);
	if (rc) {
		jws_signer_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* "h.p" for header and payload (base64url both): heap string. */
static char *signing_input(const char *h, const void *payload, size_t len)
{
	char *p = b64_encode(payload, len, true), *in;
	size_t hn = strlen(h), pn;

	if (!p)
		return NULL;
	pn = strlen(p);
	in = malloc(hn + pn + 2);
	if (in) {
		memcpy(in, h, hn);
		in[hn] = '.';
		memcpy(in + hn + 1, p, pn + 1);
	}
	free(p);
	return in;
}

int jws_sign(const struct jws_signer *s, const struct jws_claims *c,
	     const void *payload, size_t len, char **out, struct iza_error *err)
{
	json_t *hdr = NULL, *x5c = NULL;
	char *htext = NULL, *h64 = NULL, *input = NULL, *sig64 = NULL, *res;
	unsigned char der[128], raw[64];
	const unsigned char *dp = der;
	size_t derlen = sizeof(der);
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	int i, rc = -IZA_ENOMEM;

	if (!s || !c || (!payload && len) || !out)
		return -IZA_EUSAGE;
	x5c = json_array();
	for (i = 0; x5c && i < sk_X509_num(s->chain); i++) {
		unsigned char *d = NULL;
		int n = i2d_X509(sk_X509_value(s->chain, i), &d);
		char *b = n > 0 ? b64_encode(d, (size_t)n, false) : NULL;

		OPENSSL_free(d);
		if (!b || json_array_append_new(x5c, json_string(b))) {
			free(b);
			goto out;
		}
		free(b);
	}
	hdr = json_pack("{s:s,s:s,s:O,s:[s],s:{s:s,s:s,s:s,s:s}}", "alg",
			"ES256", "typ", "iza-report+jws", "x5c", x5c, "crit",
			"iza", "iza", "report", c->report_id, "region",
			c->region, "plan", c->plan, "period", c->period);
	htext =
	    hdr ? json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	h64 = htext ? b64_encode((const uint8_t *)htext, strlen(htext), true)
		    : NULL;
	input = h64 ? signing_input(h64, payload, len) : NULL;
	if (!input)
		goto out;
	md = EVP_MD_CTX_new();
	if (!md ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)input,
			   strlen(input)) != 1 ||
	    !(es = d2i_ECDSA_SIG(NULL, &dp, (long)derlen)) ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32) {
		rc = iza_error_set(err, -IZA_ECRYPTO, NULL, 0, NULL,
				   "ES256 signing failed");
		goto out;
	}
	sig64 = b64_encode(raw, sizeof(raw), true);
	res = sig64 ? malloc(strlen(h64) + strlen(sig64) + 3) : NULL;
	if (!res)
		goto out;
	snprintf(res, strlen(h64) + strlen(sig64) + 3, "%s..%s", h64, sig64);
	*out = res;
	rc = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	json_decref(hdr);
	json_decref(x5c);
	free(htext);
	free(h64);
	free(input);
	free(sig64);
	return rc;
}

/* ---- verification ---- */

static int claim(const json_t *iza, const char *key, char *dst, size_t size,
		 struct iza_error *err)
{
	const char *v = json_string_value(json_object_get(iza, key));

	if (!v || !v[0] || strlen(v) >= size)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, key,
				     "missing or too long report claim");
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int parse_header(const char *h64, size_t n, json_t **hdr,
			struct jws_claims *cl, struct iza_error *err)
{
	static const char *const known[] = {"alg",  "typ", "x5c",
					    "crit", "iza", NULL};
	uint8_t *raw = NULL;
	size_t rawlen = 0, i;
	json_error_t je;
	const json_t *crit, *iza;
	const char *k;
	json_t *v;
	int rc;

	if (n == 0 || n > JWS_MAX_HEADER * 4 / 3 + 4)
		return iza_error_set(err, -IZA_EPARSE, NULL, 0, "header",
				     "protected header missing or too large");
	rc = b64_decode(h64, n, true, &raw, &rawlen);
	if (rc)
		return iza_error_set(err, -IZA_EPARSE, NULL, 0, "header",
				     "protected header is not base64url");
	*hdr =
	    json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &je);
	free(raw);
	if (!json_is_object(*hdr))
		return iza_error_set(err, -IZA_EPARSE, NULL, 0, "header",
				     "protected header is not a JSON object");
	json_object_foreach(*hdr, k, v)
	{
		for (i = 0; known[i] && strcmp(known[i], k) != 0; i++)
			;
		if (!known[i])
			return iza_error_set(err, -IZA_EINVALID, NULL, 0,
					     "header",
					     "unknown header parameter "
					     "(only alg, typ, x5c, crit, iza)");
	}
	if (!json_is_string(json_object_get(*hdr, "alg")) ||
	    strcmp(json_string_value(json_object_get(*hdr, "alg")), "ES256") !=
		0)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "alg",
				     "only ES256 is accepted");
	crit = json_object_get(*hdr, "crit");
	if (!json_is_array(crit) || json_array_size(crit) != 1 ||
	    !json_is_string(json_array_get(crit, 0)) ||
	    strcmp(json_string_value(json_array_get(crit, 0)), "iza") != 0)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "crit",
				     "crit must be [\"iza\"]");
	iza = json_object_get(*hdr, "iza");
	if (!json_is_object(iza))
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "iza",
				     "no report claims");
	rc = claim(iza, "report", cl->report_id, sizeof(cl->report_id), err);
	if (rc == 0)
		rc = claim(iza, "region", cl->region, sizeof(cl->region), err);
	if (rc == 0)
		rc = claim(iza, "plan", cl->plan, sizeof(cl->plan), err);
	if (rc == 0)
		rc = claim(iza, "period", cl->period, sizeof(cl->period), err);
	return rc;
}

/* x5c -> certificates; the first is returned, the rest pushed to untrusted. */
static int parse_x5c(const json_t *x5c, X509 **leaf, STACK_OF(X509) * rest,
		     struct iza_error *err)
{
	size_t i;

	if (!json_is_array(x5c) || json_array_size(x5c) == 0 ||
	    json_array_size(x5c) > JWS_MAX_CHAIN)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "x5c",
				     "x5c must hold 1 to %d certificates",
				     JWS_MAX_CHAIN);
	for (i = 0; i < json_array_size(x5c); i++) {
		const char *b = json_string_value(json_array_get(x5c, i));
		uint8_t *der = NULL;
		size_t n = 0;
		const unsigned char *p;
		X509 *x;

		if (!b || b64_decode(b, strlen(b), false, &der, &n))
			return iza_error_set(err, -IZA_EPARSE, NULL, 0, "x5c",
					     "certificate %zu is not base64",
					     i);
		p = der;
		x = d2i_X509(NULL, &p, (long)n);
		if (!x || p != der + n) {
			X509_free(x);
			free(der);
			return iza_error_set(err, -IZA_EPARSE, NULL, 0, "x5c",
					     "certificate %zu is not DER X.509",
					     i);
		}
		free(der);
		if (i == 0)
			*leaf = x;
		else if (!sk_X509_push(rest, x)) {
			X509_free(x);
			return -IZA_ENOMEM;
		}
	}
	return 0;
}

static int check_chain(X509 *leaf, STACK_OF(X509) * rest,
		       const char *ca_pem_path, int64_t now,
		       struct iza_error *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = 0;

	if (!store || !ctx || X509_STORE_load_file(store, ca_pem_path) != 1) {
		rc = iza_error_set(err, -IZA_ECRYPTO, ca_pem_path, 0, NULL,
				   "cannot load the trusted CA certificates");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, rest) != 1) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	if (now)
		X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
	if (X509_verify_cert(ctx) != 1)
		rc = iza_error_set(err, -IZA_ECRYPTO, NULL, 0, "x5c",
				   "the signing certificate is not trusted: %s",
				   X509_verify_cert_error_string(
				       X509_STORE_CTX_get_error(ctx)));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static int check_signature(X509 *leaf, const char *input, const uint8_t *raw,
			   struct iza_error *err)
{
	EVP_PKEY *key = X509_get0_pubkey(leaf);
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL),
	       *s = BN_bin2bn(raw + 32, 32, NULL);
	unsigned char *der = NULL;
	EVP_MD_CTX *md = NULL;
	int n, rc = 0;

	if (!is_p256(key)) {
		rc = iza_error_set(err, -IZA_ECRYPTO, NULL, 0, "x5c",
				   "the signing key is not EC P-256");
		goto out;
	}
	if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	r = s = NULL; /* owned by es */
	n = i2d_ECDSA_SIG(es, &der);
	md = EVP_MD_CTX_new();
	if (n <= 0 || !md ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestVerify(md, der, (size_t)n, (const unsigned char *)input,
			     strlen(input)) != 1)
		rc = iza_error_set(err, -IZA_ECRYPTO, NULL, 0, "signature",
				   "the signature does not match the header "
				   "and payload");
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	return rc;
}

int jws_verify(const char *jws, const void *payload, size_t len,
	       const char *ca_pem_path, int64_t now, struct jws_claims *claims,
	       struct x509_st **leaf_out, struct iza_error *err)
{
	const char *d1, *d2;
	json_t *hdr = NULL;
	struct jws_claims cl;
	STACK_OF(X509) *rest = NULL;
	X509 *leaf = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char *h64 = NULL, *input = NULL;
	int rc;

	if (!jws || (!payload && len) || !ca_pem_path || !claims)
		return -IZA_EUSAGE;
	memset(&cl, 0, sizeof(cl));
	d1 = strchr(jws, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return iza_error_set(err, -IZA_EPARSE, NULL, 0, "jws",
				     "expected header..signature");
	if (d2 != d1 + 1)
		return iza_error_set(err, -IZA_EPARSE, NULL, 0, "jws",
				     "not a detached signature (the payload "
				     "part must be empty)");
	rc = parse_header(jws, (size_t)(d1 - jws), &hdr, &cl, err);
	if (rc)
		goto out;
	if (b64_decode(d2 + 1, strlen(d2 + 1), true, &sig, &siglen) ||
	    siglen != 64) {
		rc = iza_error_set(err, -IZA_EPARSE, NULL, 0, "signature",
				   "an ES256 signature is 64 bytes base64url");
		goto out;
	}
	rest = sk_X509_new_null();
	if (!rest) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	rc = parse_x5c(json_object_get(hdr, "x5c"), &leaf, rest, err);
	if (rc == 0)
		rc = check_chain(leaf, rest, ca_pem_path, now, err);
	if (rc)
		goto out;
	h64 = strndup(jws, (size_t)(d1 - jws));
	input = h64 ? signing_input(h64, payload, len) : NULL;
	if (!input) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	rc = check_signature(leaf, input, sig, err);
	if (rc == 0) {
		*claims = cl;
		if (leaf_out) {
			*leaf_out = leaf;
			leaf = NULL;
		}
	}
out:
	json_decref(hdr);
	X509_free(leaf);
	sk_X509_pop_free(rest, X509_free);
	free(sig);
	free(h64);
	free(input);
	return rc;
}
