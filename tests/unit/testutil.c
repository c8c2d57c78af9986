#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int testutil_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

char *testutil_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	do {
		if (n + 65536 + 1 > cap) {
			cap = (cap ? cap * 2 : 131072);
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *testutil_tmpdir(void)
{
	char tmpl[] = "/tmp/iza-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(d);
	return strdup(d);
}

void testutil_rmrf(const char *path)
{
	char cmd[512];

	if (!path || strncmp(path, "/tmp/iza-test-", 14) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", path);
}

static const char *join(const char *base, const char *rel)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", base, rel);
	return buf;
}

const char *testutil_src(const char *rel)
{
	return join(IZA_SOURCE_DIR, rel);
}

const char *testutil_shared(const char *rel)
{
	return join(IZA_SHARED_DATA, rel);
}
