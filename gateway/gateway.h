/*
 * gateway.h - the region gateway as one object: its configuration and the
 * components a command loads on demand (reference tables, mappings, KPI
 * definitions, event store, release ledger, region key), and the
 * operations the CLI and the intake service's scheduler share: set up an
 * ingest for one source, compute the released values of a period, and
 * produce a period's report (record the release, build, check, sign and
 * queue it).
 *
 * Nothing here prints: what happened comes back in the result structs and
 * the error, and the caller says it.  One struct gw belongs to one thread
 * at a time (izagw serve serialises its users with a mutex).
 */
#ifndef IZA_GATEWAY_H
#define IZA_GATEWAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ingest.h"
#include "kpi.h"
#include "ledger.h"
#include "mapping.h"
#include "period.h"
#include "pseudo.h"
#include "refdata.h"
#include "store.h"

struct gw {
	struct gw_config *cfg;
	struct refdata *rd;
	struct vocabulary *voc;
	struct mapping *map, *map_hl7v2, *map_cda;
	struct kpi_set *kpis;
	struct store *store;
	struct ledger *ledger;
	struct pseudo *ps;
	struct iza_error err;
};

/* Free everything loaded, the configuration too (g itself is the
 * caller's). */
void gw_release(struct gw *g);

/* Today's date in Amsterdam, as days since 1970-01-01. */
long gw_today(void);

int gw_load_refdata(struct gw *g);
/* The region key (pseudonyms; the noise stream of "dp" KPIs). */
int gw_load_key(struct gw *g);
/* The vocabulary and the mapping of every input kind. */
int gw_load_mapping(struct gw *g);
/* Resolve the region, load the reference tables, open the event store and,
 * with need_key, the region key. */
int gw_open(struct gw *g, bool need_key);

/* The ingest configuration for one source: its sector from `sector`, the
 * configuration's sources, or its AGB prefix (gw_open and gw_load_mapping
 * first). */
int gw_ingest_setup(struct gw *g, const char *source, const char *sector,
		    int threads, struct ingest_config *ic);

/* Compute the KPIs of p and apply disclosure control and the release rules
 * against the ledger (record: create the ledger when missing, for a
 * release).  *out is the caller's (kpi_results_free). */
int gw_released(struct gw *g, const struct period *p, bool record,
		struct kpi_results **out);

struct gw_report {
	json_t *bundle;	     /* the Bundle as released (json_decref) */
	char report_id[37];  /* its id, from the release's sequence number */
	int64_t release;     /* the release's sequence number in the ledger */
	bool budget_charged; /* the release spent privacy budget */
	bool queued;	     /* signed and in the outbox */
	bool already_closed; /* closes: the period was closed before, nothing
				was released (bundle NULL) */
	char closed_by[80];  /* already_closed: the report that closed it */
};

/*
 * Release period p: compute, record the release in the ledger (before the
 * report exists anywhere), build the Bundle, check it against the
 * allow-list and, when signing is configured, sign it and queue it in the
 * outbox.  closes: the scheduler closing p (signing required; the report
 * and the closing are queued in one outbox transaction, and a period
 * closed before is left alone: already_closed).  NULL for `izagw report`.
 */
int gw_report_period(struct gw *g, const struct period *p, int64_t now,
		     bool closes, struct gw_report *out);

#endif
