/*
 * ingest.c - drive one input through adapter, mapping and store.
 */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mapping.h"
#include "store.h"

struct run {
	const struct ingest_config *cfg;
	struct mapper *mapper;
	struct ingest_summary *sum;
	FILE *qfile;
	const char *path;
	struct map_result res;
	time_t last_progress;
	struct input *in;
	struct iza_error *err;
};

static void progress(struct run *r, bool final)
{
	time_t now = time(NULL);

	if (!r->cfg->progress || (!final && now == r->last_progress))
		return;
	r->last_progress = now;
	fprintf(stderr, "\r%s: %.1f MB, %lld records, %lld quarantined%s",
		r->path, (double)input_bytes(r->in) / 1e6,
		(long long)r->sum->records, (long long)r->sum->quarantined,
		final ? "\n" : "");
	fflush(stderr);
}

static FILE *open_quarantine(const char *dir, struct iza_error *err)
{
	char path[4096];
	struct timespec ts;
	int fd;
	FILE *f;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		iza_error_set(err, -IZA_EIO, dir, 0, NULL,
			      "cannot create quarantine directory: %s",
			      strerror(errno));
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(path, sizeof(path), "%s/batch-%lld-%09ld-%d.ndjson", dir,
		 (long long)ts.tv_sec, ts.tv_nsec, (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		iza_error_set(err, -IZA_EIO, path, 0, NULL,
			      "cannot create quarantine file");
	}
	return f;
}

/* Append one quarantined record (position, reason and, where it could be
 * kept, the raw record for replay) to the quarantine file. */
static int keep_quarantined(struct run *r, long line, long entry,
			    enum quarantine_reason reason,
			    const struct iza_error *why, const char *raw,
			    size_t rawlen)
{
	json_t *o;
	char *txt;
	int rc = 0;

	if (!r->cfg->quarantine_dir)
		return 0;
	if (!r->qfile) {
		r->qfile = open_quarantine(r->cfg->quarantine_dir, r->err);
		if (!r->qfile)
			return -IZA_EIO;
	}
	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}", "file", r->path, "line",
		      (json_int_t)line, "entry", (json_int_t)entry, "reason",
		      quarantine_reason_name(reason), "field",
		      why ? why->field : "", "text", why ? why->text : "");
	if (!o)
		return -IZA_ENOMEM;
	if (raw && rawlen)
		json_object_set_new(o, "record", json_stringn(raw, rawlen));
	txt = json_dumps(o, JSON_COMPACT);
	if (!txt || fprintf(r->qfile, "%s\n", txt) < 0)
		rc = -IZA_EIO;
	free(txt);
	json_decref(o);
	return rc;
}

static int on_bad(void *ctx, long line, long entry,
		  enum quarantine_reason reason, const struct iza_error *why,
		  const char *raw, size_t rawlen)
{
	struct run *r = ctx;

	r->sum->records++;
	r->sum->quarantined++;
	r->sum->by_reason[reason]++;
	progress(r, false);
	return keep_quarantined(r, line, entry, reason, why, raw, rawlen);
}

static void count_put(struct ingest_summary *s, enum put_result pr,
		      size_t nevents)
{
	switch (pr) {
	case PUT_INSERTED:
		s->events_stored += (int64_t)nevents;
		break;
	case PUT_UPDATED:
		s->updated++;
		s->events_stored += (int64_t)nevents;
		break;
	case PUT_DUPLICATE:
		s->duplicates++;
		break;
	case PUT_STALE:
		s->stale++;
		break;
	}
}

static int on_resource(void *ctx, const struct jval *res, long line, long entry)
{
	struct run *r = ctx;
	struct map_result *m = &r->res;
	struct iza_error why;
	enum put_result pr;
	int rc;

	r->sum->records++;
	progress(r, false);
	iza_error_clear(&why);
	rc = mapper_map(r->mapper, r->cfg->source, r->cfg->default_sector, res,
			m, &why);
	if (rc)
		return rc;
	switch (m->outcome) {
	case MAP_SKIPPED:
		r->sum->excluded_type++;
		return 0;
	case MAP_QUARANTINE:
		r->sum->quarantined++;
		r->sum->by_reason[m->reason]++;
		/* the raw record is not at hand for Bundle entries */
		return keep_quarantined(r, line, entry, m->reason, &why, NULL,
					0);
	case MAP_PATIENT:
		rc = store_put_patient(r->cfg->store, &m->patient, &pr, r->err);
		if (rc)
			return rc;
		if (pr == PUT_INSERTED || pr == PUT_UPDATED)
			r->sum->patients++;
		if (pr == PUT_UPDATED)
			r->sum->updated++;
		else if (pr == PUT_DUPLICATE)
			r->sum->duplicates++;
		else if (pr == PUT_STALE)
			r->sum->stale++;
		if (m->in_region == 0)
			r->sum->patients_outside++;
		else if (m->in_region < 0)
			r->sum->patients_unknown++;
		return 0;
	case MAP_ENCOUNTER:
		rc = store_put_encounter(r->cfg->store, m->events, m->nevents,
					 &pr, r->err);
		if (rc)
			return rc;
		if (m->nevents == 0)
			r->sum->excluded_class++;
		count_put(r->sum, pr, m->nevents);
		return 0;
	}
	return 0;
}

static const struct adapter *choose(struct input *in, const char *path,
				    const char *format)
{
	const char *head, *dot = strrchr(path, '.');
	size_t n;

	if (format && strcmp(format, "auto") != 0)
		return adapter_find(format);
	if (dot && strcmp(dot, ".ndjson") == 0)
		return &adapter_fhir_ndjson;
	n = input_peek(in, &head, 1u << 20);
	return adapter_detect(head, n);
}

int ingest_file(const struct ingest_config *cfg, const char *path,
		const char *format, struct ingest_summary *sum,
		struct iza_error *err)
{
	const struct adapter *ad;
	struct batch_info bi;
	struct batch_counts bc;
	struct run r;
	int rc;

	memset(sum, 0, sizeof(*sum));
	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.sum = sum;
	r.path = path;
	r.err = err;
	rc = input_open(path, &r.in, err);
	if (rc)
		return rc;
	ad = choose(r.in, path, format);
	if (!ad) {
		rc = iza_error_set(err, -IZA_EPARSE, path, 0, NULL,
				   "not a FHIR JSON document or NDJSON file "
				   "(use --format)");
		goto out;
	}
	rc = mapper_new(cfg->mapping, cfg->pseudo, cfg->refdata, cfg->region,
			cfg->today, &r.mapper);
	if (rc)
		goto out;
	rc = store_batch_begin(cfg->store, err);
	if (rc)
		goto out;
	{
		const struct adapter_sink sink = {
		    .ctx = &r, .resource = on_resource, .bad = on_bad};

		rc = ad->run(r.in, &cfg->limits, &sink, err);
	}
	progress(&r, true);
	if (rc == 0 && r.qfile && fflush(r.qfile) != 0)
		rc = iza_error_set(err, -IZA_EIO, cfg->quarantine_dir, 0, NULL,
				   "cannot write quarantine file");
	if (rc) {
		store_batch_abort(cfg->store);
		if (err && !err->file[0])
			snprintf(err->file, sizeof(err->file), "%s", path);
		goto out;
	}
	sum->bytes = input_bytes(r.in);
	input_sha256_hex(r.in, sum->sha256);
	memset(&bi, 0, sizeof(bi));
	bi.file = path;
	bi.sha256_hex = sum->sha256;
	bi.source = cfg->source;
	bi.format = ad->name;
	bi.started = (int64_t)time(NULL);
	memset(&bc, 0, sizeof(bc));
	bc.records = sum->records;
	bc.events_stored = sum->events_stored;
	bc.duplicates = sum->duplicates;
	bc.updated = sum->updated;
	bc.stale = sum->stale;
	bc.excluded = sum->excluded_type + sum->excluded_class;
	bc.quarantined = sum->quarantined;
	bc.patients = sum->patients;
	rc = store_batch_end(cfg->store, &bi, &bc, err);
out:
	if (r.qfile)
		fclose(r.qfile);
	mapper_free(r.mapper);
	input_close(r.in);
	return rc;
}

void ingest_summary_add(struct ingest_summary *a,
			const struct ingest_summary *b)
{
	size_t i;

	a->records += b->records;
	a->patients += b->patients;
	a->events_stored += b->events_stored;
	a->duplicates += b->duplicates;
	a->updated += b->updated;
	a->stale += b->stale;
	a->excluded_type += b->excluded_type;
	a->excluded_class += b->excluded_class;
	a->patients_outside += b->patients_outside;
	a->patients_unknown += b->patients_unknown;
	a->quarantined += b->quarantined;
	for (i = 0; i < QR_COUNT_; i++)
		a->by_reason[i] += b->by_reason[i];
	a->bytes += b->bytes;
}

void ingest_summary_print(FILE *f, const char *what,
			  const struct ingest_summary *s)
{
	size_t i;

	fprintf(f, "%s\n", what);
	fprintf(f, "  records read          %12lld\n", (long long)s->records);
	fprintf(f, "  patients stored       %12lld", (long long)s->patients);
	if (s->patients_outside || s->patients_unknown)
		fprintf(f,
			"  (living elsewhere %lld, residence unknown %lld: "
			"never counted in KPIs)",
			(long long)s->patients_outside,
			(long long)s->patients_unknown);
	fprintf(f, "\n  events stored         %12lld\n",
		(long long)s->events_stored);
	fprintf(f, "  duplicates            %12lld\n",
		(long long)s->duplicates);
	fprintf(f, "  updated               %12lld\n", (long long)s->updated);
	if (s->stale)
		fprintf(f, "  older versions ignored%12lld\n",
			(long long)s->stale);
	fprintf(f,
		"  excluded              %12lld  (other resource types %lld, "
		"not counted by any rule %lld)\n",
		(long long)(s->excluded_type + s->excluded_class),
		(long long)s->excluded_type, (long long)s->excluded_class);
	fprintf(f, "  quarantined           %12lld\n",
		(long long)s->quarantined);
	for (i = 0; i < QR_COUNT_; i++)
		if (s->by_reason[i])
			fprintf(
			    f, "    %-20s%12lld\n",
			    quarantine_reason_name((enum quarantine_reason)i),
			    (long long)s->by_reason[i]);
}
