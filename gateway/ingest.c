/*
 * ingest.c - drive one input through adapter, mapping and store.
 */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mapping.h"
#include "pseudo.h"
#include "store.h"

struct pipe;

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
	struct pipe *pipe; /* the worker's run in a two-thread ingest */
	const struct mapping *mapping; /* the one for this input's format */
	const char *format;	       /* the adapter's name */
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

/* A new quarantine file; its name (without the directory) into name. */
static FILE *open_quarantine(const char *dir, char name[INGEST_QFILE_MAX],
			     struct iza_error *err)
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
	snprintf(name, INGEST_QFILE_MAX, "batch-%lld-%09ld-%d.ndjson",
		 (long long)ts.tv_sec, ts.tv_nsec, (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		iza_error_set(err, -IZA_EIO, path, 0, NULL,
			      "cannot create the quarantine file: %s",
			      strerror(e));
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
		r->qfile = open_quarantine(r->cfg->quarantine_dir,
					   r->sum->quarantine_file, r->err);
		if (!r->qfile)
			return -IZA_EIO;
	}
	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "file",
		      r->path, "line", (json_int_t)line, "entry",
		      (json_int_t)entry, "reason",
		      quarantine_reason_name(reason), "field",
		      why ? why->field : "", "text", why ? why->text : "",
		      "source", r->cfg->source ? r->cfg->source : "", "format",
		      r->format ? r->format : "");
	if (!o)
		return -IZA_ENOMEM;
	if (raw && rawlen)
		json_object_set_new(o, "record", json_stringn(raw, rawlen));
	txt = json_dumps(o, JSON_COMPACT);
	if (!txt)
		rc = -IZA_ENOMEM;
	else if (fprintf(r->qfile, "%s\n", txt) < 0)
		rc = iza_error_set(r->err, -IZA_EIO, r->cfg->quarantine_dir, 0,
				   NULL, "cannot write the quarantine file: %s",
				   strerror(errno));
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

/* One record from the adapter: exactly one member is set. */
struct record {
	const struct jval *res; /* a FHIR resource */
	struct _xmlNode *xml;	/* a CDA header */
	const struct v2msg *v2; /* an HL7 v2 message */
};

/* Map one resource.  Returns 1 when out must go to the store, 0 when the
 * record is done with (skipped or quarantined), or a negative error. */
static int map_one(struct run *r, const struct record *rec, long line,
		   long entry, struct map_result *m)
{
	const struct jval *res = rec->res;
	struct iza_error why;
	int rc;

	r->sum->records++;
	progress(r, false);
	iza_error_clear(&why);
	if (rec->v2)
		rc = mapper_map_v2(r->mapper, r->cfg->source,
				   r->cfg->default_sector, rec->v2, m, &why);
	else if (rec->xml)
		rc = mapper_map_xml(r->mapper, r->cfg->source,
				    r->cfg->default_sector, rec->xml, m, &why);
	else
		rc = mapper_map(r->mapper, r->cfg->source,
				r->cfg->default_sector, res, m, &why);
	if (rc)
		return rc;
	switch (m->outcome) {
	case MAP_SKIPPED:
		r->sum->excluded_type++;
		return 0;
	case MAP_QUARANTINE: {
		char *text = NULL;
		size_t len = 0;

		r->sum->quarantined++;
		r->sum->by_reason[m->reason]++;
		/* the source bytes are gone: keep the resource as JSON text,
		 * so that it can be replayed after a mapping fix (an XML
		 * record is kept by its position only) */
		if (res && jdom_write(res, &text, &len) != 0)
			return -IZA_ENOMEM;
		rc = keep_quarantined(r, line, entry, m->reason, &why, text,
				      len);
		free(text);
		return rc;
	}
	case MAP_PATIENT:
	case MAP_ENCOUNTER:
		return 1;
	}
	return 0;
}

/* Store one mapped record and count what the store did with it. */
static int store_one(const struct ingest_config *cfg, struct ingest_summary *s,
		     const struct map_result *m, struct iza_error *err)
{
	enum put_result pr;
	int rc;

	if (m->outcome == MAP_PATIENT || m->with_patient) {
		rc = store_put_patient(cfg->store, &m->patient, &pr, err);
		if (rc)
			return rc;
		if (pr == PUT_INSERTED || pr == PUT_UPDATED)
			s->patients++;
		if (pr == PUT_UPDATED)
			s->updated++;
		else if (pr == PUT_DUPLICATE)
			s->duplicates++;
		else if (pr == PUT_STALE)
			s->stale++;
		if (m->in_region == 0)
			s->patients_outside++;
		else if (m->in_region < 0)
			s->patients_unknown++;
		if (m->outcome == MAP_PATIENT)
			return 0;
	}
	rc = store_put_encounter(cfg->store, m->events, m->nevents, &pr, err);
	if (rc)
		return rc;
	if (m->nevents == 0)
		s->excluded_class++;
	count_put(s, pr, m->nevents);
	return 0;
}

static int on_record(struct run *r, const struct record *rec, long line,
		     long entry)
{
	int rc = map_one(r, rec, line, entry, &r->res);

	if (rc <= 0)
		return rc;
	return store_one(r->cfg, r->sum, &r->res, r->err);
}

static int on_resource(void *ctx, const struct jval *res, long line, long entry)
{
	return on_record(ctx, &(struct record){.res = res}, line, entry);
}

static int on_xml_record(void *ctx, struct _xmlNode *xml, long line, long entry)
{
	return on_record(ctx, &(struct record){.xml = xml}, line, entry);
}

static int on_v2_message(void *ctx, const struct v2msg *msg, long line,
			 long entry)
{
	return on_record(ctx, &(struct record){.v2 = msg}, line, entry);
}

/* ---- two threads: a worker reads, parses and maps; the caller stores ----
 *
 * The worker fills batches of mapped records in input order and hands them
 * over through a ring of PIPE_SLOTS batches; the storing thread takes them in
 * the same order, so the store sees exactly the sequence of puts of a
 * single-threaded run.  Everything that does not reach the store (skipped
 * types, quarantine records and their file, the record count, progress) is
 * done by the worker alone, also in input order; the two threads' counts are
 * added at the end.  Memory is bounded by the ring (PIPE_SLOTS * PIPE_BATCH
 * records) and the worker's parser (the line cap), whatever the input size.
 */
#define PIPE_SLOTS     6
#define PIPE_BATCH     128
#define PIPE_CANCELLED 1 /* positive: the adapter stops without an error */

struct pipe_batch {
	size_t n;
	struct map_result res[PIPE_BATCH];
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t filled, emptied;
	struct pipe_batch *slots;
	size_t head;  /* oldest published batch */
	size_t count; /* published, not yet stored */
	bool done;    /* the worker has finished (its last batch published) */
	bool stop;    /* the storing thread gave up: the worker must stop */
	/* the worker's own */
	struct pipe_batch *fill; /* batch being filled, slot head + count */
	const struct adapter *ad;
	struct run run;
	struct ingest_summary sum;
	struct iza_error err;
	int rc;
};

/* Worker: the next free slot to fill (waits while the ring is full). */
static int pipe_acquire(struct pipe *p)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (p->count == PIPE_SLOTS && !p->stop)
		pthread_cond_wait(&p->emptied, &p->mu);
	if (p->stop) {
		rc = PIPE_CANCELLED;
	} else {
		p->fill = &p->slots[(p->head + p->count) % PIPE_SLOTS];
		p->fill->n = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Worker: hand the filled batch to the storing thread. */
static void pipe_publish(struct pipe *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->fill && p->fill->n > 0)
		p->count++;
	p->fill = NULL;
	pthread_cond_signal(&p->filled);
	pthread_mutex_unlock(&p->mu);
}

static int on_record_piped(struct run *r, const struct record *rec, long line,
			   long entry)
{
	struct pipe *p = r->pipe;
	struct pipe_batch *b;
	int rc;

	if (!p->fill) {
		rc = pipe_acquire(p);
		if (rc)
			return rc;
	}
	b = p->fill;
	rc = map_one(r, rec, line, entry, &b->res[b->n]);
	if (rc <= 0)
		return rc;
	if (++b->n == PIPE_BATCH)
		pipe_publish(p);
	return 0;
}

static int on_resource_piped(void *ctx, const struct jval *res, long line,
			     long entry)
{
	return on_record_piped(ctx, &(struct record){.res = res}, line, entry);
}

static int on_xml_record_piped(void *ctx, struct _xmlNode *xml, long line,
			       long entry)
{
	return on_record_piped(ctx, &(struct record){.xml = xml}, line, entry);
}

static int on_v2_message_piped(void *ctx, const struct v2msg *msg, long line,
			       long entry)
{
	return on_record_piped(ctx, &(struct record){.v2 = msg}, line, entry);
}

static void *pipe_worker(void *arg)
{
	struct pipe *p = arg;
	struct run *r = &p->run;
	const struct adapter_sink sink = {.ctx = r,
					  .resource = on_resource_piped,
					  .xml_record = on_xml_record_piped,
					  .v2_message = on_v2_message_piped,
					  .bad = on_bad};
	int rc;

	rc = p->ad->run(r->in, &r->cfg->limits, &sink, &p->err);
	if (rc == 0 && r->qfile && fflush(r->qfile) != 0)
		rc = iza_error_set(&p->err, -IZA_EIO, r->cfg->quarantine_dir, 0,
				   NULL, "cannot write quarantine file");
	pipe_publish(p);
	pthread_mutex_lock(&p->mu);
	p->rc = rc;
	p->done = true;
	pthread_cond_signal(&p->filled);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Storing thread: the oldest published batch, NULL when the worker is done
 * and everything is stored. */
static struct pipe_batch *pipe_take(struct pipe *p)
{
	struct pipe_batch *b = NULL;

	pthread_mutex_lock(&p->mu);
	while (p->count == 0 && !p->done)
		pthread_cond_wait(&p->filled, &p->mu);
	if (p->count > 0)
		b = &p->slots[p->head];
	pthread_mutex_unlock(&p->mu);
	return b;
}

static void pipe_release(struct pipe *p, bool stop)
{
	pthread_mutex_lock(&p->mu);
	p->head = (p->head + 1) % PIPE_SLOTS;
	p->count--;
	if (stop)
		p->stop = true;
	pthread_cond_signal(&p->emptied);
	pthread_mutex_unlock(&p->mu);
}

/*
 * Run the adapter on a worker thread and store here.  Returns 0, a negative
 * error (err filled), or PIPE_CANCELLED when the worker could not be set up
 * (nothing was read: the caller runs single-threaded).
 */
static int run_piped(struct run *r, const struct adapter *ad,
		     struct iza_error *err)
{
	struct pseudo *ps = NULL;
	struct pipe *p;
	pthread_t tid;
	bool inited = false, started = false;
	int rc;

	p = calloc(1, sizeof(*p));
	if (!p)
		return PIPE_CANCELLED;
	p->slots = calloc(PIPE_SLOTS, sizeof(*p->slots));
	if (!p->slots) {
		rc = PIPE_CANCELLED;
		goto out;
	}
	rc = pseudo_clone(r->cfg->pseudo, &ps);
	if (rc) {
		rc = iza_error_set(err, rc, r->path, 0, NULL,
				   "cannot set up pseudonymisation");
		goto out;
	}
	p->ad = ad;
	p->run = *r;
	p->run.sum = &p->sum;
	p->run.err = &p->err;
	p->run.pipe = p;
	p->run.mapper = NULL;
	rc = mapper_new(r->mapping, ps, r->cfg->refdata, r->cfg->region,
			r->cfg->today, &p->run.mapper);
	if (rc)
		goto out;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		rc = PIPE_CANCELLED;
		goto out;
	}
	if (pthread_cond_init(&p->filled, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		rc = PIPE_CANCELLED;
		goto out;
	}
	if (pthread_cond_init(&p->emptied, NULL) != 0) {
		pthread_cond_destroy(&p->filled);
		pthread_mutex_destroy(&p->mu);
		rc = PIPE_CANCELLED;
		goto out;
	}
	inited = true;
	if (pthread_create(&tid, NULL, pipe_worker, p) != 0) {
		rc = PIPE_CANCELLED;
		goto out;
	}
	started = true;
	rc = 0;
	for (;;) {
		struct pipe_batch *b = pipe_take(p);
		size_t i;

		if (!b)
			break;
		for (i = 0; i < b->n && rc == 0; i++)
			rc = store_one(r->cfg, r->sum, &b->res[i], err);
		pipe_release(p, rc != 0);
		if (rc)
			break;
	}
	pthread_join(tid, NULL);
	/* the worker's state is ours again */
	r->qfile = p->run.qfile;
	r->last_progress = p->run.last_progress;
	ingest_summary_add(r->sum, &p->sum);
	if (rc == 0 && p->rc < 0) {
		rc = p->rc;
		if (err)
			*err = p->err;
	}
out:
	if (inited) {
		pthread_cond_destroy(&p->emptied);
		pthread_cond_destroy(&p->filled);
		pthread_mutex_destroy(&p->mu);
	}
	if (!started && p->run.qfile)
		fclose(p->run.qfile); /* never opened: the worker did not run */
	mapper_free(p->run.mapper);
	pseudo_free(ps);
	free(p->slots);
	free(p);
	return rc;
}

static bool use_pipe(const struct ingest_config *cfg, struct input *in)
{
	int64_t size;

	if (cfg->threads == 1)
		return false;
	if (cfg->threads >= 2)
		return true;
	size = input_file_size(in);
	return size >= (int64_t)INGEST_PIPELINE_MIN;
}

static const struct mapping *mapping_for(const struct ingest_config *cfg,
					 const struct adapter *ad)
{
	if (!ad->input)
		return cfg->mapping;
	if (strcmp(ad->input, "hl7v2") == 0)
		return cfg->mapping_hl7v2;
	if (strcmp(ad->input, "cda") == 0)
		return cfg->mapping_cda;
	return cfg->mapping;
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
				   "not a format izagw reads (FHIR JSON or "
				   "NDJSON, HL7 v2 XML or ER7, CDA); use "
				   "--format");
		goto out;
	}
	r.mapping = mapping_for(cfg, ad);
	r.format = ad->name;
	if (!r.mapping) {
		rc = iza_error_set(err, -IZA_ECONFIG, path, 0, NULL,
				   "no mapping loaded for %s input", ad->input);
		goto out;
	}
	rc = store_batch_begin(cfg->store, err);
	if (rc)
		goto out;
	rc = use_pipe(cfg, r.in) ? run_piped(&r, ad, err) : PIPE_CANCELLED;
	if (rc == PIPE_CANCELLED) {
		const struct adapter_sink sink = {.ctx = &r,
						  .resource = on_resource,
						  .xml_record = on_xml_record,
						  .v2_message = on_v2_message,
						  .bad = on_bad};

		rc = mapper_new(r.mapping, cfg->pseudo, cfg->refdata,
				cfg->region, cfg->today, &r.mapper);
		if (rc == 0)
			rc = ad->run(r.in, &cfg->limits, &sink, err);
		if (rc == 0 && r.qfile && fflush(r.qfile) != 0)
			rc =
			    iza_error_set(err, -IZA_EIO, cfg->quarantine_dir, 0,
					  NULL, "cannot write quarantine file");
	}
	progress(&r, true);
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

	if (!a->quarantine_file[0])
		memcpy(a->quarantine_file, b->quarantine_file,
		       sizeof(a->quarantine_file));
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
