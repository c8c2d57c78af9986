/* test_jws.c - detached ES256 JWS with x5c (common/jws.c), with a test-only
 * PKI made at test time by certs/make-dev-pki.sh: the round trip, and every
 * attack refused: tampered payload, header claims and signature, an
 * untrusted CA, an expired certificate, another algorithm, unknown critical
 * or extra header parameters, an attached payload, broken base64. */
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jws.h"
#include "testutil.h"

static char *dir;
static char buf[8][600];

static const char *pki(int slot, const char *name)
{
	snprintf(buf[slot], sizeof(buf[slot]), "%s/pki/%s", dir, name);
	return buf[slot];
}

static void setup(void)
{
	char cmd[1400];

	dir = testutil_tmpdir();
	snprintf(cmd, sizeof(cmd),
		 "bash '%s' '%s/pki' --region ZK02 --region ZK14 --expired "
		 "region-ZK14 2>/dev/null",
		 testutil_src("certs/make-dev-pki.sh"), dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void)
{
	testutil_rmrf(dir);
	free(dir);
}

static const char payload[] =
    "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[]}";

static char *sign_as(const char *who, const struct jws_claims *c,
		     const char *body)
{
	struct iza_error err = {0};
	struct jws_signer *s = NULL;
	char key[64], chain[64], *jws = NULL;

	snprintf(key, sizeof(key), "%s.key", who);
	snprintf(chain, sizeof(chain), "%s-chain.pem", who);
	ck_assert_msg(jws_signer_load(pki(0, key), pki(1, chain), &s, &err) ==
			  0,
		      "%s", err.text);
	ck_assert_msg(jws_sign(s, c, body, strlen(body), &jws, &err) == 0, "%s",
		      err.text);
	jws_signer_free(s);
	return jws;
}

static const struct jws_claims C = {.report_id = "2ceebe4c-dbc6-8085",
				    .region = "ZK02",
				    .plan = "plan-zk02-front-door",
				    .period = "2025-Q1"};

static int verify(const char *jws, const char *body, struct iza_error *err)
{
	struct jws_claims got;

	memset(err, 0, sizeof(*err));
	return jws_verify(jws, body, strlen(body), pki(2, "ca.pem"), 0, &got,
			  NULL, err);
}

START_TEST(round_trip)
{
	struct iza_error err = {0};
	struct jws_claims got;
	X509 *leaf = NULL;
	char cn[64];
	char *jws = sign_as("region-ZK02", &C, payload);

	ck_assert_ptr_nonnull(strstr(jws, ".."));
	ck_assert_msg(jws_verify(jws, payload, strlen(payload),
				 pki(2, "ca.pem"), 0, &got, &leaf, &err) == 0,
		      "%s", err.text);
	ck_assert_str_eq(got.report_id, C.report_id);
	ck_assert_str_eq(got.region, "ZK02");
	ck_assert_str_eq(got.plan, C.plan);
	ck_assert_str_eq(got.period, "2025-Q1");
	ck_assert_ptr_nonnull(leaf);
	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName,
				  cn, sizeof(cn));
	ck_assert_str_eq(cn, "ZK02");
	X509_free(leaf);
	/* signatures are randomised (ECDSA) but each verifies */
	free(jws);
	jws = sign_as("region-ZK02", &C, payload);
	ck_assert_int_eq(verify(jws, payload, &err), 0);
	free(jws);
}
END_TEST

START_TEST(tampering_refused)
{
	struct iza_error err;
	char *jws = sign_as("region-ZK02", &C, payload), *t;
	char body[sizeof(payload)];
	size_t n = strlen(jws);
	struct jws_claims other = C;
	char *h2, *forged;

	/* one byte of the payload */
	memcpy(body, payload, sizeof(payload));
	body[20] ^= 1;
	ck_assert_int_eq(verify(jws, body, &err), -IZA_ECRYPTO);
	ck_assert_str_eq(err.field, "signature");
	/* the signature */
	t = strdup(jws);
	t[n - 5] = t[n - 5] == 'A' ? 'B' : 'A';
	ck_assert_int_lt(verify(t, payload, &err), 0);
	free(t);
	/* the header of another report (region ZK14) with this signature */
	snprintf(other.region, sizeof(other.region), "ZK14");
	h2 = sign_as("region-ZK02", &other, payload);
	forged = malloc(n + strlen(h2));
	snprintf(forged, n + strlen(h2), "%.*s%s", (int)(strchr(h2, '.') - h2),
		 h2, strchr(jws, '.'));
	ck_assert_int_eq(verify(forged, payload, &err), -IZA_ECRYPTO);
	free(forged);
	free(h2);
	/* an attached payload, or missing parts */
	ck_assert_int_eq(verify("e30.e30.AAAA", payload, &err), -IZA_EPARSE);
	ck_assert_int_eq(verify("e30..", payload, &err), -IZA_EINVALID);
	ck_assert_int_eq(verify("no dots", payload, &err), -IZA_EPARSE);
	ck_assert_int_eq(verify("!!..AAAA", payload, &err), -IZA_EPARSE);
	free(jws);
}
END_TEST

START_TEST(untrusted_and_expired_refused)
{
	struct iza_error err;
	char *jws = sign_as("region-ZK02-other", &C, payload);

	ck_assert_int_eq(verify(jws, payload, &err), -IZA_ECRYPTO);
	ck_assert_ptr_nonnull(strstr(err.text, "not trusted"));
	free(jws);
	jws = sign_as("region-ZK14", &C, payload);
	ck_assert_int_eq(verify(jws, payload, &err), -IZA_ECRYPTO);
	ck_assert_ptr_nonnull(strstr(err.text, "expired"));
	free(jws);
}
END_TEST

/* Headers made by hand: another alg, unknown crit, extra parameters. */
START_TEST(header_rules)
{
	static const char *const headers[][2] = {
	    {"{\"alg\":\"none\",\"crit\":[\"iza\"],\"iza\":{}}", "alg"},
	    {"{\"alg\":\"HS256\",\"crit\":[\"iza\"],\"iza\":{}}", "alg"},
	    {"{\"alg\":\"ES256\",\"crit\":[\"iza\",\"b64\"],\"iza\":{}}",
	     "crit"},
	    {"{\"alg\":\"ES256\",\"iza\":{}}", "crit"},
	    {"{\"alg\":\"ES256\",\"crit\":[\"iza\"],\"b64\":false,\"iza\":{}}",
	     "header"},
	    {"{\"alg\":\"ES256\",\"alg\":\"none\",\"crit\":[\"iza\"]}",
	     "header"},
	    {"{\"alg\":\"ES256\",\"crit\":[\"iza\"],\"iza\":{\"report\":\"r\"}"
	     "}",
	     "region"},
	};
	size_t i;

	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		struct iza_error err;
		char *h = jws_b64url(headers[i][0], strlen(headers[i][0]));
		char jws[1024];

		snprintf(
		    jws, sizeof(jws), "%s..%s", h,
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
		ck_assert_int_lt(verify(jws, payload, &err), 0);
		ck_assert_msg(strcmp(err.field, headers[i][1]) == 0,
			      "header %zu: field %s, want %s (%s)", i,
			      err.field, headers[i][1], err.text);
		free(h);
	}
}
END_TEST

START_TEST(signer_checks)
{
	struct iza_error err = {0};
	struct jws_signer *s = NULL;

	/* a key with another's chain */
	ck_assert_int_eq(jws_signer_load(pki(0, "region-ZK02.key"),
					 pki(1, "insurer-3311-chain.pem"), &s,
					 &err),
			 -IZA_ECRYPTO);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(jws_signer_load(pki(0, "missing.key"),
					 pki(1, "region-ZK02-chain.pem"), &s,
					 &err),
			 -IZA_ECRYPTO);
	jws_signer_free(NULL);
}
END_TEST

START_TEST(base64url_vectors)
{
	/* RFC 4648 test vectors, unpadded */
	static const char *const in[] = {"",	 "f",	  "fo",	   "foo",
					 "foob", "fooba", "foobar"};
	static const char *const out[] = {
	    "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	size_t i;

	for (i = 0; i < 7; i++) {
		char *e = jws_b64url(in[i], strlen(in[i]));

		ck_assert_str_eq(e, out[i]);
		free(e);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("jws");
	TCase *tc = tcase_create("jws");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, tampering_refused);
	tcase_add_test(tc, untrusted_and_expired_refused);
	tcase_add_test(tc, header_rules);
	tcase_add_test(tc, signer_checks);
	tcase_add_test(tc, base64url_vectors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
