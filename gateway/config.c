#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

#ifndef IZA_DEFAULT_MAPPINGS
#define IZA_DEFAULT_MAPPINGS "mappings"
#endif

#define CE (-IZA_ECONFIG)

void config_free(struct gw_config *c)
{
	if (!c)
		return;
	free(c->region);
	free(c->data_dir);
	free(c->key_file);
	free(c->store_path);
	free(c->ledger_path);
	free(c->outbox_path);
	free(c->signing_key);
	free(c->signing_chain);
	free(c->plan);
	free(c->monitor_url);
	free(c->monitor_ca);
	free(c->intake_cert);
	free(c->intake_key);
	free(c->intake_ca);
	free(c->intake_bind);
	jutil_strv_free(c->provider_consent);
	free(c->quarantine_dir);
	free(c->mapping_dir);
	free(c->measure_base);
	free(c->reporter_system);
	json_decref(c->sources);
	free(c);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int str_member(const char *file, const json_t *root, const char *key,
		      char **dst, struct iza_error *err)
{
	const char *s;
	int rc = jutil_string(file, "config", root, key, false, &s, CE, err);

	if (rc || !s)
		return rc;
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : -IZA_ENOMEM;
}

static int int_member(const char *file, const json_t *root, const char *key,
		      long lo, long hi, long *dst, struct iza_error *err)
{
	const json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return iza_error_set(err, CE, file, 0, key,
				     "expected an integer from %ld to %ld", lo,
				     hi);
	*dst = (long)json_integer_value(v);
	return 0;
}

static int bool_member(const char *file, const json_t *root, const char *key,
		       bool *dst, struct iza_error *err)
{
	const json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return iza_error_set(err, CE, file, 0, key,
				     "expected true or false");
	*dst = json_is_true(v);
	return 0;
}

static int real_member(const char *file, const json_t *root, const char *key,
		       double lo, double hi, double *dst, struct iza_error *err)
{
	const json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < lo ||
	    json_number_value(v) > hi)
		return iza_error_set(err, CE, file, 0, key,
				     "expected a number from %g to %g", lo, hi);
	*dst = json_number_value(v);
	return 0;
}

static int valid_region(const char *r)
{
	return r && strlen(r) == 4 && r[0] == 'Z' && r[1] == 'K' &&
	       r[2] >= '0' && r[2] <= '9' && r[3] >= '0' && r[3] <= '9';
}

/* "schedule": {"every": "quarter", "from": "2026-Q1",
 * "close_after_days": 10, "check_seconds": 300} (schedule.h). */
static int schedule_member(const char *file, const json_t *v,
			   struct schedule *sc, struct iza_error *err)
{
	static const char *const keys[] = {"every", "from", "close_after_days",
					   "check_seconds", NULL};
	const char *every, *from;
	long after = SCHEDULE_DEFAULT_AFTER_DAYS,
	     check = SCHEDULE_DEFAULT_CHECK_SECONDS;
	struct iza_error perr;
	int rc;

	if (!v)
		return 0;
	if (!json_is_object(v))
		return iza_error_set(err, CE, file, 0, "schedule",
				     "expected an object {\"every\": "
				     "\"quarter\", \"from\": \"2026-Q1\", "
				     "...}");
	rc = jutil_check_keys(file, "schedule", v, keys, CE, err);
	if (rc == 0)
		rc = int_member(file, v, "close_after_days", 0, 366, &after,
				err);
	if (rc == 0)
		rc =
		    int_member(file, v, "check_seconds", 1, 86400, &check, err);
	if (rc)
		return rc;
	every = json_string_value(json_object_get(v, "every"));
	from = json_string_value(json_object_get(v, "from"));
	if (schedule_parse_every(every, &sc->every) != 0)
		return iza_error_set(err, CE, file, 0, "schedule.every",
				     "expected \"month\", \"quarter\" or "
				     "\"year\"");
	iza_error_clear(&perr);
	if (!from || period_parse(from, &sc->from, &perr) != 0 ||
	    sc->from.kind != sc->every)
		return iza_error_set(err, CE, file, 0, "schedule.from",
				     "expected the first %s to close, like "
				     "%s",
				     schedule_every_name(sc->every),
				     sc->every == PERIOD_MONTH	   ? "2026-01"
				     : sc->every == PERIOD_QUARTER ? "2026-Q1"
								   : "2026");
	sc->close_after_days = (int)after;
	sc->check_seconds = (int)check;
	sc->enabled = true;
	return 0;
}

int config_load(const char *path, struct gw_config **out, struct iza_error *err)
{
	static const char *const keys[] = {"region",
					   "data_dir",
					   "key_file",
					   "store",
					   "ledger",
					   "quarantine_dir",
					   "mapping_dir",
					   "k",
					   "test_mode",
					   "baseline_year",
					   "count_unknown_residence",
					   "measure_base",
					   "reporter_system",
					   "max_line_mib",
					   "max_bundle_mib",
					   "sources",
					   "provider_rule",
					   "provider_min",
					   "provider_dominance",
					   "provider_nk",
					   "provider_p",
					   "provider_consent",
					   "dp_budget_quarter",
					   "dp_budget_year",
					   "rounding",
					   "signing_key",
					   "signing_chain",
					   "plan",
					   "outbox",
					   "monitor_url",
					   "monitor_ca",
					   "intake_cert",
					   "intake_key",
					   "intake_ca",
					   "intake_bind",
					   "intake_port",
					   "schedule",
					   "description",
					   NULL};
	struct gw_config *c = calloc(1, sizeof(*c));
	json_t *root = NULL;
	const char *env = getenv("IZAGW_MAPPINGS");
	long k = 10, base = 2024, line_mib = 16, doc_mib = 64, pmin = 3;
	long rounding = 0;
	double bq = 1.0, by = 4.0;
	int rc = 0;

	if (!c)
		return -IZA_ENOMEM;
	c->data_dir = strdup("izagw-data");
	c->mapping_dir = strdup(env && *env ? env : IZA_DEFAULT_MAPPINGS);
	c->provider_rule = true;
	c->intake_port = 8444;
	c->provider_dominance = 0.80;
	c->provider_nk = 0.85;
	c->provider_p = 10.0;
	c->measure_base = strdup("https://iza-gateway.nl/fhir");
	c->reporter_system = strdup("https://iza-gateway.nl/fhir/NamingSystem/"
				    "zorgkantoorregio");
	if (path) {
		rc = jutil_load_file(path, &root, err);
		if (rc)
			goto out;
		rc = jutil_check_keys(path, "config", root, keys, CE, err);
		if (rc == 0)
			rc = str_member(path, root, "region", &c->region, err);
		if (rc == 0)
			rc = str_member(path, root, "data_dir", &c->data_dir,
					err);
		if (rc == 0)
			rc = str_member(path, root, "key_file", &c->key_file,
					err);
		if (rc == 0)
			rc = str_member(path, root, "store", &c->store_path,
					err);
		if (rc == 0)
			rc = str_member(path, root, "ledger", &c->ledger_path,
					err);
		if (rc == 0)
			rc = str_member(path, root, "outbox", &c->outbox_path,
					err);
		if (rc == 0)
			rc = str_member(path, root, "signing_key",
					&c->signing_key, err);
		if (rc == 0)
			rc = str_member(path, root, "signing_chain",
					&c->signing_chain, err);
		if (rc == 0)
			rc = str_member(path, root, "plan", &c->plan, err);
		if (rc == 0)
			rc = str_member(path, root, "monitor_url",
					&c->monitor_url, err);
		if (rc == 0)
			rc = str_member(path, root, "monitor_ca",
					&c->monitor_ca, err);
		if (rc == 0)
			rc = str_member(path, root, "intake_cert",
					&c->intake_cert, err);
		if (rc == 0)
			rc = str_member(path, root, "intake_key",
					&c->intake_key, err);
		if (rc == 0)
			rc = str_member(path, root, "intake_ca", &c->intake_ca,
					err);
		if (rc == 0)
			rc = str_member(path, root, "intake_bind",
					&c->intake_bind, err);
		if (rc == 0 && json_object_get(root, "intake_port")) {
			const json_t *v = json_object_get(root, "intake_port");

			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 65535)
				rc = iza_error_set(err, CE, path, 0,
						   "intake_port",
						   "expected 0 to 65535");
			else
				c->intake_port = (long)json_integer_value(v);
		}
		if (rc == 0)
			rc = str_member(path, root, "quarantine_dir",
					&c->quarantine_dir, err);
		if (rc == 0)
			rc = str_member(path, root, "mapping_dir",
					&c->mapping_dir, err);
		if (rc == 0)
			rc = str_member(path, root, "measure_base",
					&c->measure_base, err);
		if (rc == 0)
			rc = str_member(path, root, "reporter_system",
					&c->reporter_system, err);
		if (rc == 0)
			rc = int_member(path, root, "k", 1, 1000000, &k, err);
		if (rc == 0)
			rc = int_member(path, root, "baseline_year", 1900, 2999,
					&base, err);
		if (rc == 0)
			rc = int_member(path, root, "max_line_mib", 1, 1024,
					&line_mib, err);
		if (rc == 0)
			rc = int_member(path, root, "max_bundle_mib", 1, 4096,
					&doc_mib, err);
		if (rc == 0)
			rc = bool_member(path, root, "test_mode", &c->test_mode,
					 err);
		if (rc == 0)
			rc = bool_member(path, root, "count_unknown_residence",
					 &c->count_unknown_residence, err);
		if (rc == 0)
			rc = bool_member(path, root, "provider_rule",
					 &c->provider_rule, err);
		if (rc == 0)
			rc = int_member(path, root, "provider_min", 1, 1000,
					&pmin, err);
		if (rc == 0)
			rc = real_member(path, root, "provider_dominance", 0.01,
					 1.0, &c->provider_dominance, err);
		if (rc == 0)
			rc = real_member(path, root, "provider_nk", 0.01, 1.0,
					 &c->provider_nk, err);
		if (rc == 0)
			rc = real_member(path, root, "provider_p", 0.0, 100.0,
					 &c->provider_p, err);
		if (rc == 0)
			rc =
			    jutil_strv(path, "config", root, "provider_consent",
				       false, &c->provider_consent, CE, err);
		if (rc == 0)
			rc = real_member(path, root, "dp_budget_quarter", 0.0,
					 100.0, &bq, err);
		if (rc == 0)
			rc = real_member(path, root, "dp_budget_year", 0.0,
					 400.0, &by, err);
		if (rc == 0)
			rc = int_member(path, root, "rounding", 0, 1000,
					&rounding, err);
		if (rc)
			goto out;
		c->sources = json_incref(json_object_get(root, "sources"));
		if (c->sources && !json_is_object(c->sources)) {
			rc = iza_error_set(err, CE, path, 0, "sources",
					   "expected an object of AGB code -> "
					   "{\"sector\": ...}");
			goto out;
		}
		rc = schedule_member(path, json_object_get(root, "schedule"),
				     &c->schedule, err);
		if (rc)
			goto out;
		if (c->region && !valid_region(c->region)) {
			rc = iza_error_set(err, CE, path, 0, "region",
					   "expected a zorgkantoorregio code "
					   "like ZK02");
			goto out;
		}
	}
	c->k = (int)k;
	c->provider_min = (int)pmin;
	c->rounding = (int)rounding;
	c->dp_budget_quarter = (int64_t)(bq * 1000.0 + 0.5);
	c->dp_budget_year = (int64_t)(by * 1000.0 + 0.5);
	c->baseline_year = (int)base;
	c->max_line = (size_t)line_mib << 20;
	c->max_doc = (size_t)doc_mib << 20;
	if (!c->key_file)
		c->key_file = join(c->data_dir, "pseudonym.key");
	if (!c->store_path)
		c->store_path = join(c->data_dir, "events.db");
	if (!c->ledger_path)
		c->ledger_path = join(c->data_dir, "ledger.db");
	if (!c->outbox_path)
		c->outbox_path = join(c->data_dir, "outbox.db");
	if (!c->quarantine_dir)
		c->quarantine_dir = join(c->data_dir, "quarantine");
	if (!c->data_dir || !c->mapping_dir || !c->key_file || !c->store_path ||
	    !c->quarantine_dir || !c->measure_base || !c->reporter_system)
		rc = -IZA_ENOMEM;
out:
	json_decref(root);
	if (rc) {
		config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int config_resolve_region(struct gw_config *c, struct iza_error *err)
{
	char *path;
	json_t *root = NULL;
	const char *r = NULL;
	int rc;

	if (c->region)
		return 0;
	path = join(c->data_dir, "gateway.json");
	if (!path)
		return -IZA_ENOMEM;
	rc = jutil_load_file(path, &root, err);
	if (rc == -IZA_ENOTFOUND)
		rc = iza_error_set(err, -IZA_ENOTFOUND, c->data_dir, 0, NULL,
				   "no gateway here: run `izagw init --region "
				   "ZKxx` first (or pass --config)");
	if (rc == 0) {
		rc = jutil_string(path, "gateway", root, "region", true, &r, CE,
				  err);
		if (rc == 0 && !valid_region(r))
			rc = iza_error_set(err, CE, path, 0, "region",
					   "expected a zorgkantoorregio code");
		if (rc == 0) {
			c->region = strdup(r);
			if (!c->region)
				rc = -IZA_ENOMEM;
		}
	}
	json_decref(root);
	free(path);
	return rc;
}

int config_save_region(const struct gw_config *c, struct iza_error *err)
{
	char *path = join(c->data_dir, "gateway.json");
	json_t *o;
	int rc = 0;

	if (!path)
		return -IZA_ENOMEM;
	o = json_pack("{s:s, s:s}", "format", "iza-gateway-state/1", "region",
		      c->region);
	if (!o || json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		rc = iza_error_set(err, -IZA_EIO, path, 0, NULL,
				   "cannot write gateway state");
	json_decref(o);
	free(path);
	return rc;
}

const char *config_source_sector(const struct gw_config *c, const char *source)
{
	const json_t *s, *sector;

	if (!c->sources || !source)
		return NULL;
	s = json_object_get(c->sources, source);
	sector = s ? json_object_get(s, "sector") : NULL;
	return json_is_string(sector) ? json_string_value(sector) : NULL;
}

const char *config_mapping_file(const struct gw_config *c, const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", c->mapping_dir, name);
	return buf;
}
