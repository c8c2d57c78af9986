/*
 * ledger.c - the append-only, hash-chained release ledger (contract in
 * ledger.h).
 *
 * Decisions:
 *  - Its own SQLite file, not a table of the event store: the ledger is the
 *    record of what left the region and is kept (and backed up) for as long
 *    as the plans run, while the event store may be rebuilt from exports.
 *  - The hash covers a canonical text, not SQLite's bytes: values are
 *    written with %.17g (a double round-trips), integers in decimal, fields
 *    separated by tabs and cells in (kpi, stratifier, stratum) order, so
 *    the chain can be checked by anyone with the file and sqlite3.
 *  - Append-only is enforced twice: the API has no update, and triggers make
 *    UPDATE and DELETE fail for any other writer.
 */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "sqlite_util.h"

#define LEDGER_SCHEMA  1
#define LEDGER_MAGIC   "iza-ledger/1"
#define LEDGER_BUSY_MS 5000

struct ledger {
	sqlite3 *db;
	char *path;
};

static const char *const schema_sql =
    "CREATE TABLE releases("
    " seq INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " period TEXT NOT NULL,"
    " kpi_version TEXT NOT NULL,"
    " ncells INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE TABLE cells("
    " seq INTEGER NOT NULL REFERENCES releases(seq),"
    " kpi TEXT NOT NULL,"
    " period TEXT NOT NULL,"
    " stratifier TEXT NOT NULL,"
    " stratum TEXT NOT NULL,"
    " released INTEGER NOT NULL,"
    " value REAL,"
    " numerator INTEGER,"
    " denominator INTEGER,"
    " persons INTEGER NOT NULL,"
    " rest_persons INTEGER NOT NULL,"
    " PRIMARY KEY(kpi, period, stratifier, stratum, seq)) WITHOUT ROWID;"
    "CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases"
    " BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END;"
    "CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases"
    " BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END;"
    "CREATE TRIGGER cells_no_update BEFORE UPDATE ON cells"
    " BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END;"
    "CREATE TRIGGER cells_no_delete BEFORE DELETE ON cells"
    " BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END;"
    "PRAGMA user_version = 1;";

/* Added to schema 1 without a version change (created if missing). */
static const char *const budget_sql =
    "CREATE TABLE IF NOT EXISTS budget("
    " seq INTEGER NOT NULL REFERENCES releases(seq),"
    " scope TEXT NOT NULL,"
    " milli INTEGER NOT NULL,"
    " PRIMARY KEY(scope, seq)) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS budget_no_update BEFORE UPDATE ON budget"
    " BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS budget_no_delete BEFORE DELETE ON budget"
    " BEGIN SELECT RAISE(ABORT, 'the release ledger is append-only'); END;";

static int db_fail(struct ledger *l, struct iza_error *err, const char *what)
{
	return iza_sqlite_error(err, l->path, l->db, what);
}

void ledger_close(struct ledger *l)
{
	if (!l)
		return;
	sqlite3_close(l->db);
	free(l->path);
	free(l);
}

int ledger_open(const char *path, bool create, struct ledger **out,
		struct iza_error *err)
{
	struct ledger *l;
	sqlite3_stmt *s = NULL;
	int64_t ver = -1;
	bool fresh = false, readonly = false;
	int rc = 0;

	if (!path || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "ledger_open: missing argument");
	if (access(path, F_OK) != 0) {
		int fd;

		if (!create)
			return iza_error_set(err, -IZA_ENOTFOUND, path, 0, NULL,
					     "no release ledger");
		/* mode 0600 before SQLite opens it */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return iza_error_set(err, -IZA_EIO, path, 0, NULL,
					     "cannot create the release "
					     "ledger: %s",
					     strerror(errno));
		if (fd >= 0)
			close(fd);
		fresh = true;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return -IZA_ENOMEM;
	}
	if (iza_sqlite_open(path, 0, &l->db, &readonly) != SQLITE_OK) {
		rc = db_fail(l, err, "cannot open the release ledger");
		goto out;
	}
	sqlite3_busy_timeout(l->db, LEDGER_BUSY_MS);
	if (sqlite3_prepare_v2(l->db, "PRAGMA user_version", -1, &s, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rc = iza_error_set(err, -IZA_ESTORE, path, 0, NULL,
				   "not a release ledger");
		goto out;
	}
	ver = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (ver == 0 && fresh) {
		if (sqlite3_exec(l->db,
				 "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE",
				 NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(l->db, schema_sql, NULL, NULL, NULL) !=
			SQLITE_OK ||
		    sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) !=
			SQLITE_OK) {
			rc =
			    db_fail(l, err, "cannot create the release ledger");
			goto out;
		}
	} else if (ver != LEDGER_SCHEMA) {
		rc = iza_error_set(err, -IZA_ESTORE, path, 0, NULL,
				   "not a release ledger of schema %d "
				   "(user_version %" PRId64 ")",
				   LEDGER_SCHEMA, ver);
		goto out;
	}
	if (sqlite3_exec(l->db, budget_sql, NULL, NULL, NULL) != SQLITE_OK)
		rc = db_fail(l, err, "cannot create the privacy budget table");
out:
	sqlite3_finalize(s);
	if (rc) {
		ledger_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
	sqlite3_bind_text(s, i, t ? t : "", -1, SQLITE_STATIC);
}

static void copy_col(char *dst, size_t size, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

/* Columns kpi..rest_persons (8 + 3), starting at `col`, into c. */
static void read_cell(sqlite3_stmt *s, int col, struct ledger_cell *c)
{
	memset(c, 0, sizeof(*c));
	copy_col(c->kpi, sizeof(c->kpi), s, col);
	copy_col(c->period, sizeof(c->period), s, col + 1);
	copy_col(c->stratifier, sizeof(c->stratifier), s, col + 2);
	copy_col(c->stratum, sizeof(c->stratum), s, col + 3);
	c->released = sqlite3_column_int(s, col + 4) != 0;
	c->has_value = sqlite3_column_type(s, col + 5) != SQLITE_NULL;
	c->value = sqlite3_column_double(s, col + 5);
	c->has_numerator = sqlite3_column_type(s, col + 6) != SQLITE_NULL;
	c->numerator = sqlite3_column_int64(s, col + 6);
	c->has_denominator = sqlite3_column_type(s, col + 7) != SQLITE_NULL;
	c->denominator = sqlite3_column_int64(s, col + 7);
	c->persons = sqlite3_column_int64(s, col + 8);
	c->rest_persons = sqlite3_column_int64(s, col + 9);
}

#define CELL_COLS                                                              \
	"kpi, period, stratifier, stratum, released, value, numerator, "       \
	"denominator, persons, rest_persons"

int ledger_find(struct ledger *l, const char *kpi, const char *period,
		const char *stratifier, const char *stratum,
		struct ledger_cell *out, struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (!l || !kpi || !period || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "ledger_find: missing argument");
	if (sqlite3_prepare_v2(l->db,
			       "SELECT seq, " CELL_COLS " FROM cells WHERE "
			       "kpi = ?1 AND period = ?2 AND stratifier = ?3 "
			       "AND stratum = ?4 ORDER BY seq DESC LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(l, err, "cannot read the release ledger");
	bind_text(s, 1, kpi);
	bind_text(s, 2, period);
	bind_text(s, 3, stratifier);
	bind_text(s, 4, stratum);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		read_cell(s, 1, out);
		out->release = sqlite3_column_int64(s, 0);
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(l, err, "cannot read the release ledger");
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- the hash ---- */

struct hasher {
	EVP_MD_CTX *ctx;
	bool ok;
};

static void h_text(struct hasher *h, const char *t)
{
	if (h->ok && EVP_DigestUpdate(h->ctx, t, strlen(t)) != 1)
		h->ok = false;
}

static void h_i64(struct hasher *h, bool has, int64_t v)
{
	char buf[32];

	if (has)
		snprintf(buf, sizeof(buf), "%" PRId64, v);
	else
		snprintf(buf, sizeof(buf), "-");
	h_text(h, buf);
	h_text(h, "\t");
}

static void h_cell(struct hasher *h, const struct ledger_cell *c)
{
	char buf[40];

	h_text(h, c->kpi);
	h_text(h, "\t");
	h_text(h, c->period);
	h_text(h, "\t");
	h_text(h, c->stratifier);
	h_text(h, "\t");
	h_text(h, c->stratum);
	h_text(h, c->released ? "\treleased\t" : "\tsuppressed\t");
	if (c->released && c->has_value)
		snprintf(buf, sizeof(buf), "%.17g", c->value);
	else
		snprintf(buf, sizeof(buf), "-");
	h_text(h, buf);
	h_text(h, "\t");
	h_i64(h, c->released && c->has_numerator, c->numerator);
	h_i64(h, c->released && c->has_denominator, c->denominator);
	h_i64(h, true, c->released ? c->persons : 0);
	h_i64(h, true, c->released ? c->rest_persons : 0);
	h_text(h, "\n");
}

static void h_begin(struct hasher *h, const uint8_t prev[LEDGER_HASH_LEN],
		    int64_t seq, int64_t now, const char *period,
		    const char *kpi_version, size_t n)
{
	char hex[2 * LEDGER_HASH_LEN + 1];
	size_t i;

	h->ctx = EVP_MD_CTX_new();
	h->ok = h->ctx && EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1;
	for (i = 0; i < LEDGER_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", prev[i]);
	h_text(h, LEDGER_MAGIC "\n");
	h_text(h, hex);
	h_text(h, "\n");
	h_i64(h, true, seq);
	h_i64(h, true, now);
	h_text(h, period);
	h_text(h, "\t");
	h_text(h, kpi_version);
	h_text(h, "\t");
	h_i64(h, true, (int64_t)n);
	h_text(h, "\n");
}

static bool h_end(struct hasher *h, uint8_t out[LEDGER_HASH_LEN])
{
	unsigned int len = 0;
	bool ok = h->ok && EVP_DigestFinal_ex(h->ctx, out, &len) == 1 &&
		  len == LEDGER_HASH_LEN;

	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	return ok;
}

static int key_cmp(const void *a, const void *b)
{
	const struct ledger_cell *x = *(const struct ledger_cell *const *)a;
	const struct ledger_cell *y = *(const struct ledger_cell *const *)b;
	int c = strcmp(x->kpi, y->kpi);

	if (!c)
		c = strcmp(x->stratifier, y->stratifier);
	if (!c)
		c = strcmp(x->stratum, y->stratum);
	return c;
}

/* The last release's seq and hash (seq 0 and zeros for an empty ledger). */
static int last_release(struct ledger *l, int64_t *seq,
			uint8_t hash[LEDGER_HASH_LEN], struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*seq = 0;
	memset(hash, 0, LEDGER_HASH_LEN);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT seq, hash FROM releases ORDER BY seq "
			       "DESC LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(l, err, "cannot read the release ledger");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		if (sqlite3_column_bytes(s, 1) == LEDGER_HASH_LEN)
			memcpy(hash, sqlite3_column_blob(s, 1),
			       LEDGER_HASH_LEN);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(l, err, "cannot read the release ledger");
	}
	sqlite3_finalize(s);
	return rc;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void h_budget(struct hasher *h, const char *scope, int64_t milli)
{
	h_text(h, "budget\t");
	h_text(h, scope);
	h_text(h, "\t");
	h_i64(h, true, milli);
	h_text(h, "\n");
}

int ledger_spent(struct ledger *l, const char *scope, int64_t *milli,
		 struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (!l || !scope || !milli)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(l->db,
			       "SELECT coalesce(sum(milli), 0) FROM budget "
			       "WHERE scope = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(l, err, "cannot read the privacy budget");
	bind_text(s, 1, scope);
	if (sqlite3_step(s) == SQLITE_ROW)
		*milli = sqlite3_column_int64(s, 0);
	else
		rc = db_fail(l, err, "cannot read the privacy budget");
	sqlite3_finalize(s);
	return rc;
}

int ledger_next_seq(struct ledger *l, int64_t *seq, struct iza_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (!l || !seq)
		return -IZA_EUSAGE;
	if (sqlite3_prepare_v2(l->db,
			       "SELECT coalesce(max(seq), 0) + 1 FROM releases",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(l, err, "cannot read the release ledger");
	if (sqlite3_step(s) == SQLITE_ROW)
		*seq = sqlite3_column_int64(s, 0);
	else
		rc = db_fail(l, err, "cannot read the release ledger");
	sqlite3_finalize(s);
	return rc;
}

int ledger_append(struct ledger *l, const char *period, const char *kpi_version,
		  int64_t now, const struct ledger_cell *cells, size_t n,
		  const char *const *scopes, int64_t epsilon_milli,
		  int64_t *seq, struct iza_error *err)
{
	const char *sc[8];
	size_t nsc = 0;
	const struct ledger_cell **sorted = NULL;
	uint8_t prev[LEDGER_HASH_LEN], hash[LEDGER_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct hasher h;
	int64_t last;
	size_t i;
	int rc;

	if (!l || !period || !kpi_version || (n && !cells))
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "ledger_append: missing argument");
	sorted = malloc((n + 1) * sizeof(*sorted));
	if (!sorted)
		return -IZA_ENOMEM;
	for (i = 0; i < n; i++) {
		if (strcmp(cells[i].period, period) != 0) {
			free(sorted);
			return iza_error_set(err, -IZA_EUSAGE, l->path, 0,
					     "period",
					     "a cell of another period in "
					     "the release");
		}
		sorted[i] = &cells[i];
	}
	qsort(sorted, n, sizeof(*sorted), key_cmp);
	for (i = 0; epsilon_milli > 0 && scopes && scopes[i]; i++)
		if (nsc < sizeof(sc) / sizeof(sc[0]))
			sc[nsc++] = scopes[i];
	qsort(sc, nsc, sizeof(*sc), str_cmp);
	for (i = 1; i < n; i++)
		if (key_cmp(&sorted[i - 1], &sorted[i]) == 0) {
			rc = iza_error_set(err, -IZA_EUSAGE, l->path, 0,
					   sorted[i]->kpi,
					   "a cell twice in one release");
			free(sorted);
			return rc;
		}
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		free(sorted);
		return db_fail(l, err, "cannot write the release ledger");
	}
	rc = last_release(l, &last, prev, err);
	if (rc)
		goto out;
	h_begin(&h, prev, last + 1, now, period, kpi_version, n);
	for (i = 0; i < n; i++)
		h_cell(&h, sorted[i]);
	for (i = 0; i < nsc; i++)
		h_budget(&h, sc[i], epsilon_milli);
	if (!h_end(&h, hash)) {
		rc = iza_error_set(err, -IZA_ECRYPTO, l->path, 0, NULL,
				   "cannot hash the release");
		goto out;
	}
	if (sqlite3_prepare_v2(l->db,
			       "INSERT INTO releases(seq, time, period, "
			       "kpi_version, ncells, prev_hash, hash) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = db_fail(l, err, "cannot write the release ledger");
		goto out;
	}
	sqlite3_bind_int64(s, 1, last + 1);
	sqlite3_bind_int64(s, 2, now);
	bind_text(s, 3, period);
	bind_text(s, 4, kpi_version);
	sqlite3_bind_int64(s, 5, (int64_t)n);
	sqlite3_bind_blob(s, 6, prev, LEDGER_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 7, hash, LEDGER_HASH_LEN, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_fail(l, err, "cannot write the release ledger");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(l->db,
			       "INSERT INTO cells(seq, " CELL_COLS
			       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
			       "?10, ?11)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = db_fail(l, err, "cannot write the release ledger");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct ledger_cell *c = sorted[i];

		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, last + 1);
		bind_text(s, 2, c->kpi);
		bind_text(s, 3, c->period);
		bind_text(s, 4, c->stratifier);
		bind_text(s, 5, c->stratum);
		sqlite3_bind_int(s, 6, c->released);
		if (c->released && c->has_value)
			sqlite3_bind_double(s, 7, c->value);
		else
			sqlite3_bind_null(s, 7);
		if (c->released && c->has_numerator)
			sqlite3_bind_int64(s, 8, c->numerator);
		else
			sqlite3_bind_null(s, 8);
		if (c->released && c->has_denominator)
			sqlite3_bind_int64(s, 9, c->denominator);
		else
			sqlite3_bind_null(s, 9);
		sqlite3_bind_int64(s, 10, c->released ? c->persons : 0);
		sqlite3_bind_int64(s, 11, c->released ? c->rest_persons : 0);
		if (sqlite3_step(s) != SQLITE_DONE) {
			rc = db_fail(l, err, "cannot write the release ledger");
			goto out;
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	if (nsc > 0 &&
	    sqlite3_prepare_v2(l->db,
			       "INSERT INTO budget(seq, scope, milli) VALUES "
			       "(?1, ?2, ?3)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = db_fail(l, err, "cannot write the privacy budget");
		goto out;
	}
	for (i = 0; i < nsc; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, last + 1);
		bind_text(s, 2, sc[i]);
		sqlite3_bind_int64(s, 3, epsilon_milli);
		if (sqlite3_step(s) != SQLITE_DONE) {
			rc = db_fail(l, err, "cannot write the privacy budget");
			goto out;
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_fail(l, err, "cannot commit the release ledger");
out:
	sqlite3_finalize(s);
	if (rc)
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	else if (seq)
		*seq = last + 1;
	free(sorted);
	return rc;
}

int ledger_verify(struct ledger *l, int64_t *nreleases, struct iza_error *err)
{
	sqlite3_stmt *r = NULL, *c = NULL, *b = NULL;
	uint8_t prev[LEDGER_HASH_LEN] = {0}, hash[LEDGER_HASH_LEN];
	int64_t count = 0, expect = 1;
	int rc = 0, step;

	if (!l)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "ledger_verify: no ledger");
	if (sqlite3_prepare_v2(l->db,
			       "SELECT seq, time, period, kpi_version, ncells, "
			       "prev_hash, hash FROM releases ORDER BY seq",
			       -1, &r, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db,
			       "SELECT " CELL_COLS " FROM cells WHERE seq = ?1 "
			       "ORDER BY kpi, stratifier, stratum",
			       -1, &c, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db,
			       "SELECT scope, milli FROM budget WHERE seq = ?1 "
			       "ORDER BY scope",
			       -1, &b, NULL) != SQLITE_OK) {
		rc = db_fail(l, err, "cannot read the release ledger");
		goto out;
	}
	while ((step = sqlite3_step(r)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(r, 0);
		const char *period = (const char *)sqlite3_column_text(r, 2);
		const char *ver = (const char *)sqlite3_column_text(r, 3);
		int64_t ncells = sqlite3_column_int64(r, 4), seen = 0;
		struct hasher h;

		if (seq != expect ||
		    sqlite3_column_bytes(r, 5) != LEDGER_HASH_LEN ||
		    memcmp(sqlite3_column_blob(r, 5), prev, LEDGER_HASH_LEN) !=
			0) {
			rc = iza_error_set(err, -IZA_ESTORE, l->path, seq, NULL,
					   "release %" PRId64 ": the chain is "
					   "broken (missing release or wrong "
					   "previous hash)",
					   seq);
			goto out;
		}
		h_begin(&h, prev, seq, sqlite3_column_int64(r, 1),
			period ? period : "", ver ? ver : "", (size_t)ncells);
		sqlite3_reset(c);
		sqlite3_bind_int64(c, 1, seq);
		while ((step = sqlite3_step(c)) == SQLITE_ROW) {
			struct ledger_cell cell;

			read_cell(c, 0, &cell);
			h_cell(&h, &cell);
			seen++;
		}
		if (step == SQLITE_DONE) {
			sqlite3_reset(b);
			sqlite3_bind_int64(b, 1, seq);
			while ((step = sqlite3_step(b)) == SQLITE_ROW) {
				const char *sc =
				    (const char *)sqlite3_column_text(b, 0);

				h_budget(&h, sc ? sc : "",
					 sqlite3_column_int64(b, 1));
			}
		}
		if (!h_end(&h, hash) || step != SQLITE_DONE) {
			rc =
			    db_fail(l, err, "cannot verify the release ledger");
			goto out;
		}
		if (seen != ncells ||
		    sqlite3_column_bytes(r, 6) != LEDGER_HASH_LEN ||
		    memcmp(sqlite3_column_blob(r, 6), hash, LEDGER_HASH_LEN) !=
			0) {
			rc = iza_error_set(err, -IZA_ESTORE, l->path, seq, NULL,
					   "release %" PRId64 ": its cells do "
					   "not match its hash",
					   seq);
			goto out;
		}
		memcpy(prev, hash, LEDGER_HASH_LEN);
		count++;
		expect++;
	}
	if (step != SQLITE_DONE)
		rc = db_fail(l, err, "cannot read the release ledger");
out:
	sqlite3_finalize(r);
	sqlite3_finalize(c);
	sqlite3_finalize(b);
	if (rc == 0 && nreleases)
		*nreleases = count;
	return rc;
}
