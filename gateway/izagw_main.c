/*
 * izagw - the region gateway's command line.
 *
 *   izagw [--config FILE] init [--region CODE]
 *   izagw [--config FILE] ingest [--source AGB] [--sector S]
 *                                [--format auto|FORMAT]
 *                                [--threads 1|2] FILE... | -
 *   izagw [--config FILE] kpis --period P [--format table|json|csv]
 *   izagw [--config FILE] report --period P [--out FILE]
 *   izagw [--config FILE] status
 *
 * This file parses arguments, wires the modules together and is the one
 * place that prints and chooses exit codes; the modules themselves never
 * print.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"
#include "ingest.h"
#include "intake.h"
#include "kpi.h"
#include "kpi_format.h"
#include "ledger.h"
#include "outbox.h"
#include "push.h"
#include "mapping.h"
#include "period.h"
#include "pseudo.h"
#include "refdata.h"
#include "release.h"
#include "replay.h"
#include "schedule.h"
#include "store.h"

#define IZAGW_VERSION "0.1.0"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_NOT_INIT = 4,
	EXIT_QUARANTINED = 5,
};

static const char usage_text[] =
    "usage: izagw [--config FILE] COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  init [--region CODE]      create the data directory, the event "
    "store and a\n"
    "                            random pseudonymisation key (region: a "
    "zorgkantoorregio, e.g. ZK02)\n"
    "  ingest [--source AGB] [--sector SECTOR] [--format auto|FORMAT]\n"
    "         [--threads 1|2] FILE... | -\n"
    "                            read exports (FORMAT below; auto: by "
    "content) into\n"
    "                            the event store (default: 2 threads for "
    "files of\n"
    "                            8 MB or more)\n"
    "  kpis --period P [--format table|json|csv]\n"
    "                            released KPI values (P: 2025, 2025-Q1, "
    "2025-03)\n"
    "  report --period P [--out FILE]\n"
    "                            FHIR R4 Bundle of Measures and "
    "MeasureReports\n"
    "  status                    what the event store, the outbox and the "
    "ledger hold\n"
    "  push [--all]              send the due signed reports to the "
    "monitoring database\n"
    "                            (--all: every queued one, due or not)\n"
    "  replay [--source AGB] BATCH\n"
    "                            ingest a batch's quarantined records again "
    "after a\n"
    "                            mapping fix (BATCH: an intake batch id or a "
    "quarantine file)\n"
    "  serve [--bind ADDR] [--port N] [--port-file FILE]\n"
    "                            the HTTPS intake service: providers POST "
    "/ndjson, /fhir,\n"
    "                            /hl7v2, /cda with their certificate "
    "(docs/intake.md)\n"
    "\n"
    "Options: --config FILE (JSON, see docs/configuration.md), --help, "
    "--version\n"
    "Without --config the data directory is ./izagw-data.\n"
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  failure (input/output, event store, internal); nothing of the "
    "failing batch stored\n"
    "  2  usage error\n"
    "  3  invalid configuration, mapping or KPI file\n"
    "  4  no gateway initialised in the data directory\n"
    "  5  ingest finished, but some records were quarantined (see the "
    "summary);\n"
    "     push finished, but some reports wait for a retry or were refused\n";

/* The usage text, then the input formats of the adapter registry. */
static void usage(FILE *f)
{
	size_t k;

	fputs(usage_text, f);
	fputs("\nInput formats (ingest --format):\n", f);
	for (k = 0; adapter_registry[k]; k++)
		fprintf(f, "  %-12s %s\n", adapter_registry[k]->name,
			adapter_registry[k]->description);
}

static void print_error(const struct iza_error *err, int rc)
{
	char buf[1024];

	if (err->code)
		fprintf(stderr, "izagw: %s\n",
			iza_error_format(err, buf, sizeof(buf)));
	else
		fprintf(stderr, "izagw: %s\n", iza_strerror(rc));
}

static int exit_for(int rc)
{
	switch (-rc) {
	case IZA_ECONFIG:
	case IZA_EMAPPING:
		return EXIT_CONFIG;
	case IZA_EUSAGE:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

static int cmd_init(struct gw *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"region", required_argument, 0, 'r'}, {0, 0, 0, 0}};
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r')
			return -IZA_EUSAGE;
		free(g->cfg->region);
		g->cfg->region = strdup(optarg);
	}
	if (optind != argc || !g->cfg->region) {
		fprintf(stderr, "izagw init: name the region: izagw init "
				"--region ZKxx (a zorgkantoorregio code)\n");
		return -IZA_EUSAGE;
	}
	rc = gw_load_refdata(g);
	if (rc)
		return rc;
	if (!refdata_region_name(g->rd, g->cfg->region))
		return iza_error_set(&g->err, -IZA_ECONFIG, NULL, 0, "--region",
				     "\"%.8s\" is not a zorgkantoorregio in "
				     "the reference tables",
				     g->cfg->region);
	if (mkdir(g->cfg->data_dir, 0700) != 0 && errno != EEXIST)
		return iza_error_set(&g->err, -IZA_EIO, g->cfg->data_dir, 0,
				     NULL, "cannot create data directory: %s",
				     strerror(errno));
	rc = key_generate(g->cfg->key_file, &g->err);
	if (rc)
		return rc;
	rc = store_open(g->cfg->store_path, true, &g->store, &g->err);
	if (rc)
		return rc;
	rc = config_save_region(g->cfg, &g->err);
	if (rc)
		return rc;
	printf("initialised gateway for %s %s in %s\n"
	       "  event store        %s\n"
	       "  pseudonym key      %s (mode 0600; back it up: without it "
	       "pseudonyms cannot be reproduced)\n",
	       g->cfg->region, refdata_region_name(g->rd, g->cfg->region),
	       g->cfg->data_dir, g->cfg->store_path, g->cfg->key_file);
	return 0;
}

static bool valid_source(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= IZA_SOURCE_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '.' ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static int cmd_ingest(struct gw *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"source", required_argument, 0, 's'},
	    {"sector", required_argument, 0, 'S'},
	    {"format", required_argument, 0, 'f'},
	    {"threads", required_argument, 0, 't'},
	    {0, 0, 0, 0}};
	const char *source = "local", *sector = NULL, *format = "auto";
	struct ingest_summary total, one;
	struct ingest_config ic;
	int c, rc = 0, i, files, threads = 0, failed = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's') {
			source = optarg;
		} else if (c == 'S') {
			sector = optarg;
		} else if (c == 'f') {
			format = optarg;
		} else if (c == 't') {
			if (strcmp(optarg, "1") != 0 &&
			    strcmp(optarg, "2") != 0) {
				fprintf(stderr, "izagw ingest: --threads must "
						"be 1 or 2\n");
				return -IZA_EUSAGE;
			}
			threads = optarg[0] - '0';
		} else {
			return -IZA_EUSAGE;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "izagw ingest: name the files to read (or - "
				"for standard input)\n");
		return -IZA_EUSAGE;
	}
	if (strcmp(format, "auto") != 0 && !adapter_find(format)) {
		size_t k;

		fprintf(stderr, "izagw ingest: unknown --format %s (auto",
			format);
		for (k = 0; adapter_registry[k]; k++)
			fprintf(stderr, ", %s", adapter_registry[k]->name);
		fputs(")\n", stderr);
		return -IZA_EUSAGE;
	}
	if (!valid_source(source)) {
		fprintf(stderr,
			"izagw ingest: --source must be 1 to %d letters, "
			"digits, '.', '-' or '_' (an AGB code such as "
			"06010713)\n",
			IZA_SOURCE_MAX - 1);
		return -IZA_EUSAGE;
	}
	rc = gw_open(g, true);
	if (rc == 0)
		rc = gw_load_mapping(g);
	if (rc)
		return rc;
	if (sector && !vocabulary_has(g->voc, "sectors", sector)) {
		fprintf(stderr,
			"izagw ingest: --sector %s is not in the "
			"vocabulary\n",
			sector);
		return -IZA_EUSAGE;
	}
	rc = gw_ingest_setup(g, source, sector, threads, &ic);
	if (rc)
		return rc;
	sector = ic.default_sector;
	memset(&total, 0, sizeof(total));
	files = argc - optind;
	for (i = optind; i < argc; i++) {
		char what[4200];

		rc = ingest_file(&ic, argv[i], format, &one, &g->err);
		if (rc) {
			/* one file's failure (rolled back whole) does not stop
			 * the others; the exit code says it happened */
			print_error(&g->err, rc);
			fprintf(stderr,
				"izagw: %s: nothing of this file was "
				"stored\n",
				argv[i]);
			iza_error_clear(&g->err);
			failed++;
			continue;
		}
		snprintf(what, sizeof(what), "ingest %s (source %s%s%s)",
			 argv[i], source, sector ? ", sector " : "",
			 sector ? sector : "");
		ingest_summary_print(stdout, what, &one);
		ingest_summary_add(&total, &one);
	}
	if (files > 1)
		ingest_summary_print(stdout, "total", &total);
	if (total.quarantined)
		printf("quarantined records (file, line, reason; the raw line "
		       "where it could be read) are in %s\n",
		       g->cfg->quarantine_dir);
	if (failed)
		fprintf(stderr,
			"izagw: %d of %d files failed and were not "
			"stored\n",
			failed, files);
	/* printed already: main adds nothing */
	return failed ? EXIT_FAIL : total.quarantined ? EXIT_QUARANTINED : 0;
}

static int parse_period_opts(int argc, char **argv, struct period *p,
			     const char **format, const char **outfile)
{
	static const struct option opts[] = {
	    {"period", required_argument, 0, 'p'},
	    {"format", required_argument, 0, 'f'},
	    {"out", required_argument, 0, 'o'},
	    {0, 0, 0, 0}};
	const char *ps = NULL;
	struct iza_error err;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			ps = optarg;
		else if (c == 'f' && format)
			*format = optarg;
		else if (c == 'o' && outfile)
			*outfile = optarg;
		else
			return -IZA_EUSAGE;
	}
	if (!ps || optind != argc) {
		fprintf(stderr, "izagw: --period is required (2025, 2025-Q1 "
				"or 2025-03)\n");
		return -IZA_EUSAGE;
	}
	iza_error_clear(&err);
	if (period_parse(ps, p, &err) != 0) {
		fprintf(stderr, "izagw: --period %s: %s\n", ps,
			err.text[0] ? err.text
				    : "expected 2025, 2025-Q1 or "
				      "2025-03");
		return -IZA_EUSAGE;
	}
	return 0;
}

static int cmd_kpis(struct gw *g, int argc, char **argv)
{
	const char *format = "table";
	struct kpi_results *r = NULL;
	enum kpi_format fmt;
	struct period p;
	int rc;

	rc = parse_period_opts(argc, argv, &p, &format, NULL);
	if (rc)
		return rc;
	if (kpi_format_parse(format, &fmt) != 0) {
		fprintf(stderr, "izagw kpis: --format must be table, json or "
				"csv\n");
		return -IZA_EUSAGE;
	}
	rc = gw_released(g, &p, false, &r);
	if (rc == 0)
		release_round(r, g->cfg->rounding);
	if (rc == 0 && kpi_results_write(stdout, r, fmt) != 0)
		rc = -IZA_EIO;
	kpi_results_free(r);
	return rc;
}

static int cmd_report(struct gw *g, int argc, char **argv)
{
	const char *outfile = NULL;
	struct gw_report rep;
	struct period p;
	int rc;

	rc = parse_period_opts(argc, argv, &p, NULL, &outfile);
	if (rc)
		return rc;
	rc = gw_report_period(g, &p, (int64_t)time(NULL), false, &rep);
	if (rc)
		return rc;
	fprintf(stderr, "izagw report: release %lld of %s recorded in %s%s\n",
		(long long)rep.release, p.label, g->cfg->ledger_path,
		rep.budget_charged ? " (privacy budget charged)" : "");
	if (rep.queued)
		fprintf(stderr,
			"izagw report: signed and queued for upload as report "
			"%s in %s\n",
			rep.report_id, g->cfg->outbox_path);
	else
		fputs("izagw report: not queued for upload (no signing_key and "
		      "signing_chain configured)\n",
		      stderr);
	if (outfile) {
		if (json_dump_file(rep.bundle, outfile,
				   JSON_INDENT(2) | JSON_REAL_PRECISION(10)) !=
		    0)
			rc = iza_error_set(&g->err, -IZA_EIO, outfile, 0, NULL,
					   "cannot write report");
	} else if (json_dumpf(rep.bundle, stdout,
			      JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0 ||
		   fputc('\n', stdout) == EOF) {
		rc = -IZA_EIO;
	}
	json_decref(rep.bundle);
	return rc;
}

static int print_failed(void *ctx, const struct outbox_item *it)
{
	(void)ctx;
	printf("  failed report   %s (%s): HTTP %d, %s\n", it->id, it->period,
	       it->last_status, it->last_error);
	return 0;
}

static int print_closing(void *ctx, const struct outbox_closing *c)
{
	char at[21], sent[21];

	(void)ctx;
	if (!c->report_id[0]) {
		format_utc(c->failed_at, at);
		printf(
		    "  %-16s not closed: %d failed attempt%s, the last at %s: "
		    "%s\n",
		    c->period, c->failures, c->failures == 1 ? "" : "s", at,
		    c->last_error);
		return 0;
	}
	format_utc(c->closed_at, at);
	format_utc(c->sent_at, sent);
	printf("  %-16s closed %s by report %s, %s%s\n", c->period, at,
	       c->report_id,
	       c->state == OUTBOX_SENT	   ? "delivered "
	       : c->state == OUTBOX_FAILED ? "refused by izamon"
					   : "queued for delivery",
	       c->state == OUTBOX_SENT ? sent : "");
	return 0;
}

/* The schedule, the next period it closes, and what it closed. */
static int print_schedule(struct gw *g, struct outbox *ob)
{
	const struct schedule *sc = &g->cfg->schedule;

	if (sc->enabled) {
		struct period p = sc->from;
		long today = gw_today(), day;
		char id[80];
		int y, m, d, rc;

		printf("schedule          every %s from %s, %d days after its "
		       "last day\n",
		       schedule_every_name(sc->every), sc->from.label,
		       sc->close_after_days);
		/* the first period not closed */
		while ((rc = ob ? outbox_closing(ob, p.label, id, sizeof(id),
						 NULL, &g->err)
				: 0) == 1)
			if (schedule_next(&p, &p) != 0)
				break;
		if (rc < 0)
			return rc;
		day = schedule_close_day(sc, &p);
		civil_from_days(day, &y, &m, &d);
		printf("  next            %s, %s %04d-%02d-%02d\n", p.label,
		       day <= today ? "due since" : "closes on", y, m, d);
	}
	if (!ob)
		return 0;
	return outbox_closings(ob, print_closing, NULL, &g->err);
}

/* The outbox's counts, and every report that will not be sent. */
static int print_outbox(struct gw *g)
{
	struct outbox *ob = NULL;
	struct outbox_stats st;
	int rc = outbox_open(g->cfg->outbox_path, false, &ob, &g->err);

	if (rc == -IZA_ENOTFOUND) {
		memset(&g->err, 0, sizeof(g->err));
		printf("outbox            empty (%s)\n", g->cfg->outbox_path);
		return print_schedule(g, NULL);
	}
	if (rc == 0)
		rc = outbox_stats(ob, &st, &g->err);
	if (rc == 0) {
		printf("outbox            %lld queued, %lld sent, %lld failed",
		       (long long)st.queued, (long long)st.sent,
		       (long long)st.failed);
		if (st.queued)
			printf(" (oldest queued %lld s ago)",
			       (long long)((int64_t)time(NULL) -
					   st.oldest_queued));
		putchar('\n');
		rc = outbox_failed(ob, print_failed, NULL, &g->err);
	}
	if (rc == 0)
		rc = print_schedule(g, ob);
	outbox_close(ob);
	return rc;
}

static int cmd_status(struct gw *g, int argc, char **argv)
{
	struct store_stats st;
	int rc;

	(void)argv;
	if (argc > 1)
		return -IZA_EUSAGE;
	rc = gw_open(g, false);
	if (rc == 0)
		rc = store_stats(g->store, &st, &g->err);
	if (rc)
		return rc;
	printf("region            %s %s\n", g->cfg->region,
	       refdata_region_name(g->rd, g->cfg->region));
	printf("event store       %s\n", g->cfg->store_path);
	printf("batches           %lld\n", (long long)st.batches);
	printf("patients          %lld\n", (long long)st.patients);
	printf("encounters        %lld\n", (long long)st.encounters);
	printf("events            %lld\n", (long long)st.events);
	printf("events whose patient record has not arrived  %lld\n",
	       (long long)st.events_without_patient);
	rc = print_outbox(g);
	if (rc)
		return rc;
	rc = ledger_open(g->cfg->ledger_path, false, &g->ledger, &g->err);
	if (rc == -IZA_ENOTFOUND) {
		printf("releases          0 (no ledger yet: %s)\n",
		       g->cfg->ledger_path);
		memset(&g->err, 0, sizeof(g->err));
		return 0;
	}
	if (rc == 0) {
		int64_t n = 0;

		rc = ledger_verify(g->ledger, &n, &g->err);
		if (rc == 0)
			printf("releases          %lld in %s (hash chain "
			       "intact)\n",
			       (long long)n, g->cfg->ledger_path);
	}
	return rc;
}

static int cmd_push(struct gw *g, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, 0, 'a'},
					     {0, 0, 0, 0}};
	struct push_config pc;
	struct push_summary sum;
	struct outbox *ob = NULL;
	int c, rc;

	memset(&pc, 0, sizeof(pc));
	optind = 0; /* glibc: a full restart of getopt */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'a')
			return -IZA_EUSAGE;
		pc.all = true;
	}
	if (optind != argc)
		return -IZA_EUSAGE;
	pc.url = g->cfg->monitor_url;
	pc.ca = g->cfg->monitor_ca;
	pc.cert_chain = g->cfg->signing_chain;
	pc.key = g->cfg->signing_key;
	rc = outbox_open(g->cfg->outbox_path, false, &ob, &g->err);
	if (rc == -IZA_ENOTFOUND) {
		puts("push: nothing to send (no outbox)");
		return 0;
	}
	if (rc == 0)
		rc = push_run(ob, &pc, (int64_t)time(NULL), &sum, &g->err);
	outbox_close(ob);
	if (rc)
		return rc;
	printf("push: %d sent, %d to retry, %d refused\n", sum.sent, sum.retry,
	       sum.failed);
	if (sum.retry)
		printf("push: next attempt in %lld s\n",
		       (long long)(sum.next_attempt - (int64_t)time(NULL)));
	return sum.retry || sum.failed ? EXIT_QUARANTINED : 0;
}

/* izagw serve: the gateway shared by the intake's uploads and the
 * scheduler, one at a time. */
#define SERVE_BACKOFF_MAX 64	/* failing periods remembered */
#define SERVE_BACKOFF_CAP 21600 /* seconds: at most 6 hours apart */

struct serve {
	struct gw *g;
	pthread_mutex_t lock;
	/* periods whose closing failed, tried again after a growing pause
	 * (in memory: a restart tries them at once) */
	struct serve_backoff {
		char period[12];
		int failures;
		int64_t next;
	} backoff[SERVE_BACKOFF_MAX];
	size_t nbackoff;
	/* every period before this one is closed: a tick starts here */
	struct period first_open;
};

static struct serve_backoff *backoff_of(struct serve *sv, const char *period,
					bool add)
{
	size_t i;

	for (i = 0; i < sv->nbackoff; i++)
		if (strcmp(sv->backoff[i].period, period) == 0)
			return &sv->backoff[i];
	if (!add || sv->nbackoff == SERVE_BACKOFF_MAX)
		return NULL;
	memset(&sv->backoff[i], 0, sizeof(sv->backoff[i]));
	snprintf(sv->backoff[i].period, sizeof(sv->backoff[i].period), "%s",
		 period);
	sv->nbackoff++;
	return &sv->backoff[i];
}

/* One structured log line on stderr: {"time":..., "event":..., fields}
 * (counts, periods, report ids and reasons; never patient data). */
static void log_event(const char *event, json_t *fields)
{
	json_t *o = fields ? fields : json_object();
	char *line;

	json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
	json_object_set_new(o, "event", json_string(event));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line)
		fprintf(stderr, "%s\n", line);
	free(line);
	json_decref(o);
}

static void log_error(const char *event, const char *period,
		      const struct iza_error *err, int rc)
{
	char buf[1024];

	log_event(event,
		  json_pack("{s:s?,s:s}", "period", period, "reason",
			    err->code ? iza_error_format(err, buf, sizeof(buf))
				      : iza_strerror(rc)));
}

/* One upload of the intake service into the store (called one at a time);
 * one log line per batch, counts only. */
static int serve_ingest(void *ctx, const char *source, const char *path,
			const char *format, struct ingest_summary *sum,
			struct iza_error *err)
{
	struct serve *sv = ctx;
	struct ingest_config ic;
	int rc;

	pthread_mutex_lock(&sv->lock);
	rc = gw_ingest_setup(sv->g, source, NULL, 0, &ic);
	if (rc) {
		*err = sv->g->err;
		iza_error_clear(&sv->g->err);
	} else {
		ic.progress = false;
		rc = ingest_file(&ic, path, format, sum, err);
	}
	pthread_mutex_unlock(&sv->lock);
	log_event(rc ? "batch.failed" : "batch.stored",
		  json_pack("{s:s,s:s,s:I,s:I,s:I}", "source", source, "format",
			    format, "records", (json_int_t)sum->records,
			    "quarantined", (json_int_t)sum->quarantined,
			    "bytes", (json_int_t)sum->bytes));
	return rc;
}

/* Close one period that is due: release it, or record why not.  True when
 * it is closed (now or before). */
static bool serve_close(struct serve *sv, const struct period *p)
{
	struct gw *g = sv->g;
	struct serve_backoff *b = backoff_of(sv, p->label, false);
	int64_t now = (int64_t)time(NULL), pause;
	struct gw_report rep;
	int rc;

	if (b && now < b->next)
		return false; /* failed before: not yet again */
	rc = gw_report_period(g, p, now, true, &rep);
	if (b && rc == 0)
		*b = sv->backoff[--sv->nbackoff]; /* closed: forget it */
	if (rc == 0 && !rep.already_closed)
		log_event("period.closed",
			  json_pack("{s:s,s:s,s:I,s:b}", "period", p->label,
				    "report", rep.report_id, "release",
				    (json_int_t)rep.release, "budget_charged",
				    rep.budget_charged));
	json_decref(rep.bundle);
	if (rc == 0)
		return true;
	b = backoff_of(sv, p->label, true);
	if (b) {
		b->failures++;
		pause = (int64_t)g->cfg->schedule.check_seconds
			<< (b->failures < 16 ? b->failures - 1 : 15);
		b->next = now + (pause < SERVE_BACKOFF_CAP ? pause
							   : SERVE_BACKOFF_CAP);
	}
	log_error("period.failed", p->label, &g->err, rc);
	{
		struct outbox *ob = NULL;
		struct iza_error e2 = {0};
		char why[512];

		iza_error_format(&g->err, why, sizeof(why));
		if (outbox_open(g->cfg->outbox_path, true, &ob, &e2) == 0)
			outbox_closing_failed(
			    ob, p->label, g->err.code ? why : iza_strerror(rc),
			    (int64_t)time(NULL), &e2);
		outbox_close(ob);
	}
	iza_error_clear(&g->err);
	return false;
}

/* Send what is due in the outbox (outside the lock: push uses its own
 * outbox handle, not the gateway). */
static void serve_push(struct gw *g)
{
	struct push_config pc;
	struct push_summary sum;
	struct outbox *ob = NULL;
	struct iza_error err = {0};
	int rc;

	if (!g->cfg->monitor_url)
		return;
	memset(&pc, 0, sizeof(pc));
	pc.url = g->cfg->monitor_url;
	pc.ca = g->cfg->monitor_ca;
	pc.cert_chain = g->cfg->signing_chain;
	pc.key = g->cfg->signing_key;
	rc = outbox_open(g->cfg->outbox_path, false, &ob, &err);
	if (rc == -IZA_ENOTFOUND) {
		outbox_close(ob);
		return;
	}
	if (rc == 0)
		rc = push_run(ob, &pc, (int64_t)time(NULL), &sum, &err);
	outbox_close(ob);
	if (rc)
		log_error("push.failed", NULL, &err, rc);
	else if (sum.sent || sum.retry || sum.failed)
		log_event("push",
			  json_pack("{s:i,s:i,s:i,s:I}", "sent", sum.sent,
				    "retry", sum.retry, "refused", sum.failed,
				    "next_attempt",
				    (json_int_t)sum.next_attempt));
}

/* The scheduler's tick: close every period that is due, then push. */
static void serve_tick(void *ctx)
{
	struct serve *sv = ctx;
	const struct schedule *sc = &sv->g->cfg->schedule;
	long today = gw_today();
	struct period p;
	bool all_closed = true;

	pthread_mutex_lock(&sv->lock);
	p = sv->first_open;
	while (schedule_close_day(sc, &p) <= today) {
		bool closed = serve_close(sv, &p);

		/* closed periods at the front are not looked at again */
		all_closed = all_closed && closed;
		if (schedule_next(&p, &p) != 0)
			break;
		if (all_closed)
			sv->first_open = p;
	}
	pthread_mutex_unlock(&sv->lock);
	serve_push(sv->g);
}

/* The outbox for GET /metrics: depth, age of the oldest unsent report,
 * the last delivery. */
static void serve_metrics(void *ctx, FILE *f)
{
	struct gw *g = ((struct serve *)ctx)->g;
	struct outbox *ob = NULL;
	struct outbox_stats st;
	struct iza_error err = {0};
	int64_t now = (int64_t)time(NULL);

	memset(&st, 0, sizeof(st));
	if (outbox_open(g->cfg->outbox_path, false, &ob, &err) == 0)
		outbox_stats(ob, &st, &err);
	outbox_close(ob);
	fprintf(
	    f,
	    "# HELP izagw_outbox_reports Signed reports in the outbox, per "
	    "state.\n# TYPE izagw_outbox_reports gauge\n"
	    "izagw_outbox_reports{state=\"queued\"} %lld\n"
	    "izagw_outbox_reports{state=\"sent\"} %lld\n"
	    "izagw_outbox_reports{state=\"failed\"} %lld\n"
	    "# HELP izagw_outbox_oldest_unsent_age_seconds Age of the oldest "
	    "report not yet delivered (0: none).\n"
	    "# TYPE izagw_outbox_oldest_unsent_age_seconds gauge\n"
	    "izagw_outbox_oldest_unsent_age_seconds %lld\n"
	    "# HELP izagw_last_push_success_timestamp_seconds When the last "
	    "report was delivered to izamon (0: never).\n"
	    "# TYPE izagw_last_push_success_timestamp_seconds gauge\n"
	    "izagw_last_push_success_timestamp_seconds %lld\n",
	    (long long)st.queued, (long long)st.sent, (long long)st.failed,
	    (long long)(st.queued ? now - st.oldest_queued : 0),
	    (long long)st.last_sent);
}

static int cmd_serve(struct gw *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bind", required_argument, 0, 'b'},
	    {"port", required_argument, 0, 'p'},
	    {"port-file", required_argument, 0, 'f'},
	    {0, 0, 0, 0}};
	const char *bind =
		       g->cfg->intake_bind ? g->cfg->intake_bind : "127.0.0.1",
		   *port_file = NULL;
	long port = g->cfg->intake_port;
	const struct schedule *sc = &g->cfg->schedule;
	struct scheduler *sched = NULL;
	struct intake_config ic;
	struct intake *in = NULL;
	struct serve sv;
	char dir[1100];
	sigset_t set;
	int c, sig, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		if (c == 'b') {
			bind = optarg;
		} else if (c == 'p') {
			port = strtol(optarg, &end, 10);
			if (*end || port < 0 || port > 65535)
				return -IZA_EUSAGE;
		} else if (c == 'f') {
			port_file = optarg;
		} else {
			return -IZA_EUSAGE;
		}
	}
	if (optind != argc)
		return -IZA_EUSAGE;
	if (!g->cfg->intake_cert || !g->cfg->intake_key || !g->cfg->intake_ca)
		return iza_error_set(&g->err, -IZA_ECONFIG, NULL, 0, "intake",
				     "serve needs intake_cert, intake_key and "
				     "intake_ca in the configuration");
	if (sc->enabled &&
	    (!g->cfg->signing_key || !g->cfg->signing_chain || !g->cfg->plan))
		return iza_error_set(&g->err, -IZA_ECONFIG, NULL, 0, "schedule",
				     "closing periods on a schedule needs "
				     "signing_key, signing_chain and plan in "
				     "the configuration");
	rc = gw_open(g, true);
	if (rc == 0)
		rc = gw_load_mapping(g);
	if (rc)
		return rc;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	snprintf(dir, sizeof(dir), "%s/intake", g->cfg->data_dir);
	memset(&ic, 0, sizeof(ic));
	ic.bind = bind;
	ic.port = (int)port;
	ic.cert_pem = g->cfg->intake_cert;
	ic.key_pem = g->cfg->intake_key;
	ic.ca_pem = g->cfg->intake_ca;
	ic.dir = dir;
	ic.quarantine_dir = g->cfg->quarantine_dir;
	ic.ingest = serve_ingest;
	ic.metrics = serve_metrics;
	ic.ctx = &sv;
	memset(&sv, 0, sizeof(sv));
	sv.g = g;
	sv.first_open = sc->from;
	pthread_mutex_init(&sv.lock, NULL);
	rc = intake_start(&ic, &in, &g->err);
	if (rc)
		goto out;
	{
		char url[300];

		snprintf(url, sizeof(url), "https://%s:%d", bind,
			 intake_port(in));
		log_event("listening", json_pack("{s:s}", "url", url));
	}
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (f) {
			fprintf(f, "%d\n", intake_port(in));
			fclose(f);
		}
	}
	if (sc->enabled) {
		log_event("schedule",
			  json_pack("{s:s,s:s,s:i,s:i}", "every",
				    schedule_every_name(sc->every), "from",
				    sc->from.label, "close_after_days",
				    sc->close_after_days, "check_seconds",
				    sc->check_seconds));
		rc = scheduler_start(sc, serve_tick, &sv, &sched, &g->err);
		if (rc) {
			intake_stop(in);
			goto out;
		}
	}
	sigwait(&set, &sig);
	scheduler_stop(sched);
	intake_stop(in);
	log_event("stopped", json_pack("{s:i}", "signal", sig));
out:
	pthread_mutex_destroy(&sv.lock);
	return rc;
}

/* izagw replay BATCH: the quarantined records of a batch (an intake batch
 * id, or a quarantine file) ingested again as a new batch. */
static int cmd_replay(struct gw *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"source", required_argument, 0, 's'}, {0, 0, 0, 0}};
	struct replay_set set;
	struct ingest_summary sum;
	struct ingest_config ic;
	char qpath[4200], spool[4200], what[4400];
	const char *batch;
	int c, rc;

	memset(&set, 0, sizeof(set));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 's')
			return -IZA_EUSAGE;
		if (!valid_source(optarg)) {
			fprintf(stderr,
				"izagw replay: --source must be 1 to %d "
				"letters, digits, '.', '-' or '_' (an AGB "
				"code such as 06010713)\n",
				IZA_SOURCE_MAX - 1);
			return -IZA_EUSAGE;
		}
		snprintf(set.source, sizeof(set.source), "%s", optarg);
	}
	if (optind != argc - 1) {
		fprintf(stderr, "izagw replay: name one batch: an intake batch "
				"id or a quarantine file\n");
		return -IZA_EUSAGE;
	}
	batch = argv[optind];
	if (strchr(batch, '/')) {
		snprintf(qpath, sizeof(qpath), "%s", batch);
	} else if (strncmp(batch, "batch-", 6) == 0) {
		snprintf(qpath, sizeof(qpath), "%s/%s", g->cfg->quarantine_dir,
			 batch);
	} else {
		char dir[1100], qfile[INGEST_QFILE_MAX];

		snprintf(dir, sizeof(dir), "%s/intake", g->cfg->data_dir);
		rc = intake_batch_quarantine(
		    dir, batch, set.source, sizeof(set.source), qfile, &g->err);
		if (rc)
			return rc;
		if (!qfile[0]) {
			printf("replay %s: nothing of it was quarantined\n",
			       batch);
			return 0;
		}
		snprintf(qpath, sizeof(qpath), "%s/%s", g->cfg->quarantine_dir,
			 qfile);
	}
	if (access(qpath, F_OK) != 0) {
		char done[4300];

		snprintf(done, sizeof(done), "%s.replayed", qpath);
		if (access(done, F_OK) == 0)
			return iza_error_set(&g->err, -IZA_EEXISTS, qpath, 0,
					     NULL, "replayed before");
	}
	rc = gw_open(g, true);
	if (rc == 0)
		rc = gw_load_mapping(g);
	if (rc)
		return rc;
	snprintf(spool, sizeof(spool), "%s/replay-%d.ndjson",
		 g->cfg->quarantine_dir, (int)getpid());
	rc = replay_collect(qpath, spool, &set, &g->err);
	if (rc == 0 && !set.source[0])
		rc = iza_error_set(&g->err, -IZA_EUSAGE, qpath, 0, "source",
				   "the records do not name their source: "
				   "give --source AGB");
	if (rc == 0 && set.with_text)
		rc = gw_ingest_setup(g, set.source, NULL, 0, &ic);
	memset(&sum, 0, sizeof(sum));
	if (rc == 0 && set.with_text)
		rc = ingest_file(&ic, spool, set.format, &sum, &g->err);
	unlink(spool);
	if (rc)
		return rc;
	rc = replay_done(qpath, &g->err);
	if (rc)
		return rc;
	printf("replay %s: %lld quarantined records, %lld replayed, %lld kept "
	       "by their position only (not replayable)\n",
	       batch, (long long)set.quarantined, (long long)set.with_text,
	       (long long)set.without_text);
	if (!set.with_text)
		return 0;
	snprintf(what, sizeof(what), "replayed as a new batch (source %s)",
		 set.source);
	ingest_summary_print(stdout, what, &sum);
	if (sum.quarantined)
		printf("still quarantined: %s/%s (izagw replay %s after the "
		       "next fix)\n",
		       g->cfg->quarantine_dir, sum.quarantine_file,
		       sum.quarantine_file);
	return sum.quarantined ? EXIT_QUARANTINED : 0;
}

static const struct {
	const char *name;
	int (*run)(struct gw *g, int argc, char **argv);
} commands[] = {
    {"init", cmd_init},	    {"ingest", cmd_ingest}, {"kpis", cmd_kpis},
    {"report", cmd_report}, {"status", cmd_status}, {"push", cmd_push},
    {"serve", cmd_serve},   {"replay", cmd_replay},
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, 0, 'c'},
	    {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'V'},
	    {0, 0, 0, 0}};
	const char *config_path = NULL;
	struct gw g;
	size_t i;
	int c, rc;

	memset(&g, 0, sizeof(g));
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			puts("izagw " IZAGW_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "izagw: unknown command \"%s\"\n\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = config_load(config_path, &g.cfg, &g.err);
	if (rc == 0) {
		argc -= optind;
		argv += optind;
		optind = 1;
		rc = commands[i].run(&g, argc, argv);
	}
	if (rc > 0) {
		gw_release(&g);
		return rc;
	}
	if (rc < 0) {
		if (rc == -IZA_EUSAGE && !g.err.code) {
			fprintf(stderr, "izagw: invalid usage; see izagw "
					"--help\n");
		} else if (!(rc != 0 && g.err.code == 0 && rc == -IZA_EUSAGE)) {
			print_error(&g.err, rc);
		}
		if (rc == -IZA_ENOTFOUND && g.cfg && !g.cfg->region) {
			gw_release(&g);
			return EXIT_NOT_INIT;
		}
		gw_release(&g);
		return exit_for(rc);
	}
	gw_release(&g);
	return EXIT_OK;
}
