/*
 * test_json_dom.c - the strict arena JSON parser (adapters/json_dom.c).
 *
 * Hand-written cases for every rule of the contract, then a differential test
 * against jansson 2.14 (json_loadb with JSON_DECODE_ANY): the corpus in
 * tests/data/json/{valid,invalid}, the FHIR R4 examples, and >= 20,000
 * seeded mutations of them must get the same accept/reject decision and,
 * when accepted, the same tree.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_dom.h"
#include "testutil.h"

#define N_MUTATIONS 60000

/* ------------------------------------------------------------- helpers */

static struct jdom_parser *P;

static void setup(void)
{
	P = jdom_parser_new(0, 0);
	ck_assert_ptr_nonnull(P);
}

static void teardown(void)
{
	jdom_parser_free(P);
	P = NULL;
}

static int parse_n(const char *buf, size_t len, const struct jval **root,
		   struct iza_error *err)
{
	iza_error_clear(err);
	return jdom_parse(P, buf, len, root, err);
}

#define PARSE(lit, root, err) parse_n((lit), sizeof(lit) - 1, (root), (err))

/* Expect input lit to fail with code rc. */
#define REJECT(lit, rc)                                                        \
	do {                                                                   \
		const struct jval *r_ = NULL;                                  \
		struct iza_error e_;                                           \
		int got_ = PARSE(lit, &r_, &e_);                               \
		ck_assert_msg(got_ == (rc), "%s: got %s want %s (%s)", #lit,   \
			      iza_errname(got_), iza_errname(rc), e_.text);    \
		ck_assert_msg(strstr(e_.text, "at byte ") != NULL,             \
			      "no offset in '%s'", e_.text);                   \
	} while (0)

/* Expect input lit to parse; returns the root. */
static const struct jval *accept_n(const char *buf, size_t len)
{
	const struct jval *r = NULL;
	struct iza_error e;
	int rc = parse_n(buf, len, &r, &e);

	ck_assert_msg(rc == 0, "rejected (%s): %s", iza_errname(rc), e.text);
	ck_assert_ptr_nonnull(r);
	return r;
}

#define ACCEPT(lit) accept_n((lit), sizeof(lit) - 1)

static void check_scalar(const struct jval *v, enum jtype t, const char *text)
{
	ck_assert_uint_eq(v->type, t);
	if (text) {
		ck_assert_uint_eq(v->len, strlen(text));
		ck_assert_mem_eq(v->u.s, text, v->len);
		ck_assert_int_eq(v->u.s[v->len], '\0');
	}
}

/* ------------------------------------------------------- hand-written */

START_TEST(literals)
{
	check_scalar(ACCEPT("null"), JT_NULL, NULL);
	check_scalar(ACCEPT("true"), JT_TRUE, NULL);
	check_scalar(ACCEPT("false"), JT_FALSE, NULL);
	check_scalar(ACCEPT(" \t\r\n true \n"), JT_TRUE, NULL);
	REJECT("tru", -IZA_ETRUNCATED);
	REJECT("truex", -IZA_EPARSE);
	REJECT("True", -IZA_EPARSE);
	REJECT("nul", -IZA_ETRUNCATED);
	REJECT("hello", -IZA_EPARSE);
	REJECT("NaN", -IZA_EPARSE);
	REJECT("Infinity", -IZA_EPARSE);
	REJECT("-Infinity", -IZA_EPARSE);
	REJECT("undefined", -IZA_EPARSE);
}
END_TEST

START_TEST(numbers)
{
	check_scalar(ACCEPT("0"), JT_NUMBER, "0");
	check_scalar(ACCEPT("-0"), JT_NUMBER, "-0");
	check_scalar(ACCEPT("-0.0"), JT_NUMBER, "-0.0");
	check_scalar(ACCEPT("1.5"), JT_NUMBER, "1.5");
	check_scalar(ACCEPT("-1.5e+3"), JT_NUMBER, "-1.5e+3");
	check_scalar(ACCEPT("2E-2"), JT_NUMBER, "2E-2");
	check_scalar(ACCEPT(" 42 "), JT_NUMBER, "42");
	check_scalar(ACCEPT("9223372036854775807"), JT_NUMBER,
		     "9223372036854775807");
	check_scalar(ACCEPT("-9223372036854775808"), JT_NUMBER,
		     "-9223372036854775808");
	REJECT("9223372036854775808", -IZA_EPARSE);
	REJECT("-9223372036854775809", -IZA_EPARSE);
	REJECT("100000000000000000000", -IZA_EPARSE);
	/* reals: overflow to inf rejected, underflow accepted */
	check_scalar(ACCEPT("1.0e-400"), JT_NUMBER, "1.0e-400");
	check_scalar(ACCEPT("4.9e-324"), JT_NUMBER, "4.9e-324");
	check_scalar(ACCEPT("0.0000e99999"), JT_NUMBER, "0.0000e99999");
	check_scalar(ACCEPT("1e0000000000000000000000001"), JT_NUMBER,
		     "1e0000000000000000000000001");
	check_scalar(ACCEPT("1.7976931348623158e308"), JT_NUMBER,
		     "1.7976931348623158e308");
	REJECT("1.7976931348623159e308", -IZA_EPARSE);
	REJECT("1E400", -IZA_EPARSE);
	REJECT("-1E400", -IZA_EPARSE);
	REJECT("1e99999999999999999999999999", -IZA_EPARSE);
	/* exactly at 2^1024 - 2^970 (rounds to inf) and one below */
	ACCEPT("0.17976931348623158079372897140530341507993413271003782693617"
	       "3778980444968292764750946649017977587207096330286416692887910"
	       "9465555478519404026306574886715058206819089020007083836762738"
	       "5484581771153176447573027006985557136695962284291481986083493"
	       "64752927190741684443655107043427115596995080930428801779041744"
	       "97791e309");
	REJECT("0.17976931348623158079372897140530341507993413271003782693617"
	       "3778980444968292764750946649017977587207096330286416692887910"
	       "9465555478519404026306574886715058206819089020007083836762738"
	       "5484581771153176447573027006985557136695962284291481986083493"
	       "64752927190741684443655107043427115596995080930428801779041744"
	       "97792e309",
	       -IZA_EPARSE);
	REJECT("1797693134862315807937289714053034150799341327100378269361737"
	       "7898044496829276475094664901797758720709633028641669288791094"
	       "6555547851940402630657488671505820681908902000708383676273854"
	       "8458177115317644757302700698555713669596228429148198608349364"
	       "7529271907416844436551070434271155969950809304288017790417449"
	       "7792.0",
	       -IZA_EPARSE);
	ACCEPT("1797693134862315807937289714053034150799341327100378269361737"
	       "7898044496829276475094664901797758720709633028641669288791094"
	       "6555547851940402630657488671505820681908902000708383676273854"
	       "8458177115317644757302700698555713669596228429148198608349364"
	       "7529271907416844436551070434271155969950809304288017790417449"
	       "7791.99999");
	REJECT("01", -IZA_EPARSE);
	REJECT("-01", -IZA_EPARSE);
	REJECT("00", -IZA_EPARSE);
	REJECT("-", -IZA_ETRUNCATED);
	REJECT("1.", -IZA_ETRUNCATED);
	REJECT("1.e5", -IZA_EPARSE);
	REJECT(".5", -IZA_EPARSE);
	REJECT("1e", -IZA_ETRUNCATED);
	REJECT("1e+", -IZA_ETRUNCATED);
	REJECT("+1", -IZA_EPARSE);
	REJECT("0x10", -IZA_EPARSE);
	REJECT("- 1", -IZA_EPARSE);
}
END_TEST

START_TEST(strings)
{
	const struct jval *v;

	check_scalar(ACCEPT("\"\""), JT_STRING, "");
	check_scalar(ACCEPT("\"abc\""), JT_STRING, "abc");
	check_scalar(ACCEPT("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\""), JT_STRING,
		     "\" \\ / \b \f \n \r \t");
	check_scalar(ACCEPT("\"caf\\u00e9\""), JT_STRING, "caf\xc3\xa9");
	check_scalar(ACCEPT("\"\\u20AC\\u20ac\""), JT_STRING,
		     "\xe2\x82\xac\xe2\x82\xac");
	check_scalar(ACCEPT("\"\\uD83D\\uDE00\""), JT_STRING,
		     "\xf0\x9f\x98\x80");
	check_scalar(ACCEPT("\"\\uDBFF\\uDFFF\""), JT_STRING,
		     "\xf4\x8f\xbf\xbf");
	check_scalar(ACCEPT("\"\\u0001\\u007f\\u0080\\u07ff\\u0800\\uffff\""),
		     JT_STRING,
		     "\x01\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf");
	check_scalar(ACCEPT("\"Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80\""),
		     JT_STRING, "Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80");
	check_scalar(ACCEPT("\"\x7f\""), JT_STRING, "\x7f");
	/* a long plain run crosses the 16-byte vector boundary */
	v = ACCEPT("\"0123456789abcdef0123456789abcdef0123456789\\n\"");
	check_scalar(v, JT_STRING,
		     "0123456789abcdef0123456789abcdef0123456789\n");

	REJECT("\"\\u0000\"", -IZA_EPARSE);
	REJECT("\"a\\u0000b\"", -IZA_EPARSE);
	REJECT("\"\\uD800\"", -IZA_EPARSE);
	REJECT("\"\\uDC00\"", -IZA_EPARSE);
	REJECT("\"\\uDC00\\uD800\"", -IZA_EPARSE);
	REJECT("\"\\uD800\\u0041\"", -IZA_EPARSE);
	REJECT("\"\\uD800\\uD800\"", -IZA_EPARSE);
	REJECT("\"\\uD800x\"", -IZA_EPARSE);
	REJECT("\"\\x41\"", -IZA_EPARSE);
	REJECT("\"\\U00e9\"", -IZA_EPARSE);
	REJECT("\"\\u12\"", -IZA_EPARSE);
	REJECT("\"\\u12G4\"", -IZA_EPARSE);
	REJECT("\"\\'\"", -IZA_EPARSE);
	REJECT("\"a\x01"
	       "b\"",
	       -IZA_EPARSE);
	REJECT("\"a\tb\"", -IZA_EPARSE);
	REJECT("\"a\nb\"", -IZA_EPARSE);
	REJECT("\"a\x00\"", -IZA_EPARSE);
	REJECT("\"abc", -IZA_ETRUNCATED);
	REJECT("\"abc\\", -IZA_ETRUNCATED);
	REJECT("'abc'", -IZA_EPARSE);
}
END_TEST

START_TEST(utf8)
{
	REJECT("\"\xc0\x80\"", -IZA_EUTF8);	    /* overlong NUL */
	REJECT("\"\xc1\xbf\"", -IZA_EUTF8);	    /* overlong */
	REJECT("\"\xe0\x80\xaf\"", -IZA_EUTF8);	    /* overlong 3 */
	REJECT("\"\xf0\x80\x80\xaf\"", -IZA_EUTF8); /* overlong 4 */
	REJECT("\"\xed\xa0\x80\"", -IZA_EUTF8);	    /* U+D800 */
	REJECT("\"\xed\xbf\xbf\"", -IZA_EUTF8);	    /* U+DFFF */
	REJECT("\"\xf4\x90\x80\x80\"", -IZA_EUTF8); /* > U+10FFFF */
	REJECT("\"\xf5\x80\x80\x80\"", -IZA_EUTF8);
	REJECT("\"\xf8\x88\x80\x80\x80\"", -IZA_EUTF8);
	REJECT("\"\xff\"", -IZA_EUTF8);
	REJECT("\"\x80\"", -IZA_EUTF8); /* lone continuation */
	REJECT("\"\xc3\"", -IZA_EUTF8); /* truncated before the quote */
	REJECT("\"\xe2\x82\"", -IZA_EUTF8);
	REJECT("\"\xe2\x82", -IZA_EUTF8); /* truncated at end of input */
	REJECT("[1]\xff", -IZA_EUTF8);
	REJECT("\xff", -IZA_EUTF8);
	REJECT("{\"\xc3\x28\":1}", -IZA_EUTF8);
	/* valid UTF-8 outside strings is still not JSON */
	REJECT("\xef\xbb\xbf{}", -IZA_EPARSE); /* BOM */
	REJECT("\xc2\xa0"
	       "1",
	       -IZA_EPARSE); /* NBSP */
	check_scalar(ACCEPT("\"\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\""),
		     JT_STRING, "\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf");
	check_scalar(ACCEPT("\"\xf4\x8f\xbf\xbf\""), JT_STRING,
		     "\xf4\x8f\xbf\xbf");
}
END_TEST

START_TEST(structure)
{
	const struct jval *v, *a;

	v = ACCEPT(" { \"a\" : [ 1 , \"x\" , { } , [ ] ] , \"b\" : null } ");
	ck_assert_uint_eq(v->type, JT_OBJECT);
	ck_assert_uint_eq(v->len, 2);
	ck_assert_str_eq(v->u.kids[0].key, "a");
	ck_assert_uint_eq(v->u.kids[0].keylen, 1);
	ck_assert_str_eq(v->u.kids[1].key, "b");
	ck_assert_uint_eq(v->u.kids[1].type, JT_NULL);
	a = &v->u.kids[0];
	ck_assert_uint_eq(a->type, JT_ARRAY);
	ck_assert_uint_eq(a->len, 4);
	check_scalar(&a->u.kids[0], JT_NUMBER, "1");
	ck_assert_ptr_null(a->u.kids[0].key);
	check_scalar(&a->u.kids[1], JT_STRING, "x");
	ck_assert_uint_eq(a->u.kids[2].type, JT_OBJECT);
	ck_assert_uint_eq(a->u.kids[2].len, 0);
	ck_assert_uint_eq(a->u.kids[3].type, JT_ARRAY);
	ck_assert_uint_eq(a->u.kids[3].len, 0);
	ck_assert_ptr_null(v->key);

	v = ACCEPT("{\"\":\"\"}");
	ck_assert_uint_eq(v->len, 1);
	ck_assert_str_eq(v->u.kids[0].key, "");
	ck_assert_uint_eq(v->u.kids[0].keylen, 0);
	v = ACCEPT("{\"k\\u00e9y\\n\":1}");
	ck_assert_str_eq(v->u.kids[0].key, "k\xc3\xa9y\n");
	ck_assert_uint_eq(v->u.kids[0].keylen, 5);

	REJECT("[1,]", -IZA_EPARSE);
	REJECT("{\"a\":1,}", -IZA_EPARSE);
	REJECT("[,1]", -IZA_EPARSE);
	REJECT("[1,,2]", -IZA_EPARSE);
	REJECT("{,}", -IZA_EPARSE);
	REJECT("{\"a\"}", -IZA_EPARSE);
	REJECT("{\"a\" 1}", -IZA_EPARSE);
	REJECT("{\"a\":}", -IZA_EPARSE);
	REJECT("{1:2}", -IZA_EPARSE);
	REJECT("{'a':1}", -IZA_EPARSE);
	REJECT("{a:1}", -IZA_EPARSE);
	REJECT("[1 2]", -IZA_EPARSE);
	REJECT("[1}", -IZA_EPARSE);
	REJECT("{\"a\":1]", -IZA_EPARSE);
	REJECT("{\"\\u0000\":1}", -IZA_EPARSE);
	REJECT("[", -IZA_ETRUNCATED);
	REJECT("[1", -IZA_ETRUNCATED);
	REJECT("[1,", -IZA_ETRUNCATED);
	REJECT("{", -IZA_ETRUNCATED);
	REJECT("{\"a\"", -IZA_ETRUNCATED);
	REJECT("{\"a\":", -IZA_ETRUNCATED);
	REJECT("{\"a\":1", -IZA_ETRUNCATED);
	REJECT("/* c */ {}", -IZA_EPARSE);
	REJECT("{} // c", -IZA_EPARSE);
	REJECT("# c\n{}", -IZA_EPARSE);
}
END_TEST

START_TEST(whitespace_and_trailing)
{
	REJECT("", -IZA_ETRUNCATED);
	REJECT(" \n\t\r ", -IZA_ETRUNCATED);
	REJECT("\f1", -IZA_EPARSE);
	REJECT("1\v", -IZA_EPARSE);
	REJECT("1 2", -IZA_EPARSE);
	REJECT("{} x", -IZA_EPARSE);
	REJECT("[]]", -IZA_EPARSE);
	REJECT("{}{}", -IZA_EPARSE);
	REJECT("\"a\"\"b\"", -IZA_EPARSE);
	check_scalar(ACCEPT("\r\n\t 7 \r\n\t"), JT_NUMBER, "7");
}
END_TEST

/* The writer: compact text, numbers as read, strings escaped again; and
 * what it writes parses back to the same tree (jansson agrees). */
START_TEST(write_round_trip)
{
	static const char in[] =
	    " {\"resourceType\" : \"Encounter\", \"n\": [1.50e3, -0, 7],"
	    " \"t\": \"a\\\"b\\\\c\\n\\u0001\\u00e9\\ud83d\\ude00/\","
	    " \"o\": {}, \"a\": [], \"x\": [true, false, null]} ";
	static const char want[] =
	    "{\"resourceType\":\"Encounter\",\"n\":[1.50e3,-0,7],"
	    "\"t\":\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\xf0\x9f\x98\x80/\","
	    "\"o\":{},\"a\":[],\"x\":[true,false,null]}";
	const struct jval *root = NULL;
	struct iza_error err;
	json_t *a, *b;
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(PARSE(in, &root, &err), 0);
	ck_assert_int_eq(jdom_write(root, &out, &len), 0);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(len, strlen(want));
	a = json_loadb(in, sizeof(in) - 1, 0, NULL);
	b = json_loadb(out, len, 0, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	free(out);
}
END_TEST

/* jansson drops one NUL byte right after a number or literal. */
START_TEST(nul_quirk)
{
	const struct jval *v;

	v = ACCEPT("[1\0]");
	ck_assert_uint_eq(v->type, JT_ARRAY);
	ck_assert_uint_eq(v->len, 1);
	check_scalar(&v->u.kids[0], JT_NUMBER, "1");
	check_scalar(ACCEPT("true\0"), JT_TRUE, NULL);
	check_scalar(ACCEPT("2.5e1\0 "), JT_NUMBER, "2.5e1");
	v = ACCEPT("{\"a\":null\0,\"b\":false\0}");
	ck_assert_uint_eq(v->len, 2);
	REJECT("1\0\0", -IZA_EPARSE);
	REJECT("1 \0", -IZA_EPARSE);
	REJECT("[1]\0", -IZA_EPARSE);
	REJECT("\"a\"\0", -IZA_EPARSE);
	REJECT("\0001", -IZA_EPARSE);
	REJECT("-\0", -IZA_EPARSE);
	REJECT("1.\0", -IZA_EPARSE);
}
END_TEST

START_TEST(duplicates)
{
	const struct jval *v;

	v = ACCEPT("{\"a\":1,\"b\":2,\"a\":\"last\"}");
	ck_assert_uint_eq(v->len, 3);
	ck_assert_ptr_eq(jobj_get(v, "a"), &v->u.kids[2]);
	ck_assert(jval_streq(jobj_get(v, "a"), "last"));
	check_scalar(jobj_get(v, "b"), JT_NUMBER, "2");
	ck_assert_ptr_null(jobj_get(v, "c"));
	ck_assert_ptr_null(jobj_get(v, ""));
	ck_assert_ptr_null(jobj_get(&v->u.kids[1], "a"));
	ck_assert_ptr_null(jobj_get(NULL, "a"));
	ck_assert(!jval_streq(jobj_get(v, "b"), "2"));
	ck_assert(!jval_streq(jobj_get(v, "a"), "las"));
	ck_assert(!jval_streq(NULL, "x"));
}
END_TEST

static char *nest(size_t depth, const char *open, const char *inner,
		  const char *close, size_t *len)
{
	size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
	size_t n = depth * (lo + lc) + li, i, k = 0;
	char *b = malloc(n + 1);

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < depth; i++, k += lo)
		memcpy(b + k, open, lo);
	memcpy(b + k, inner, li);
	k += li;
	for (i = 0; i < depth; i++, k += lc)
		memcpy(b + k, close, lc);
	b[k] = '\0';
	*len = k;
	return b;
}

static int parse_nested(struct jdom_parser *p, size_t depth, const char *open,
			const char *inner, const char *close)
{
	const struct jval *r;
	struct iza_error e;
	size_t len;
	char *b = nest(depth, open, inner, close, &len);
	int rc = jdom_parse(p, b, len, &r, &e);

	free(b);
	return rc;
}

START_TEST(depth)
{
	struct jdom_parser *small = jdom_parser_new(3, 0);

	/* jansson counts the scalar as a level too */
	ck_assert_int_eq(parse_nested(P, 2048, "[", "", "]"), 0);
	ck_assert_int_eq(parse_nested(P, 2047, "[", "1", "]"), 0);
	ck_assert_int_eq(parse_nested(P, 2048, "[", "1", "]"), -IZA_ETOODEEP);
	ck_assert_int_eq(parse_nested(P, 2049, "[", "", "]"), -IZA_ETOODEEP);
	ck_assert_int_eq(parse_nested(P, 2048, "{\"a\":", "{}", "}"),
			 -IZA_ETOODEEP);
	ck_assert_int_eq(parse_nested(P, 2047, "{\"a\":", "{}", "}"), 0);
	ck_assert_int_eq(parse_nested(P, 2047, "{\"a\":", "0", "}"), 0);
	/* a million open brackets: clear error, no stack overflow */
	ck_assert_int_eq(parse_nested(P, 1000000, "[", "", ""), -IZA_ETOODEEP);
	ck_assert_int_eq(parse_nested(P, 1000000, "{\"\":", "", ""),
			 -IZA_ETOODEEP);

	ck_assert_ptr_nonnull(small);
	ck_assert_int_eq(parse_nested(small, 3, "[", "", "]"), 0);
	ck_assert_int_eq(parse_nested(small, 2, "[", "1", "]"), 0);
	ck_assert_int_eq(parse_nested(small, 3, "[", "1", "]"), -IZA_ETOODEEP);
	ck_assert_int_eq(parse_nested(small, 4, "[", "", "]"), -IZA_ETOODEEP);
	jdom_parser_free(small);
}
END_TEST

START_TEST(size_limit)
{
	struct jdom_parser *p = jdom_parser_new(0, 10);
	const struct jval *r;
	struct iza_error e;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(jdom_parse(p, "[1,2,3,44]", 10, &r, &e), 0);
	ck_assert_uint_eq(r->len, 4);
	ck_assert_int_eq(jdom_parse(p, "[1,2,3,444]", 11, &r, &e),
			 -IZA_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(e.text, "11"));
	jdom_parser_free(p);
	jdom_parser_free(NULL);
}
END_TEST

START_TEST(error_text)
{
	const struct jval *r;
	struct iza_error e;

	ck_assert_int_eq(PARSE("[1,,2]", &r, &e), -IZA_EPARSE);
	ck_assert_str_eq(e.text, "unexpected ',' at byte 3");
	ck_assert_int_eq(e.code, -IZA_EPARSE);
	ck_assert_int_eq(PARSE("{\"a\":1}}", &r, &e), -IZA_EPARSE);
	ck_assert_str_eq(e.text, "trailing data at byte 7");
	/* never echoes input content */
	ck_assert_int_eq(PARSE("{\"bsn\":\"999911120\" Jansen}", &r, &e),
			 -IZA_EPARSE);
	ck_assert_ptr_null(strstr(e.text, "Jansen"));
	ck_assert_ptr_null(strstr(e.text, "J"));
	ck_assert_ptr_null(strstr(e.text, "9999"));
	ck_assert_int_eq(PARSE("[\"ok\", \"Jansen\\q\"]", &r, &e), -IZA_EPARSE);
	ck_assert_ptr_null(strstr(e.text, "Jansen"));
	ck_assert_ptr_nonnull(strstr(e.text, "at byte 14"));
	/* NULL err is allowed */
	ck_assert_int_eq(jdom_parse(P, "[", 1, &r, NULL), -IZA_ETRUNCATED);
	ck_assert_int_eq(jdom_parse(P, "[]", 2, &r, NULL), 0);
}
END_TEST

START_TEST(arena_reuse)
{
	char *line = NULL;
	size_t len, held, i, n, big_len;
	const struct jval *r;
	char *big;
	FILE *f = fopen(
	    testutil_shared("fhir-bulk-synthea-10/Patient.000.ndjson"), "rb");
	ssize_t got;

	ck_assert_ptr_nonnull(f);
	got = getline(&line, &len, f);
	fclose(f);
	ck_assert_int_gt(got, 10);
	r = accept_n(line, (size_t)got);
	ck_assert(jval_streq(jobj_get(r, "resourceType"), "Patient"));
	held = jdom_parser_arena_bytes(P);
	ck_assert_uint_gt(held, 0);
	for (i = 0; i < 200; i++) {
		r = accept_n(line, (size_t)got);
		ck_assert(jval_streq(jobj_get(r, "resourceType"), "Patient"));
	}
	ck_assert_uint_eq(jdom_parser_arena_bytes(P), held);

	/* a big input grows the arena (linearly); later calls reuse it */
	n = 400000;
	big = malloc(2 * n + 2);
	ck_assert_ptr_nonnull(big);
	big[0] = '[';
	for (i = 0; i < n; i++) {
		big[1 + 2 * i] = '7';
		big[2 + 2 * i] = ',';
	}
	big[2 * n] = ']';
	big_len = 2 * n + 1;
	r = accept_n(big, big_len);
	ck_assert_uint_eq(r->len, n);
	check_scalar(&r->u.kids[n - 1], JT_NUMBER, "7");
	held = jdom_parser_arena_bytes(P);
	ck_assert_uint_le(held, 20 * big_len + (1u << 20));
	for (i = 0; i < 3; i++) {
		r = accept_n(big, big_len);
		ck_assert_uint_eq(jdom_parser_arena_bytes(P), held);
	}
	r = accept_n(line, (size_t)got);
	ck_assert(jval_streq(jobj_get(r, "resourceType"), "Patient"));
	ck_assert_uint_eq(jdom_parser_arena_bytes(P), held);
	free(big);
	free(line);
}
END_TEST

/* Long escape-heavy and UTF-8-heavy inputs stay linear. */
START_TEST(linear_time)
{
	size_t n = 1000000, i;
	char *b = malloc(6 * n + 2);
	const struct jval *r;
	struct timespec t0, t1;

	ck_assert_ptr_nonnull(b);
	b[0] = '"';
	for (i = 0; i < n; i++)
		memcpy(b + 1 + 6 * i, "\\u00e9", 6);
	b[1 + 6 * n] = '"';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = accept_n(b, 6 * n + 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(r->len, 2 * n);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
	/* unterminated string of a million backslash pairs */
	for (i = 0; i < 6 * n; i++)
		b[1 + i] = '\\';
	ck_assert_int_eq(parse_n(b, 6 * n + 1, &r, &(struct iza_error){0}),
			 -IZA_ETRUNCATED);
	free(b);
}
END_TEST

/* -------------------------------------------------------- differential */

struct doc {
	unsigned char *buf;
	size_t len;
	char name[128];
};

struct corpus {
	struct doc *d;
	size_t n, cap;
};

static void corpus_add(struct corpus *c, const char *name, const char *buf,
		       size_t len)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->d = realloc(c->d, c->cap * sizeof(*c->d));
		ck_assert_ptr_nonnull(c->d);
	}
	c->d[c->n].buf = malloc(len + 1);
	ck_assert_ptr_nonnull(c->d[c->n].buf);
	memcpy(c->d[c->n].buf, buf, len);
	c->d[c->n].len = len;
	snprintf(c->d[c->n].name, sizeof(c->d[c->n].name), "%s", name);
	c->n++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add every *.json of dir (sorted, so the run is deterministic). */
static size_t corpus_add_dir(struct corpus *c, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *names[1024], path[4096];
	size_t n = 0, i, len;

	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((de = readdir(d)) != NULL && n < 1024) {
		size_t l = strlen(de->d_name);

		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	for (i = 0; i < n; i++) {
		char *buf;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		buf = testutil_slurp(path, &len);
		corpus_add(c, names[i], buf, len);
		free(buf);
		free(names[i]);
	}
	return n;
}

static void corpus_free(struct corpus *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->d[i].buf);
	free(c->d);
}

static void dump_hex(const unsigned char *b, size_t n)
{
	size_t i;

	fprintf(stderr, "input (%zu bytes): \"", n);
	for (i = 0; i < n && i < 4096; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\' && b[i] != '"')
			fputc(b[i], stderr);
		else
			fprintf(stderr, "\\x%02x", b[i]);
	}
	fprintf(stderr, "%s\"\n", n > 4096 ? "..." : "");
}

/* Compare jansson's tree with ours; returns a reason or NULL if equal. */
static const char *tree_diff(json_t *j, const struct jval *v)
{
	size_t i, k;
	const char *why;

	switch (json_typeof(j)) {
	case JSON_NULL:
		return v->type == JT_NULL ? NULL : "type (null)";
	case JSON_TRUE:
		return v->type == JT_TRUE ? NULL : "type (true)";
	case JSON_FALSE:
		return v->type == JT_FALSE ? NULL : "type (false)";
	case JSON_INTEGER:
		if (v->type != JT_NUMBER || strpbrk(v->u.s, ".eE"))
			return "type (integer)";
		if (strtoll(v->u.s, NULL, 10) != json_integer_value(j))
			return "integer value";
		return NULL;
	case JSON_REAL: {
		double a = json_real_value(j), b;

		if (v->type != JT_NUMBER || !strpbrk(v->u.s, ".eE"))
			return "type (real)";
		b = strtod(v->u.s, NULL);
		if (memcmp(&a, &b, sizeof(a)) != 0)
			return "real value";
		return NULL;
	}
	case JSON_STRING:
		if (v->type != JT_STRING)
			return "type (string)";
		if (json_string_length(j) != v->len ||
		    memcmp(json_string_value(j), v->u.s, v->len) != 0 ||
		    v->u.s[v->len] != '\0')
			return "string bytes";
		return NULL;
	case JSON_ARRAY:
		if (v->type != JT_ARRAY)
			return "type (array)";
		if (json_array_size(j) != v->len)
			return "array size";
		for (i = 0; i < v->len; i++) {
			if (v->u.kids[i].key)
				return "key on array element";
			why = tree_diff(json_array_get(j, i), &v->u.kids[i]);
			if (why)
				return why;
		}
		return NULL;
	case JSON_OBJECT: {
		void *it = json_object_iter(j);

		if (v->type != JT_OBJECT)
			return "type (object)";
		/* jansson keeps the first position and the last value */
		for (i = 0; i < v->len; i++) {
			const struct jval *m = &v->u.kids[i];

			if (!m->key || m->key[m->keylen] != '\0' ||
			    strlen(m->key) != m->keylen)
				return "bad key";
			for (k = 0; k < i; k++)
				if (v->u.kids[k].keylen == m->keylen &&
				    !memcmp(v->u.kids[k].key, m->key,
					    m->keylen))
					break;
			if (k < i)
				continue; /* duplicate */
			if (!it || strcmp(json_object_iter_key(it), m->key))
				return "key order";
			why = tree_diff(json_object_iter_value(it),
					jobj_get(v, m->key));
			if (why)
				return why;
			it = json_object_iter_next(j, it);
		}
		return it ? "object size" : NULL;
	}
	}
	return "unknown type";
}

static size_t n_accepted, n_rejected;

/* Feed one input to both parsers; fails the test on any difference. */
static void diff_one(const unsigned char *b, size_t n, const char *what)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)b, n, JSON_DECODE_ANY, &jerr);
	const struct jval *r = NULL;
	struct iza_error err;
	int rc = parse_n((const char *)b, n, &r, &err);
	const char *why = NULL;

	if (!j && rc == 0)
		why = "jdom accepts, jansson rejects";
	else if (j && rc != 0)
		why = "jdom rejects, jansson accepts";
	else if (j)
		why = tree_diff(j, r);
	else if (!strstr(err.text, "at byte "))
		why = "error text without offset";
	if (why) {
		fprintf(stderr,
			"MISMATCH (%s): %s\n  jdom: %s %s\n  jansson: %s\n",
			what, why, iza_errname(rc), rc ? err.text : "",
			j ? "accepted" : jerr.text);
		dump_hex(b, n);
	}
	json_decref(j);
	ck_assert_msg(why == NULL, "%s: %s", what, why);
	if (rc == 0)
		n_accepted++;
	else
		n_rejected++;
}

START_TEST(corpus_valid_invalid)
{
	struct corpus c = {0};
	size_t nv, ni, i;
	json_t *j;

	nv = corpus_add_dir(&c, testutil_src("tests/data/json/valid"));
	ni = corpus_add_dir(&c, testutil_src("tests/data/json/invalid"));
	ck_assert_uint_ge(nv, 20);
	ck_assert_uint_ge(ni, 40);
	for (i = 0; i < c.n; i++) {
		const struct jval *r;
		struct iza_error e;
		int rc = parse_n((const char *)c.d[i].buf, c.d[i].len, &r, &e);

		j = json_loadb((const char *)c.d[i].buf, c.d[i].len,
			       JSON_DECODE_ANY, NULL);
		if (i < nv) {
			ck_assert_msg(rc == 0, "valid/%s rejected: %s",
				      c.d[i].name, e.text);
			ck_assert_msg(j != NULL, "jansson rejects valid/%s",
				      c.d[i].name);
		} else {
			ck_assert_msg(rc != 0, "invalid/%s accepted",
				      c.d[i].name);
			ck_assert_msg(j == NULL, "jansson accepts invalid/%s",
				      c.d[i].name);
		}
		json_decref(j);
		diff_one(c.d[i].buf, c.d[i].len, c.d[i].name);
	}
	corpus_free(&c);
}
END_TEST

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static size_t rndn(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* One mutation of src into dst (capacity cap); returns the new length. */
static size_t mutate(const unsigned char *src, size_t n, unsigned char *dst,
		     size_t cap)
{
	static const char *const tokens[] = {"{",
					     "}",
					     "[",
					     "]",
					     ":",
					     ",",
					     "\"",
					     "\\",
					     "\\u",
					     "\\uD800",
					     "\\uDC00",
					     "\\u0000",
					     "0",
					     "-",
					     "1e400",
					     ".",
					     "e",
					     "E+",
					     "true",
					     "null",
					     "\0",
					     " ",
					     "\t",
					     "\n",
					     "\x80",
					     "\xc3",
					     "\xed\xa0\x80",
					     "\xf4",
					     "\xff",
					     "\xc3\xa9",
					     "\x01",
					     "01",
					     "9223372036854775808",
					     "/*",
					     "\xef\xbb\xbf",
					     "{\"a\":1,\"a\":2}",
					     "\\uD83D\\uDE00"};
	size_t len = n < cap ? n : cap, ops = 1 + rndn(3), o, at, k, t;
	unsigned char slice[32];

	memcpy(dst, src, len);
	for (o = 0; o < ops; o++) {
		at = rndn(len + 1);
		switch (rndn(9)) {
		case 0: /* flip a bit */
			if (len)
				dst[rndn(len)] ^=
				    (unsigned char)(1u << rndn(8));
			break;
		case 1: /* set a byte */
			if (len)
				dst[rndn(len)] = (unsigned char)rnd();
			break;
		case 2:
		case 3: { /* insert a token */
			const char *tk =
			    tokens[rndn(sizeof(tokens) / sizeof(tokens[0]))];
			size_t tl = tk[0] ? strlen(tk) : 1;

			if (len + tl > cap)
				break;
			memmove(dst + at + tl, dst + at, len - at);
			memcpy(dst + at, tk, tl);
			len += tl;
			break;
		}
		case 4: /* delete a range */
			k = 1 + rndn(8);
			if (at + k > len)
				k = len - at;
			memmove(dst + at, dst + at + k, len - at - k);
			len -= k;
			break;
		case 5: /* truncate */
			len = at;
			break;
		case 6: /* duplicate a slice */
			k = 1 + rndn(32);
			t = rndn(len + 1);
			if (t + k > len || len + k > cap)
				break;
			memcpy(slice, dst + t, k);
			memmove(dst + at + k, dst + at, len - at);
			memcpy(dst + at, slice, k);
			len += k;
			break;
		case 7: { /* deep nesting around the document */
			size_t d = 2040 + rndn(16);
			int obj = rnd() & 1;
			size_t lo = obj ? 5 : 1;

			if (len + d * (lo + 1) > cap)
				break;
			memmove(dst + d * lo, dst, len);
			for (k = 0; k < d; k++)
				memcpy(dst + k * lo, obj ? "{\"k\":" : "[", lo);
			len += d * lo;
			for (k = 0; k < d; k++)
				dst[len++] = obj ? '}' : ']';
			break;
		}
		default: /* replace a byte with a structural char */
			if (len)
				dst[rndn(len)] =
				    (unsigned char)"{}[]:,\"\\"[rndn(8)];
			break;
		}
	}
	return len;
}

START_TEST(differential_mutations)
{
	struct corpus c = {0};
	size_t i, cap, n, maxlen = 0, nsmall;
	unsigned char *buf;
	FILE *f;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t got;
	int lines = 0;

	nsmall = corpus_add_dir(&c, testutil_src("tests/data/json/valid"));
	nsmall += corpus_add_dir(&c, testutil_src("tests/data/json/invalid"));
	ck_assert_uint_ge(
	    corpus_add_dir(&c, testutil_shared("fhir-r4-examples")), 20);
	f = fopen(testutil_shared("fhir-bulk-synthea-10/Encounter.000.ndjson"),
		  "rb");
	ck_assert_ptr_nonnull(f);
	while (lines < 20 && (got = getline(&line, &lcap, f)) > 0) {
		corpus_add(&c, "Encounter.ndjson", line, (size_t)got);
		lines++;
	}
	fclose(f);
	free(line);

	n_accepted = n_rejected = 0;
	for (i = 0; i < c.n; i++) {
		diff_one(c.d[i].buf, c.d[i].len, c.d[i].name);
		if (c.d[i].len > maxlen)
			maxlen = c.d[i].len;
	}
	cap = maxlen + 16384;
	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < N_MUTATIONS; i++) {
		/* favour the small hand-written documents 3:1 */
		size_t pick = (rnd() & 3) ? rndn(nsmall) : rndn(c.n);
		char what[160];

		n = mutate(c.d[pick].buf, c.d[pick].len, buf, cap);
		snprintf(what, sizeof(what), "mutation %zu of %s", i,
			 c.d[pick].name);
		diff_one(buf, n, what);
	}
	fprintf(stderr,
		"json_dom differential: %zu documents + %d mutations: "
		"%zu accepted, %zu rejected, all as jansson\n",
		c.n, N_MUTATIONS, n_accepted, n_rejected);
	ck_assert_uint_gt(n_accepted, 1000);
	ck_assert_uint_gt(n_rejected, 1000);
	free(buf);
	corpus_free(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("json_dom");
	TCase *tc = tcase_create("rules");
	TCase *td = tcase_create("differential");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, literals);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, strings);
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, structure);
	tcase_add_test(tc, whitespace_and_trailing);
	tcase_add_test(tc, nul_quirk);
	tcase_add_test(tc, duplicates);
	tcase_add_test(tc, depth);
	tcase_add_test(tc, size_limit);
	tcase_add_test(tc, error_text);
	tcase_add_test(tc, arena_reuse);
	tcase_add_test(tc, write_round_trip);
	tcase_add_test(tc, linear_time);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(td, setup, teardown);
	tcase_add_test(td, corpus_valid_invalid);
	tcase_add_test(td, differential_mutations);
	tcase_set_timeout(td, 120);
	suite_add_tcase(s, td);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
