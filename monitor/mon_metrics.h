/*
 * mon_metrics.h - izamon's counters in the Prometheus text exposition format
 * (version 0.0.4) for GET /metrics: reports stored per region, refusals,
 * enrolments, plans, keys, decisions per status, notices and their total,
 * audit entries, the time of the last report.  Only counts: no report
 * contents, no certificate subjects.
 */
#ifndef IZA_MON_METRICS_H
#define IZA_MON_METRICS_H

#include "iza_error.h"
#include "mon_store.h"

/* A heap string, or NULL with err. */
char *mon_metrics_text(struct mon_store *s, struct iza_error *err);

#endif
