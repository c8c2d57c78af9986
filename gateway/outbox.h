/*
 * outbox.h - the durable outbox of signed reports waiting to be sent to the
 * plan-monitoring database (izagw-data/outbox.db, SQLite, mode 0600).
 *
 * `izagw report` enqueues a release: the exact bytes of the report Bundle
 * and their detached JWS (common/jws.h), under the report id that the JWS
 * binds.  `izagw push` (the upload issue) takes the due reports in order,
 * sends them and marks each sent, to retry (with the next attempt time), or
 * failed (a definitive refusal, kept with its reason for `izagw status`).
 * Every change is one SQLite transaction, so a process killed at any moment
 * leaves each report either queued or sent; the receiver deduplicates on
 * the report id, so sending a report twice has no effect there.
 *
 * One struct outbox belongs to one thread.
 */
#ifndef IZA_OUTBOX_H
#define IZA_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

#define OUTBOX_MAX_BODY (64u << 20) /* bytes of one report */

struct outbox;

enum outbox_state { OUTBOX_QUEUED, OUTBOX_SENT, OUTBOX_FAILED };

struct outbox_item {
	char id[80];
	char region[8], plan[80], period[12];
	int64_t created, next_attempt, sent_at;
	int attempts;
	int last_status; /* HTTP status of the last attempt, 0 none */
	char last_error[160];
	enum outbox_state state;
	char *body; /* heap (outbox_item_release) */
	size_t body_len;
	char *jws; /* heap */
};

void outbox_item_release(struct outbox_item *it); /* accepts NULL */

int outbox_open(const char *path, bool create, struct outbox **out,
		struct iza_error *err);
void outbox_close(struct outbox *ob); /* accepts NULL */

/*
 * Queue a report.  The same id with the same body again is a no-op
 * (*added false); the same id with another body is -IZA_EEXISTS (a report
 * id names one report).  body at most OUTBOX_MAX_BODY bytes.
 */
int outbox_enqueue(struct outbox *ob, const char *id, const char *region,
		   const char *plan, const char *period, const char *body,
		   size_t len, const char *jws, int64_t now, bool *added,
		   struct iza_error *err);

/* The oldest queued report due at `now`: 1 and *it filled (caller
 * releases), 0 if none is due, or a negative code. */
int outbox_next(struct outbox *ob, int64_t now, struct outbox_item *it,
		struct iza_error *err);

/* The outcome of one attempt (attempts is incremented by all three). */
int outbox_mark_sent(struct outbox *ob, const char *id, int status, int64_t now,
		     struct iza_error *err);
int outbox_mark_retry(struct outbox *ob, const char *id, int status,
		      const char *why, int64_t next_attempt,
		      struct iza_error *err);
int outbox_mark_failed(struct outbox *ob, const char *id, int status,
		       const char *why, struct iza_error *err);

/*
 * When to try again after `attempts` failed attempts (1, 2, ...): 30 s
 * doubled per attempt up to 6 hours, with +-20 % jitter from `jitter`
 * (0..1), but never before the server's Retry-After (seconds, 0 none).
 */
int64_t outbox_backoff(int attempts, int64_t retry_after, double jitter,
		       int64_t now);

struct outbox_stats {
	int64_t queued, sent, failed;
	int64_t oldest_queued; /* created time of the oldest queued, 0 */
	int64_t last_sent;     /* when the last report was delivered, 0 */
};
int outbox_stats(struct outbox *ob, struct outbox_stats *st,
		 struct iza_error *err);

/* The failed reports, oldest first: calls cb for each (item valid during
 * the call; body not loaded). */
int outbox_failed(struct outbox *ob,
		  int (*cb)(void *ctx, const struct outbox_item *it), void *ctx,
		  struct iza_error *err);

/*
 * Periods closed by the scheduler (schedule.h).  A closing is the report
 * that closed the period, queued in the same transaction as the closing
 * itself, so a period is closed by exactly one report however often the
 * scheduler is killed and restarted.
 */

/* 1 and report_id (size bytes) and *closed_at (may be NULL) filled when
 * `period` is closed, 0 when not, or a negative code. */
int outbox_closing(struct outbox *ob, const char *period, char *report_id,
		   size_t size, int64_t *closed_at, struct iza_error *err);

/* Queue the report (as outbox_enqueue) that closes `period`, in one
 * transaction with the closing; -IZA_EEXISTS if the period was closed
 * before (nothing queued).  Clears the period's failures. */
int outbox_enqueue_closing(struct outbox *ob, const char *id,
			   const char *region, const char *plan,
			   const char *period, const char *body, size_t len,
			   const char *jws, int64_t now, struct iza_error *err);

/* A failed attempt at closing `period` (counted, the last reason kept). */
int outbox_closing_failed(struct outbox *ob, const char *period,
			  const char *why, int64_t now, struct iza_error *err);

struct outbox_closing {
	char period[12];
	char report_id[80]; /* "" while not closed */
	int64_t closed_at;
	enum outbox_state state; /* of the closing report */
	int64_t sent_at;
	int failures; /* failed attempts before closing (not closed yet) */
	int64_t failed_at;
	char last_error[160];
};

/* Every period closed or attempted, in period order. */
int outbox_closings(struct outbox *ob,
		    int (*cb)(void *ctx, const struct outbox_closing *c),
		    void *ctx, struct iza_error *err);

#endif
