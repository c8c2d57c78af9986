/*
 * schedule.h - when izagw serve closes a period, and the timer that makes
 * it look.
 *
 * A schedule closes every period of one kind (month, quarter or year) from
 * a first period on, `close_after_days` days after the period's last day,
 * so that late data still counts (quarter 2026-Q3 with 10 days closes on
 * 2026-10-10, Amsterdam time).  Closing a period means releasing it:
 * computing, recording, signing and queueing its report (gateway.h), once;
 * the outbox's closings (outbox.h) make the "once" survive crashes.
 *
 * The scheduler is a thread that calls one function at start and then
 * every `check_seconds`; what that function does is the caller's (izagw
 * serve: close what is due, then push).
 */
#ifndef IZA_SCHEDULE_H
#define IZA_SCHEDULE_H

#include <stdbool.h>

#include "iza_error.h"
#include "period.h"

#define SCHEDULE_DEFAULT_AFTER_DAYS    10
#define SCHEDULE_DEFAULT_CHECK_SECONDS 300

struct schedule {
	bool enabled;
	enum period_kind every;
	struct period from;   /* the first period to close */
	int close_after_days; /* 0..366 */
	int check_seconds;    /* 1..86400 */
};

/* The day (days since 1970-01-01, Amsterdam) on which p closes. */
long schedule_close_day(const struct schedule *sc, const struct period *p);

/* The period after p, of the same kind. */
int schedule_next(const struct period *p, struct period *next);

/* Parse "month", "quarter" or "year"; -IZA_EINVALID otherwise. */
int schedule_parse_every(const char *s, enum period_kind *out);
const char *schedule_every_name(enum period_kind k);

struct scheduler;

/* Start the timer thread: tick(ctx) now, then every sc->check_seconds
 * until scheduler_stop. */
int scheduler_start(const struct schedule *sc, void (*tick)(void *ctx),
		    void *ctx, struct scheduler **out, struct iza_error *err);
/* Stop the timer and wait for a tick in progress to end (accepts NULL). */
void scheduler_stop(struct scheduler *s);

#endif
