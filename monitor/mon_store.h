/*
 * mon_store.h - izamon's storage behind one small interface: enrolled
 * regions, received reports (the exact signed bytes and their JWS) and the
 * audit log.  A backend is a const struct of function pointers chosen by
 * the database URL (mon_store_open): "sqlite:PATH" (mon_sqlite.c) or
 * "postgresql://USER@HOST:PORT/DATABASE" (mon_pg.c, libpq's URL syntax).
 * Both backends keep the same tables, constraints and append-only triggers.
 *
 * The audit log's hash chain is computed here, above the backends
 * (mon_audit_append, mon_audit_verify): a backend only stores and returns
 * the entries in order.
 */
#ifndef IZA_MON_STORE_H
#define IZA_MON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

#define MON_HASH_LEN 32

struct mon_region {
	char code[8];	      /* ZKnn */
	char cert_sha256[65]; /* hex fingerprint of the enrolled certificate */
	char plans[512];      /* comma-separated plan ids it may report for */
};

struct mon_report {
	char id[80], region[8], plan[80], period[12];
	char signer_sha256[65];
	int64_t received;
	char *body; /* heap, when loaded */
	size_t body_len;
	char *jws; /* heap, when loaded */
};

/* NEN 7513 style: what happened, when, by which certificate/organisation,
 * on whose behalf, to what. */
struct mon_audit_entry {
	int64_t seq, time;
	char event[32];	    /* report.received, region.enrolled, ... */
	char actor[128];    /* certificate subject / organisation */
	char on_behalf[64]; /* region or insurer code */
	char what[256];	    /* the object: report id, plan, ... */
	uint8_t prev[MON_HASH_LEN], hash[MON_HASH_LEN];
};

enum mon_put { MON_INSERTED, MON_DUPLICATE, MON_CONFLICT };

/* A milestone's final decision (evaluate.h): it stands once recorded. */
struct mon_decision {
	char plan[80], milestone[64];
	int64_t plan_version;
	char status[24];      /* ms_status_name */
	int64_t decided;      /* the instant the evidence decided it */
	int64_t recorded;     /* when izamon recorded it */
	bool late;	      /* on evidence received after the deadline */
	char key[16];	      /* distribution key "YEAR.VERSION", "" none */
	const char *evidence; /* JSON: report ids and values, or attestation */
};

/* One insurer's payment notice for a met milestone. */
struct mon_notice {
	char id[160]; /* plan/milestone/insurer */
	char plan[80], milestone[64];
	char insurer[5]; /* UZOVI: who pays */
	char payee[16];	 /* AGB:/URA: code: who is paid */
	int64_t amount;	 /* cents */
	char key[16];	 /* distribution key "YEAR.VERSION" */
	int64_t issued;
	const char *schedule; /* JSON [{"date","amount_cents"}] */
};

/* Counts for GET /metrics (mon_metrics.h). */
#define MON_STATS_MAX 64
struct mon_stats {
	int64_t reports, refused, regions, insurers, plans, keys;
	int64_t decisions, notices, notice_cents, audit_entries;
	int64_t last_received; /* 0: no report yet */
	size_t nregions, nstatus;
	struct {
		char region[8];
		int64_t reports;
	} by_region[MON_STATS_MAX];
	struct {
		char status[24];
		int64_t n;
	} by_status[8];
};

struct mon_backend;

struct mon_store {
	const struct mon_backend *ops;
	void *impl;
};

struct mon_backend {
	const char *scheme; /* "sqlite", "postgresql" */
	int (*open)(const char *where, bool create, void **impl,
		    struct iza_error *err);
	void (*close)(void *impl);
	int (*region_put)(void *impl, const struct mon_region *r,
			  struct iza_error *err);
	/* 1 found, 0 not enrolled, < 0 error */
	int (*region_get)(void *impl, const char *code, struct mon_region *out,
			  struct iza_error *err);
	/* insert, or say whether the same id holds the same bytes */
	int (*report_put)(void *impl, const struct mon_report *r,
			  enum mon_put *res, struct iza_error *err);
	int (*report_get)(void *impl, const char *id, struct mon_report *out,
			  struct iza_error *err);
	/* an exclusive write transaction across processes (SQLite: BEGIN
	 * IMMEDIATE; PostgreSQL: an advisory lock): what happens between
	 * begin and end(commit) is atomic, and reads after begin see every
	 * write committed before it */
	int (*tx_begin)(void *impl, struct iza_error *err);
	int (*tx_end)(void *impl, bool commit, struct iza_error *err);
	/* append one audit entry (seq, prev and hash already set) */
	int (*audit_put)(void *impl, const struct mon_audit_entry *e,
			 struct iza_error *err);
	/* the last entry: 1 and *out, 0 when the log is empty */
	int (*audit_last)(void *impl, struct mon_audit_entry *out,
			  struct iza_error *err);
	/* every entry in seq order; cb returns nonzero to stop */
	int (*audit_each)(void *impl,
			  int (*cb)(void *ctx, const struct mon_audit_entry *e),
			  void *ctx, struct iza_error *err);
	/* enrol an insurer's certificate (UZOVI code) */
	int (*insurer_put)(void *impl, const char *code,
			   const char *cert_sha256, struct iza_error *err);
	/* who holds this certificate: 1 and role ("region", "insurer") and
	 * code, 0 nobody enrolled */
	int (*identify)(void *impl, const char *cert_sha256, char role[16],
			char code[16], struct iza_error *err);
	/* reports matching the filters ("" = any), oldest first, without
	 * their bodies */
	int (*report_list)(void *impl, const char *region, const char *plan,
			   const char *period,
			   int (*cb)(void *ctx, const struct mon_report *r),
			   void *ctx, struct iza_error *err);
	/* store a versioned document (kind "plan" or "key": a plan
	 * definition, a distribution key under its year) as its exact bytes,
	 * as a new version unless the latest version has the same SHA-256:
	 * *res MON_INSERTED or MON_DUPLICATE, *version the version that holds
	 * these bytes */
	int (*doc_put)(void *impl, const char *kind, const char *id,
		       const char *body, size_t len, const char *sha256,
		       int64_t now, int64_t *version, enum mon_put *res,
		       struct iza_error *err);
	/* the latest version of a document: 1 and heap *body (caller frees),
	 * 0 unknown */
	int (*doc_get)(void *impl, const char *kind, const char *id,
		       char **body, size_t *len, int64_t *version,
		       struct iza_error *err);
	/* every document of a kind, by id, with its latest version */
	int (*doc_list)(void *impl, const char *kind,
			int (*cb)(void *ctx, const char *id, int64_t version,
				  int64_t loaded),
			void *ctx, struct iza_error *err);
	/* within a transaction of the caller (tx_begin; mon_decision_record
	 * does it): record a final milestone decision and the payment
	 * notices it issues; *res MON_INSERTED, or MON_DUPLICATE (and nothing
	 * written) when the milestone was decided before */
	int (*decision_put)(void *impl, const struct mon_decision *d,
			    const struct mon_notice *notices, size_t n,
			    enum mon_put *res, struct iza_error *err);
	/* decisions of a plan ("" any), by plan and milestone; d->evidence
	 * is valid during the callback only */
	int (*decision_list)(void *impl, const char *plan,
			     int (*cb)(void *ctx, const struct mon_decision *d),
			     void *ctx, struct iza_error *err);
	/* the counts of struct mon_stats */
	int (*stats)(void *impl, struct mon_stats *out, struct iza_error *err);
	/* notices matching plan and insurer ("" any), by plan, milestone,
	 * insurer; n->schedule is valid during the callback only */
	int (*notice_list)(void *impl, const char *plan, const char *insurer,
			   int (*cb)(void *ctx, const struct mon_notice *n),
			   void *ctx, struct iza_error *err);
};

extern const struct mon_backend mon_backend_sqlite;
extern const struct mon_backend mon_backend_pg;

/* url "sqlite:PATH" or "postgresql://..."; create makes the schema (and,
 * for SQLite, the file; a PostgreSQL database must exist). */
int mon_store_open(const char *url, bool create, struct mon_store *out,
		   struct iza_error *err);

/* The URL as logs, errors and the audit log may show it: without the
 * password ("postgresql://u:secret@h/db?password=x" becomes
 * "postgresql://u@h/db"); written into buf (size bytes), returned. */
char *mon_store_name(const char *url, char *buf, size_t size);
void mon_store_close(struct mon_store *s); /* accepts NULL */

void mon_report_release(struct mon_report *r); /* accepts NULL */

/* Append an audit entry (the chain is computed here). */
int mon_audit_append(struct mon_store *s, int64_t now, const char *event,
		     const char *actor, const char *on_behalf, const char *what,
		     struct iza_error *err);
/*
 * Record decision d with its notices and, when it is new, the audit entry
 * (event "milestone.decided", actor, on_behalf, what), all in one
 * transaction: *res MON_INSERTED, or MON_DUPLICATE when the milestone was
 * decided before (nothing written).
 */
int mon_decision_record(struct mon_store *s, const struct mon_decision *d,
			const struct mon_notice *notices, size_t n, int64_t now,
			const char *actor, const char *on_behalf,
			const char *what, enum mon_put *res,
			struct iza_error *err);
/* Recompute the chain: 0 and *n when intact, -IZA_ESTORE naming the first
 * entry that was changed, removed or moved. */
int mon_audit_verify(struct mon_store *s, int64_t *n, struct iza_error *err);

#endif
