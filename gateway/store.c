/*
 * store.c - the SQLite event store (contract in store.h).
 *
 * Layout (schema v2):
 *   events      append-only, in arrival order (rowid = INTEGER PRIMARY KEY):
 *               the event columns, ekey (the encounter's key, below) and live
 *               (1 until a newer version of the encounter supersedes it).
 *               The events of one put are consecutive rowids.  No secondary
 *               index: every insert goes to the right edge of one B-tree.
 *   enc         the encounter index, WITHOUT ROWID: ekey -> chk, first_row,
 *               nrows (the live events: rowids first_row .. first_row +
 *               nrows - 1), last_updated, version, content_hash.
 *   patients    keyed (source, patient_key), as in v1.
 *   batches     provenance, one row per committed batch.
 *
 * Encounter key: a 128-bit hash of source "\0" source_id (key_hash()); its
 * first 64 bits with the top bit cleared are the ekey, the other 64 bits are
 * chk.  A different encounter already at ekey (its chk differs) sends the
 * put on to ekey + 1, + 2, ... (open addressing; enc rows are never
 * deleted, so a free slot ends the search).  The hash is part of the file
 * format: changing it needs a schema version.
 *
 * Why: in v1 every put was three inserts at random B-tree positions (UUID
 * keys), ~10 us a record once the store outgrew the page cache.  In v2:
 *   - events are appends;
 *   - new or changed enc entries are staged in a bounded in-memory hash table
 *     and written into enc in key order (sorted, one prepared statement) when
 *     the table is full and before every COMMIT, so a flush touches each enc
 *     page at most once;
 *   - a Bloom filter over the ekeys in enc and in staging answers "definitely
 *     absent" for a new key without a B-tree lookup; "maybe" looks in
 *     staging, then in enc by primary key (resends and false positives only).
 *     The filter is not persisted: it is built by scanning enc keys at the
 *     first put after open (measured in bench/INGEST-PROFILE.md), and again
 *     when another connection has committed (PRAGMA data_version), since its
 *     keys are unknown to this one.  A rolled-back batch leaves stale bits,
 *     which only cost lookups.
 *   - an update to as many events as before rewrites the rows in place;
 *     any other update marks the old rows dead (one rowid range) and
 *     appends.
 *
 * Patients are staged too: an HL7 v2 or CDA record carries its patient
 * every time (a GP patient is in ~10 messages of a file, each one newer),
 * and without staging every message cost a lookup and a rewrite of the
 * patient row.  The staged row is the one the table would hold: a put
 * compares with it exactly as with the stored row, so the results
 * (inserted, updated, duplicate, stale) are those of an unstaged put.
 * Staged rows are written in key order when the table is full, before every
 * COMMIT and before a read inside a batch (store_scan, store_stats).
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

#include "sqlite_util.h"

#define STORE_APP_ID	0x495a4147 /* "IZAG" in PRAGMA application_id */
#define STORE_BUSY_MS	5000
#define STORE_CACHE_KIB 12288 /* page cache: ingest stays < 64 MB RSS */
#define SCAN_CACHE_MAX	16    /* cached scan statements (one per shape) */
#define SCAN_LIST_MAX	256   /* values in one types/statuses filter */
#define SCAN_SQL_MAX	8192
/* Staged enc entries: 128 Ki x 56 bytes + a 1 MiB slot index + 4 MiB of sort
 * buffers ~ 12 MB. */
#define STAGE_MAX (128 * 1024)
/* Bloom filter: 12 MiB of 64-byte blocks, 8 bits (one per 64-bit word) a
 * key: ~1 % false positives at 10 M keys (a false positive costs one index
 * lookup), ~0.01 % at 2 M. */
#define BLOOM_BYTES   (12u << 20)
#define BLOOM_WORDS   (BLOOM_BYTES / 8)
#define BLOOM_BLOCKS  (BLOOM_WORDS / 8)
#define RADIX_BUCKETS (1 << 16)
#define PROBE_MAX     64 /* ekey collisions in a row before giving up */
/* Staged patients: 8 Ki x 192 bytes + index ~ 1.7 MB. */
#define PSTAGE_MAX (8 * 1024)

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

/* v1 -> v2: the new tables; migrate_v2() copies the rows and drops the v1
 * tables (events_v1 and encounters). */
static const char *const schema_v2[] = {
    "ALTER TABLE events RENAME TO events_v1",

    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY,"
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
    " ekey INTEGER NOT NULL,"
    " live INTEGER NOT NULL)",

    "CREATE TABLE enc("
    " ekey INTEGER PRIMARY KEY,"
    " chk INTEGER NOT NULL,"
    " first_row INTEGER NOT NULL,"
    " nrows INTEGER NOT NULL,"
    " last_updated INTEGER,"
    " version INTEGER NOT NULL,"
    " content_hash INTEGER NOT NULL) WITHOUT ROWID",
    NULL,
};

struct store;
struct iza_error;
static int migrate_v2(struct store *st, struct iza_error *err);

/*
 * Forward migrations: entry i takes the store from version i to version
 * i + 1 (entry 0 creates v1 from an empty file): its SQL statements, then its
 * function (if any), all in the one transaction of migrate().
 * STORE_SCHEMA_VERSION follows from the array length.
 */
static const struct migration {
	const char *const *sql;
	int (*fn)(struct store *st, struct iza_error *err);
} migrations[] = {
    {schema_v1, NULL},
    {schema_v2, migrate_v2},
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION,
	       "STORE_SCHEMA_VERSION must equal the number of migrations");

/* ---- statements ---- */

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_DATA_VERSION,
	S_ENC_GET,
	S_ENC_PUT,
	S_ENC_KEYS,
	S_EV_KILL,
	S_EV_INS,
	S_EV_SET,
	S_PAT_GET,
	S_PAT_PUT,
	S_BATCH_INS,
	S_COUNT_
};

static const char *const stmt_sql[S_COUNT_] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_ENC_GET] = "SELECT chk, first_row, nrows, last_updated, version,"
		  " content_hash FROM enc WHERE ekey = ?1",
    [S_ENC_PUT] = "INSERT OR REPLACE INTO enc(ekey, chk, first_row, nrows,"
		  " last_updated, version, content_hash)"
		  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_ENC_KEYS] = "SELECT ekey FROM enc",
    [S_EV_KILL] = "UPDATE events SET live = 0 WHERE id BETWEEN ?1 AND ?2",
    [S_EV_INS] = "INSERT INTO events(source, source_id, type, channel,"
		 " status, provider, sector, rule, start, \"end\", urgency,"
		 " disposition, patient_key, ekey, live)"
		 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
		 " ?13, ?14, 1)",
    [S_EV_SET] = "UPDATE events SET source = ?1, source_id = ?2, type = ?3,"
		 " channel = ?4, status = ?5, provider = ?6, sector = ?7,"
		 " rule = ?8, start = ?9, \"end\" = ?10, urgency = ?11,"
		 " disposition = ?12, patient_key = ?13, ekey = ?14, live = 1"
		 " WHERE id = ?15",
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

/* One enc row: in the table or staged. */
struct enc_ent {
	int64_t ekey, chk, first_row, last_updated, version, hash;
	int64_t nrows;
};

/* New or changed enc rows of the open transaction, written into enc in key
 * order by stage_flush().  ent[0..n) in arrival order; slot[] an open-
 * addressing index over them (0 empty, else index + 1), twice as large as
 * the most entries. */
struct sort_key {
	uint64_t key;
	uint64_t idx;
};

struct staging {
	struct enc_ent *ent;
	uint32_t *slot;
	struct sort_key *order, *tmp; /* for the flush's radix sort */
	uint32_t *count;
	size_t n, max, nslots;
};

/* Patient rows of the open transaction not written yet: row[0..n) in
 * arrival order, slot[] an open-addressing index over them as above. */
struct pstaging {
	struct canon_patient *row;
	const struct canon_patient **order; /* for the flush's sort */
	uint32_t *slot;
	size_t n, max, nslots;
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
	/* encounter index (v2) */
	struct staging stage;
	struct pstaging pstage;
	uint64_t *bloom; /* BLOOM_WORDS words; NULL until the first put */
	bool bloom_valid;
	int64_t data_version; /* of the last transaction begun */
	struct store_test_hooks hooks;
};

/* ---- errors ---- */

/* the staging tables (encounter index and patients) */
static void pstage_free(struct pstaging *ps);
static int flush_staged(struct store *st, struct iza_error *err);
static void clear_staged(struct store *st);

static int db_error(struct store *st, struct iza_error *err, const char *what)
{
	return iza_sqlite_error(err, st->path, st->db, what);
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

/* ---- the encounter index: key hash, Bloom filter, staging ---- */

static uint64_t rotl64(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/* Avalanche: every input bit flips each output bit with probability ~1/2. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 29;
	x *= 0x9fb21c651e98df25ULL;
	x ^= x >> 32;
	return x;
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * The 128-bit hash of source "\0" source_id: two lanes over the input's
 * 8-byte little-endian words (zero-padded), each step a bijection of the
 * lane for a given word and of the word for a given lane, with different
 * operations and constants per lane; then both lanes are folded into each
 * half.  Part of the file format (enc.ekey, enc.chk).
 */
static void key_hash(const char *source, const char *source_id, uint64_t *ka,
		     uint64_t *kb)
{
	unsigned char buf[IZA_SOURCE_MAX + IZA_ID_MAX + 8];
	size_t ns = strnlen(source, IZA_SOURCE_MAX - 1);
	size_t ni = strnlen(source_id, IZA_ID_MAX - 1);
	size_t len = ns + 1 + ni, i;
	uint64_t a = 0x243f6a8885a308d3ULL ^ len;
	uint64_t b = 0x13198a2e03707344ULL + len;

	memcpy(buf, source, ns);
	buf[ns] = 0;
	memcpy(buf + ns + 1, source_id, ni);
	memset(buf + len, 0, 8);
	for (i = 0; i < len; i += 8) {
		uint64_t w = load_le64(buf + i);

		a = rotl64(a ^ w, 27) * 0xa0761d6478bd642fULL;
		b = (rotl64(b, 31) + w) * 0xe7037ed1a0b428dbULL;
		b ^= b >> 29;
	}
	*ka = mix64(a + rotl64(b, 17));
	*kb = mix64(b ^ rotl64(a, 41) ^ 0x452821e638d01377ULL);
}

static void encounter_key(const struct store *st, const struct canon_event *e,
			  int64_t *ekey, int64_t *chk)
{
	uint64_t a, b;

	if (st->hooks.key_hash)
		st->hooks.key_hash(e->source, e->source_id, &a, &b);
	else
		key_hash(e->source, e->source_id, &a, &b);
	*ekey = (int64_t)(a & (uint64_t)INT64_MAX);
	memcpy(chk, &b, sizeof(*chk));
}

/* Split-block Bloom filter: a key picks one 64-byte block and sets one bit
 * in each of its 8 words (one cache line a lookup). */
static void bloom_pos(int64_t ekey, size_t *block, uint64_t *bits)
{
	uint64_t x = mix64((uint64_t)ekey ^ 0x3c6ef372fe94f82bULL);
	uint64_t y = mix64(x + 0xa54ff53a5f1d36f1ULL);
	int i;

	*block = (size_t)(x >> 40) % BLOOM_BLOCKS;
	for (i = 0; i < 8; i++)
		bits[i] = 1ULL << ((y >> (6 * i)) & 63);
}

static void bloom_add(uint64_t *bloom, int64_t ekey)
{
	uint64_t bits[8], *w;
	size_t block;
	int i;

	bloom_pos(ekey, &block, bits);
	w = bloom + block * 8;
	for (i = 0; i < 8; i++)
		w[i] |= bits[i];
}

static bool bloom_maybe(const uint64_t *bloom, int64_t ekey)
{
	uint64_t bits[8];
	const uint64_t *w;
	size_t block;
	int i;

	bloom_pos(ekey, &block, bits);
	w = bloom + block * 8;
	for (i = 0; i < 8; i++)
		if (!(w[i] & bits[i]))
			return false;
	return true;
}

static void stage_free(struct staging *sg)
{
	free(sg->ent);
	free(sg->slot);
	free(sg->order);
	free(sg->tmp);
	free(sg->count);
	memset(sg, 0, sizeof(*sg));
}

static int stage_init(struct staging *sg, size_t max)
{
	size_t nslots = 16;

	while (nslots < 2 * max)
		nslots *= 2;
	sg->ent = malloc(max * sizeof(*sg->ent));
	sg->slot = calloc(nslots, sizeof(*sg->slot));
	sg->order = malloc(max * sizeof(*sg->order));
	sg->tmp = malloc(max * sizeof(*sg->tmp));
	sg->count = malloc(RADIX_BUCKETS * sizeof(*sg->count));
	if (!sg->ent || !sg->slot || !sg->order || !sg->tmp || !sg->count) {
		stage_free(sg);
		return -IZA_ENOMEM;
	}
	sg->n = 0;
	sg->max = max;
	sg->nslots = nslots;
	return 0;
}

static void stage_clear(struct staging *sg)
{
	if (sg->n)
		memset(sg->slot, 0, sg->nslots * sizeof(*sg->slot));
	sg->n = 0;
}

static struct enc_ent *stage_get(struct staging *sg, int64_t ekey)
{
	size_t mask = sg->nslots - 1, h = (size_t)mix64((uint64_t)ekey) & mask;

	while (sg->slot[h]) {
		struct enc_ent *e = &sg->ent[sg->slot[h] - 1];

		if (e->ekey == ekey)
			return e;
		h = (h + 1) & mask;
	}
	return NULL;
}

/* Add an entry whose key is not staged yet; the caller checked n < max. */
static void stage_add(struct staging *sg, const struct enc_ent *e)
{
	size_t mask = sg->nslots - 1,
	       h = (size_t)mix64((uint64_t)e->ekey) & mask;

	while (sg->slot[h])
		h = (h + 1) & mask;
	sg->ent[sg->n++] = *e;
	sg->slot[h] = (uint32_t)sg->n;
}

/* sg->order[0..n) := (ekey, index) by ekey: LSD radix sort, 4 passes of
 * 16 bits over the 63-bit keys (no comparisons, no allocation).  Pairs, not
 * bare keys: finding each entry again by its key was a cache miss a key
 * (~4 % of a large ingest). */
static void stage_sort(struct staging *sg)
{
	uint32_t *count = sg->count;
	struct sort_key *a = sg->order, *b = sg->tmp, *t;
	size_t i, sum;
	int pass;

	for (i = 0; i < sg->n; i++) {
		a[i].key = (uint64_t)sg->ent[i].ekey;
		a[i].idx = i;
	}
	for (pass = 0; pass < 4; pass++) {
		int shift = 16 * pass;

		memset(count, 0, RADIX_BUCKETS * sizeof(*count));
		for (i = 0; i < sg->n; i++)
			count[(a[i].key >> shift) & 0xffff]++;
		for (i = 0, sum = 0; i < RADIX_BUCKETS; i++) {
			size_t c = count[i];

			count[i] = (uint32_t)sum;
			sum += c;
		}
		for (i = 0; i < sg->n; i++)
			b[count[(a[i].key >> shift) & 0xffff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	/* four passes: the result is back in sg->order */
}

static void bind_time(sqlite3_stmt *s, int i, int64_t t);
static int64_t column_time(sqlite3_stmt *s, int i);

/* Write the staged entries into enc in key order, then empty the staging
 * table.  Inside the open transaction. */
static int stage_flush(struct store *st, struct iza_error *err)
{
	struct staging *sg = &st->stage;
	sqlite3_stmt *s = st->stmt[S_ENC_PUT];
	int ret = 0;
	size_t i;

	if (!sg->n)
		return 0;
	stage_sort(sg);
	for (i = 0; i < sg->n; i++) {
		const struct enc_ent *e = &sg->ent[sg->order[i].idx];

		sqlite3_bind_int64(s, 1, e->ekey);
		sqlite3_bind_int64(s, 2, e->chk);
		sqlite3_bind_int64(s, 3, e->first_row);
		sqlite3_bind_int64(s, 4, e->nrows);
		bind_time(s, 5, e->last_updated);
		sqlite3_bind_int64(s, 6, e->version);
		sqlite3_bind_int64(s, 7, e->hash);
		if (step_done(st, S_ENC_PUT)) {
			ret = write_error(st, err, "cannot store encounter");
			break;
		}
	}
	stage_clear(sg);
	return ret;
}

/* Stage the new state of an encounter: replaces a staged entry of the same
 * key, else takes a new one (flushing a full table first). */
static int stage_put(struct store *st, const struct enc_ent *e,
		     struct iza_error *err)
{
	struct enc_ent *cur = stage_get(&st->stage, e->ekey);
	int ret;

	if (cur) {
		*cur = *e;
		return 0;
	}
	if (st->stage.n == st->stage.max) {
		ret = stage_flush(st, err);
		if (ret)
			return ret;
	}
	stage_add(&st->stage, e);
	bloom_add(st->bloom, e->ekey);
	return 0;
}

/* Called right after a transaction began: if another connection committed
 * since our last transaction, our Bloom filter misses its keys. */
static int tx_begun(struct store *st, struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_DATA_VERSION];
	int64_t dv;

	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_error(st, err, "cannot read the data version");
	}
	dv = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (dv != st->data_version) {
		st->bloom_valid = false;
		st->data_version = dv;
	}
	return 0;
}

/* Make the staging table and a current Bloom filter (inside a
 * transaction). */
static int index_ready(struct store *st, struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_ENC_KEYS];
	bool fresh = false;
	size_t i;
	int rc;

	if (!st->stage.ent &&
	    stage_init(&st->stage, st->hooks.staging_max ? st->hooks.staging_max
							 : STAGE_MAX))
		return iza_error_set(err, -IZA_ENOMEM, st->path, 0, NULL,
				     "out of memory for the encounter index");
	if (!st->bloom) {
		st->bloom = calloc(BLOOM_WORDS, sizeof(*st->bloom));
		if (!st->bloom)
			return iza_error_set(err, -IZA_ENOMEM, st->path, 0,
					     NULL,
					     "out of memory for the encounter "
					     "index");
		st->bloom_valid = false;
		fresh = true;
	}
	if (st->bloom_valid)
		return 0;
	if (!fresh)
		memset(st->bloom, 0, BLOOM_BYTES);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		bloom_add(st->bloom, sqlite3_column_int64(s, 0));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return write_error(st, err, "cannot read the encounter index");
	for (i = 0; i < st->stage.n; i++)
		bloom_add(st->bloom, st->stage.ent[i].ekey);
	st->bloom_valid = true;
	return 0;
}

/*
 * Look an encounter up by its hashed key (ekey, chk).  Found: *found and
 * *cur its entry.  Else cur->ekey is the free key it gets: the first one
 * from ekey on that is neither staged nor in enc.
 */
static int enc_find(struct store *st, int64_t ekey, int64_t chk,
		    struct enc_ent *cur, bool *found, struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_ENC_GET];
	int64_t k = ekey;
	int i, rc;

	*found = false;
	for (i = 0; i < PROBE_MAX; i++, k = (k + 1) & INT64_MAX) {
		const struct enc_ent *e;
		struct enc_ent row;

		if (!st->hooks.bloom_maybe && !bloom_maybe(st->bloom, k))
			break; /* definitely absent: the common case */
		e = stage_get(&st->stage, k);
		if (e) {
			if (e->chk != chk)
				continue;
			*cur = *e;
			*found = true;
			return 0;
		}
		sqlite3_bind_int64(s, 1, k);
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(s);
			break; /* a false positive */
		}
		if (rc != SQLITE_ROW) {
			sqlite3_reset(s);
			return write_error(st, err, "cannot look up encounter");
		}
		row.ekey = k;
		row.chk = sqlite3_column_int64(s, 0);
		row.first_row = sqlite3_column_int64(s, 1);
		row.nrows = sqlite3_column_int64(s, 2);
		row.last_updated = column_time(s, 3);
		row.version = sqlite3_column_int64(s, 4);
		row.hash = sqlite3_column_int64(s, 5);
		sqlite3_reset(s);
		if (row.chk != chk)
			continue;
		*cur = row;
		*found = true;
		return 0;
	}
	if (i == PROBE_MAX) {
		if (st->in_batch)
			st->batch_failed = true;
		return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				     "encounter index: %d key collisions in "
				     "a row",
				     PROBE_MAX);
	}
	cur->ekey = k;
	return 0;
}

int store_set_test_hooks(struct store *st, const struct store_test_hooks *h)
{
	if (!st || !h || st->in_batch)
		return -IZA_EUSAGE;
	st->hooks = *h;
	stage_free(&st->stage); /* empty outside a transaction */
	pstage_free(&st->pstage);
	st->bloom_valid = false;
	return 0;
}

/* ---- open / close ---- */

/* Prepare the statements not prepared yet (a migration may need them
 * before store_open() is done). */
static int prepare_stmts(struct store *st, struct iza_error *err)
{
	int i;

	for (i = 0; i < S_COUNT_; i++) {
		if (st->stmt[i])
			continue;
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
				       NULL) != SQLITE_OK)
			return db_error(st, err, "cannot prepare a statement");
	}
	return 0;
}

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
		char what[64];

		snprintf(what, sizeof(what), "schema migration to v%d failed",
			 i + 1);
		for (step = migrations[i].sql; *step; step++) {
			if (sqlite3_exec(st->db, *step, NULL, NULL, NULL) !=
			    SQLITE_OK) {
				ret = db_error(st, err, what);
				goto out;
			}
		}
		if (migrations[i].fn) {
			ret = migrations[i].fn(st, err);
			if (ret)
				goto out;
		}
	}
	snprintf(sql, sizeof(sql),
		 "PRAGMA application_id = %d; PRAGMA user_version = %d",
		 STORE_APP_ID, STORE_SCHEMA_VERSION);
	ret = exec_sql(st, sql, err, "cannot set the schema version");
	if (ret)
		goto out;
	/* Under the write lock no one else can commit: the data version read
	 * now is the one the Bloom filter built by the migration is valid
	 * for. */
	ret = query_int(st, "PRAGMA data_version", &st->data_version, err);
	if (ret)
		goto out;
	ret = exec_sql(st, "COMMIT", err, "cannot commit the schema");
out:
	if (ret) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		clear_staged(st);
		st->bloom_valid = false;
		return ret;
	}
	return 0;
done:
	return query_int(st, "PRAGMA data_version", &st->data_version, err);
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
	bool memory, readonly = false;
	int64_t ver = 0;
	char sql[64];
	int ret = 0;

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
	if ((memory
		 ? sqlite3_open_v2(path, &st->db,
				   SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
				       SQLITE_OPEN_CREATE,
				   NULL)
		 : iza_sqlite_open(path, SQLITE_OPEN_NOMUTEX, &st->db,
				   &readonly)) != SQLITE_OK) {
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
		ret = query_int(st, "PRAGMA user_version", &ver, err);
		if (ret) {
			int code = sqlite3_errcode(st->db) & 0xff;

			/* a file that cannot be read is not (yet) one that
			 * is not a store */
			if (code == SQLITE_IOERR || code == SQLITE_FULL ||
			    code == SQLITE_CANTOPEN || code == SQLITE_BUSY)
				db_error(st, err, "cannot read the store");
			else
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
	if (readonly) {
		/* a read-only data directory: reads only, no pragmas or
		 * migrations (a store of an older schema cannot be read) */
		if (ver != STORE_SCHEMA_VERSION)
			ret = iza_error_set(
			    err, -IZA_ESTORE, path, 0, NULL,
			    "store schema version %lld needs a migration, "
			    "which a read-only data directory does not allow",
			    (long long)ver);
		if (ret == 0)
			ret = prepare_stmts(st, err);
		if (ret == 0)
			st->schema_version = STORE_SCHEMA_VERSION;
		goto out;
	}
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
	ret = prepare_stmts(st, err);
	if (ret)
		goto out;
	st->schema_version = STORE_SCHEMA_VERSION;
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
	stage_free(&st->stage);
	pstage_free(&st->pstage);
	free(st->bloom);
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
	int ret;

	if (!st)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_batch_begin: no store");
	if (st->in_batch)
		return iza_error_set(err, -IZA_EUSAGE, st->path, 0, NULL,
				     "a batch is already open");
	if (step_done(st, S_BEGIN))
		return db_error(st, err, "cannot begin a batch");
	ret = tx_begun(st, err);
	if (ret) {
		step_done(st, S_ROLLBACK);
		return ret;
	}
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
	ret = flush_staged(st, err);
	if (ret) {
		store_batch_abort(st);
		return ret;
	}
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
	clear_staged(st);
	st->in_batch = false;
	st->batch_failed = false;
}

/* Puts outside a batch run in a transaction of their own. */
static int auto_begin(struct store *st, bool *own, struct iza_error *err)
{
	int ret;

	*own = false;
	if (st->in_batch)
		return 0;
	if (step_done(st, S_BEGIN))
		return db_error(st, err, "cannot begin a transaction");
	ret = tx_begun(st, err);
	if (ret) {
		step_done(st, S_ROLLBACK);
		return ret;
	}
	*own = true;
	return 0;
}

static int auto_end(struct store *st, bool own, int ret, struct iza_error *err)
{
	if (!own)
		return ret;
	if (ret == 0)
		ret = flush_staged(st, err);
	if (ret == 0 && step_done(st, S_COMMIT) == 0)
		return 0;
	if (ret == 0)
		ret = db_error(st, err, "cannot commit");
	step_done(st, S_ROLLBACK);
	clear_staged(st);
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

/* Parameters 1..14 of S_EV_INS and S_EV_SET: one event's columns. */
static void bind_event(sqlite3_stmt *s, const struct canon_event *e,
		       int64_t ekey)
{
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
	sqlite3_bind_blob(s, 13, e->patient_key, IZA_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 14, ekey);
}

/* Overwrite the n live rows first .. first + n - 1 of an encounter with its
 * new event set of the same size: no dead rows, no appends. */
static int set_events(struct store *st, const struct canon_event *evs, size_t n,
		      int64_t ekey, int64_t first, struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_EV_SET];
	size_t i;

	for (i = 0; i < n; i++) {
		bind_event(s, &evs[i], ekey);
		sqlite3_bind_int64(s, 15, first + (int64_t)i);
		if (step_done(st, S_EV_SET))
			return write_error(st, err, "cannot replace event");
		if (sqlite3_changes(st->db) != 1) {
			if (st->in_batch)
				st->batch_failed = true;
			return iza_error_set(err, -IZA_ESTORE, st->path, 0,
					     NULL,
					     "the encounter index names an "
					     "event row that is not there");
		}
	}
	return 0;
}

/* Append the events of one put (consecutive rowids, checked): *first is the
 * rowid of the first (0 when n == 0). */
static int insert_events(struct store *st, const struct canon_event *evs,
			 size_t n, int64_t ekey, int64_t *first,
			 struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_EV_INS];
	size_t i;

	*first = 0;
	for (i = 0; i < n; i++) {
		int64_t id;

		bind_event(s, &evs[i], ekey);
		if (step_done(st, S_EV_INS))
			return write_error(st, err, "cannot store event");
		id = sqlite3_last_insert_rowid(st->db);
		if (i == 0) {
			*first = id;
		} else if (id != *first + (int64_t)i) {
			if (st->in_batch)
				st->batch_failed = true;
			return iza_error_set(err, -IZA_ESTORE, st->path, 0,
					     NULL,
					     "events of one encounter got "
					     "non-consecutive ids");
		}
	}
	return 0;
}

/* Mark the rows of a superseded event set dead. */
static int kill_events(struct store *st, const struct enc_ent *old,
		       struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_EV_KILL];

	if (old->nrows <= 0)
		return 0;
	sqlite3_bind_int64(s, 1, old->first_row);
	sqlite3_bind_int64(s, 2, old->first_row + old->nrows - 1);
	if (step_done(st, S_EV_KILL))
		return write_error(st, err, "cannot replace events");
	return 0;
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
	struct enc_ent cur, next;
	int64_t ekey, chk;
	uint64_t hash;
	bool own = false, found, in_place = false;
	int ret;

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
	encounter_key(st, key, &ekey, &chk);

	ret = auto_begin(st, &own, err);
	if (ret)
		return ret;
	ret = index_ready(st, err);
	if (ret)
		goto out;
	/* A new key is "definitely absent" in the Bloom filter: no lookup. */
	ret = enc_find(st, ekey, chk, &cur, &found, err);
	if (ret)
		goto out;
	if (found) {
		uint64_t old;
		int c = meta_cmp(key->last_updated, key->version,
				 cur.last_updated, cur.version);

		memcpy(&old, &cur.hash, sizeof(old));
		if (c < 0)
			r = PUT_STALE;
		else if (c == 0 && old == hash)
			r = PUT_DUPLICATE;
		else
			r = PUT_UPDATED;
		if (r != PUT_UPDATED)
			goto out;
		/* as many events as before (an HL7 v2 A03 after its A01):
		 * the rows are rewritten where they are */
		in_place = cur.nrows == (int64_t)n && n > 0;
		if (!in_place) {
			ret = kill_events(st, &cur, err);
			if (ret)
				goto out;
		}
	}
	next.ekey = cur.ekey;
	next.chk = chk;
	next.nrows = (int64_t)n;
	next.last_updated = key->last_updated;
	next.version = key->version;
	memcpy(&next.hash, &hash, sizeof(next.hash));
	if (in_place) {
		next.first_row = cur.first_row;
		ret = set_events(st, evs, n, next.ekey, next.first_row, err);
	} else {
		ret =
		    insert_events(st, evs, n, next.ekey, &next.first_row, err);
	}
	if (ret)
		goto out;
	ret = stage_put(st, &next, err);
out:
	ret = auto_end(st, own, ret, err);
	if (ret == 0 && res)
		*res = r;
	return ret;
}

/* ---- migration v1 -> v2 ---- */

/* Copy a text column into a fixed field; a longer value than the field holds
 * means the v1 store was not written by this program. */
static int copy_col(struct store *st, sqlite3_stmt *s, int i, char *dst,
		    size_t size, struct iza_error *err)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	int n = sqlite3_column_bytes(s, i);

	if (n < 0 || (size_t)n >= size)
		return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				     "schema migration to v2: a value of %d "
				     "bytes in column %d",
				     n, i);
	if (n)
		memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

#define COPY_COL(st, s, i, f, err) copy_col(st, s, i, f, sizeof(f), err)

/* One v1 encounter with its events: append the events, stage its entry.
 * The content hash is computed again from the copied rows (v1 computed it
 * the same way from the same fields), so the copy is self-consistent. */
static int migrate_one(struct store *st, const struct canon_event *key,
		       const struct canon_event *evs, size_t n,
		       struct iza_error *err)
{
	const struct canon_event *sorted[STORE_EVENTS_MAX];
	struct enc_ent cur, next;
	int64_t ekey, chk;
	uint64_t hash;
	bool found;
	int ret;

	ret = check_set(evs, n, sorted, err);
	if (ret)
		return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				     "schema migration to v2: a malformed v1 "
				     "encounter");
	hash = event_set_hash(sorted, n);
	encounter_key(st, key, &ekey, &chk);
	ret = enc_find(st, ekey, chk, &cur, &found, err);
	if (ret)
		return ret;
	if (found)
		return iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				     "schema migration to v2: two encounters "
				     "with the same 128-bit key");
	next.ekey = cur.ekey;
	next.chk = chk;
	next.nrows = (int64_t)n;
	next.last_updated = key->last_updated;
	next.version = key->version;
	memcpy(&next.hash, &hash, sizeof(next.hash));
	ret = insert_events(st, evs, n, next.ekey, &next.first_row, err);
	if (ret)
		return ret;
	return stage_put(st, &next, err);
}

/*
 * Runs after schema_v2[] (v1 events renamed events_v1, the v2 tables
 * created), inside migrate()'s transaction.  Events are copied encounter by
 * encounter in (source, source_id, type) order, the order of both v1
 * primary keys, so the copy reads each v1 table once in order and the rows
 * of one encounter get consecutive ids as v2 requires.  Every copied row is
 * live (v1 kept current versions only).
 */
static int migrate_v2(struct store *st, struct iza_error *err)
{
	static const char sql[] =
	    "SELECT c.source, c.source_id, c.last_updated, c.version,"
	    " NULL, e.type, e.channel, e.status, e.provider,"
	    " e.sector, e.rule, e.start, e.\"end\", e.urgency,"
	    " e.disposition, e.patient_key"
	    " FROM encounters c LEFT JOIN events_v1 e"
	    " ON e.source = c.source AND e.source_id = c.source_id"
	    " ORDER BY c.source, c.source_id, e.type";
	struct canon_event *evs = NULL, key, row;
	sqlite3_stmt *s = NULL;
	int64_t copied = 0, v1_events, secure;
	char pragma[48];
	bool have = false;
	size_t n = 0;
	int ret, rc;

	ret = prepare_stmts(st, err);
	if (ret)
		return ret;
	ret = index_ready(st, err);
	if (ret)
		return ret;
	evs = calloc(STORE_EVENTS_MAX, sizeof(*evs));
	if (!evs)
		return iza_error_set(err, -IZA_ENOMEM, st->path, 0, NULL,
				     "out of memory migrating the store");
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		ret = db_error(st, err, "schema migration to v2 failed");
		goto out;
	}
	memset(&key, 0, sizeof(key));
	memset(&row, 0, sizeof(row));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ret = COPY_COL(st, s, 0, row.source, err);
		if (!ret)
			ret = COPY_COL(st, s, 1, row.source_id, err);
		if (ret)
			goto out;
		if (have && (strcmp(row.source, key.source) != 0 ||
			     strcmp(row.source_id, key.source_id) != 0)) {
			ret = migrate_one(st, &key, evs, n, err);
			if (ret)
				goto out;
			copied += (int64_t)n;
			have = false;
		}
		if (!have) {
			key = row;
			key.last_updated = column_time(s, 2);
			key.version = sqlite3_column_int64(s, 3);
			n = 0;
			have = true;
		}
		if (sqlite3_column_type(s, 5) == SQLITE_NULL)
			continue; /* an encounter without events */
		if (n == STORE_EVENTS_MAX ||
		    sqlite3_column_bytes(s, 15) != IZA_HASH_LEN) {
			ret = iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
					    "schema migration to v2: a "
					    "malformed v1 encounter");
			goto out;
		}
		row.last_updated = key.last_updated;
		row.version = key.version;
		ret = COPY_COL(st, s, 5, row.type, err);
		if (!ret)
			ret = COPY_COL(st, s, 6, row.channel, err);
		if (!ret)
			ret = COPY_COL(st, s, 7, row.status, err);
		if (!ret)
			ret = COPY_COL(st, s, 8, row.provider, err);
		if (!ret)
			ret = COPY_COL(st, s, 9, row.sector, err);
		if (!ret)
			ret = COPY_COL(st, s, 10, row.rule, err);
		if (!ret)
			ret = COPY_COL(st, s, 14, row.disposition, err);
		if (ret)
			goto out;
		row.start = column_time(s, 11);
		row.end = column_time(s, 12);
		row.urgency = sqlite3_column_type(s, 13) == SQLITE_NULL
				  ? -1
				  : sqlite3_column_int(s, 13);
		memcpy(row.patient_key, sqlite3_column_blob(s, 15),
		       IZA_HASH_LEN);
		evs[n++] = row;
	}
	if (rc != SQLITE_DONE) {
		ret = db_error(st, err, "schema migration to v2 failed");
		goto out;
	}
	if (have) {
		ret = migrate_one(st, &key, evs, n, err);
		if (ret)
			goto out;
		copied += (int64_t)n;
	}
	sqlite3_finalize(s);
	s = NULL;
	ret = stage_flush(st, err);
	if (ret)
		goto out;
	ret = query_int(st, "SELECT count(*) FROM events_v1", &v1_events, err);
	if (ret)
		goto out;
	if (v1_events != copied) {
		ret = iza_error_set(err, -IZA_ESTORE, st->path, 0, NULL,
				    "schema migration to v2: %lld of %lld "
				    "events belong to no encounter",
				    (long long)(v1_events - copied),
				    (long long)v1_events);
		goto out;
	}
	/* SQLite built with SECURE_DELETE zeroes every freed page, and the
	 * statement journal (temp_store = MEMORY) keeps each page's old
	 * content: 51 -> 568 MB RSS and 3 s for a 2 M-event store.  FAST
	 * leaves freelist pages as they are (their content is what the v2
	 * tables now hold anyway): 21 MB, 0.13 s. */
	ret = query_int(st, "PRAGMA secure_delete", &secure, err);
	if (ret)
		goto out;
	ret = exec_sql(st,
		       "PRAGMA secure_delete = FAST;"
		       " DROP TABLE events_v1; DROP TABLE encounters",
		       err, "schema migration to v2 failed");
	snprintf(pragma, sizeof(pragma), "PRAGMA secure_delete = %d",
		 secure ? 1 : 0);
	if (!ret)
		ret =
		    exec_sql(st, pragma, err, "schema migration to v2 failed");
out:
	sqlite3_finalize(s);
	free(evs);
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

static void pstage_free(struct pstaging *ps)
{
	free(ps->row);
	free(ps->order);
	free(ps->slot);
	memset(ps, 0, sizeof(*ps));
}

static int pstage_init(struct pstaging *ps, size_t max)
{
	size_t nslots = 16;

	while (nslots < 2 * max)
		nslots *= 2;
	ps->row = malloc(max * sizeof(*ps->row));
	ps->order = malloc(max * sizeof(*ps->order));
	ps->slot = calloc(nslots, sizeof(*ps->slot));
	if (!ps->row || !ps->order || !ps->slot) {
		pstage_free(ps);
		return -IZA_ENOMEM;
	}
	ps->n = 0;
	ps->max = max;
	ps->nslots = nslots;
	return 0;
}

static void pstage_clear(struct pstaging *ps)
{
	if (ps->n)
		memset(ps->slot, 0, ps->nslots * sizeof(*ps->slot));
	ps->n = 0;
}

/* patient_key is an HMAC: its first 8 bytes are as good as any hash. */
static size_t pstage_hash(const struct canon_patient *p)
{
	uint64_t h = load_le64(p->patient_key);
	size_t i, n = strnlen(p->source, sizeof(p->source));

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p->source[i]) * FNV_PRIME;
	return (size_t)mix64(h);
}

static bool same_patient_key(const struct canon_patient *a,
			     const struct canon_patient *b)
{
	return memcmp(a->patient_key, b->patient_key, IZA_HASH_LEN) == 0 &&
	       field_eq(a->source, b->source, sizeof(a->source));
}

/* The staged row of p's key, or NULL; *slot_out the slot it is in or the
 * free slot it would take. */
static struct canon_patient *
pstage_get(struct pstaging *ps, const struct canon_patient *p, size_t *slot_out)
{
	size_t mask = ps->nslots - 1, h = pstage_hash(p) & mask;

	while (ps->slot[h]) {
		struct canon_patient *r = &ps->row[ps->slot[h] - 1];

		if (same_patient_key(r, p)) {
			*slot_out = h;
			return r;
		}
		h = (h + 1) & mask;
	}
	*slot_out = h;
	return NULL;
}

/* Primary key order of the patients table: source, then patient_key. */
static int patient_key_cmp(const void *a, const void *b)
{
	const struct canon_patient *x = *(const struct canon_patient *const *)a;
	const struct canon_patient *y = *(const struct canon_patient *const *)b;
	int c = strncmp(x->source, y->source, sizeof(x->source));

	return c ? c : memcmp(x->patient_key, y->patient_key, IZA_HASH_LEN);
}

static int patient_write(struct store *st, const struct canon_patient *p,
			 struct iza_error *err)
{
	sqlite3_stmt *s = st->stmt[S_PAT_PUT];

	BIND_FIELD(s, 1, p->source);
	sqlite3_bind_blob(s, 2, p->patient_key, IZA_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, p->pseudonym, IZA_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, p->has_bsn);
	sqlite3_bind_int(s, 5, p->pc4);
	BIND_FIELD(s, 6, p->gemeente);
	BIND_FIELD(s, 7, p->region);
	sqlite3_bind_int(s, 8, p->birth_year);
	BIND_FIELD(s, 9, p->sex);
	bind_time(s, 10, p->last_updated);
	sqlite3_bind_int64(s, 11, p->version);
	sqlite3_bind_int(s, 12, p->active);
	if (step_done(st, S_PAT_PUT))
		return write_error(st, err, "cannot store patient");
	return 0;
}

/* Write the staged patients in key order, then empty the table.  Inside the
 * open transaction. */
static int pstage_flush(struct store *st, struct iza_error *err)
{
	struct pstaging *ps = &st->pstage;
	int ret = 0;
	size_t i;

	if (!ps->n) /* also before the table exists: qsort(NULL, 0) is UB */
		return 0;
	for (i = 0; i < ps->n; i++)
		ps->order[i] = &ps->row[i];
	qsort(ps->order, ps->n, sizeof(*ps->order), patient_key_cmp);
	for (i = 0; i < ps->n && ret == 0; i++)
		ret = patient_write(st, ps->order[i], err);
	pstage_clear(ps);
	return ret;
}

/* Stage p as its key's new row: replaces the staged row (old, when not
 * NULL), else takes the free slot (flushing a full table first). */
static int pstage_put(struct store *st, struct canon_patient *old, size_t slot,
		      const struct canon_patient *p, struct iza_error *err)
{
	struct pstaging *ps = &st->pstage;
	int ret;

	if (old) {
		*old = *p;
		return 0;
	}
	if (ps->n == ps->max) {
		ret = pstage_flush(st, err);
		if (ret)
			return ret;
		pstage_get(ps, p, &slot); /* the table is empty: a new slot */
	}
	ps->row[ps->n++] = *p;
	ps->slot[slot] = (uint32_t)ps->n;
	return 0;
}

static bool patient_eq(const struct canon_patient *a,
		       const struct canon_patient *b)
{
	return memcmp(a->pseudonym, b->pseudonym, IZA_HASH_LEN) == 0 &&
	       a->has_bsn == b->has_bsn && a->pc4 == b->pc4 &&
	       field_eq(a->gemeente, b->gemeente, sizeof(a->gemeente)) &&
	       field_eq(a->region, b->region, sizeof(a->region)) &&
	       a->birth_year == b->birth_year &&
	       field_eq(a->sex, b->sex, sizeof(a->sex)) &&
	       a->active == b->active;
}

/* Everything staged into the tables (before a COMMIT or a read). */
static int flush_staged(struct store *st, struct iza_error *err)
{
	int ret = stage_flush(st, err);

	return ret ? ret : pstage_flush(st, err);
}

/* After a ROLLBACK: nothing staged survives. */
static void clear_staged(struct store *st)
{
	stage_clear(&st->stage);
	pstage_clear(&st->pstage);
}

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
	struct canon_patient *staged;
	sqlite3_stmt *s;
	size_t slot;
	bool own = false;
	int ret, rc;

	if (!st || !p)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_put_patient: missing argument");
	if (!p->source[0])
		return iza_error_set(err, -IZA_EMISSING, NULL, 0, "source",
				     "patient without source");
	if (!st->pstage.row &&
	    pstage_init(&st->pstage, st->hooks.patient_staging_max
					 ? st->hooks.patient_staging_max
					 : PSTAGE_MAX))
		return iza_error_set(err, -IZA_ENOMEM, st->path, 0, NULL,
				     "out of memory for the patient staging "
				     "table");
	ret = auto_begin(st, &own, err);
	if (ret)
		return ret;
	staged = pstage_get(&st->pstage, p, &slot);
	if (staged) {
		int c = meta_cmp(p->last_updated, p->version,
				 staged->last_updated, staged->version);

		if (c < 0)
			r = PUT_STALE;
		else if (c == 0 && patient_eq(staged, p))
			r = PUT_DUPLICATE;
		else
			r = PUT_UPDATED;
	} else {
		s = st->stmt[S_PAT_GET];
		BIND_FIELD(s, 1, p->source);
		sqlite3_bind_blob(s, 2, p->patient_key, IZA_HASH_LEN,
				  SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			int c = meta_cmp(p->last_updated, p->version,
					 column_time(s, 0),
					 sqlite3_column_int64(s, 1));

			if (c < 0)
				r = PUT_STALE;
			else if (c == 0 && patient_same(s, p))
				r = PUT_DUPLICATE;
			else
				r = PUT_UPDATED;
		} else if (rc != SQLITE_DONE) {
			sqlite3_reset(s);
			ret = write_error(st, err, "cannot look up patient");
			goto out;
		}
		sqlite3_reset(s);
	}
	if (r == PUT_INSERTED || r == PUT_UPDATED)
		ret = pstage_put(st, staged, slot, p, err);
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
	       " WHERE e.live = 1 AND ");
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
	/* storage order: a plain scan of events, no sort */
	append(sql, sizeof(sql), &len, " ORDER BY e.id");
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
	/* inside a batch, the events join the staged patients too */
	if (st->in_batch) {
		ret = flush_staged(st, err);
		if (ret)
			return ret;
	}
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
	    "SELECT (SELECT count(*) FROM events WHERE live = 1),"
	    " (SELECT count(*) FROM enc),"
	    " (SELECT count(*) FROM patients),"
	    " (SELECT count(*) FROM batches),"
	    " (SELECT count(*) FROM events e WHERE e.live = 1 AND NOT EXISTS"
	    "  (SELECT 1 FROM patients p WHERE p.source = e.source"
	    "   AND p.patient_key = e.patient_key))";
	sqlite3_stmt *s = NULL;
	int ret = 0;

	if (!st || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "store_stats: missing argument");
	/* inside a batch, count the staged encounters and patients too */
	if (st->in_batch) {
		ret = flush_staged(st, err);
		if (ret)
			return ret;
	}
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
