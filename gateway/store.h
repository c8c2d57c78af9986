/*
 * store.h - the SQLite event store.
 *
 * Holds canonical events and canonical patients (pseudonymised), the batch
 * provenance, and nothing else.  Schema is versioned (PRAGMA user_version)
 * with forward migrations run at open.  Writes happen inside a batch: one
 * transaction per input batch; store_batch_end() commits, store_batch_abort()
 * rolls back.
 *
 * Dedup and corrections:
 *   - an encounter is identified by (source, source_id) and may produce
 *     several events (an ER visit that became an admission yields er_visit and
 *     admission); store_put_encounter() replaces the whole set;
 *   - a resend with a newer last_updated (or, if both lack it, a higher
 *     version) replaces the stored record (PUT_UPDATED); equal -> PUT_DUPLICATE
 *     when the content is identical, PUT_UPDATED when it differs; older ->
 *     PUT_STALE (kept as it is);
 *   - statuses are kept as sent; the KPI scan only returns counted statuses,
 *     so entered-in-error / cancelled drop out of every KPI.
 *
 * Schema v2 (store.c) stores events in arrival order (an update to as many
 * events as before rewrites them in place, any other appends) and finds an
 * encounter by a 63-bit hash of (source, source_id); new keys and changed
 * patients are staged in memory and written in key order, and a Bloom
 * filter spares the lookup for keys never seen.  Memory stays bounded
 * whatever the store's size.
 *
 * One struct store belongs to one thread at a time (the connection is opened
 * without SQLite's mutex); other processes may read the file concurrently
 * (WAL mode).  The file is created with mode 0600.
 */
#ifndef IZA_STORE_H
#define IZA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "iza_error.h"

struct store;

/* Schema version this build creates and reads (PRAGMA user_version); an
 * older store is migrated forward at open, a newer one is refused. */
#define STORE_SCHEMA_VERSION 2
/* Most events one encounter may yield (-IZA_ETOOBIG beyond). */
#define STORE_EVENTS_MAX 16

/* Schema version of an open store (STORE_SCHEMA_VERSION); 0 for NULL. */
int store_schema_version(const struct store *st);

enum put_result { PUT_INSERTED, PUT_UPDATED, PUT_DUPLICATE, PUT_STALE };

/* Open (create = make the file and schema if absent; else it must exist). */
int store_open(const char *path, bool create, struct store **out,
	       struct iza_error *err);
void store_close(struct store *st); /* accepts NULL */

struct batch_info {
	const char *file; /* as given on the command line, "-" for stdin */
	const char *sha256_hex; /* of the bytes read */
	const char *source;
	const char *format;
	int64_t started; /* unix seconds */
};

struct batch_counts {
	int64_t records, events_stored, duplicates, updated, stale, excluded,
	    quarantined, patients;
};

int store_batch_begin(struct store *st, struct iza_error *err);
int store_batch_end(struct store *st, const struct batch_info *info,
		    const struct batch_counts *counts, struct iza_error *err);
void store_batch_abort(struct store *st);

/* evs[0..n) all share source/source_id (n may be 0: the encounter produced no
 * event, e.g. a class we do not count; the stored set is then emptied).
 * With n == 0, evs must still point at one canon_event whose source,
 * source_id, last_updated and version identify the encounter (its other
 * fields are ignored); store_put_empty_encounter() says the same without a
 * dummy event.  The events of one set must also share last_updated and
 * version (the record's order is (last_updated, version) compared in that
 * order; a missing last_updated sorts before any present one), and carry
 * distinct types (else -IZA_EUSAGE / -IZA_EINVALID, before
 * anything is written).  Outside a batch a put is its own transaction.  After
 * a -IZA_ESTORE inside a batch, store_batch_end() refuses and rolls back. */
int store_put_encounter(struct store *st, const struct canon_event *evs,
			size_t n, enum put_result *res, struct iza_error *err);
/* Like store_put_encounter() with n == 0: the encounter yields no event
 * (any stored events of it are removed when this resend is not stale). */
int store_put_empty_encounter(struct store *st, const char *source,
			      const char *source_id, int64_t last_updated,
			      int64_t version, enum put_result *res,
			      struct iza_error *err);

int store_put_patient(struct store *st, const struct canon_patient *p,
		      enum put_result *res, struct iza_error *err);

/* One row handed to the KPI engine: an event joined with its patient. */
struct event_row {
	const uint8_t *pseudonym; /* IZA_HASH_LEN bytes; NULL if no patient */
	const char *type, *channel, *sector, *provider, *status;
	const char *region; /* patient's region, "" unknown */
	int birth_year;
	int64_t start, end;
	int urgency;
	const char *disposition;
};

struct event_filter {
	int64_t from, to; /* events with start in [from, to) ... */
	bool overlap;	  /* ... or, if set, with [start,end] overlapping */
	const char *const *types;    /* NULL-terminated list, NULL = all */
	const char *const *statuses; /* NULL-terminated list, NULL = all */
};

/* Calls cb for each matching row, in storage order (the order the events
 * were stored in: deterministic for a given sequence of puts, but not by
 * time); cb returns 0 to go on, nonzero to stop (that value is returned).  Row
 * pointers are valid during the call only. */
int store_scan(struct store *st, const struct event_filter *f,
	       int (*cb)(void *ctx, const struct event_row *row), void *ctx,
	       struct iza_error *err);

/* Totals for `izagw status`. */
struct store_stats {
	int64_t events, encounters, patients, batches, events_without_patient;
};
int store_stats(struct store *st, struct store_stats *out,
		struct iza_error *err);

/*
 * For the unit tests only: force the rare paths of the encounter index.
 *   key_hash      replaces the hash of (source, source_id) (e.g. to make two
 *                 ids share a key and so exercise collision probing); it
 *                 must be given to a new, empty store only;
 *   staging_max   holds at most this many staged index entries before a
 *                 flush (0: the default), to flush in the middle of a batch;
 *   patient_staging_max  the same for staged patients;
 *   bloom_maybe   the Bloom filter answers "maybe present" for every key
 *                 (the false-positive path: a lookup that finds nothing).
 * Call outside a batch.  Returns 0 or -IZA_EUSAGE.
 */
struct store_test_hooks {
	void (*key_hash)(const char *source, const char *source_id,
			 uint64_t *key, uint64_t *check);
	size_t staging_max;
	size_t patient_staging_max;
	bool bloom_maybe;
};
int store_set_test_hooks(struct store *st, const struct store_test_hooks *h);

#endif
