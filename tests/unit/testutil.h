/* testutil.h - small helpers shared by the Check suites. */
#ifndef IZA_TESTUTIL_H
#define IZA_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Run one suite; returns the process exit status (0 all passed). */
int testutil_run(Suite *s);

/* Read a whole file into a NUL-terminated heap buffer (caller frees);
 * aborts the test on failure. */
char *testutil_slurp(const char *path, size_t *len);

/* A fresh empty temporary directory (caller removes with testutil_rmrf). */
char *testutil_tmpdir(void);
void testutil_rmrf(const char *path);

/* Path under the source tree / the shared sample data (static buffer). */
const char *testutil_src(const char *rel);
const char *testutil_shared(const char *rel);

#endif
