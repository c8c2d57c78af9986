/*
 * config.h - the gateway's configuration: a JSON file (izagw --config FILE)
 * with sensible defaults, so the quick start needs none.  docs/configuration.md
 * lists every member.  Relative paths are taken relative to the directory
 * izagw runs in.
 */
#ifndef IZA_CONFIG_H
#define IZA_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "iza_error.h"
#include "schedule.h"

struct gw_config {
	char *region;	      /* "ZK02"; from the file, or the data dir */
	char *data_dir;	      /* default "./izagw-data" */
	char *key_file;	      /* default DATA/pseudonym.key */
	char *store_path;     /* default DATA/events.db */
	char *ledger_path;    /* default DATA/ledger.db: the release ledger */
	char *quarantine_dir; /* default DATA/quarantine */
	char *mapping_dir;    /* default: IZAGW_MAPPINGS or the built-in */
	int k;		      /* minimum persons per released cell (10) */
	bool test_mode;	      /* allows k < 10: tests only */
	int baseline_year;    /* for er-visits-avoided (default 2024) */
	bool count_unknown_residence; /* count patients without residence */
	char *measure_base;	      /* canonical base of Measure.url */
	char *reporter_system; /* identifier system of the reporting region */
	size_t max_line;       /* NDJSON line cap (bytes) */
	size_t max_doc;	       /* Bundle cap (bytes) */
	json_t *sources;       /* {"AGB": {"sector": "...", "name": "..."}} */
	/* the provider rule of disclosure control (disclosure.h) */
	bool provider_rule;	   /* false only with test_mode */
	int provider_min;	   /* 3 */
	double provider_dominance; /* 0.80 */
	double provider_nk;	   /* 0.85: (2, 85 %) for magnitude KPIs */
	double provider_p;	   /* 10: p % rule for magnitude KPIs */
	char **provider_consent;   /* NULL-terminated AGB codes, or NULL */
	/* privacy budget of "dp" KPIs, epsilon x 1000 per scope */
	int64_t dp_budget_quarter; /* 1000 (epsilon 1 per quarter) */
	int64_t dp_budget_year;	   /* 4000 */
	int rounding; /* published counts to a multiple of this (5); 0 off */
	/* signed upload: reports are queued in the outbox when both are set */
	char *signing_key;   /* PEM EC P-256 key of the region certificate */
	char *signing_chain; /* PEM: the region certificate, then its CA */
	char *plan;	     /* the plan the region reports for (JWS claim) */
	char *outbox_path;   /* default DATA/outbox.db */
	char *monitor_url;   /* https://host:port of izamon, for izagw push */
	char *monitor_ca;    /* CA certificates of izamon's server, PEM */
	/* izagw serve: the intake service (intake.h) */
	char *intake_cert; /* its certificate chain, PEM */
	char *intake_key;  /* its key */
	char *intake_ca;   /* CA certificates of the providers, PEM */
	char *intake_bind; /* default 127.0.0.1 */
	long intake_port;  /* default 8444 */
	/* izagw serve: closing periods (schedule.h); enabled false: none */
	struct schedule schedule;
};

/* path may be NULL (defaults only). */
int config_load(const char *path, struct gw_config **out,
		struct iza_error *err);
void config_free(struct gw_config *c); /* accepts NULL */

/* Read the region recorded by `izagw init` in the data directory, unless
 * the configuration names one. Absent both: -IZA_ENOTFOUND. */
int config_resolve_region(struct gw_config *c, struct iza_error *err);
/* Record the region in the data directory (init). */
int config_save_region(const struct gw_config *c, struct iza_error *err);

/* Sector declared for a source in the configuration, or NULL. */
const char *config_source_sector(const struct gw_config *c, const char *source);

/* Path of a file in the mapping directory (static buffer). */
const char *config_mapping_file(const struct gw_config *c, const char *name);

#endif
