/*
 * schedule.c - closing days of periods, and the scheduler's timer thread
 * (schedule.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schedule.h"

long schedule_close_day(const struct schedule *sc, const struct period *p)
{
	int y = 0, m = 0, d = 0;

	/* last_day is "YYYY-MM-DD"; parse_fhir_date cannot fail on it */
	if (parse_fhir_date(p->last_day, strlen(p->last_day), &y, &m, &d) != 0)
		return 0;
	return (long)days_from_civil(y, m, d) + sc->close_after_days;
}

int schedule_next(const struct period *p, struct period *next)
{
	int year = p->year, index = p->index;

	switch (p->kind) {
	case PERIOD_MONTH:
		index = index == 12 ? 1 : index + 1;
		year += index == 1;
		break;
	case PERIOD_QUARTER:
		index = index == 4 ? 1 : index + 1;
		year += index == 1;
		break;
	case PERIOD_YEAR:
		year++;
		break;
	}
	return period_make(p->kind, year, index, next);
}

static const char *const every_names[] = {"month", "quarter", "year"};

int schedule_parse_every(const char *s, enum period_kind *out)
{
	for (int k = PERIOD_MONTH; k <= PERIOD_YEAR; k++)
		if (s && strcmp(s, every_names[k]) == 0) {
			*out = (enum period_kind)k;
			return 0;
		}
	return -IZA_EINVALID;
}

const char *schedule_every_name(enum period_kind k)
{
	return k <= PERIOD_YEAR ? every_names[k] : "?";
}

struct scheduler {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	int check_seconds;
	void (*tick)(void *ctx);
	void *ctx;
};

static void *scheduler_main(void *arg)
{
	struct scheduler *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec until;

		pthread_mutex_unlock(&s->lock);
		s->tick(s->ctx);
		pthread_mutex_lock(&s->lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += s->check_seconds;
		while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock,
							  &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int scheduler_start(const struct schedule *sc, void (*tick)(void *ctx),
		    void *ctx, struct scheduler **out, struct iza_error *err)
{
	struct scheduler *s;
	pthread_condattr_t ca;

	if (!sc || !tick || !out || sc->check_seconds < 1)
		return -IZA_EUSAGE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -IZA_ENOMEM;
	s->check_seconds = sc->check_seconds;
	s->tick = tick;
	s->ctx = ctx;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return iza_error_set(err, -IZA_ENOMEM, NULL, 0, "schedule",
				     "cannot start the scheduler thread");
	}
	*out = s;
	return 0;
}

void scheduler_stop(struct scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
