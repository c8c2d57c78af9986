/* test_pseudo.c - HMAC, BSN 11-test, pseudonyms and the key file. */
#include "pseudo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "testutil.h"

static const uint8_t key32[IZA_KEY_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

static const char *hex_of(const uint8_t h[IZA_HASH_LEN])
{
	static char buf[2 * IZA_HASH_LEN + 1];

	hash_hex(h, buf);
	return buf;
}

static void check_vector(const uint8_t *key, size_t klen, const char *data,
			 const char *expect)
{
	struct pseudo *ps = NULL;
	uint8_t h[IZA_HASH_LEN];

	ck_assert_int_eq(pseudo_new_key(key, klen, &ps), 0);
	ck_assert_int_eq(pseudo_hmac(ps, "", data, strlen(data), h), 0);
	ck_assert_str_eq(hex_of(h), expect);
	/* the context is reusable: same answer again, also with NULL label */
	ck_assert_int_eq(pseudo_hmac(ps, NULL, data, strlen(data), h), 0);
	ck_assert_str_eq(hex_of(h), expect);
	pseudo_free(ps);
}

/* RFC 4231 section 4, HMAC-SHA-256 results. */
START_TEST(rfc4231)
{
	uint8_t k1[20], k6[131];

	memset(k1, 0x0b, sizeof(k1));
	memset(k6, 0xaa, sizeof(k6));
	check_vector(k1, sizeof(k1), "Hi There",
		     "b0344c61d8db38535ca8afceaf0bf12b"
		     "881dc200c9833da726e9376c2e32cff7");
	check_vector((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
		     "5bdcc146bf60754e6a042426089575c7"
		     "5a003f089d2739839dec58b964ec3843");
	check_vector(k6, sizeof(k6),
		     "Test Using Larger Than Block-Size Key - Hash Key First",
		     "60e431591ee0b67f0d8a26aacbf5b77f"
		     "8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(label_is_prefix)
{
	struct pseudo *ps = NULL, *cl = NULL;
	uint8_t a[IZA_HASH_LEN], b[IZA_HASH_LEN], c[IZA_HASH_LEN];

	ck_assert_int_eq(pseudo_new(key32, &ps), 0);
	ck_assert_int_eq(pseudo_hmac(ps, "bsn:v1:", "111222333", 9, a), 0);
	ck_assert_int_eq(pseudo_hmac(ps, "", "bsn:v1:111222333", 16, b), 0);
	ck_assert_mem_eq(a, b, IZA_HASH_LEN);
	ck_assert_int_eq(pseudo_clone(ps, &cl), 0);
	pseudo_free(ps);
	ck_assert_int_eq(pseudo_hmac(cl, "bsn:v1:", "111222333", 9, c), 0);
	ck_assert_mem_eq(a, c, IZA_HASH_LEN);
	ck_assert_int_eq(pseudo_hmac(cl, "", NULL, 0, c), 0);
	ck_assert_int_eq(pseudo_hmac(cl, "", NULL, 1, c), -IZA_EUSAGE);
	pseudo_free(cl);
	pseudo_free(NULL);
	ck_assert_int_eq(pseudo_new_key(key32, 0, &ps), -IZA_EUSAGE);
}
END_TEST

START_TEST(bsn_rules)
{
	char out[10];

	ck_assert(bsn_normalise("111222333", 9, out));
	ck_assert_str_eq(out, "111222333");
	ck_assert(bsn_normalise("123456782", 9, out));
	ck_assert(!bsn_normalise("123456789", 9, out));
	ck_assert(bsn_normalise("111 222 333", 11, out));
	ck_assert_str_eq(out, "111222333");
	ck_assert(bsn_normalise("1112.22.333", 11, out));
	ck_assert(bsn_normalise("111-222-333", 11, out));
	/* 8 digits are left-padded: 0 + 12345672 -> sum 0+8+14+18+20+20+18
	 * +14 - 2 = 110 = 10 * 11 */
	ck_assert(bsn_normalise("12345672", 8, out));
	ck_assert_str_eq(out, "012345672");
	ck_assert(!bsn_normalise("000000000", 9, out));
	ck_assert(!bsn_normalise("00000000", 8, out));
	ck_assert(!bsn_normalise("1234567", 7, out));
	ck_assert(!bsn_normalise("1112223330", 10, out));
	ck_assert(!bsn_normalise("11122233a", 9, out));
	ck_assert(!bsn_normalise("111_222_333", 11, out));
	ck_assert(!bsn_normalise("", 0, out));
	ck_assert(!bsn_normalise(NULL, 0, out));
	/* len bounds the input */
	ck_assert(bsn_normalise("1112223334444", 9, out));
	/* last digit -1: 111222330 sums to 66+3 = 69, not divisible */
	ck_assert(!bsn_normalise("111222330", 9, out));
}
END_TEST

START_TEST(persons)
{
	struct pseudo *ps = NULL;
	uint8_t a[IZA_HASH_LEN], b[IZA_HASH_LEN], c[IZA_HASH_LEN],
	    d[IZA_HASH_LEN];
	bool used = false;

	ck_assert_int_eq(pseudo_new(key32, &ps), 0);
	ck_assert_int_eq(
	    pseudo_person(ps, "111 222 333", 11, "01234567", "p1", 2, a, &used),
	    0);
	ck_assert(used);
	ck_assert_int_eq(
	    pseudo_person(ps, "111222333", 9, "99999999", "other", 5, b, &used),
	    0);
	ck_assert(used);
	ck_assert_mem_eq(a, b, IZA_HASH_LEN); /* same person across sources */
	ck_assert_int_eq(pseudo_hmac(ps, "bsn:v1:", "111222333", 9, c), 0);
	ck_assert_mem_eq(a, c, IZA_HASH_LEN);

	/* invalid BSN: source scope */
	ck_assert_int_eq(
	    pseudo_person(ps, "123456789", 9, "01234567", "p1", 2, b, &used),
	    0);
	ck_assert(!used);
	ck_assert_int_eq(pseudo_hmac(ps, "src:v1:01234567|", "p1", 2, c), 0);
	ck_assert_mem_eq(b, c, IZA_HASH_LEN);
	/* no BSN at all: same */
	ck_assert_int_eq(
	    pseudo_person(ps, NULL, 0, "01234567", "p1", 2, d, &used), 0);
	ck_assert_mem_eq(b, d, IZA_HASH_LEN);
	ck_assert(memcmp(a, b, IZA_HASH_LEN) != 0);

	/* patient key */
	ck_assert_int_eq(pseudo_patient_key(ps, "01234567", "p1", 2, d), 0);
	ck_assert_int_eq(pseudo_hmac(ps, "ref:v1:01234567|", "p1", 2, c), 0);
	ck_assert_mem_eq(d, c, IZA_HASH_LEN);
	ck_assert(memcmp(b, d, IZA_HASH_LEN) != 0);

	/* refusals: no id, bad sources */
	ck_assert_int_eq(
	    pseudo_person(ps, "bad", 3, "01234567", "", 0, d, &used),
	    -IZA_EMISSING);
	ck_assert_int_eq(pseudo_patient_key(ps, "01234567", NULL, 0, d),
			 -IZA_EMISSING);
	ck_assert_int_eq(pseudo_patient_key(ps, "", "p1", 2, d), -IZA_EMISSING);
	ck_assert_int_eq(pseudo_patient_key(ps, "a|b", "p1", 2, d),
			 -IZA_EINVALID);
	ck_assert_int_eq(
	    pseudo_patient_key(ps, "0123456789012345678901234567890123", "p1",
			       2, d),
	    -IZA_ETOOBIG);
	pseudo_free(ps);
}
END_TEST

START_TEST(key_file)
{
	char *dir = testutil_tmpdir();
	char path[512], text[80];
	struct iza_error err;
	struct stat st;
	uint8_t k[IZA_KEY_LEN], k2[IZA_KEY_LEN];
	size_t len;
	char *body;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/region.key", dir);
	iza_error_clear(&err);
	ck_assert_int_eq(key_generate(path, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	body = testutil_slurp(path, &len);
	ck_assert_uint_eq(len, 65);
	ck_assert_int_eq(body[64], '\n');
	for (i = 0; i < 64; i++)
		ck_assert(strchr("0123456789abcdef", body[i]) != NULL);
	ck_assert_int_eq(key_load(path, k, &err), 0);
	for (i = 0; i < IZA_KEY_LEN; i++) {
		snprintf(text, sizeof(text), "%02x", k[i]);
		ck_assert(memcmp(text, body + 2 * i, 2) == 0);
	}
	free(body);

	/* refuse to overwrite; the key stays as it was */
	ck_assert_int_eq(key_generate(path, &err), -IZA_EEXISTS);
	ck_assert_int_eq(err.code, -IZA_EEXISTS);
	ck_assert_str_eq(err.file, path);
	ck_assert_int_eq(key_load(path, k2, &err), 0);
	ck_assert_mem_eq(k, k2, IZA_KEY_LEN);

	/* group/world readable: refused with a clear error */
	ck_assert_int_eq(chmod(path, 0640), 0);
	iza_error_clear(&err);
	ck_assert_int_eq(key_load(path, k2, &err), -IZA_EINVALID);
	ck_assert_str_eq(err.file, path);
	ck_assert_ptr_nonnull(strstr(err.text, "0640"));
	ck_assert_int_eq(chmod(path, 0604), 0);
	ck_assert_int_eq(key_load(path, k2, &err), -IZA_EINVALID);
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(key_load(path, k2, &err), 0);

	/* malformed contents */
	snprintf(path, sizeof(path), "%s/bad.key", dir);
	{
		static const char *bad[] = {
		    "",
		    "00\n",
		    "000102030405060708090a0b0c0d0e0f101112131415161718191a1"
		    "b1c1d1e1f00\n",
		    "000102030405060708090a0b0c0d0e0f101112131415161718191a1"
		    "b1c1d1e1g\n",
		    "000102030405060708090a0b0c0d0e0f101112131415161718191a1"
		    "b1c1d1e1f\n\n",
		};
		size_t j;

		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			unlink(path);
			f = fopen(path, "w");
			ck_assert_ptr_nonnull(f);
			fputs(bad[j], f);
			fclose(f);
			ck_assert_int_eq(chmod(path, 0600), 0);
			iza_error_clear(&err);
			ck_assert_msg(key_load(path, k2, &err) == -IZA_EINVALID,
				      "case %zu", j);
			ck_assert_str_eq(err.file, path);
		}
		/* upper case hex and no final newline are accepted */
		unlink(path);
		f = fopen(path, "w");
		fputs("000102030405060708090A0B0C0D0E0F101112131415161718191A1"
		      "B1C1D1E1F",
		      f);
		fclose(f);
		ck_assert_int_eq(chmod(path, 0600), 0);
		ck_assert_int_eq(key_load(path, k2, &err), 0);
		ck_assert_mem_eq(k2, key32, IZA_KEY_LEN);
	}
	snprintf(path, sizeof(path), "%s/missing.key", dir);
	ck_assert_int_eq(key_load(path, k2, &err), -IZA_ENOTFOUND);
	ck_assert_int_eq(key_load(dir, k2, &err), -IZA_EINVALID); /* a dir */
	snprintf(path, sizeof(path), "%s/no/such/dir.key", dir);
	ck_assert_int_eq(key_generate(path, &err), -IZA_EIO);
	testutil_rmrf(dir);
	free(dir);
}
END_TEST

/* ---- benchmark of the per-call strategies (IZA_BENCH=1) ---- */

#define BENCH_N 1000000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static EVP_MAC_CTX *keyed_ctx(EVP_MAC *mac)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);

	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ck_assert(EVP_MAC_init(ctx, key32, sizeof(key32), params));
	return ctx;
}

static void report(const char *what, double t0, const uint8_t h[32],
		   const uint8_t ref[32])
{
	double dt = now() - t0;

	ck_assert_mem_eq(h, ref, 32);
	printf("bench: %-34s %9.0f calls/s\n", what, BENCH_N / dt);
}

START_TEST(bench)
{
	static const char label[] = "bsn:v1:";
	char id[10] = "111222333";
	uint8_t ref[32], h[32];
	unsigned char msg[16];
	struct pseudo *ps = NULL;
	EVP_MAC *mac;
	EVP_MAC_CTX *base, *work;
	unsigned int hl;
	size_t outl;
	double t0;
	int i;

	if (!getenv("IZA_BENCH"))
		return;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ck_assert_ptr_nonnull(mac);
	ck_assert_int_eq(pseudo_new(key32, &ps), 0);
	ck_assert_int_eq(pseudo_hmac(ps, label, id, 9, ref), 0);
	memcpy(msg, label, 7);
	memcpy(msg + 7, id, 9);

	t0 = now();
	for (i = 0; i < BENCH_N; i++)
		pseudo_hmac(ps, label, id, 9, h);
	report("pseudo_hmac (re-init, NULL key)", t0, h, ref);

	base = keyed_ctx(mac);
	t0 = now();
	for (i = 0; i < BENCH_N; i++) {
		work = EVP_MAC_CTX_dup(base);
		EVP_MAC_update(work, (const unsigned char *)label, 7);
		EVP_MAC_update(work, (const unsigned char *)id, 9);
		EVP_MAC_final(work, h, &outl, sizeof(h));
		EVP_MAC_CTX_free(work);
	}
	report("EVP_MAC_CTX_dup per call", t0, h, ref);

	t0 = now();
	for (i = 0; i < BENCH_N; i++) {
		EVP_MAC_init(base, key32, sizeof(key32), NULL);
		EVP_MAC_update(base, (const unsigned char *)label, 7);
		EVP_MAC_update(base, (const unsigned char *)id, 9);
		EVP_MAC_final(base, h, &outl, sizeof(h));
	}
	report("EVP_MAC_init with key per call", t0, h, ref);
	EVP_MAC_CTX_free(base);

	t0 = now();
	for (i = 0; i < BENCH_N; i++)
		HMAC(EVP_sha256(), key32, sizeof(key32), msg, sizeof(msg), h,
		     &hl);
	report("one-shot HMAC()", t0, h, ref);

	pseudo_free(ps);
	EVP_MAC_free(mac);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pseudo");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, rfc4231);
	tcase_add_test(tc, label_is_prefix);
	tcase_add_test(tc, bsn_rules);
	tcase_add_test(tc, persons);
	tcase_add_test(tc, key_file);
	tcase_add_test(tc, bench);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
