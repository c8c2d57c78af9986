/* Unit tests for the bounded line reader (common/input.c) and adapter
 * detection (adapters/adapter.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "input.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = testutil_tmpdir();
}

static void teardown(void)
{
	testutil_rmrf(dir);
	free(dir);
}

static const char *write_file(const char *name, const char *data, size_t len)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

START_TEST(lines_and_caps)
{
	/* CRLF kept for the parser, a line over the cap skipped whole, no
	 * newline at the end */
	static const char data[] = "ab\r\n\nxxxxxxxxxx\ncd";
	struct input *in;
	struct iza_error err;
	const char *line;
	size_t len;
	bool too_long;
	long no;

	ck_assert_int_eq(
	    input_open(write_file("a", data, sizeof(data) - 1), &in, &err), 0);
	ck_assert_int_eq(input_getline(in, 5, &line, &len, &too_long, &no), 1);
	ck_assert_int_eq(len, 3);
	ck_assert(memcmp(line, "ab\r", 3) == 0);
	ck_assert_int_eq(no, 1);
	ck_assert_int_eq(input_getline(in, 5, &line, &len, &too_long, &no), 1);
	ck_assert_int_eq(len, 0);
	ck_assert(!too_long);
	ck_assert_int_eq(input_getline(in, 5, &line, &len, &too_long, &no), 1);
	ck_assert(too_long);
	ck_assert_int_eq(no, 3);
	ck_assert_int_eq(input_getline(in, 5, &line, &len, &too_long, &no), 1);
	ck_assert(!too_long);
	ck_assert_int_eq(len, 2);
	ck_assert(memcmp(line, "cd", 2) == 0);
	ck_assert_int_eq(no, 4);
	ck_assert_int_eq(input_getline(in, 5, &line, &len, &too_long, &no), 0);
	ck_assert_int_eq(input_bytes(in), sizeof(data) - 1);
	input_close(in);
}
END_TEST

START_TEST(long_line_bounded_memory)
{
	/* 5 MB line with a 1 MiB cap, then a short line: skipped without
	 * buffering the whole line */
	size_t n = 5u << 20;
	char *data = malloc(n + 8);
	struct input *in;
	struct iza_error err;
	const char *line;
	size_t len;
	bool too_long;
	long no;

	ck_assert_ptr_nonnull(data);
	memset(data, 'a', n);
	memcpy(data + n, "\nok\n", 4);
	ck_assert_int_eq(input_open(write_file("b", data, n + 4), &in, &err),
			 0);
	free(data);
	ck_assert_int_eq(
	    input_getline(in, 1u << 20, &line, &len, &too_long, &no), 1);
	ck_assert(too_long);
	ck_assert_int_eq(
	    input_getline(in, 1u << 20, &line, &len, &too_long, &no), 1);
	ck_assert(!too_long);
	ck_assert_int_eq(len, 2);
	ck_assert_int_eq(no, 2);
	input_close(in);
}
END_TEST

START_TEST(sha256_of_what_was_read)
{
	/* sha256("abc") */
	struct input *in;
	struct iza_error err;
	const char *line;
	size_t len;
	bool too_long;
	long no;
	char hex[65];

	ck_assert_int_eq(input_open(write_file("c", "abc", 3), &in, &err), 0);
	while (input_getline(in, 100, &line, &len, &too_long, &no) == 1)
		;
	input_sha256_hex(in, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a"
			      "9cb410ff61f20015ad");
	input_close(in);
}
END_TEST

START_TEST(missing_file)
{
	struct input *in = NULL;
	struct iza_error err;

	iza_error_clear(&err);
	ck_assert_int_eq(input_open("/nonexistent/x.ndjson", &in, &err),
			 -IZA_EIO);
	ck_assert_str_eq(err.file, "/nonexistent/x.ndjson");
	ck_assert_ptr_nonnull(strstr(err.text, "cannot open"));
}
END_TEST

START_TEST(detect_format)
{
	static const char nd[] =
	    "{\"resourceType\":\"Patient\",\"id\":\"1\"}\n"
	    "{\"resourceType\":\"Patient\",\"id\":\"2\"}\n";
	static const char pretty[] = "{\n  \"resourceType\": \"Bundle\",\n";

	ck_assert_ptr_eq(adapter_detect(nd, sizeof(nd) - 1),
			 &adapter_fhir_ndjson);
	ck_assert_ptr_eq(adapter_detect(pretty, sizeof(pretty) - 1),
			 &adapter_fhir_bundle);
	ck_assert_ptr_null(adapter_detect("<xml/>", 6));
	ck_assert_ptr_eq(adapter_find("fhir-bundle"), &adapter_fhir_bundle);
	ck_assert_ptr_null(adapter_find("hl7v2"));
}
END_TEST

/* Every registered adapter is complete: a missing input kind would route
 * its records to another format's mapping. */
START_TEST(registry_complete)
{
	static const char *const kinds[] = {"fhir-r4", "hl7v2", "cda", NULL};
	size_t i, k;

	for (i = 0; adapter_registry[i]; i++) {
		const struct adapter *ad = adapter_registry[i];
		bool known = false;

		ck_assert_ptr_nonnull(ad->name);
		ck_assert(ad->sniff != NULL);
		ck_assert(ad->run != NULL);
		ck_assert_msg(ad->input != NULL, "%s has no input kind",
			      ad->name);
		for (k = 0; kinds[k]; k++)
			known = known || strcmp(ad->input, kinds[k]) == 0;
		ck_assert_msg(known, "%s: unknown input kind", ad->name);
		ck_assert_ptr_eq(adapter_find(ad->name), ad);
	}
	ck_assert_int_ge(i, 5);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("input");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lines_and_caps);
	tcase_add_test(tc, long_line_bounded_memory);
	tcase_add_test(tc, sha256_of_what_was_read);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, detect_format);
	tcase_add_test(tc, registry_complete);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
