/*
 * sqlite_util.h - opening an existing SQLite file of the gateway (event
 * store, release ledger, outbox) so that a read-only data directory can
 * still be read.
 *
 * A WAL database cannot be opened on a read-only file system the usual
 * way: SQLite needs to create its -shm file there.  On such a file system
 * (access(2) says EROFS) the file is opened read-only and immutable
 * instead: nothing can change it while it is mounted read-only, so reads
 * see exactly what was committed, and every write fails with SQLite's
 * "attempt to write a readonly database".
 */
#ifndef IZA_SQLITE_UTIL_H
#define IZA_SQLITE_UTIL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "iza_error.h"

/* Open path (which exists) read-write with flags added, or as described
 * above; *readonly says which.  Returns SQLite's result code; *db is set
 * whenever SQLite allocated a handle (close it on failure too). */
int iza_sqlite_open(const char *path, int flags, sqlite3 **db, bool *readonly);

/* -IZA_ESTORE for the file at path: "WHAT: SQLite's message", with
 * " (the file system is full)" or " (the file system is read-only)" when
 * statvfs(2) of its directory says so. */
int iza_sqlite_error(struct iza_error *err, const char *path, sqlite3 *db,
		     const char *what);

#endif
