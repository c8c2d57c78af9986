/*
 * store.c - the SQLite event store (contract in store.h).
 *
 * Layout (schema v1):
 *   encounters  one row per source record: (source, source_id) -> last_updated,
 *               version, content_hash.  The dedup check is one primary-key
 *               probe here: INSERT ... ON CONFLICT DO NOTHING, and only when
 *               that finds the key, a read of the stored row.
 *   events      the encounter's event set, keyed (source, source_id, type);
 *               one secondary index, events(start), for the KPI scan.  As the
 *               table is WITHOUT ROWID the index entries carry the primary
 *               key, so (start, source, source_id, type) is the index order and
 *               the scan's ORDER BY needs no sort.
 *   patients    keyed (source, patient_key).
 *   batches     provenance, one row per committed batch.
 *
 * Content hash: 64-bit FNV-1a over a canonical serialisation of the event set
 * (events sorted by type; every field except source, source_id, last_updated
 * and version, each string length-prefixed, each integer as 8 little-endian
 * bytes).  It only ever decides between PUT_DUPLICATE and PUT_UPDATED for the
 * same (source, source_id) with equal (last_updated, version), so a 64-bit
 * non-cryptographic hash is enough.
 *
 * Ordering of records: (last_updated, version) compared lexicographically; an
 * absent last_updated (IZA_TIME_NONE) sorts before any present one, an unknown
 * version is -1.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_APP_ID	0x495a4147 /* "IZAG" in PRAGMA application_id */
#define STORE_BUSY_MS	5000
#define STORE_CACHE_KIB 40960 /* page cache: ingest stays < 64 MB RSS */
#define SCAN_CACHE_MAX	16    /* cached scan statements (one per shape) */
#define SCAN_LIST_MAX	256   /* values in one types/statuses filter */
#define SCAN_SQL_MAX	8192

/* ---- schema and migrations ---- */

static const char *const schema_v1[] = {
    "CREATE TABLE encounters("
    " source TEXT NOT NULL,"
    " source_id TEXT NOT NULL,"
    " last_updated INTEGER,"
    " version INTEGER NOT NULL,"
    " content_hash INTEGER NOT NULL,"
    " PRIMARY KEY(source, source_id)) WITHOUT ROWID",

    "CREATE TABLE events("
    " source TEXT NOT NULL,"
    " source_id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " sector TEXT NOT NULL,"
    " rule TEXT NOT NULL,"
    " start INTEGER,"
    " \"end\" INTEGER,"
    " urgency INTEGER,"
    " disposition TEXT NOT NULL,"
    " patient_key BLOB NOT NULL,"
    " PRIMARY KEY(source, source_id, type)) WITHOUT ROWID",

    "CREATE INDEX events_start ON events(start)",

    "CREATE TABLE patients("
    " source TEXT NOT NULL,"
    " patient_key BLOB NOT NULL,"
    " pseudonym BLOB NOT NULL,"
    " has_bsn INTEGER NOT NULL,"
    " pc4 INTEGER NOT NULL,"
    " gemeente TEXT NOT NULL,"
    " region TEXT NOT NULL,"
    " birth_year INTEGER NOT NULL,"
    " sex TEXT NOT NULL,"
    " last_updated INTEGER,"
    " version INTEGER NOT NULL,"
    " active INTEGER NOT NULL,"
    " PRIMARY KEY(source, patient_key)) WITHOUT ROWID",

    "CREATE TABLE batches("
    " id INTEGER PRIMARY KEY,"
    " file TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " format TEXT NOT NULL,"
    " started INTEGER NOT NULL,"
    " finished INTEGER NOT NULL,"
    " records INTEGER NOT NULL,"
    " events_stored INTEGER NOT NULL,"
    " duplicates INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " stale INTEGER NOT NULL,"
    " excluded INTEGER NOT NULL,"
    " quarantined INTEGER NOT NULL,"
    " patients INTEGER NOT NULL)",
    NULL,
};

/*
 * Forward migrations: entry i takes the store from version i to version
 * i + 1 (entry 0 creates v1 from an empty file).  To go to v2, write the
 * statements that turn a v1 store into a v2 store as schema_v2[] and append
 * it here; STORE_SCHEMA_VERSION follows from the array length.
 */
static const char *const *const migrations[] = {
    schema_v1,
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION,
	       "STORE_SCHEMA_VERSION must equal the number of migrations");

/* ---- statements ---- */

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_ENC_GET,
	S_ENC_INS,
	S_ENC_UPD,
	S_EV_DEL,
	S_EV_INS,
	S_PAT_GET,
	S_PAT_PUT,
	S_BATCH_INS,
	S_COUNT_
};

static const char *const stmt_sql[S_COUNT_] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ENC_GET] = "SELECT last_updated, version, content_hash"
		  " FROM encounters WHERE source = ?1 AND source_id = ?2",
    [S_ENC_INS] = "INSERT INTO encounters(source, source_id, last_updated,"
		  " version, content_hash) VALUES(?1, ?2, ?3, ?4, ?5)"
		  " ON CONFLICT DO NOTHING",
    [S_ENC_UPD] = "UPDATE encounters SET last_updated = ?3, version = ?4,"
		  " content_hash = ?5 WHERE source = ?1 AND source_id = ?2",
    [S_EV_DEL] = "DELETE FROM events WHERE source = ?1 AND source_id = ?2",
    [S_EV_INS] = "INSERT INTO events(source, source_id, type, channel,"
		 " status, provider, sector, rule, start, \"end\", urgency,"
		 " disposition, patient_key)"
		 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
		 " ?13)",
    [S_PAT_GET] = "SELECT last_updated, version, pseudonym, has_bsn, pc4,"
		  " gemeente, region, birth_year, sex, active"
		  " FROM patients WHERE source = ?1 AND patient_key = ?2",
    [S_PAT_PUT] = "INSERT OR REPLACE INTO patients(source, patient_key,"
		  " pseudonym, has_bsn, pc4, gemeente, region, birth_year,"
		  " sex, last_updated, version, active)"
		  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
		  " ?12)",
    [S_BATCH_INS] = "INSERT INTO batches(file, sha256, source, format,"
		    " started, finished, records, events_stored,"
		    " duplicates, updated, stale, excluded, quarantined,"
		    " patients)"
		    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
		    " ?12, ?13, ?14)",
};

struct scan_shape {
	bool overlap;
	int ntypes;    /* -1: no filter */
	int nstatuses; /* -1: no filter */
};

struct scan_cached {
	struct scan_shape shape;
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[S_COUNT_];
	struct scan_cached scan[SCAN_CACHE_MAX];
	int nscan;
	bool in_batch;
	bool batch_failed; /* a write failed inside the open batch */
	int schema_version;
};

/* ---- errors ---- */

static int db_error(struct store *st, struct iza_error *err, const char *what)
{
	return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL, "%s: %s",
			     what, sqlite3_errmsg(st->db));
}

/* A failed write inside a batch leaves it half done: remember, so that
 * store_batch_end() refuses to commit it. */
static int write_error(struct store *st, struct iza_error *err,
		       const char *what)
{
	if (st->in_batch)
		st->batch_failed = true;
	return db_error(st, err, what);
}

/* Run one cached statement that returns no rows. */
static int step_done(struct store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : rc;
}

static int exec_sql(struct store *st, const char *sql, struct iza_error *err,
		    const char *what)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(st, err, what);
	return 0;
}

/* Read a single integer from a one-row query. */
static int query_int(struct store *st, const char *sql, int64_t *out,
		     struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int ret = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		ret = db_error(st, err, "cannot read the store");
		goto out;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		ret = db_error(st, err, "cannot read the store");
		goto out;
	}
	*out = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	return ret;
}

/* ---- open / close ---- */

/* Read and check the header fields: *ver is the schema version (0 for an
 * empty file).  A foreign or newer database is an error. */
static int check_header(struct store *st, int64_t *ver, struct iza_error *err)
{
	int64_t app, ntables;
	int ret;

	ret = query_int(st, "PRAGMA user_version", ver, err);
	if (ret)
		return ret;
	ret = query_int(st, "PRAGMA application_id", &app, err);
	if (ret)
		return ret;
	ret =
	    query_int(st, "SELECT count(*) FROM sqlite_master", &ntables, err);
	if (ret)
		return ret;
	if ((app != 0 && app != STORE_APP_ID) ||
	    (app == 0 && (*ver != 0 || ntables != 0)))
		return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				     "an SQLite database, but not an IZA "
				     "gateway store");
	if (*ver > STORE_SCHEMA_VERSION)
		return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				     "store schema version %lld is newer than "
				     "this program supports (%d)",
				     (long long)*ver, STORE_SCHEMA_VERSION);
	return 0;
}

static int migrate(struct store *st, struct iza_error *err)
{
	char sql[96];
	int64_t ver;
	int ret, i;

	/* Current stores need no write lock (a reader must not wait for an
	 * import in progress). */
	ret = check_header(st, &ver, err);
	if (ret)
		return ret;
	if (ver == STORE_SCHEMA_VERSION)
		goto done;
	ret = exec_sql(st, "BEGIN IMMEDIATE", err, "cannot lock the store");
	if (ret)
		return ret;
	/* Read again under the lock: another process may have migrated. */
	ret = check_header(st, &ver, err);
	if (ret)
		goto out;
	for (i = (int)ver; i < N_MIGRATIONS; i++) {
		const char *const *step;

		for (step = migrations[i]; *step; step++) {
			if (sqlite3_exec(st->db, *step, NULL, NULL, NULL) !=
			    SQLITE_OK) {
				char what[64];

				snprintf(what, sizeof(what),
					 "schema migration to v%d failed",
					 i + 1);
				ret = db_error(st, err, what);
				goto out;
			}
		}
	}
	snprintf(sql, sizeof(sql),
		 "PRAGMA application_id = %d; PRAGMA user_version = %d",
		 STORE_APP_ID, STORE_SCHEMA_VERSION);
	ret = exec_sql(st, sql, err, "cannot set the schema version");
	if (ret)
		goto out;
	ret = exec_sql(st, "COMMIT", err, "cannot commit the schema");
out:
	if (ret) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
done:
	st->schema_version = STORE_SCHEMA_VERSION;
	return 0;
}

/* Make sure the file exists with mode 0600 before SQLite opens it (SQLite
 * gives its -wal and -shm files the database file's mode). */
static int prepare_file(const char *path, bool create, struct iza_error *err)
{
	struct stat sb;
	int fd;

	if (stat(path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode))
			return iza_error_set(err, -IZA_ESTORE, path, 0, NULL,
					     "store path is not a regular "
					     "file");
		return 0;
	}
	if (errno != ENOENT)
		return iza_error_set(err, -IZA_EIO, path, 0, NULL,
				     "cannot access store file: %s",
				     strerror(errno));
	if (!create)
		return iza_error_set(err, -IZA_ENOTFOUND, path, 0, NULL,
				     "store file %s does not exist (create it "
				     "with an import first)",
				     path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return iza_error_set(err, -IZA_EIO, path, 0, NULL,
				     "cannot create store file: %s",
				     strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

int store_open(const char *path, bool create, struct store **out,
	       struct iza_error *err)
{
	struct store *st = NULL;
	bool memory;
	char sql[64];
	int ret = 0, i;

	if (!path || !*path || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_open: no path");
	memory = strcmp(path, ":memory:") == 0;
	if (!memory) {
		ret = prepare_file(path, create, err);
		if (ret)
			return ret;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return iza_error_set(err, -IZA_ENOMEM, path, 0, NULL,
				     "out of memory opening the store");
	st->path = strdup(path);
	if (!st->path) {
		ret = iza_error_set(err, -IZA_ENOMEM, path, 0, NULL,
				    "out of memory opening the store");
		goto out;
	}
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
				(memory ? SQLITE_OPEN_CREATE : 0),
			    NULL) != SQLITE_OK) {
		if (!st->db) {
			ret = iza_error_set(err, -IZA_ENOMEM, path, 0, NULL,
					    "out of memory opening the store");
			goto out;
		}
		ret = db_error(st, err, "cannot open the store");
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);

	/* The first read of the header: a non-SQLite file fails here. */
	{
		int64_t ver;

		ret = query_int(st, "PRAGMA user_version", &ver, err);
		if (ret) {
			iza_error_set(err, -IZA_ESTORE, path, 0, NULL,
				      "not a usable SQLite store: %s",
				      sqlite3_errmsg(st->db));
			goto out;
		}
		/* refuse a foreign or newer database before changing
		 * anything in it (journal mode included) */
		ret = check_header(st, &ver, err);
		if (ret)
			goto out;
	}
	/* page_size only takes effect on a new, empty file.  Random ids make
	 * every put a cache miss once the store outgrows the cache, and a miss
	 * copies a page in from the WAL and later a dirty one out: with a
	 * 40 MiB cache 8 KiB pages ingested 2M encounters in 43 s against 62 s
	 * with 16 KiB and 57 s with 4 KiB (bench/INGEST-PROFILE.md). */
	ret = exec_sql(st, "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL",
		       err, "cannot switch to WAL mode");
	if (ret)
		goto out;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", STORE_CACHE_KIB);
	ret = exec_sql(
	    st, "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY", err,
	    "cannot set store options");
	if (ret)
		goto out;
	ret = exec_sql(st, sql, err, "cannot set store options");
	if (ret)
		goto out;
	ret = migrate(st, err);
	if (ret)
		goto out;
	for (i = 0; i < S_COUNT_; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
				       NULL) != SQLITE_OK) {
			ret = db_error(st, err, "cannot prepare a statement");
			goto out;
		}
	}
out:
	if (ret) {
		store_close(st);
		return ret;
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	int i;

	if (!st)
		return;
	if (st->in_batch)
		store_batch_abort(st);
	for (i = 0; i < S_COUNT_; i++)
		sqlite3_finalize(st->stmt[i]);
	for (i = 0; i < st->nscan; i++)
		sqlite3_finalize(st->scan[i].stmt);
	sqlite3_close(st->db); /* accepts NULL */
	free(st->path);
	free(st);
}

int store_schema_version(const struct store *st)
{
	return st ? st->schema_version : 0;
}

/* ---- batches ---- */

int store_batch_begin(struct store *st, struct iza_error *err)
{
	if (!st)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_batch_begin: no store");
	if (st->in_batch)
		return iza_error_set(err, -IZA_EUSAGE, st->path, 0, NULL,
				     "a batch is already open");
	if (step_done(st, S_BEGIN))
		return db_error(st, err, "cannot begin a batch");
	st->in_batch = true;
	st->batch_failed = false;
	return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

int store_batch_end(struct store *st, const struct batch_info *info,
		    const struct batch_counts *counts, struct iza_error *err)
{
	static const struct batch_counts zero;
	sqlite3_stmt *s;
	int ret = 0;

	if (!st || !info)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_batch_end: no store or batch "
				     "info");
	if (!st->in_batch)
		return iza_error_set(err, -IZA_EUSAGE, st->path, 0, NULL,
				     "no batch is open");
	if (st->batch_failed) {
		store_batch_abort(st);
		return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				     "batch rolled back after an earlier "
				     "store error");
	}
	if (!counts)
		counts = &zero;
	s = st->stmt[S_BATCH_INS];
	bind_text(s, 1, info->file);
	bind_text(s, 2, info->sha256_hex);
	bind_text(s, 3, info->source);
	bind_text(s, 4, info->format);
	sqlite3_bind_int64(s, 5, info->started);
	sqlite3_bind_int64(s, 6, (int64_t)time(NULL));
	sqlite3_bind_int64(s, 7, counts->records);
	sqlite3_bind_int64(s, 8, counts->events_stored);
	sqlite3_bind_int64(s, 9, counts->duplicates);
	sqlite3_bind_int64(s, 10, counts->updated);
	sqlite3_bind_int64(s, 11, counts->stale);
	sqlite3_bind_int64(s, 12, counts->excluded);
	sqlite3_bind_int64(s, 13, counts->quarantined);
	sqlite3_bind_int64(s, 14, counts->patients);
	if (step_done(st, S_BATCH_INS)) {
		ret = db_error(st, err, "cannot record the batch");
		sqlite3_clear_bindings(s);
		store_batch_abort(st);
		return ret;
	}
	sqlite3_clear_bindings(s); /* drop pointers to the caller's strings */
	if (step_done(st, S_COMMIT)) {
		ret = db_error(st, err, "cannot commit the batch");
		store_batch_abort(st);
		return ret;
	}
	st->in_batch = false;
	return 0;
}

void store_batch_abort(struct store *st)
{
	if (!st || !st->in_batch)
		return;
	step_done(st, S_ROLLBACK);
	st->in_batch = false;
	st->batch_failed = false;
}

/* Puts outside a batch run in a transaction of their own. */
static int auto_begin(struct store *st, bool *own, struct iza_error *err)
{
	*own = false;
	if (st->in_batch)
		return 0;
	if (step_done(st, S_BEGIN))
		return db_error(st, err, "cannot begin a transaction");
	*own = true;
	return 0;
}

static int auto_end(struct store *st, bool own, int ret, struct iza_error *err)
{
	if (!own)
		return ret;
	if (ret == 0 && step_done(st, S_COMMIT) == 0)
		return 0;
	if (ret == 0)
		ret = db_error(st, err, "cannot commit");
	step_done(st, S_ROLLBACK);
	return ret;
}

/* ---- encounters ---- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64_t fnv_int(uint64_t h, int64_t v)
{
	uint64_t u = (uint64_t)v;
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(u >> (8 * i));
	return fnv_bytes(h, b, sizeof(b));
}

static uint64_t fnv_str(uint64_t h, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	h = fnv_int(h, (int64_t)n);
	return fnv_bytes(h, s, n);
}

static uint64_t event_set_hash(const struct canon_event *const *sorted,
			       size_t n)
{
	uint64_t h = fnv_int(FNV_OFFSET, (int64_t)n);
	size_t i;

	for (i = 0; i < n; i++) {
		const struct canon_event *e = sorted[i];

		h = fnv_str(h, e->type, sizeof(e->type));
		h = fnv_bytes(h, e->patient_key, sizeof(e->patient_key));
		h = fnv_str(h, e->channel, sizeof(e->channel));
		h = fnv_str(h, e->status, sizeof(e->status));
		h = fnv_str(h, e->provider, sizeof(e->provider));
		h = fnv_str(h, e->sector, sizeof(e->sector));
		h = fnv_str(h, e->rule, sizeof(e->rule));
		h = fnv_int(h, e->start);
		h = fnv_int(h, e->end);
		h = fnv_int(h, e->urgency);
		h = fnv_str(h, e->disposition, sizeof(e->disposition));
	}
	return h;
}

/* (last_updated, version) ordering; IZA_TIME_NONE is INT64_MIN and so sorts
 * first by itself. */
static int meta_cmp(int64_t lu_a, int64_t v_a, int64_t lu_b, int64_t v_b)
{
	if (lu_a != lu_b)
		return lu_a < lu_b ? -1 : 1;
	if (v_a != v_b)
		return v_a < v_b ? -1 : 1;
	return 0;
}

static void bind_time(sqlite3_stmt *s, int i, int64_t t)
{
	if (t == IZA_TIME_NONE)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, t);
}

static int64_t column_time(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return IZA_TIME_NONE;
	return sqlite3_column_int64(s, i);
}

/* Bounded copy of a fixed-size char field: never reads past the array even
 * when the caller forgot the terminator. */
static void bind_field(sqlite3_stmt *s, int i, const char *f, size_t size)
{
	sqlite3_bind_text(s, i, f, (int)strnlen(f, size), SQLITE_STATIC);
}

#define BIND_FIELD(s, i, f) bind_field(s, i, f, sizeof(f))

static void bind_encounter(sqlite3_stmt *s, const struct canon_event *key,
			   uint64_t hash)
{
	int64_t h;

	memcpy(&h, &hash, sizeof(h));
	BIND_FIELD(s, 1, key->source);
	BIND_FIELD(s, 2, key->source_id);
	bind_time(s, 3, key->last_updated);
	sqlite3_bind_int64(s, 4, key->version);
	sqlite3_bind_int64(s, 5, h);
}

static int insert_events(struct store *st, const struct canon_event *evs,
			 size_t n, struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_EV_INS];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct canon_event *e = &evs[i];

		BIND_FIELD(s, 1, e->source);
		BIND_FIELD(s, 2, e->source_id);
		BIND_FIELD(s, 3, e->type);
		BIND_FIELD(s, 4, e->channel);
		BIND_FIELD(s, 5, e->status);
		BIND_FIELD(s, 6, e->provider);
		BIND_FIELD(s, 7, e->sector);
		BIND_FIELD(s, 8, e->rule);
		bind_time(s, 9, e->start);
		bind_time(s, 10, e->end);
		if (e->urgency < 0)
			sqlite3_bind_null(s, 11);
		else
			sqlite3_bind_int(s, 11, e->urgency);
		BIND_FIELD(s, 12, e->disposition);
		sqlite3_bind_blob(s, 13, e->patient_key, IZA_HASH_LEN,
				  SQLITE_STATIC);
		if (step_done(st, S_EV_INS))
			return write_error(st, err, "cannot store event");
	}
	return 0;
}

/* Replace the stored set of an existing encounter. */
static int replace_events(struct store *st, const struct canon_event *key,
			  const struct canon_event *evs, size_t n,
			  uint64_t hash, struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_EV_DEL];

	BIND_FIELD(s, 1, key->source);
	BIND_FIELD(s, 2, key->source_id);
	if (step_done(st, S_EV_DEL))
		return write_error(st, err, "cannot replace events");
	bind_encounter(st->stmt[S_ENC_UPD], key, hash);
	if (step_done(st, S_ENC_UPD))
		return write_error(st, err, "cannot update encounter");
	return insert_events(st, evs, n, err);
}

static bool field_eq(const char *a, const char *b, size_t size)
{
	return strncmp(a, b, size) == 0;
}

/* Sort the set by type (insertion sort: sets are tiny) and check it. */
static int check_set(const struct canon_event *evs, size_t n,
		     const struct canon_event **sorted, struct iza_error *err)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		const struct canon_event *e = &evs[i];

		if (!field_eq(e->source, evs[0].source, sizeof(e->source)) ||
		    !field_eq(e->source_id, evs[0].source_id,
			      sizeof(e->source_id)) ||
		    e->last_updated != evs[0].last_updated ||
		    e->version != evs[0].version)
			return iza_error_set(err, -IZA_EUSAGE, NULL, 0,
					     "source_id",
					     "events of one encounter differ "
					     "in source, id or meta");
		if (!e->type[0])
			return iza_error_set(err, -IZA_EMISSING, NULL, 0,
					     "type", "event without a type");
		for (j = i; j > 0 && strncmp(sorted[j - 1]->type, e->type,
					     sizeof(e->type)) > 0;
		     j--)
			sorted[j] = sorted[j - 1];
		if (j > 0 &&
		    field_eq(sorted[j - 1]->type, e->type, sizeof(e->type)))
			return iza_error_set(
			    err, -IZA_EINVALID, NULL, 0, "type",
			    "two '%.*s' events in one "
			    "encounter",
			    (int)strnlen(e->type, sizeof(e->type)), e->type);
		sorted[j] = e;
	}
	return 0;
}

static int put_encounter(struct store *st, const struct canon_event *key,
			 const struct canon_event *evs, size_t n,
			 enum put_result *res, struct iza_error *err)
{
	const struct canon_event *sorted[STORE_EVENTS_MAX];
	enum put_result r = PUT_INSERTED;
	sqlite3_stmt *s;
	uint64_t hash;
	bool own = false;
	int ret, rc;

	if (!key->source[0] || !key->source_id[0])
		return iza_error_set(err, -IZA_EMISSING, NULL, 0,
				     key->source[0] ? "source_id" : "source",
				     "encounter without source or id");
	if (n > STORE_EVENTS_MAX)
		return iza_error_set(err, -IZA_ETOOBIG, NULL, 0, NULL,
				     "encounter yields %zu events (at most "
				     "%d)",
				     n, STORE_EVENTS_MAX);
	ret = check_set(evs, n, sorted, err);
	if (ret)
		return ret;
	hash = event_set_hash(sorted, n);

	ret = auto_begin(st, &own, err);
	if (ret)
		return ret;
	/* Fresh records are the common case: try the insert first, so a new
	 * encounter costs one probe of the primary key, not a lookup and then
	 * an insert.  Only on conflict is the stored row read. */
	s = st->stmt[S_ENC_INS];
	bind_encounter(s, key, hash);
	if (step_done(st, S_ENC_INS)) {
		ret = write_error(st, err, "cannot store encounter");
		goto out;
	}
	if (sqlite3_changes(st->db) == 1) {
		r = PUT_INSERTED;
		ret = insert_events(st, evs, n, err);
		goto out;
	}
	s = st->stmt[S_ENC_GET];
	BIND_FIELD(s, 1, key->source);
	BIND_FIELD(s, 2, key->source_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int64_t lu = column_time(s, 0),
			ver = sqlite3_column_int64(s, 1);
		int64_t oh = sqlite3_column_int64(s, 2);
		int c = meta_cmp(key->last_updated, key->version, lu, ver);
		uint64_t old;

		memcpy(&old, &oh, sizeof(old));
		if (c < 0)
			r = PUT_STALE;
		else if (c == 0 && old == hash)
			r = PUT_DUPLICATE;
		else
			r = PUT_UPDATED;
	} else {
		/* DONE here would mean the row vanished under our lock */
		sqlite3_reset(s);
		ret = write_error(st, err, "cannot look up encounter");
		goto out;
	}
	sqlite3_reset(s);
	if (r == PUT_UPDATED)
		ret = replace_events(st, key, evs, n, hash, err);
out:
	ret = auto_end(st, own, ret, err);
	if (ret == 0 && res)
		*res = r;
	return ret;
}

int store_put_encounter(struct store *st, const struct canon_event *evs,
			size_t n, enum put_result *res, struct iza_error *err)
{
	if (!st || !evs)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_put_encounter: no store or no "
				     "encounter key");
	return put_encounter(st, &evs[0], evs, n, res, err);
}

int store_put_empty_encounter(struct store *st, const char *source,
			      const char *source_id, int64_t last_updated,
			      int64_t version, enum put_result *res,
			      struct iza_error *err)
{
	struct canon_event key;

	if (!st || !source || !source_id)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_put_empty_encounter: missing "
				     "argument");
	if (strlen(source) >= sizeof(key.source) ||
	    strlen(source_id) >= sizeof(key.source_id))
		return iza_error_set(err, -IZA_ETOOBIG, NULL, 0, "source_id",
				     "source or id too long");
	memset(&key, 0, sizeof(key));
	memcpy(key.source, source, strlen(source));
	memcpy(key.source_id, source_id, strlen(source_id));
	key.last_updated = last_updated;
	key.version = version;
	return put_encounter(st, &key, NULL, 0, res, err);
}

/* ---- patients ---- */

static bool col_text_eq(sqlite3_stmt *s, int i, const char *f, size_t size)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = strnlen(f, size);

	return t && (size_t)sqlite3_column_bytes(s, i) == n &&
	       memcmp(t, f, n) == 0;
}

static bool patient_same(sqlite3_stmt *s, const struct canon_patient *p)
{
	const void *ps = sqlite3_column_blob(s, 2);

	return sqlite3_column_bytes(s, 2) == IZA_HASH_LEN && ps &&
	       memcmp(ps, p->pseudonym, IZA_HASH_LEN) == 0 &&
	       sqlite3_column_int(s, 3) == p->has_bsn &&
	       sqlite3_column_int(s, 4) == p->pc4 &&
	       col_text_eq(s, 5, p->gemeente, sizeof(p->gemeente)) &&
	       col_text_eq(s, 6, p->region, sizeof(p->region)) &&
	       sqlite3_column_int(s, 7) == p->birth_year &&
	       col_text_eq(s, 8, p->sex, sizeof(p->sex)) &&
	       sqlite3_column_int(s, 9) == p->active;
}

int store_put_patient(struct store *st, const struct canon_patient *p,
		      enum put_result *res, struct iza_error *err)
{
	enum put_result r = PUT_INSERTED;
	sqlite3_stmt *s;
	bool own = false;
	int ret, rc;

	if (!st || !p)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_put_patient: missing argument");
	if (!p->source[0])
		return iza_error_set(err, -IZA_EMISSING, NULL, 0, "source",
				     "patient without source");
	ret = auto_begin(st, &own, err);
	if (ret)
		return ret;
	s = st->stmt[S_PAT_GET];
	BIND_FIELD(s, 1, p->source);
	sqlite3_bind_blob(s, 2, p->patient_key, IZA_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int c = meta_cmp(p->last_updated, p->version, column_time(s, 0),
				 sqlite3_column_int64(s, 1));

		if (c < 0)
			r = PUT_STALE;
		else if (c == 0 && patient_same(s, p))
			r = PUT_DUPLICATE;
		else
			r = PUT_UPDATED;
	} else if (rc == SQLITE_DONE) {
		r = PUT_INSERTED;
	} else {
		sqlite3_reset(s);
		ret = write_error(st, err, "cannot look up patient");
		goto out;
	}
	sqlite3_reset(s);
	if (r == PUT_INSERTED || r == PUT_UPDATED) {
		s = st->stmt[S_PAT_PUT];
		BIND_FIELD(s, 1, p->source);
		sqlite3_bind_blob(s, 2, p->patient_key, IZA_HASH_LEN,
				  SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, p->pseudonym, IZA_HASH_LEN,
				  SQLITE_STATIC);
		sqlite3_bind_int(s, 4, p->has_bsn);
		sqlite3_bind_int(s, 5, p->pc4);
		BIND_FIELD(s, 6, p->gemeente);
		BIND_FIELD(s, 7, p->region);
		sqlite3_bind_int(s, 8, p->birth_year);
		BIND_FIELD(s, 9, p->sex);
		bind_time(s, 10, p->last_updated);
		sqlite3_bind_int64(s, 11, p->version);
		sqlite3_bind_int(s, 12, p->active);
		if (step_done(st, S_PAT_PUT)) {
			ret = write_error(st, err, "cannot store patient");
			goto out;
		}
	}
out:
	ret = auto_end(st, own, ret, err);
	if (ret == 0 && res)
		*res = r;
	return ret;
}

/* ---- scan ---- */

static int list_len(const char *const *l, const char *what,
		    struct iza_error *err)
{
	int n = 0;

	if (!l)
		return -1;
	while (l[n]) {
		if (++n > SCAN_LIST_MAX)
			return iza_error_set(err, -IZA_ETOOBIG, NULL, 0, what,
					     "more than %d values in a scan "
					     "filter",
					     SCAN_LIST_MAX);
	}
	return n;
}

/* Append to buf; the caller sized buf for the worst case (checked). */
static void append(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= size)
		n = size - *len - 1; /* unreachable with SCAN_SQL_MAX */
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static void append_in(char *buf, size_t size, size_t *len, const char *col,
		      int count, int *param)
{
	char tmp[24];
	int i;

	append(buf, size, len, " AND ");
	if (count == 0) {
		append(buf, size, len, "0");
		return;
	}
	append(buf, size, len, col);
	append(buf, size, len, " IN (");
	for (i = 0; i < count; i++) {
		snprintf(tmp, sizeof(tmp), "%s?%d", i ? ", " : "", (*param)++);
		append(buf, size, len, tmp);
	}
	append(buf, size, len, ")");
}

static int scan_prepare(struct store *st, const struct scan_shape *sh,
			sqlite3_stmt **out, struct iza_error *err)
{
	char sql[SCAN_SQL_MAX];
	size_t len = 0;
	int param = 3;

	_Static_assert(SCAN_SQL_MAX > 1024 + 2 * SCAN_LIST_MAX * 8,
		       "SCAN_SQL_MAX too small for the longest filter");
	sql[0] = '\0';
	append(sql, sizeof(sql), &len,
	       "SELECT e.type, e.channel, e.sector, e.provider, e.status,"
	       " e.start, e.\"end\", e.urgency, e.disposition,"
	       " p.pseudonym, p.region, p.birth_year"
	       " FROM events e LEFT JOIN patients p"
	       " ON p.source = e.source AND p.patient_key = e.patient_key"
	       " WHERE ");
	if (sh->overlap)
		append(
		    sql, sizeof(sql), &len,
		    "e.start < ?2 AND (e.\"end\" IS NULL OR e.\"end\" > ?1)");
	else
		append(sql, sizeof(sql), &len,
		       "e.start >= ?1 AND e.start < ?2");
	if (sh->ntypes >= 0)
		append_in(sql, sizeof(sql), &len, "e.type", sh->ntypes, &param);
	if (sh->nstatuses >= 0)
		append_in(sql, sizeof(sql), &len, "e.status", sh->nstatuses,
			  &param);
	append(sql, sizeof(sql), &len,
	       " ORDER BY e.start, e.source, e.source_id, e.type");
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
			       NULL) != SQLITE_OK)
		return db_error(st, err, "cannot prepare the scan");
	return 0;
}

/* A cached statement for this shape, or a fresh one the caller must finalize
 * (*own) when the cache is full or the cached one is busy (nested scan). */
static int scan_stmt(struct store *st, const struct scan_shape *sh,
		     sqlite3_stmt **out, bool *own, struct iza_error *err)
{
	int i, ret;

	*own = false;
	for (i = 0; i < st->nscan; i++) {
		const struct scan_shape *c = &st->scan[i].shape;

		if (c->overlap == sh->overlap && c->ntypes == sh->ntypes &&
		    c->nstatuses == sh->nstatuses) {
			if (sqlite3_stmt_busy(st->scan[i].stmt))
				break;
			*out = st->scan[i].stmt;
			return 0;
		}
	}
	ret = scan_prepare(st, sh, out, err);
	if (ret)
		return ret;
	if (i == st->nscan && st->nscan < SCAN_CACHE_MAX) {
		st->scan[st->nscan].shape = *sh;
		st->scan[st->nscan].stmt = *out;
		st->nscan++;
	} else {
		*own = true;
	}
	return 0;
}

static const char *col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

int store_scan(struct store *st, const struct event_filter *f,
	       int (*cb)(void *ctx, const struct event_row *row), void *ctx,
	       struct iza_error *err)
{
	struct scan_shape sh;
	sqlite3_stmt *s = NULL;
	bool own = false;
	int ret = 0, rc, i, param = 3;

	if (!st || !f || !cb)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_scan: missing argument");
	sh.overlap = f->overlap;
	sh.ntypes = list_len(f->types, "types", err);
	if (sh.ntypes < -1)
		return sh.ntypes;
	sh.nstatuses = list_len(f->statuses, "statuses", err);
	if (sh.nstatuses < -1)
		return sh.nstatuses;
	ret = scan_stmt(st, &sh, &s, &own, err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, f->from);
	sqlite3_bind_int64(s, 2, f->to);
	for (i = 0; i < sh.ntypes; i++)
		sqlite3_bind_text(s, param++, f->types[i], -1, SQLITE_STATIC);
	for (i = 0; i < sh.nstatuses; i++)
		sqlite3_bind_text(s, param++, f->statuses[i], -1,
				  SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct event_row row;

		row.type = col_str(s, 0);
		row.channel = col_str(s, 1);
		row.sector = col_str(s, 2);
		row.provider = col_str(s, 3);
		row.status = col_str(s, 4);
		row.start = column_time(s, 5);
		row.end = column_time(s, 6);
		row.urgency = sqlite3_column_type(s, 7) == SQLITE_NULL
				  ? -1
				  : sqlite3_column_int(s, 7);
		row.disposition = col_str(s, 8);
		row.pseudonym = NULL;
		if (sqlite3_column_type(s, 9) == SQLITE_BLOB &&
		    sqlite3_column_bytes(s, 9) == IZA_HASH_LEN)
			row.pseudonym = sqlite3_column_blob(s, 9);
		row.region = col_str(s, 10);
		row.birth_year = sqlite3_column_int(s, 11); /* NULL -> 0 */
		ret = cb(ctx, &row);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = db_error(st, err, "scan failed");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s); /* drop pointers to the caller's strings */
	if (own)
		sqlite3_finalize(s);
	return ret;
}

/* ---- stats ---- */

int store_stats(struct store *st, struct store_stats *out,
		struct iza_error *err)
{
	static const char sql[] =
	    "SELECT (SELECT count(*) FROM events),"
	    " (SELECT count(*) FROM encounters),"
	    " (SELECT count(*) FROM patients),"
	    " (SELECT count(*) FROM batches),"
	    " (SELECT count(*) FROM events e WHERE NOT EXISTS"
	    "  (SELECT 1 FROM patients p WHERE p.source = e.source"
	    "   AND p.patient_key = e.patient_key))";
	sqlite3_stmt *s = NULL;
	int ret = 0;

	if (!st || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_stats: missing argument");
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		ret = db_error(st, err, "cannot count the store");
		goto out;
	}
	out->events = sqlite3_column_int64(s, 0);
	out->encounters = sqlite3_column_int64(s, 1);
	out->patients = sqlite3_column_int64(s, 2);
	out->batches = sqlite3_column_int64(s, 3);
	out->events_without_patient = sqlite3_column_int64(s, 4);
out:
	sqlite3_finalize(s);
	return ret;
}
