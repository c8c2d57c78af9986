/*
 * izafd - a simulated regional digital front door: triages with realistic
 * hour-of-day and day-of-week patterns, NTS urgencies and dispositions,
 * written as FHIR R4 NDJSON in the convention of docs/front-door.md, for the
 * residents of an existing export (izagen's gp/Patient.ndjson), together
 * with the triages the GP practices did themselves, and the ground truth of
 * the front-door KPIs (docs/demo-data.md, "izafd").
 *
 *   izafd --patients gp/Patient.ndjson --out DIR [--region ZK02]
 *         [--from 2025-01-01] [--to 2025-12-31] [--per-day 40]
 *         [--practice-per-day 25] [--seed 1] [--mappings DIR]
 *
 * Writes DIR/frontdoor/{Patient,Encounter}.ndjson (source 01099999, the
 * front door), DIR/practice/{Patient,Encounter}.ndjson (source 01058123,
 * izagen's GP practice: its own triages by phone or at the desk) and
 * DIR/truth.json.  Only patients living in the region (by their postcode
 * and the reference tables) are used, each written once per source under
 * its own id, so the truth is exact: every triage counts.
 *
 * Patterns (fixed, deterministic for a seed): the front door is busiest on
 * Monday and at weekends (factors Mon 1.30, Tue-Thu 1.00, Fri 1.05, Sat
 * 1.25, Sun 1.35), in the morning and the evening; practices triage on
 * working days from 08:00 to 17:00.  Urgencies U1-U5 of the front door:
 * 2, 6, 17, 35, 40 %; dispositions depend on the urgency.
 *
 * Nothing here describes a real person: the patients are synthetic.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "iza_error.h"
#include "period.h"
#include "refdata.h"

#define FD_AGB	       "01099999"
#define PRACTICE_AGB   "01058123"
#define MAX_QUARTERS   64
#define HOURS_PER_WEEK 168

/* ---- a small deterministic generator (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static int poisson(double lambda)
{
	double l = 1.0, limit = 0.0;
	int k = 0;

	/* Knuth's method in slices of 30 keeps exp() from underflowing */
	while (lambda > 0) {
		double part = lambda > 30 ? 30 : lambda;

		lambda -= part;
		limit = exp(-part);
		l = 1.0;
		for (;;) {
			l *= unit();
			if (l < limit)
				break;
			k++;
		}
	}
	return k;
}

/* index drawn from cumulative weights w[0..n) */
static int pick(const double *w, int n)
{
	double total = 0, u;
	int i;

	for (i = 0; i < n; i++)
		total += w[i];
	u = unit() * total;
	for (i = 0; i < n - 1; i++) {
		if (u < w[i])
			return i;
		u -= w[i];
	}
	return n - 1;
}

/* ---- patterns ---- */

/* Sunday first, as struct tm */
static const double weekday_factor[7] = {1.35, 1.30, 1.00, 1.00,
					 1.00, 1.05, 1.25};
/* front door, per local hour: quiet nights, morning and evening peaks */
static const double fd_hour[24] = {0.6, 0.4, 0.3, 0.2, 0.2, 0.3, 0.8, 1.6,
				   2.4, 2.2, 1.9, 1.7, 1.5, 1.5, 1.4, 1.4,
				   1.5, 1.8, 2.2, 2.5, 2.4, 2.0, 1.5, 1.0};
static const double fd_urgency[6] = {0, 2, 6, 17, 35, 40}; /* U0..U5 */
static const char *const dispositions[] = {"self-care", "gp",	     "gp-post",
					   "er",	"ambulance", "other"};
/* per urgency: self-care, gp, gp-post, er, ambulance, other */
static const double disposition_by_urgency[6][6] = {
    {0, 0, 0, 10, 90, 0},   {0, 5, 10, 45, 40, 0}, {2, 20, 38, 35, 3, 2},
    {10, 50, 25, 12, 1, 2}, {38, 48, 9, 2, 0, 3},  {72, 22, 2, 0, 0, 4}};
static const double practice_urgency[6] = {0, 1, 4, 20, 40, 35};
static const char *const channels[] = {"message", "video", "phone"};
static const double fd_channel[3] = {55, 10, 35};

/* ---- patients ---- */

struct patient {
	char *id;
	char *line; /* the Patient resource as read, re-serialised */
};

struct patients {
	struct patient *v;
	size_t n, cap;
};

static int in_region(const struct refdata *rd, const json_t *p,
		     const char *region, int64_t today)
{
	const json_t *addr, *a;
	char gm[8], zk[8];
	size_t i;

	if (json_is_false(json_object_get(p, "active")))
		return 0;
	addr = json_object_get(p, "address");
	json_array_foreach(addr, i, a)
	{
		const char *use = json_string_value(json_object_get(a, "use"));
		const char *pc =
		    json_string_value(json_object_get(a, "postalCode"));
		int pc4;

		if (use && strcmp(use, "home") != 0)
			continue;
		if (!pc)
			return 0;
		pc4 = postcode_pc4(pc, strlen(pc));
		return pc4 && refdata_locate(rd, pc4, today, gm, zk) == 0 &&
		       strcmp(zk, region) == 0;
	}
	return 0;
}

/* The last version of every patient of the file who lives in region. */
static int read_patients(const char *path, const struct refdata *rd,
			 const char *region, int64_t today, struct patients *ps)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, i;
	ssize_t len;

	if (!f) {
		fprintf(stderr, "izafd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&buf, &cap, f)) > 0) {
		json_t *p = json_loadb(buf, (size_t)len, 0, NULL);
		const char *id = json_string_value(json_object_get(p, "id"));
		const char *rt =
		    json_string_value(json_object_get(p, "resourceType"));
		struct patient *slot = NULL;

		if (!p || !id || !rt || strcmp(rt, "Patient") != 0) {
			json_decref(p);
			continue; /* the export's deliberately broken lines */
		}
		for (i = 0; i < ps->n; i++)
			if (strcmp(ps->v[i].id, id) == 0)
				slot = &ps->v[i];
		if (!in_region(rd, p, region, today)) {
			if (slot) { /* moved away: drop the earlier version */
				free(slot->id);
				free(slot->line);
				*slot = ps->v[--ps->n];
			}
			json_decref(p);
			continue;
		}
		if (!slot) {
			if (ps->n == ps->cap) {
				size_t nc = ps->cap ? 2 * ps->cap : 1024;
				struct patient *nv =
				    realloc(ps->v, nc * sizeof(*nv));

				if (!nv) {
					json_decref(p);
					break;
				}
				ps->v = nv;
				ps->cap = nc;
			}
			slot = &ps->v[ps->n++];
			slot->id = strdup(id);
			slot->line = NULL;
		}
		free(slot->line);
		json_object_del(p, "meta");
		slot->line = json_dumps(p, JSON_COMPACT);
		json_decref(p);
	}
	free(buf);
	fclose(f);
	return 0;
}

/* ---- output ---- */

struct source {
	const char *agb, *prefix;
	FILE *pat, *enc;
	unsigned char *written; /* patient already in this source's file */
	long encounters;
};

static int open_source(struct source *s, const char *out, const char *name,
		       size_t npatients)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", out, name);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/Patient.ndjson", out, name);
	s->pat = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/%s/Encounter.ndjson", out, name);
	s->enc = fopen(path, "w");
	s->written = calloc(npatients ? npatients : 1, 1);
	return s->pat && s->enc && s->written ? 0 : -1;
}

/* The patient under this source's id: the same person (same BSN), each
 * source sending its own Patient resource. */
static void write_patient(struct source *s, const struct patients *ps, size_t k)
{
	json_t *p;

	if (s->written[k])
		return;
	s->written[k] = 1;
	p = json_loads(ps->v[k].line, 0, NULL);
	json_object_set_new(p, "id", json_pack("s+", s->prefix, ps->v[k].id));
	json_object_set_new(
	    p, "meta",
	    json_pack("{s:s}", "lastUpdated", "2026-01-01T00:00:00+01:00"));
	json_dumpf(p, s->pat, JSON_COMPACT);
	fputc('\n', s->pat);
	json_decref(p);
}

/* "YYYY-MM-DDThh:mm:ss+01:00" for a UTC instant, Amsterdam local */
static void local_time(int64_t t, char out[32])
{
	int off = ams_offset_at_utc(t), y, mo, d;
	int64_t local = t + off, day = local / 86400, secs = local % 86400;

	civil_from_days(day, &y, &mo, &d);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d+%02d:00", y, mo, d,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
		 off / 3600);
}

static void write_triage(struct source *s, const struct patients *ps, size_t k,
			 int64_t start, const char *contact, int urgency,
			 const char *disposition, const char *channel)
{
	char when[32], urg[4];
	json_t *e, *type;

	write_patient(s, ps, k);
	local_time(start, when);
	snprintf(urg, sizeof(urg), "U%d", urgency);
	type = json_pack("[{s:[{s:s,s:s}]}]", "coding", "system",
			 "https://iza-gateway.nl/fhir/CodeSystem/contact-type",
			 "code", contact);
	if (channel)
		json_array_append_new(
		    type, json_pack("{s:[{s:s,s:s}]}", "coding", "system",
				    "https://iza-gateway.nl/fhir/CodeSystem/"
				    "contact-channel",
				    "code", channel));
	e = json_pack(
	    "{s:s,s:s,s:{s:s,s:s},s:s,s:{s:s,s:s},s:o,s:{s:[{s:s,s:s}]},"
	    "s:{s:s},s:{s:{s:s,s:s}}}",
	    "resourceType", "Encounter", "id", "", "meta", "versionId", "1",
	    "lastUpdated", "2026-01-01T00:00:00+01:00", "status", "finished",
	    "class", "system",
	    "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code",
	    strcmp(contact, "triage") == 0 && !channel ? "AMB" : "VR", "type",
	    type, "priority", "coding", "system",
	    "https://iza-gateway.nl/fhir/CodeSystem/nts-urgency", "code", urg,
	    "period", "start", when, "serviceProvider", "identifier", "system",
	    "http://fhir.nl/fhir/NamingSystem/agb-z", "value", s->agb);
	{
		char id[48], ref[160];

		snprintf(id, sizeof(id), "%s%06ld", s->prefix, ++s->encounters);
		json_object_set_new(e, "id", json_string(id));
		snprintf(ref, sizeof(ref), "Patient/%s%s", s->prefix,
			 ps->v[k].id);
		json_object_set_new(e, "subject",
				    json_pack("{s:s}", "reference", ref));
	}
	if (disposition)
		json_object_set_new(
		    e, "hospitalization",
		    json_pack("{s:{s:[{s:s,s:s}]}}", "dischargeDisposition",
			      "coding", "system",
			      "https://iza-gateway.nl/fhir/CodeSystem/"
			      "frontdoor-disposition",
			      "code", disposition));
	json_dumpf(e, s->enc, JSON_COMPACT);
	fputc('\n', s->enc);
	json_decref(e);
}

/* ---- truth ---- */

struct tally {
	long fd, fd_nonacute, practice_nonacute, selfcare, er;
	long hours[HOURS_PER_WEEK]; /* Monday 00 first */
};

static void how(int64_t t, int *index)
{
	int64_t local = t + ams_offset_at_utc(t);
	int64_t day = local / 86400, secs = local % 86400;
	int wd = (int)((day + 3) % 7); /* 1970-01-01 was a Thursday */

	*index = wd * 24 + (int)(secs / 3600);
}

static json_t *tally_json(const char *label, const struct tally *t)
{
	json_t *o, *hours = json_array();
	int i;

	for (i = 0; i < HOURS_PER_WEEK; i++)
		json_array_append_new(hours, json_integer(t->hours[i]));
	o = json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:o}", "period", label,
		      "frontdoor_triages", (int)t->fd, "frontdoor_nonacute",
		      (int)t->fd_nonacute, "practice_nonacute",
		      (int)t->practice_nonacute, "selfcare", (int)t->selfcare,
		      "er", (int)t->er, "load_per_hour_of_week", hours);
	return o;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fputs("usage: izafd --patients FILE --out DIR [--region ZK02] "
	      "[--from YYYY-MM-DD]\n"
	      "             [--to YYYY-MM-DD] [--per-day N] "
	      "[--practice-per-day N] [--seed S]\n"
	      "             [--mappings DIR]\n",
	      f);
}

static int parse_day(const char *s, int64_t *day)
{
	int y, m, d;

	if (parse_fhir_date(s, strlen(s), &y, &m, &d) != 0 || strlen(s) != 10)
		return -1;
	*day = days_from_civil(y, m, d);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"patients", required_argument, 0, 'p'},
	    {"out", required_argument, 0, 'o'},
	    {"region", required_argument, 0, 'r'},
	    {"from", required_argument, 0, 'f'},
	    {"to", required_argument, 0, 't'},
	    {"per-day", required_argument, 0, 'n'},
	    {"practice-per-day", required_argument, 0, 'P'},
	    {"seed", required_argument, 0, 's'},
	    {"mappings", required_argument, 0, 'm'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	const char *patients = NULL, *out = NULL, *region = "ZK02",
		   *mappings = "mappings";
	double per_day = 40, practice_per_day = 25;
	int64_t from = days_from_civil(2025, 1, 1),
		to = days_from_civil(2025, 12, 31), day;
	uint64_t seed = 1;
	struct refdata *rd = NULL;
	struct iza_error err = {0};
	struct patients ps = {0};
	struct source fd = {FD_AGB, "fd-", NULL, NULL, NULL, 0},
		      pr = {PRACTICE_AGB, "pt-", NULL, NULL, NULL, 0};
	struct tally *q = calloc(MAX_QUARTERS, sizeof(*q)), year = {0};
	json_t *truth, *quarters;
	char path[1200], dir[1100];
	int c, y0, m0, d0;
	size_t i;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end = NULL;

		switch (c) {
		case 'p':
			patients = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			region = optarg;
			break;
		case 'f':
		case 't':
			if (parse_day(optarg, c == 'f' ? &from : &to)) {
				fprintf(stderr, "izafd: --%s YYYY-MM-DD\n",
					c == 'f' ? "from" : "to");
				return 2;
			}
			break;
		case 'n':
		case 'P':
			*(c == 'n' ? &per_day : &practice_per_day) =
			    strtod(optarg, &end);
			if (!end || *end ||
			    *(c == 'n' ? &per_day : &practice_per_day) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 's':
			seed = strtoull(optarg, &end, 10);
			break;
		case 'm':
			mappings = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	civil_from_days(from, &y0, &m0, &d0);
	if (!patients || !out || !q || to < from ||
	    (to - from) / 92 + 2 > MAX_QUARTERS) {
		usage(stderr);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/regions", mappings);
	if (refdata_load(dir, &rd, &err)) {
		fprintf(stderr, "izafd: %s: %s\n", dir, err.text);
		return 3;
	}
	/* residence as the gateway decides it: by today's reference tables */
	if (read_patients(patients, rd, region, (int64_t)time(NULL) / 86400,
			  &ps) ||
	    ps.n == 0) {
		fprintf(stderr, "izafd: no patients living in %s in %s\n",
			region, patients);
		return 1;
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "izafd: %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (open_source(&fd, out, "frontdoor", ps.n) ||
	    open_source(&pr, out, "practice", ps.n)) {
		fprintf(stderr, "izafd: cannot write into %s\n", out);
		return 1;
	}
	rng_state = seed * 0x2545f4914f6cdd1dULL + 17;
	for (day = from; day <= to; day++) {
		int y, m, d, wd = (int)((day + 4) % 7), n, k, qi;

		civil_from_days(day, &y, &m, &d);
		qi = ((y - y0) * 12 + (m - 1)) / 3 - (m0 - 1) / 3;
		n = poisson(per_day * weekday_factor[wd]);
		for (k = 0; k < n; k++) {
			int hour = pick(fd_hour, 24), urg = pick(fd_urgency, 6),
			    disp = pick(disposition_by_urgency[urg], 6), h;
			int64_t t =
			    ams_local_to_utc(y, m, d, hour, (int)(rnd() % 60),
					     (int)(rnd() % 60));
			size_t who = (size_t)(rnd() % ps.n);

			write_triage(&fd, &ps, who, t, "frontdoor-triage", urg,
				     dispositions[disp],
				     channels[pick(fd_channel, 3)]);
			how(t, &h);
			q[qi].fd++;
			q[qi].hours[h]++;
			q[qi].fd_nonacute += urg >= 4;
			q[qi].selfcare += disp == 0;
			q[qi].er += disp == 3;
		}
		if (wd == 0 || wd == 6)
			continue; /* practices triage on working days */
		n = poisson(practice_per_day);
		for (k = 0; k < n; k++) {
			int urg = pick(practice_urgency, 6);
			int64_t t =
			    ams_local_to_utc(y, m, d, 8 + (int)(rnd() % 9),
					     (int)(rnd() % 60), 0);
			size_t who = (size_t)(rnd() % ps.n);

			write_triage(&pr, &ps, who, t, "triage", urg, NULL,
				     rnd() % 3 ? "phone" : NULL);
			q[qi].practice_nonacute += urg >= 4;
		}
	}
	truth = json_object();
	quarters = json_array();
	for (i = 0; i < MAX_QUARTERS; i++) {
		int qy = y0 + (int)((m0 - 1) / 3 + i) / 4,
		    qn = (int)((m0 - 1) / 3 + i) % 4 + 1, h;
		char label[12];

		if (days_from_civil(qy, qn * 3 - 2, 1) > to)
			break;
		snprintf(label, sizeof(label), "%d-Q%d", qy, qn);
		json_array_append_new(quarters, tally_json(label, &q[i]));
		year.fd += q[i].fd;
		for (h = 0; h < HOURS_PER_WEEK; h++)
			year.hours[h] += q[i].hours[h];
	}
	json_object_set_new(
	    truth, "description",
	    json_string("izafd ground truth: front-door triages of patients "
			"living in the region (all of them), their U4/U5 "
			"ones, the practices' U4/U5 triages, self-care and ER "
			"dispositions, and the front-door load per hour of "
			"the week (Monday 00 first, Europe/Amsterdam)"));
	json_object_set_new(truth, "region", json_string(region));
	json_object_set_new(truth, "patients", json_integer((json_int_t)ps.n));
	json_object_set_new(truth, "frontdoor_agb", json_string(FD_AGB));
	json_object_set_new(truth, "practice_agb", json_string(PRACTICE_AGB));
	json_object_set_new(truth, "quarters", quarters);
	snprintf(path, sizeof(path), "%s/truth.json", out);
	if (json_dump_file(truth, path, JSON_INDENT(1)) != 0 ||
	    fclose(fd.pat) || fclose(fd.enc) || fclose(pr.pat) ||
	    fclose(pr.enc)) {
		fprintf(stderr, "izafd: cannot write %s\n", out);
		return 1;
	}
	printf("izafd: %ld front-door and %ld practice triages for %zu "
	       "residents of %s in %s\n",
	       fd.encounters, pr.encounters, ps.n, region, out);
	json_decref(truth);
	for (i = 0; i < ps.n; i++) {
		free(ps.v[i].id);
		free(ps.v[i].line);
	}
	free(ps.v);
	free(fd.written);
	free(pr.written);
	free(q);
	refdata_free(rd);
	return 0;
}
