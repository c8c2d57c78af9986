/*
 * sqlite_open.c - read-write, or immutable on a read-only file system
 * (sqlite_util.h).
 */
#include "sqlite_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* "file:" URI of path: '%', '?' and '#' percent-encoded. */
static int file_uri(const char *path, char *out, size_t size)
{
	size_t n = 0;
	const char *p;
	int w = snprintf(out, size, "file:");

	if (w < 0 || (size_t)w >= size)
		return -1;
	n = (size_t)w;
	for (p = path; *p; p++) {
		if (n + 4 >= size)
			return -1;
		if (*p == '%' || *p == '?' || *p == '#') {
			snprintf(out + n, 4, "%%%02X", (unsigned char)*p);
			n += 3;
		} else {
			out[n++] = *p;
		}
	}
	if (n + sizeof("?immutable=1") > size)
		return -1;
	memcpy(out + n, "?immutable=1", sizeof("?immutable=1"));
	return 0;
}

int iza_sqlite_open(const char *path, int flags, sqlite3 **db, bool *readonly)
{
	char uri[4200];

	*readonly = false;
	if (access(path, W_OK) != 0 && errno == EROFS &&
	    file_uri(path, uri, sizeof(uri)) == 0) {
		*readonly = true;
		return sqlite3_open_v2(
		    uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | flags,
		    NULL);
	}
	return sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | flags, NULL);
}

/* What the file system of path's directory says, or "". */
static const char *fs_state(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct statvfs sv;

	if (slash)
		snprintf(dir, sizeof(dir), "%.*s",
			 (int)(slash == path ? 1 : slash - path), path);
	else
		snprintf(dir, sizeof(dir), ".");
	if (statvfs(dir, &sv) != 0)
		return "";
	if (sv.f_flag & ST_RDONLY)
		return " (the file system is read-only)";
	if (sv.f_bavail == 0)
		return " (the file system is full)";
	return "";
}

int iza_sqlite_error(struct iza_error *err, const char *path, sqlite3 *db,
		     const char *what)
{
	return iza_error_set(err, -IZA_ESTORE, path, 0, NULL, "%s: %s%s", what,
			     db ? sqlite3_errmsg(db) : "no database",
			     path ? fs_state(path) : "");
}
