/*
 * izamon - the plan-monitoring database's command line (the national side).
 *
 *   izamon [--config FILE] init
 *   izamon [--config FILE] regions add ZKnn --cert FILE --plans ID[,ID...]
 *   izamon [--config FILE] verify REPORT.json --jws FILE [--ca FILE]
 *   izamon [--config FILE] audit verify
 *   izamon [--config FILE] serve [--bind ADDR] [--port N] [--port-file F]
 *
 * The HTTPS service (izamon serve, POST /reports) comes with the upload
 * issue; what is here is the database, enrolment, the audit log and the
 * offline verification every received report will go through.  This file
 * is the one place that prints and chooses exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "iza_error.h"
#include "json_util.h"
#include "mon_http.h"
#include "mon_store.h"
#include "mon_verify.h"
#include "plan.h"
#include "catalogue.h"
#include "distkey.h"
#include "milestones.h"

#include <signal.h>

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_REFUSED = 6
};

static const char usage_text[] =
    "usage: izamon [--config FILE] COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  init                      create the data directory, the database "
    "and the audit log\n"
    "  regions add ZKnn --cert FILE --plans ID[,ID...]\n"
    "                            enrol a region gateway's certificate for "
    "plans\n"
    "  insurers add UZOVI --cert FILE\n"
    "                            enrol an insurer's certificate (reads "
    "every report)\n"
    "  verify REPORT --jws FILE [--ca FILE]\n"
    "                            check a saved report and its detached "
    "signature offline\n"
    "  plans load FILE...        validate plan definitions and store them "
    "(a changed\n"
    "                            file becomes the plan's next version)\n"
    "  plans show ID             print the latest version of a plan\n"
    "  keys load FILE...         validate distribution keys "
    "(iza-distribution-key/1,\n"
    "                            one per year) and store them\n"
    "  keys show YEAR            print the latest key for a year\n"
    "  evaluate                  record the milestone decisions and "
    "payment notices the\n"
    "                            stored reports now support (loading "
    "plans or keys\n"
    "                            and every received report do this "
    "too)\n"
    "  status PLAN               where a plan stands: milestones, "
    "evidence, notices (JSON)\n"
    "  notices [--plan ID] [--insurer UZOVI] [--format csv|json]\n"
    "                            the payment notices issued\n"
    "  audit verify              recompute the audit log's hash chain\n"
    "  serve [--bind ADDR] [--port N] [--port-file FILE]\n"
    "                            the HTTPS service until SIGTERM: POST "
    "/reports,\n"
    "                            GET /reports[/ID], /plans[/ID[/indicators]],"
    "\n"
    "                            POST /plans/ID/milestones/M/attestation,\n"
    "                            GET /notices[.csv], /dashboard, /healthz "
    "(docs/api.md)\n"
    "\n"
    "Configuration (JSON): data_dir (izamon-data), database "
    "(sqlite:DATA/izamon.db,\nor postgresql://USER@HOST:PORT/DATABASE),\n"
    "ca (the trusted CA certificates, PEM), server_cert, server_key, bind "
    "(127.0.0.1),\nport (8443), mapping_dir (mappings: kpis.json and "
    "vocabulary.json, what plans may\nrefer to).\n"
    "\n"
    "Exit codes: 0 success, 1 failure, 2 usage, 3 configuration, 6 the "
    "report or the audit log\ndoes not verify.\n";

struct mon {
	char data_dir[1024], database[1100], ca[1024];
	char server_cert[1024], server_key[1024], bind[64];
	char mapping_dir[1024];
	long port;
	struct mon_store store;
	struct iza_error err;
};

static int load_config(const char *path, struct mon *m)
{
	static const char *const keys[] = {
	    "data_dir", "database", "ca",	   "server_cert", "server_key",
	    "bind",	"port",	    "mapping_dir", "description", NULL};
	/* the string members and where they go */
	const struct {
		const char *key;
		char *buf;
		size_t size;
	} strs[] = {
	    {"data_dir", m->data_dir, sizeof(m->data_dir)},
	    {"database", m->database, sizeof(m->database)},
	    {"ca", m->ca, sizeof(m->ca)},
	    {"server_cert", m->server_cert, sizeof(m->server_cert)},
	    {"server_key", m->server_key, sizeof(m->server_key)},
	    {"bind", m->bind, sizeof(m->bind)},
	    {"mapping_dir", m->mapping_dir, sizeof(m->mapping_dir)},
	};
	json_t *root = NULL;
	const char *s;
	size_t i;
	int rc = 0;

	snprintf(m->data_dir, sizeof(m->data_dir), "izamon-data");
	snprintf(m->bind, sizeof(m->bind), "127.0.0.1");
	snprintf(m->mapping_dir, sizeof(m->mapping_dir), "mappings");
	m->port = 8443;
	if (path) {
		rc = jutil_load_file(path, &root, &m->err);
		if (rc == 0)
			rc = jutil_check_keys(path, "config", root, keys,
					      -IZA_ECONFIG, &m->err);
		for (i = 0; rc == 0 && i < sizeof(strs) / sizeof(strs[0]);
		     i++) {
			rc = jutil_string(path, "config", root, strs[i].key,
					  false, &s, -IZA_ECONFIG, &m->err);
			if (rc == 0 && s)
				snprintf(strs[i].buf, strs[i].size, "%s", s);
		}
		if (rc == 0 && json_object_get(root, "port")) {
			json_t *p = json_object_get(root, "port");

			if (!json_is_integer(p) || json_integer_value(p) < 0 ||
			    json_integer_value(p) > 65535)
				rc = iza_error_set(&m->err, -IZA_ECONFIG, path,
						   0, "port",
						   "expected 0 to 65535");
			else
				m->port = (long)json_integer_value(p);
		}
		json_decref(root);
	}
	if (!m->database[0])
		snprintf(m->database, sizeof(m->database),
			 "sqlite:%s/izamon.db", m->data_dir);
	return rc;
}

static int cmd_init(struct mon *m, int argc, char **argv)
{
	char name[sizeof(m->database)];
	int rc;

	(void)argv;
	if (argc > 1)
		return -IZA_EUSAGE;
	/* a PostgreSQL URL may hold a password: never printed or logged */
	mon_store_name(m->database, name, sizeof(name));
	if (mkdir(m->data_dir, 0700) != 0 && errno != EEXIST)
		return iza_error_set(&m->err, -IZA_EIO, m->data_dir, 0, NULL,
				     "cannot create the data directory: %s",
				     strerror(errno));
	rc = mon_store_open(m->database, true, &m->store, &m->err);
	if (rc == 0)
		rc = mon_audit_append(&m->store, (int64_t)time(NULL),
				      "izamon.init", "izamon", "", name,
				      &m->err);
	if (rc == 0)
		printf("izamon: database %s ready, audit log started\n", name);
	return rc;
}

/* SHA-256 fingerprint (hex) of the first certificate in a PEM file. */
static int cert_fingerprint(const char *path, char out[65], char *subject,
			    size_t subject_size, struct iza_error *err)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (f)
		fclose(f);
	if (!x || X509_digest(x, EVP_sha256(), md, &n) != 1) {
		X509_free(x);
		return iza_error_set(err, -IZA_ECRYPTO, path, 0, NULL,
				     "not a PEM certificate");
	}
	for (i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	X509_NAME_oneline(X509_get_subject_name(x), subject, (int)subject_size);
	X509_free(x);
	return 0;
}

static int cmd_regions(struct mon *m, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"cert", required_argument, 0, 'c'},
	    {"plans", required_argument, 0, 'p'},
	    {0, 0, 0, 0}};
	const char *cert = NULL, *plans = NULL, *code;
	struct mon_region r;
	char subject[256], what[512];
	int c, rc;

	if (argc < 3 || strcmp(argv[1], "add") != 0)
		return -IZA_EUSAGE;
	code = argv[2];
	optind = 0; /* glibc: a full restart; argv + 2 starts at the code */
	while ((c = getopt_long(argc - 2, argv + 2, "", opts, NULL)) != -1) {
		if (c == 'c')
			cert = optarg;
		else if (c == 'p')
			plans = optarg;
		else
			return -IZA_EUSAGE;
	}
	if (!cert || !plans || strlen(code) != 4 || strncmp(code, "ZK", 2) != 0)
		return -IZA_EUSAGE;
	memset(&r, 0, sizeof(r));
	snprintf(r.code, sizeof(r.code), "%s", code);
	snprintf(r.plans, sizeof(r.plans), "%s", plans);
	rc = cert_fingerprint(cert, r.cert_sha256, subject, sizeof(subject),
			      &m->err);
	if (rc == 0)
		rc = mon_store_open(m->database, false, &m->store, &m->err);
	if (rc == 0)
		rc = m->store.ops->region_put(m->store.impl, &r, &m->err);
	snprintf(what, sizeof(what), "%s plans %s cert sha256 %s", code, plans,
		 r.cert_sha256);
	if (rc == 0)
		rc = mon_audit_append(&m->store, (int64_t)time(NULL),
				      "region.enrolled", subject, code, what,
				      &m->err);
	if (rc == 0)
		printf("izamon: region %s enrolled for %s (certificate %s)\n",
		       code, plans, r.cert_sha256);
	return rc;
}

static int cmd_insurers(struct mon *m, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"cert", required_argument, 0, 'c'}, {0, 0, 0, 0}};
	const char *cert = NULL, *code;
	char fp[65], subject[256], what[128];
	int c, rc;

	if (argc < 3 || strcmp(argv[1], "add") != 0)
		return -IZA_EUSAGE;
	code = argv[2];
	optind = 0; /* glibc: a full restart; argv + 2 starts at the code */
	while ((c = getopt_long(argc - 2, argv + 2, "", opts, NULL)) != -1) {
		if (c != 'c')
			return -IZA_EUSAGE;
		cert = optarg;
	}
	if (!cert || strlen(code) != 4 || strspn(code, "0123456789") != 4)
		return -IZA_EUSAGE;
	rc = cert_fingerprint(cert, fp, subject, sizeof(subject), &m->err);
	if (rc == 0)
		rc = mon_store_open(m->database, false, &m->store, &m->err);
	if (rc == 0)
		rc =
		    m->store.ops->insurer_put(m->store.impl, code, fp, &m->err);
	snprintf(what, sizeof(what), "UZOVI %s cert sha256 %.16s...", code, fp);
	if (rc == 0)
		rc = mon_audit_append(&m->store, (int64_t)time(NULL),
				      "insurer.enrolled", subject, code, what,
				      &m->err);
	if (rc == 0)
		printf("izamon: insurer %s enrolled (certificate %s)\n", code,
		       fp);
	return rc;
}

static char *slurp(const char *path, size_t *len, struct iza_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f) {
		iza_error_set(err, -IZA_EIO, path, 0, NULL, "cannot read: %s",
			      strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    n <= (64L << 20) && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
		iza_error_set(err, -IZA_EIO, path, 0, NULL,
			      "cannot read (or larger than 64 MiB)");
	}
	fclose(f);
	return buf;
}

/* With a database: the signer must be the certificate enrolled for the
 * claimed region, and the plan one the region may report for. */
static int check_enrolment(struct mon *m, const struct mon_verified *v,
			   bool *checked)
{
	struct mon_region r;
	char plans[520], *tok, *save = NULL;
	int rc = mon_store_open(m->database, false, &m->store, &m->err);

	*checked = false;
	if (rc == -IZA_ENOTFOUND) {
		memset(&m->err, 0, sizeof(m->err));
		return 0;
	}
	if (rc == 0)
		rc = m->store.ops->region_get(m->store.impl, v->claims.region,
					      &r, &m->err);
	if (rc < 0)
		return rc;
	*checked = true;
	if (rc == 0)
		return iza_error_set(&m->err, -IZA_EINVALID, NULL, 0, "region",
				     "region %s is not enrolled",
				     v->claims.region);
	if (strcmp(r.cert_sha256, v->signer_sha256) != 0)
		return iza_error_set(&m->err, -IZA_EINVALID, NULL, 0, "signer",
				     "the signing certificate is not the one "
				     "enrolled for region %s",
				     v->claims.region);
	snprintf(plans, sizeof(plans), "%s", r.plans);
	for (tok = strtok_r(plans, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, v->claims.plan) == 0)
			return 0;
	return iza_error_set(&m->err, -IZA_EINVALID, NULL, 0, "plan",
			     "region %s may not report for plan %s",
			     v->claims.region, v->claims.plan);
}

static int cmd_verify(struct mon *m, int argc, char **argv)
{
	static const struct option opts[] = {{"jws", required_argument, 0, 'j'},
					     {"ca", required_argument, 0, 'a'},
					     {0, 0, 0, 0}};
	const char *jws_path = NULL, *ca = m->ca[0] ? m->ca : NULL, *file;
	struct mon_verified v;
	char *body = NULL, *jws = NULL;
	size_t blen = 0, jlen = 0;
	bool enrolled = false;
	int c, rc;

	optind = 0; /* glibc: a full restart of getopt */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			jws_path = optarg;
		else if (c == 'a')
			ca = optarg;
		else
			return -IZA_EUSAGE;
	}
	if (optind + 1 != argc || !jws_path)
		return -IZA_EUSAGE;
	if (!ca)
		return iza_error_set(&m->err, -IZA_ECONFIG, NULL, 0, "ca",
				     "no trusted CA: --ca FILE or \"ca\" in "
				     "the configuration");
	file = argv[optind];
	body = slurp(file, &blen, &m->err);
	jws = body ? slurp(jws_path, &jlen, &m->err) : NULL;
	if (!jws) {
		free(body);
		return -IZA_EIO;
	}
	while (jlen && (jws[jlen - 1] == '\n' || jws[jlen - 1] == '\r'))
		jws[--jlen] = '\0';
	rc = mon_verify_report(body, blen, jws, ca, 0, &v, &m->err);
	if (rc == 0)
		rc = check_enrolment(m, &v, &enrolled);
	if (rc == 0)
		printf("izamon: %s verifies%s: report %s, region %s, plan %s, "
		       "period %s, %zu MeasureReports, signed by %s "
		       "(certificate sha256 %s)\n",
		       file,
		       enrolled ? "" : " (no database: enrolment not checked)",
		       v.claims.report_id, v.claims.region, v.claims.plan,
		       v.claims.period, v.measure_reports, v.signer_subject,
		       v.signer_sha256);
	free(body);
	free(jws);
	return rc ? (rc == -IZA_EIO ? rc : -IZA_EINVALID) : 0;
}

static char *slurp(const char *path, size_t *len, struct iza_error *err);

/* Validate one plan or distribution-key file and store its exact bytes as
 * the document's next version (unchanged bytes: nothing). */
static int doc_load_one(struct mon *m, const struct catalogue *c,
			const char *kind, const char *file)
{
	unsigned char md[32];
	char sha[65], what[256], id[80], summary[64], event[32];
	const char *on_behalf = "";
	struct plan *p = NULL;
	struct distkey *k = NULL;
	enum mon_put res;
	json_t *doc = NULL;
	json_error_t jerr;
	int64_t version;
	size_t len = 0, i;
	char *body = slurp(file, &len, &m->err);
	int rc;

	if (!body)
		return m->err.code;
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		rc = iza_error_set(&m->err, -IZA_ECONFIG, file, jerr.line, NULL,
				   "not valid JSON: %s", jerr.text);
	else if (strcmp(kind, "plan") == 0)
		rc = plan_parse(file, doc, &c->cat, &p, &m->err);
	else
		rc = distkey_parse(file, doc, &k, &m->err);
	if (rc == 0 && p) {
		snprintf(id, sizeof(id), "%s", p->id);
		snprintf(summary, sizeof(summary), "%zu KPIs, %zu milestones",
			 p->nkpis, p->nmilestones);
		on_behalf = p->insurer;
	} else if (rc == 0) {
		snprintf(id, sizeof(id), "%d", k->year);
		snprintf(summary, sizeof(summary), "%zu insurers", k->n);
	}
	if (rc == 0 && EVP_Digest(body, len, md, NULL, EVP_sha256(), NULL) != 1)
		rc = iza_error_set(&m->err, -IZA_ECRYPTO, file, 0, NULL,
				   "cannot hash the file");
	for (i = 0; rc == 0 && i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	if (rc == 0)
		rc = m->store.ops->doc_put(m->store.impl, kind, id, body, len,
					   sha, (int64_t)time(NULL), &version,
					   &res, &m->err);
	if (rc == 0 && res == MON_INSERTED) {
		snprintf(what, sizeof(what), "%s version %lld sha256 %s", id,
			 (long long)version, sha);
		snprintf(event, sizeof(event), "%s.loaded", kind);
		rc = mon_audit_append(&m->store, (int64_t)time(NULL), event,
				      "izamon CLI", on_behalf, what, &m->err);
	}
	if (rc == 0)
		printf("izamon: %s %s %s version %lld (%s)\n", kind, id,
		       res == MON_INSERTED ? "loaded as" : "unchanged,",
		       (long long)version, summary);
	plan_free(p);
	distkey_free(k);
	json_decref(doc);
	free(body);
	return rc;
}

/* Record what the stored plans, keys and reports now decide. */
static int evaluate_all(struct mon *m, const struct catalogue *c)
{
	struct milestones_counts n = {0};
	int rc = milestones_evaluate_all(&m->store, &c->cat,
					 (int64_t)time(NULL), &n, &m->err);

	if (rc == 0)
		printf("izamon: milestones: %zu decided now (%zu payment "
		       "notices issued), %zu decided before, %zu open\n",
		       n.decided, n.notices, n.standing, n.open);
	return rc;
}

/* plans|keys load FILE... / show ID */
static int cmd_docs(struct mon *m, int argc, char **argv)
{
	const char *kind = strcmp(argv[0], "plans") == 0 ? "plan" : "key";
	struct catalogue c;
	int i, rc;

	if (argc < 3)
		return -IZA_EUSAGE;
	if (strcmp(argv[1], "show") == 0) {
		char *body = NULL;
		size_t len = 0;
		int64_t version;

		if (argc != 3)
			return -IZA_EUSAGE;
		rc = mon_store_open(m->database, false, &m->store, &m->err);
		if (rc == 0)
			rc = m->store.ops->doc_get(m->store.impl, kind, argv[2],
						   &body, &len, &version,
						   &m->err);
		if (rc == 0)
			rc = iza_error_set(&m->err, -IZA_ENOTFOUND, NULL, 0,
					   argv[2], "no such %s", kind);
		if (rc == 1) {
			fwrite(body, 1, len, stdout);
			rc = 0;
		}
		free(body);
		return rc;
	}
	if (strcmp(argv[1], "load") != 0)
		return -IZA_EUSAGE;
	rc = catalogue_load(m->mapping_dir, &c, &m->err);
	if (rc == 0)
		rc = mon_store_open(m->database, false, &m->store, &m->err);
	/* all or nothing per file; stop at the first refused file */
	for (i = 2; rc == 0 && i < argc; i++)
		rc = doc_load_one(m, &c, kind, argv[i]);
	if (rc == 0)
		rc = evaluate_all(m, &c);
	catalogue_free(&c);
	return rc;
}

static int cmd_evaluate(struct mon *m, int argc, char **argv)
{
	struct catalogue c;
	int rc;

	(void)argv;
	if (argc != 1)
		return -IZA_EUSAGE;
	rc = catalogue_load(m->mapping_dir, &c, &m->err);
	if (rc == 0)
		rc = mon_store_open(m->database, false, &m->store, &m->err);
	if (rc == 0)
		rc = evaluate_all(m, &c);
	catalogue_free(&c);
	return rc;
}

static int cmd_status(struct mon *m, int argc, char **argv)
{
	struct catalogue c;
	json_t *st = NULL;
	int rc;

	if (argc != 2)
		return -IZA_EUSAGE;
	rc = catalogue_load(m->mapping_dir, &c, &m->err);
	if (rc == 0)
		rc = mon_store_open(m->database, false, &m->store, &m->err);
	if (rc == 0) {
		st = milestones_status(&m->store, &c.cat, argv[1],
				       (int64_t)time(NULL), &m->err);
		rc = st ? 0 : (m->err.code ? m->err.code : -IZA_ENOMEM);
	}
	if (st) {
		json_dumpf(st, stdout,
			   JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		putchar('\n');
	}
	json_decref(st);
	catalogue_free(&c);
	return rc;
}

static int cmd_notices(struct mon *m, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"plan", required_argument, 0, 'p'},
	    {"insurer", required_argument, 0, 'i'},
	    {"format", required_argument, 0, 'f'},
	    {0, 0, 0, 0}};
	const char *plan = "", *insurer = "", *format = "csv";
	char *out = NULL;
	int c, rc;

	optind = 0; /* glibc: a full restart of getopt */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			plan = optarg;
		else if (c == 'i')
			insurer = optarg;
		else if (c == 'f')
			format = optarg;
		else
			return -IZA_EUSAGE;
	}
	if (optind != argc ||
	    (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0))
		return -IZA_EUSAGE;
	rc = mon_store_open(m->database, false, &m->store, &m->err);
	if (rc == 0)
		rc = milestones_notices_text(&m->store, plan, insurer,
					     strcmp(format, "csv") == 0, &out,
					     &m->err);
	if (rc == 0)
		fputs(out, stdout);
	free(out);
	return rc;
}

static int cmd_audit(struct mon *m, int argc, char **argv)
{
	int64_t n = 0;
	int rc;

	if (argc != 2 || strcmp(argv[1], "verify") != 0)
		return -IZA_EUSAGE;
	rc = mon_store_open(m->database, false, &m->store, &m->err);
	if (rc == 0)
		rc = mon_audit_verify(&m->store, &n, &m->err);
	if (rc == 0)
		printf("izamon: audit log intact (%lld entries)\n",
		       (long long)n);
	return rc == -IZA_ESTORE && m->err.line > 0 ? -IZA_EINVALID : rc;
}

static int cmd_serve(struct mon *m, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bind", required_argument, 0, 'b'},
	    {"port", required_argument, 0, 'p'},
	    {"port-file", required_argument, 0, 'f'},
	    {0, 0, 0, 0}};
	const char *port_file = NULL;
	struct catalogue cat = {0};
	struct milestones_counts counts = {0};
	bool have_cat = false;
	struct mon_http_config hc;
	struct mon_http *h = NULL;
	sigset_t set;
	int c, sig, rc;

	optind = 0; /* glibc: a full restart of getopt */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		if (c == 'b') {
			snprintf(m->bind, sizeof(m->bind), "%s", optarg);
		} else if (c == 'p') {
			m->port = strtol(optarg, &end, 10);
			if (*end || m->port < 0 || m->port > 65535)
				return -IZA_EUSAGE;
		} else if (c == 'f') {
			port_file = optarg;
		} else {
			return -IZA_EUSAGE;
		}
	}
	if (!m->ca[0] || !m->server_cert[0] || !m->server_key[0])
		return iza_error_set(&m->err, -IZA_ECONFIG, NULL, 0, "tls",
				     "serve needs ca, server_cert and "
				     "server_key in the configuration");
	rc = mon_store_open(m->database, false, &m->store, &m->err);
	if (rc)
		return rc;
	/* the plan API needs the catalogue; report intake does not, so a
	 * missing one is a warning, not a reason to refuse reports */
	if (catalogue_load(m->mapping_dir, &cat, &m->err) == 0) {
		have_cat = true;
		milestones_evaluate_all(&m->store, &cat.cat,
					(int64_t)time(NULL), &counts, &m->err);
	} else {
		char buf[1400];

		fprintf(stderr,
			"{\"time\":%lld,\"event\":\"warning\",\"reason\":"
			"\"no KPI catalogue in mapping_dir: the plan API is "
			"off\",\"error\":\"%s\"}\n",
			(long long)time(NULL),
			iza_error_format(&m->err, buf, sizeof(buf)));
		iza_error_clear(&m->err);
	}
	/* block the stop signals before the service thread starts, so only
	 * sigwait below receives them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	memset(&hc, 0, sizeof(hc));
	hc.bind = m->bind;
	hc.port = (int)m->port;
	hc.cert_pem = m->server_cert;
	hc.key_pem = m->server_key;
	hc.ca_pem = m->ca;
	hc.store = &m->store;
	hc.cat = have_cat ? &cat.cat : NULL;
	/* logged before the service's threads start: from then on the store
	 * is theirs, used under the service's lock (a PostgreSQL connection
	 * serves one thread at a time) */
	mon_audit_append(&m->store, (int64_t)time(NULL), "izamon.serve",
			 "izamon", "", m->bind, &m->err);
	rc = mon_http_start(&hc, &h, &m->err);
	if (rc) {
		catalogue_free(&cat);
		return rc;
	}
	fprintf(stderr,
		"{\"time\":%lld,\"event\":\"listening\",\"url\":"
		"\"https://%s:%d\"}\n",
		(long long)time(NULL), m->bind, mon_http_port(h));
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (f) {
			fprintf(f, "%d\n", mon_http_port(h));
			fclose(f);
		}
	}
	sigwait(&set, &sig);
	mon_http_stop(h);
	catalogue_free(&cat);
	fprintf(stderr, "{\"time\":%lld,\"event\":\"stopped\",\"signal\":%d}\n",
		(long long)time(NULL), sig);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(struct mon *m, int argc, char **argv);
} commands[] = {{"init", cmd_init},	    {"regions", cmd_regions},
		{"insurers", cmd_insurers}, {"verify", cmd_verify},
		{"audit", cmd_audit},	    {"serve", cmd_serve},
		{"plans", cmd_docs},	    {"keys", cmd_docs},
		{"evaluate", cmd_evaluate}, {"status", cmd_status},
		{"notices", cmd_notices}};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, 0, 'c'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	const char *config = NULL;
	struct mon m;
	char buf[1400];
	size_t i;
	int c, rc;

	memset(&m, 0, sizeof(m));
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'c') {
			config = optarg;
		} else if (c == 'h') {
			fputs(usage_text, stdout);
			return EXIT_OK;
		} else {
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "izamon: unknown command \"%s\"\n\n%s",
			argv[optind], usage_text);
		return EXIT_USAGE;
	}
	rc = load_config(config, &m);
	if (rc == 0)
		rc = commands[i].run(&m, argc - optind, argv + optind);
	mon_store_close(&m.store);
	if (rc == 0)
		return EXIT_OK;
	if (rc == -IZA_EUSAGE) {
		fputs("izamon: invalid usage; see izamon --help\n", stderr);
		return EXIT_USAGE;
	}
	fprintf(stderr, "izamon: %s\n",
		iza_error_format(&m.err, buf, sizeof(buf)));
	if (rc == -IZA_ECONFIG)
		return EXIT_CONFIG;
	return rc == -IZA_EINVALID ? EXIT_REFUSED : EXIT_FAIL;
}
