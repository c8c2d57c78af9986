/* test_refdata.c - region tables: loading, validation, lookups. */
#include "refdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"
#include "testutil.h"

static struct refdata *rd; /* the committed tables, loaded once */

static void setup(void)
{
	struct iza_error err;
	char buf[600];
	int rc;

	iza_error_clear(&err);
	rc = refdata_load(testutil_src("mappings/regions"), &rd, &err);
	ck_assert_msg(rc == 0, "%s", iza_error_format(&err, buf, sizeof(buf)));
}

static void teardown(void)
{
	refdata_free(rd);
	rd = NULL;
}

static int64_t day(int y, int m, int d)
{
	return days_from_civil(y, m, d);
}

START_TEST(spot_checks)
{
	char gm[8], zk[8];

	ck_assert_int_eq(refdata_locate(rd, 1011, day(2024, 6, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0363");
	ck_assert_str_eq(zk, "ZK02");
	ck_assert_str_eq(refdata_region_name(rd, zk), "Amsterdam");
	ck_assert_int_eq(refdata_locate(rd, 7411, day(2025, 1, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0150");
	ck_assert_str_eq(zk, "ZK14");
	ck_assert_str_eq(refdata_region_name(rd, zk), "Midden-IJssel");
	ck_assert_int_eq(refdata_locate(rd, 3511, day(2024, 6, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0344");
	ck_assert_str_eq(zk, "ZK23");
	ck_assert_int_eq(refdata_locate(rd, 3131, day(2024, 6, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0622");
	ck_assert_str_eq(zk, "ZK33");
	ck_assert_str_eq(refdata_region_name(rd, "ZK33"),
			 "Westland Schieland Delfland");
	/* the 2024 tables also answer for earlier baseline years */
	ck_assert_int_eq(refdata_locate(rd, 1011, day(2019, 1, 1), gm, zk), 0);
	ck_assert_str_eq(zk, "ZK02");

	/* unknown PC4: NOTFOUND, outputs untouched */
	memcpy(gm, "keep", 5);
	ck_assert_int_eq(refdata_locate(rd, 1000, day(2024, 6, 1), gm, zk),
			 -IZA_ENOTFOUND);
	ck_assert_int_eq(refdata_locate(rd, 999, day(2024, 6, 1), gm, zk),
			 -IZA_ENOTFOUND);
	ck_assert_int_eq(refdata_locate(rd, 10000, day(2024, 6, 1), gm, zk),
			 -IZA_ENOTFOUND);
	ck_assert_int_eq(refdata_locate(rd, 0, day(2024, 6, 1), gm, zk),
			 -IZA_ENOTFOUND);
	ck_assert_str_eq(gm, "keep");
	ck_assert_ptr_null(refdata_region_name(rd, "ZK05"));
	ck_assert_ptr_null(refdata_region_name(rd, "ZK2"));
	ck_assert_ptr_null(refdata_region_name(rd, "ZK022"));
	ck_assert_ptr_null(refdata_region_name(rd, "GM0363"));
}
END_TEST

START_TEST(populations)
{
	int64_t total = 0, p;
	int used = 0, n = 0, zk;
	char code[8];

	ck_assert_int_eq(refdata_population(rd, "ZK02", 2024, &used), 964275);
	ck_assert_int_eq(used, 2024);
	used = 0;
	ck_assert_int_eq(refdata_population(rd, "ZK02", 2025, &used), 964275);
	ck_assert_int_eq(used, 2024);
	used = 77;
	ck_assert_int_eq(refdata_population(rd, "ZK02", 2023, &used), -1);
	ck_assert_int_eq(used, 77);
	ck_assert_int_eq(refdata_population(rd, "ZK05", 2024, &used), -1);
	ck_assert_int_eq(refdata_population(rd, "xx", 2024, &used), -1);
	for (zk = 0; zk < 100; zk++) {
		snprintf(code, sizeof(code), "ZK%02d", zk);
		if (!refdata_region_name(rd, code))
			continue;
		n++;
		p = refdata_population(rd, code, 2024, NULL);
		ck_assert_int_gt(p, 0);
		total += p;
	}
	ck_assert_int_eq(n, 31);
	ck_assert_int_eq(total, 17942942);
}
END_TEST

START_TEST(region_pc4s)
{
	int pc4s[200], all = 0, zk;
	long n;
	char code[8];

	n = refdata_region_pc4s(rd, "ZK02", day(2024, 6, 1), pc4s, 200);
	ck_assert_int_eq(n, 88);
	ck_assert_int_eq(pc4s[0], 1011);
	for (int i = 1; i < n; i++)
		ck_assert_int_lt(pc4s[i - 1], pc4s[i]);
	/* cap smaller than the count: count still reported */
	ck_assert_int_eq(
	    refdata_region_pc4s(rd, "ZK02", day(2024, 6, 1), pc4s, 3), 88);
	ck_assert_int_eq(
	    refdata_region_pc4s(rd, "ZK14", day(2024, 6, 1), NULL, 0), 48);
	/* every PC4 lies in exactly one region */
	for (zk = 0; zk < 100; zk++) {
		snprintf(code, sizeof(code), "ZK%02d", zk);
		all += (int)refdata_region_pc4s(rd, code, day(2024, 6, 1), NULL,
						0);
	}
	ck_assert_int_eq(all, 4072);
	ck_assert_int_lt(refdata_region_pc4s(rd, "Z02", 0, NULL, 0), 0);
}
END_TEST

START_TEST(sectors)
{
	ck_assert_str_eq(refdata_sector_of_agb(rd, "06020101"), "msz");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "01000001"),
			 "huisartsenzorg");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "01999999"),
			 "huisartsenzorg");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "03123456"), "msz");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "22123456"), "msz");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "21123456"),
			 "huisartsenzorg");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "94123456"), "ggz");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "75123456"),
			 "wijkverpleging");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "47123456"), "vvt");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "86123456"),
			 "sociaal_domein");
	ck_assert_str_eq(refdata_sector_of_agb(rd, "02123456"), "overig");
	ck_assert_ptr_null(refdata_sector_of_agb(rd, "09123456")); /* none */
	ck_assert_ptr_null(refdata_sector_of_agb(rd, "6020101"));  /* 7 */
	ck_assert_ptr_null(refdata_sector_of_agb(rd, "060201011"));
	ck_assert_ptr_null(refdata_sector_of_agb(rd, "06O20101"));
	ck_assert_ptr_null(refdata_sector_of_agb(rd, ""));
	ck_assert_ptr_null(refdata_sector_of_agb(rd, NULL));
}
END_TEST

START_TEST(postcodes)
{
	ck_assert_int_eq(postcode_pc4("1012 AB", 7), 1012);
	ck_assert_int_eq(postcode_pc4("1012AB", 6), 1012);
	ck_assert_int_eq(postcode_pc4("1012ab", 6), 1012);
	ck_assert_int_eq(postcode_pc4("1012", 4), 1012);
	ck_assert_int_eq(postcode_pc4(" 9999 zz ", 9), 9999);
	ck_assert_int_eq(postcode_pc4("1000", 4), 1000);
	ck_assert_int_eq(postcode_pc4("0123 AB", 7), 0);
	ck_assert_int_eq(postcode_pc4("12345", 5), 0);
	ck_assert_int_eq(postcode_pc4("", 0), 0);
	ck_assert_int_eq(postcode_pc4("ABCD", 4), 0);
	ck_assert_int_eq(postcode_pc4("1012 A", 6), 0);
	ck_assert_int_eq(postcode_pc4("1012 ABC", 8), 0);
	ck_assert_int_eq(postcode_pc4("1012-AB", 7), 0);
	ck_assert_int_eq(postcode_pc4("1012  AB", 8), 0);
	ck_assert_int_eq(postcode_pc4("101", 3), 0);
	ck_assert_int_eq(postcode_pc4("1012 A1", 7), 0);
	ck_assert_int_eq(postcode_pc4(NULL, 0), 0);
	ck_assert_int_eq(postcode_pc4("1012 AB trailing", 7), 1012);
}
END_TEST

/* ---- small hand-made tables in a temp dir ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static const char *const mini[][2] = {
    {"regions.csv", "zorgkantoorregio_code,name\n"
		    "ZK02,Amsterdam\n"
		    "ZK14,Midden-IJssel\n"},
    {"gemeente_region.csv", "gemeente_code,zorgkantoorregio_code,"
			    "valid_from\n"
			    "GM0363,ZK02,2024-01-01\n"
			    "GM0150,ZK14,2024-01-01\n"
			    "GM0150,ZK02,2030-01-01\n"},
    {"gemeente_merges.csv", "old_code,new_code,effective\n"
			    "GM0457,GM0363,2023-01-01\n"},
    {"pc4_gemeente.csv", "pc4,gemeente_code,valid_from\n"
			 "1011,GM0363,2024-01-01\n"
			 "1381,GM0457,2019-01-01\n"
			 "1381,GM0363,2024-01-01\n"
			 "7411,GM0150,2024-01-01\n"},
    {"population.csv", "zorgkantoorregio_code,year,inhabitants\n"
		       "ZK02,2024,964275\n"
		       "ZK02,2020,900000\n"},
    {"agb_sector.csv", "agb_prefix,sector,label\r\n"
		       "06,msz,Ziekenhuizen\r\n"
		       "0601,overig,\"Test, \"\"quoted\"\"\"\r\n"
		       "\r\n"},
};

#define NMINI (sizeof(mini) / sizeof(mini[0]))

/* Write the mini tables, with file `name` replaced by `text` if given. */
static char *mini_dir(const char *name, const char *text)
{
	char *dir = testutil_tmpdir();
	size_t i;

	for (i = 0; i < NMINI; i++)
		write_file(dir, mini[i][0],
			   name && strcmp(name, mini[i][0]) == 0 ? text
								 : mini[i][1]);
	return dir;
}

START_TEST(mini_tables)
{
	char *dir = mini_dir(NULL, NULL);
	struct refdata *m = NULL;
	struct iza_error err;
	char gm[8], zk[8], buf[600];
	int used = 0, rc;

	rc = refdata_load(dir, &m, &err);
	ck_assert_msg(rc == 0, "%s", iza_error_format(&err, buf, sizeof(buf)));
	/* Weesp's PC4: its own code until the merger, then Amsterdam; its
	 * region through the successor */
	ck_assert_int_eq(refdata_locate(m, 1381, day(2021, 5, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0457");
	ck_assert_str_eq(zk, "ZK02");
	ck_assert_int_eq(refdata_locate(m, 1381, day(2022, 12, 31), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0457");
	ck_assert_int_eq(refdata_locate(m, 1381, day(2023, 1, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0363");
	ck_assert_int_eq(refdata_locate(m, 1381, day(2025, 1, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0363");
	/* before the earliest row: the earliest row applies */
	ck_assert_int_eq(refdata_locate(m, 1381, day(2010, 1, 1), gm, zk), 0);
	ck_assert_str_eq(gm, "GM0457");
	/* a region change of a municipality takes effect on its date */
	ck_assert_int_eq(refdata_locate(m, 7411, day(2029, 12, 31), gm, zk), 0);
	ck_assert_str_eq(zk, "ZK14");
	ck_assert_int_eq(refdata_locate(m, 7411, day(2030, 1, 1), gm, zk), 0);
	ck_assert_str_eq(zk, "ZK02");
	ck_assert_int_eq(
	    refdata_region_pc4s(m, "ZK02", day(2030, 1, 1), NULL, 0), 3);
	/* population: unsorted rows, nearest earlier year */
	ck_assert_int_eq(refdata_population(m, "ZK02", 2023, &used), 900000);
	ck_assert_int_eq(used, 2020);
	ck_assert_int_eq(refdata_population(m, "ZK14", 2024, &used), -1);
	/* longest prefix wins; CRLF and quotes */
	ck_assert_str_eq(refdata_sector_of_agb(m, "06010000"), "overig");
	ck_assert_str_eq(refdata_sector_of_agb(m, "06020101"), "msz");
	refdata_free(m);
	testutil_rmrf(dir);
	free(dir);
}
END_TEST

struct bad_case {
	const char *file;
	const char *text;
	long line;
	const char *field; /* expected err.field prefix */
};

static const struct bad_case bad_cases[] = {
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n1011,GM0363,2024-01-01\n"
     "1012,GM03X3,2024-01-01\n",
     3, "column 2 (gemeente_code)"},
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n0999,GM0363,2024-01-01\n", 2,
     "column 1 (pc4)"},
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n10110,GM0363,2024-01-01\n", 2,
     "column 1 (pc4)"},
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n1011,GM0363,2023-02-29\n", 2,
     "column 3 (valid_from)"},
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n1011,GM0363,2024-1-01\n", 2,
     "column 3 (valid_from)"},
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n1011,GM0363,2024-01-01\n"
     "7411,GM0150,2024-01-01\n1011,GM0363,2024-01-01\n",
     4, "column 1"},
    {"pc4_gemeente.csv", "pc4,gemeente_code,valid_from\n1011,GM0363\n", 2,
     "column 3 (valid_from)"},
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n1011,GM0363,2024-01-01,x\n", 2, "column 4"},
    {"pc4_gemeente.csv", "pc4,gemeente,valid_from\n", 1,
     "column 2 (gemeente_code)"},
    {"pc4_gemeente.csv", "", 1, ""},
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n1011,GM0999,2024-01-01\n", 2,
     "column 2 (gemeente_code)"}, /* municipality without region */
    {"pc4_gemeente.csv",
     "pc4,gemeente_code,valid_from\n1011,\"GM0363,2024-01-01\n", 2,
     "column 2 (gemeente_code)"}, /* unterminated quote */
    {"gemeente_region.csv",
     "gemeente_code,zorgkantoorregio_code,valid_from\n"
     "GM0363,ZK2,2024-01-01\n",
     2, "column 2 (zorgkantoorregio_code)"},
    {"gemeente_region.csv",
     "gemeente_code,zorgkantoorregio_code,valid_from\n"
     "GM0363,ZK02,2024-01-01\nGM0150,ZK05,2024-01-01\n",
     3, "column 2 (zorgkantoorregio_code)"}, /* not in regions.csv */
    {"gemeente_merges.csv",
     "old_code,new_code,effective\nGM0457,GM0363,2023-01-01\n"
     "GM0363,GM0457,2023-01-01\n",
     3, "column 2 (new_code)"}, /* cycle */
    {"gemeente_merges.csv",
     "old_code,new_code,effective\nGM0457,GM0457,2023-01-01\n", 2,
     "column 2 (new_code)"},
    {"regions.csv", "zorgkantoorregio_code,name\nZK02,Amsterdam\nZK02,X\n", 3,
     "column 1 (zorgkantoorregio_code)"},
    {"regions.csv", "zorgkantoorregio_code,name\nZK02,\n", 2,
     "column 2 (name)"},
    {"population.csv", "zorgkantoorregio_code,year,inhabitants\nZK02,2024,-5\n",
     2, "column 3 (inhabitants)"},
    {"population.csv", "zorgkantoorregio_code,year,inhabitants\nZK02,24,5\n", 2,
     "column 2 (year)"},
    {"population.csv",
     "zorgkantoorregio_code,year,inhabitants\nZK02,2024,5\n\nZK02,2024,6\n", 4,
     "column 1"}, /* duplicate; the blank line still counts */
    {"agb_sector.csv", "agb_prefix,sector,label\n06,ziekenhuis,X\n", 2,
     "column 2 (sector)"},
    {"agb_sector.csv", "agb_prefix,sector,label\n0x,msz,X\n", 2,
     "column 1 (agb_prefix)"},
    {"agb_sector.csv", "agb_prefix,sector,label\n06,msz,X\"Y\n", 2,
     "column 3 (label)"},
};

START_TEST(malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	char *dir = mini_dir(c->file, c->text);
	struct refdata *m = NULL;
	struct iza_error err;
	char expect_file[600], buf[800];
	int rc;

	iza_error_clear(&err);
	rc = refdata_load(dir, &m, &err);
	iza_error_format(&err, buf, sizeof(buf));
	ck_assert_msg(rc < 0, "case %d loaded", _i);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err.code, rc);
	snprintf(expect_file, sizeof(expect_file), "%s/%s", dir, c->file);
	ck_assert_msg(strcmp(err.file, expect_file) == 0, "case %d: %s", _i,
		      buf);
	ck_assert_msg(err.line == c->line, "case %d: %s", _i, buf);
	ck_assert_msg(strncmp(err.field, c->field, strlen(c->field)) == 0,
		      "case %d: %s", _i, buf);
	/* formatted as file:line: column n (name): why */
	snprintf(expect_file, sizeof(expect_file), "%s/%s:%ld: %s", dir,
		 c->file, c->line, c->field);
	ck_assert_msg(strncmp(buf, expect_file, strlen(expect_file)) == 0,
		      "case %d: %s", _i, buf);
	testutil_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(missing_file)
{
	char *dir = mini_dir(NULL, NULL);
	struct refdata *m = NULL;
	struct iza_error err;
	char path[512];

	snprintf(path, sizeof(path), "%s/population.csv", dir);
	ck_assert_int_eq(remove(path), 0);
	ck_assert_int_eq(refdata_load(dir, &m, &err), -IZA_ENOTFOUND);
	ck_assert_str_eq(err.file, path);
	ck_assert_ptr_null(m);
	refdata_free(NULL);
	testutil_rmrf(dir);
	free(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("refdata");
	TCase *tc = tcase_create("committed_tables");
	TCase *tm = tcase_create("mini_tables");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, spot_checks);
	tcase_add_test(tc, populations);
	tcase_add_test(tc, region_pc4s);
	tcase_add_test(tc, sectors);
	tcase_add_test(tc, postcodes);
	suite_add_tcase(s, tc);
	tcase_add_test(tm, mini_tables);
	tcase_add_loop_test(tm, malformed, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tm, missing_file);
	suite_add_tcase(s, tm);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
