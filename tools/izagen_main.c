/*
 * izagen - writes a synthetic, realistic FHIR R4 export of one Dutch care
 * region (a hospital and a GP practice) plus the generator's own ground truth.
 *
 * Nothing here describes a real person: every identifier, date and postcode
 * letter pair is drawn from a seeded PRNG (xoshiro256**, seeded by
 * splitmix64), so the same flags always give the same bytes.  Persons are
 * generated one at a time from their own PRNG stream and written at once, so
 * memory stays bounded for any --patients.  Lines are built with memcpy and
 * hand-written number formatting into a line buffer and written through a
 * 1 MiB output buffer per file.
 *
 * The ground truth (truth.json) is counted from the generator's own decisions
 * (which version of an encounter is final, where the patient lives, which
 * persons are one person by BSN), independent of the gateway's code.  See
 * docs/demo-data.md for the model and the rules.
 */
#include <errno.h>
#include <inttypes.h>
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

#define MAX_PATIENTS	   9000000L /* BSN space: 9,000,000 7-digit prefixes */
#define MAX_BAD		   100000L
#define MAX_YEARS	   20
#define MAX_MONTHS	   (MAX_YEARS * 12)
#define MAX_QUARTERS	   (MAX_YEARS * 4 + 1)
#define MAX_ENC_PER_SOURCE 1024 /* per person and source; more are dropped */
#define LINE_CAP	   4096
#define OUT_BUF_CAP	   (1u << 20)
#define DELAY_CAP	   8192
#define PATH_CAP	   4096
#define PC4_CAP		   10000
#define DAY_MARGIN	   40 /* days after --to that stays may reach */
#define NO_TIME		   INT64_MIN

static const char HOSPITAL_AGB[] = "06010713";
static const char GP_AGB[] = "01058123";
static const char MRN_SYSTEM[] = "urn:oid:2.16.528.1.1007.3.3.21347";

/* ---------------------------------------------------------------- PRNG */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Independent stream `stream` of generator `seed`. */
static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed;
	uint64_t h = splitmix64(&x);
	int i;

	x = h ^ (stream * 0xd1342543de82ef95ULL);
	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static inline double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n). */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline int rng_range(struct rng *r, int lo, int hi)
{
	return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

static inline int rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

static double rng_gauss(struct rng *r)
{
	double u1 = 1.0 - rng_unit(r);
	double u2 = rng_unit(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int rng_poisson(struct rng *r, double lambda)
{
	double l, p;
	int k;

	if (lambda <= 0)
		return 0;
	if (lambda > 40) {
		double v = lambda + sqrt(lambda) * rng_gauss(r) + 0.5;

		return v < 0 ? 0 : (int)v;
	}
	l = exp(-lambda);
	p = 1.0;
	k = 0;
	do {
		k++;
		p *= rng_unit(r);
	} while (p > l);
	return k - 1;
}

/* Index into cumulative weights w[0..n) (w[n-1] is the total). */
static int rng_pick(struct rng *r, const double *cum, int n)
{
	double u = rng_unit(r) * cum[n - 1];
	int lo = 0, hi = n - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (cum[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* A bijection on 32 bits: distinct counters give distinct opaque ids. */
static uint32_t mix32(uint32_t x, uint32_t key)
{
	x ^= key;
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* ---------------------------------------------------------- line buffer */

struct line {
	size_t n;
	int overflow;
	char b[LINE_CAP];
};

static inline void put(struct line *l, const char *s, size_t n)
{
	if (l->n + n > LINE_CAP) {
		l->overflow = 1;
		return;
	}
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

#define PUTS(l, lit) put((l), (lit), sizeof(lit) - 1)

static void put_cstr(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* A JSON string body with the escaping JSON needs. */
static void put_json_text(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};

		if (*p == '"' || *p == '\\') {
			esc[1] = (char)*p;
			put(l, esc, 2);
		} else if (*p < 0x20) {
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			put(l, esc, 6);
		} else {
			put(l, (const char *)p, 1);
		}
	}
}

static void put_uint(struct line *l, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(l, tmp + i, sizeof(tmp) - (size_t)i);
}

static void put_pad(struct line *l, unsigned v, int width)
{
	char tmp[12];
	int i;

	for (i = width - 1; i >= 0; i--) {
		tmp[i] = (char)('0' + v % 10);
		v /= 10;
	}
	put(l, tmp, (size_t)width);
}

static void put_hex32(struct line *l, uint32_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[8];
	int i;

	for (i = digits - 1; i >= 0; i--) {
		tmp[i] = hex[v & 15];
		v >>= 4;
	}
	put(l, tmp, (size_t)digits);
}

static int64_t floor_div64(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static void put_date(struct line *l, int64_t day)
{
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	put_pad(l, (unsigned)y, 4);
	PUTS(l, "-");
	put_pad(l, (unsigned)m, 2);
	PUTS(l, "-");
	put_pad(l, (unsigned)d, 2);
}

static void put_clock(struct line *l, int64_t secs_of_day)
{
	put_pad(l, (unsigned)(secs_of_day / 3600), 2);
	PUTS(l, ":");
	put_pad(l, (unsigned)(secs_of_day / 60 % 60), 2);
	PUTS(l, ":");
	put_pad(l, (unsigned)(secs_of_day % 60), 2);
}

/* Amsterdam local time with its offset: 2025-01-03T14:05:00+01:00 */
static void put_local_dt(struct line *l, int64_t t)
{
	int off = ams_offset_at_utc(t);
	int64_t lt = t + off;
	int64_t day = floor_div64(lt, 86400);

	put_date(l, day);
	PUTS(l, "T");
	put_clock(l, lt - day * 86400);
	if (off == 7200)
		PUTS(l, "+02:00");
	else
		PUTS(l, "+01:00");
}

/* An instant in UTC: 2025-01-03T16:52:11Z */
static void put_utc_dt(struct line *l, int64_t t)
{
	int64_t day = floor_div64(t, 86400);

	put_date(l, day);
	PUTS(l, "T");
	put_clock(l, t - day * 86400);
	PUTS(l, "Z");
}

/* ------------------------------------------------------------- outputs */

struct out {
	FILE *f;
	char path[PATH_CAP];
	char *buf;
	size_t len;
	uint64_t bytes;
	long lines;
};

static int out_open(struct out *o, const char *dir, const char *name)
{
	int n = snprintf(o->path, sizeof(o->path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(o->path))
		return -IZA_ETOOBIG;
	o->buf = malloc(OUT_BUF_CAP);
	if (!o->buf)
		return -IZA_ENOMEM;
	o->f = fopen(o->path, "wb");
	if (!o->f)
		return -IZA_EIO;
	return 0;
}

static int out_flush(struct out *o)
{
	if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
		return -IZA_EIO;
	o->len = 0;
	return 0;
}

/* Appends one line (bytes s[0..n) and a newline). */
static int out_line(struct out *o, const char *s, size_t n)
{
	int rc;

	if (o->len + n + 1 > OUT_BUF_CAP) {
		rc = out_flush(o);
		if (rc)
			return rc;
	}
	memcpy(o->buf + o->len, s, n);
	o->buf[o->len + n] = '\n';
	o->len += n + 1;
	o->bytes += n + 1;
	o->lines++;
	return 0;
}

static int out_put(struct out *o, const struct line *l)
{
	if (l->overflow)
		return -IZA_ETOOBIG;
	return out_line(o, l->b, l->n);
}

/* Flushes and closes; returns the first error.  Accepts a never-opened o. */
static int out_close(struct out *o)
{
	int rc = 0;

	if (o->f) {
		rc = out_flush(o);
		if (fclose(o->f) != 0 && !rc)
			rc = -IZA_EIO;
		o->f = NULL;
	}
	free(o->buf);
	o->buf = NULL;
	return rc;
}

/* Lines written later in the same file (resends, late duplicates). */
struct delayed {
	uint64_t release; /* person index at which it is written */
	size_t len;
	char *data;
};

struct delayq {
	struct delayed items[DELAY_CAP];
	size_t head, count;
};

static int delayq_pop(struct delayq *q, struct out *o)
{
	struct delayed *d = &q->items[q->head];
	int rc = out_line(o, d->data, d->len);

	free(d->data);
	d->data = NULL;
	q->head = (q->head + 1) % DELAY_CAP;
	q->count--;
	return rc;
}

static int delayq_push(struct delayq *q, struct out *o, uint64_t release,
		       const struct line *l)
{
	struct delayed *d;
	int rc;

	if (l->overflow)
		return -IZA_ETOOBIG;
	if (q->count == DELAY_CAP) {
		rc = delayq_pop(q, o);
		if (rc)
			return rc;
	}
	d = &q->items[(q->head + q->count) % DELAY_CAP];
	d->data = malloc(l->n);
	if (!d->data)
		return -IZA_ENOMEM;
	memcpy(d->data, l->b, l->n);
	d->len = l->n;
	d->release = release;
	q->count++;
	return 0;
}

/* Writes the lines due at person `now` (all with now == UINT64_MAX). */
static int delayq_release(struct delayq *q, struct out *o, uint64_t now)
{
	int rc;

	while (q->count && q->items[q->head].release <= now) {
		rc = delayq_pop(q, o);
		if (rc)
			return rc;
	}
	return 0;
}

static void delayq_release_memory(struct delayq *q)
{
	while (q->count) {
		free(q->items[q->head].data);
		q->head = (q->head + 1) % DELAY_CAP;
		q->count--;
	}
}

/* ------------------------------------------------------------- the model */

enum ekind {
	K_ER,
	K_ER_IMP, /* ER visit that became an admission */
	K_IMP,	  /* elective admission */
	K_SS,	  /* day admission */
	K_OUT,	  /* outpatient visit at the hospital */
	K_OUT_VR, /* outpatient visit by video */
	K_OUT_HOME,
	K_GP_AMB,
	K_GP_HOME,
	K_GP_PHONE,
	K_GP_VIDEO,
	K_GP_MSG,
	K_COUNT_
};

static const char *const actcode[K_COUNT_] = {"EMER", "IMP", "IMP", "SS",
					      "AMB",  "VR",  "HH",  "AMB",
					      "HH",   "VR",  "VR",  "VR"};
static const char *const zibcode[K_COUNT_] = {
    "SEH",	    "Klinisch", "Klinisch", "Dagopname",
    "Poliklinisch", "Virtueel", "Thuis"};

enum estatus { ST_FINISHED, ST_IN_PROGRESS, ST_CANCELLED };
static const char *const status_name[] = {"finished", "in-progress",
					  "cancelled"};

enum ecorr { CORR_NONE, CORR_ERROR, CORR_END };
enum edup { DUP_NONE, DUP_NOW, DUP_LATER };

struct enc {
	int64_t start, mid, end; /* UTC; mid: EMER -> IMP; end NO_TIME: open */
	int64_t updated;	 /* lastUpdated of version 1 */
	int64_t updated2;	 /* lastUpdated of the resend */
	int32_t corr_secs;	 /* end shift of a CORR_END resend */
	uint8_t kind, rec, status, corr, dup, zib;
};

enum addr_kind { ADDR_REGION, ADDR_OTHER, ADDR_FOREIGN, ADDR_NONE };

struct addr {
	int kind;
	int pc4;
	char letters[2];
	int spaced;
	int foreign;
};

struct prec { /* one Patient record at one source */
	char id[40];
	int bsn_kind; /* 0 valid, 1 invalid (fails the 11-test), 2 none */
	char bsn[10];
	struct addr addr;
	int mrn;
	int slot; /* identity slot for distinct-person counting */
	int64_t updated;
};

struct person {
	uint64_t idx;
	int age;
	int sex; /* 0 female, 1 male, 2 other, 3 unknown */
	int64_t birth_day;
	double frail;
	char bsn[10];
	struct addr home, gp_home;
};

enum bad_kind {
	BAD_TRUNCATED,
	BAD_NO_SUBJECT,
	BAD_CLASS,
	BAD_DATE,
	BAD_UTF8,
	BAD_COUNT_
};
static const char *const bad_name[BAD_COUNT_] = {
    "truncated_json", "missing_subject", "unknown_class", "impossible_date",
    "invalid_utf8"};

struct bad_rec {
	long line;
	int kind;
};

struct source {
	const char *name; /* "hospital", "gp" */
	const char *agb;
	int uuid_ids; /* the GP system uses UUIDs, the hospital short ids */
	char pid_prefix[4], eid_prefix[4];
	uint32_t pkey, ekey, ukey;
	struct out pat, enc;
	struct delayq *q;
	uint32_t pat_ctr, enc_ctr;
	char last_pid[40];
	long patients, encounters, duplicates, corrections, cancelled,
	    in_progress, zib_coded, dropped;
	long corr_kind[3];
	struct bad_rec *bad;
	long nbad;
	long bad_kind[BAD_COUNT_];
};

struct counts {
	long er_visits, er_patients, gp_total, gp_digital, admissions,
	    day_admissions, outpatient;
};

struct opts {
	const char *out, *region, *mappings;
	long patients, bad;
	uint64_t seed;
	int64_t from_day, to_day;
	char from[11], to[11];
	int quiet;
};

struct gen {
	struct opts o;
	int ndays; /* days in [from, to] */
	int64_t *midnight;
	int64_t export_at; /* local midnight after --to, as UTC */
	double *cum_gp, *cum_er, *cum_el;
	int y0, m0, nmonths, nquarters, nyears;
	int *pc4_region, *pc4_other;
	long n_region, n_other;
	uint64_t bsn_a, bsn_b;
	struct source hosp, gp;
	struct counts months[MAX_MONTHS], quarters[MAX_QUARTERS],
	    years[MAX_YEARS + 1];
	uint64_t mark_m[3][MAX_MONTHS], mark_q[3][MAX_QUARTERS],
	    mark_y[3][MAX_YEARS + 1];
	uint64_t now;	    /* index of the person being generated */
	int refdata_failed; /* for the --mappings hint */
	long persons_gp_only, persons_hosp_only, persons_both, hosp_dup_records;
	struct enc ebuf[MAX_ENC_PER_SOURCE];
};

/* ------------------------------------------------------- person details */

static void make_bsn(const struct gen *g, uint64_t idx, char out[10])
{
	uint64_t p = 1000000 + (g->bsn_a * idx + g->bsn_b) % 9000000;
	int d[9], i, s = 0, d8;

	for (i = 6; i >= 0; i--) {
		d[i] = (int)(p % 10);
		p /= 10;
	}
	for (i = 0; i < 7; i++)
		s += (9 - i) * d[i];
	/* Exactly one d8 in 0..9 would need check digit 10; skip it. */
	for (d8 = (int)(idx % 10);; d8 = (d8 + 1) % 10) {
		if ((s + 2 * d8) % 11 != 10)
			break;
	}
	d[7] = d8;
	d[8] = (s + 2 * d8) % 11;
	for (i = 0; i < 9; i++)
		out[i] = (char)('0' + d[i]);
	out[9] = 0;
}

static void draw_addr(const struct gen *g, struct rng *r, struct addr *a)
{
	static const char letters[] = "ABCDEGHJKLMNPRSTVWXZ";
	double u = rng_unit(r);

	memset(a, 0, sizeof(*a));
	if (u < 0.90)
		a->kind = ADDR_REGION;
	else if (u < 0.98)
		a->kind = ADDR_OTHER;
	else if (u < 0.99)
		a->kind = ADDR_FOREIGN;
	else
		a->kind = ADDR_NONE;
	if (a->kind == ADDR_REGION)
		a->pc4 = g->pc4_region[rng_below(r, (uint32_t)g->n_region)];
	else if (a->kind == ADDR_OTHER)
		a->pc4 = g->pc4_other[rng_below(r, (uint32_t)g->n_other)];
	else if (a->kind == ADDR_FOREIGN)
		a->foreign = (int)rng_below(r, 4);
	do {
		a->letters[0] = letters[rng_below(r, 20)];
		a->letters[1] = letters[rng_below(r, 20)];
	} while (a->letters[0] == 'S' &&
		 (a->letters[1] == 'A' || a->letters[1] == 'D' ||
		  a->letters[1] == 'S'));
	a->spaced = rng_chance(r, 0.8);
}

static void draw_person(const struct gen *g, struct rng *r, uint64_t idx,
			struct person *p)
{
	double u = rng_unit(r), z;

	p->idx = idx;
	if (u < 0.20)
		p->age = rng_range(r, 0, 17);
	else if (u < 0.80)
		p->age = rng_range(r, 18, 64);
	else {
		p->age = 65 + (int)(-log(1.0 - rng_unit(r)) * 10.0);
		if (p->age > 104)
			p->age = 104;
	}
	p->birth_day = g->o.from_day - (int64_t)p->age * 36525 / 100 -
		       rng_range(r, 0, 364);
	u = rng_unit(r);
	p->sex = u < 0.495 ? 0 : u < 0.99 ? 1 : u < 0.995 ? 2 : 3;
	z = rng_gauss(r);
	p->frail = exp(0.7 * z - 0.245);
	make_bsn(g, idx, p->bsn);
	draw_addr(g, r, &p->home);
	p->gp_home = p->home;
	if (rng_chance(r, 0.015)) /* moved: the GP has the new address */
		draw_addr(g, r, &p->gp_home);
}

static void make_record(struct source *s, struct rng *r, const struct person *p,
			const struct addr *a, struct prec *rec)
{
	uint32_t id = mix32(s->pat_ctr++, s->pkey);
	struct line l;
	double u = rng_unit(r);

	l.n = 0;
	l.overflow = 0;
	if (s->uuid_ids) {
		uint32_t w2 = mix32(id, s->ukey), w3 = mix32(w2, s->ukey + 1);

		put_hex32(&l, id, 8);
		PUTS(&l, "-");
		put_hex32(&l, w2 >> 16, 4);
		PUTS(&l, "-4");
		put_hex32(&l, w2 & 0xfff, 3);
		PUTS(&l, "-");
		put_hex32(&l, 0x8000 | (w3 >> 20 & 0x3fff), 4);
		PUTS(&l, "-");
		put_hex32(&l, w3 & 0xfffff, 5);
		put_hex32(&l, mix32(w3, s->ukey + 2) & 0xfffffff, 7);
	} else {
		put_cstr(&l, s->pid_prefix);
		put_hex32(&l, id, 8);
	}
	memcpy(rec->id, l.b, l.n);
	rec->id[l.n] = 0;
	memcpy(rec->bsn, p->bsn, sizeof(rec->bsn));
	if (u < 0.94) {
		rec->bsn_kind = 0;
	} else if (u < 0.97) {
		rec->bsn_kind = 1;
		rec->bsn[8] =
		    (char)('0' + (rec->bsn[8] - '0' + rng_range(r, 1, 9)) % 10);
	} else {
		rec->bsn_kind = 2;
	}
	rec->addr = *a;
	rec->mrn = (int)(s->pat_ctr + 100000);
	rec->updated = 0;
}

static void put_postcode(struct line *l, const struct addr *a)
{
	static const char *const foreign[4][3] = {{"B-2018", "BE", "Antwerpen"},
						  {"D-47533", "DE", "Kleve"},
						  {"F-75011", "FR", "Paris"},
						  {"SW1A 2AA", "GB", "London"}};

	if (a->kind == ADDR_NONE)
		return;
	PUTS(l, ",\"address\":[{\"use\":\"home\",\"postalCode\":\"");
	if (a->kind == ADDR_FOREIGN) {
		put_cstr(l, foreign[a->foreign][0]);
		PUTS(l, "\",\"city\":\"");
		put_json_text(l, foreign[a->foreign][2]);
		PUTS(l, "\",\"country\":\"");
		put_cstr(l, foreign[a->foreign][1]);
		PUTS(l, "\"}]");
		return;
	}
	put_pad(l, (unsigned)a->pc4, 4);
	if (a->spaced)
		PUTS(l, " ");
	put(l, a->letters, 2);
	PUTS(l, "\",\"country\":\"NL\"}]");
}

static int write_patient(struct source *s, const struct person *p,
			 const struct prec *rec)
{
	static const char *const gender[] = {"female", "male", "other",
					     "unknown"};
	struct line l;
	int first = 1;

	l.n = 0;
	l.overflow = 0;
	PUTS(&l, "{\"resourceType\":\"Patient\",\"id\":\"");
	put_cstr(&l, rec->id);
	PUTS(&l, "\",\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"");
	put_utc_dt(&l, rec->updated);
	PUTS(&l, "\",\"profile\":[\"http://nictiz.nl/fhir/StructureDefinition/"
		 "nl-core-Patient\"]}");
	if (rec->bsn_kind != 2 || !s->uuid_ids)
		PUTS(&l, ",\"identifier\":[");
	if (rec->bsn_kind != 2) {
		PUTS(&l, "{\"system\":\"http://fhir.nl/fhir/NamingSystem/bsn\","
			 "\"value\":\"");
		put(&l, rec->bsn, 9);
		PUTS(&l, "\"}");
		first = 0;
	}
	if (!s->uuid_ids) {
		if (!first)
			PUTS(&l, ",");
		PUTS(&l, "{\"system\":\"");
		put_cstr(&l, MRN_SYSTEM);
		PUTS(&l, "\",\"value\":\"");
		put_pad(&l, (unsigned)rec->mrn, 8);
		PUTS(&l, "\"}");
	}
	if (rec->bsn_kind != 2 || !s->uuid_ids)
		PUTS(&l, "]");
	PUTS(&l, ",\"gender\":\"");
	put_cstr(&l, gender[p->sex]);
	PUTS(&l, "\",\"birthDate\":\"");
	put_date(&l, p->birth_day);
	PUTS(&l, "\"");
	put_postcode(&l, &rec->addr);
	PUTS(&l, "}");
	s->patients++;
	memcpy(s->last_pid, rec->id, sizeof(s->last_pid));
	return out_put(&s->pat, &l);
}

/* ------------------------------------------------------ day/time model */

static double season(int64_t day, double amplitude)
{
	int y, m, d;
	int64_t doy;

	civil_from_days(day, &y, &m, &d);
	doy = day - days_from_civil(y, 1, 1);
	/* Peak in late January, trough in late July. */
	return 1.0 +
	       amplitude * cos(6.283185307179586 * (double)(doy - 25) / 365.25);
}

static int weekday_of(int64_t day) /* 0 = Sunday */
{
	return (int)(day + 4 - floor_div64(day + 4, 7) * 7);
}

static int build_day_tables(struct gen *g)
{
	static const double gp_dow[7] = {0.06, 1.2, 1.0, 1.0, 1.0, 1.0, 0.1};
	static const double er_dow[7] = {1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1};
	double tg = 0, te = 0, tl = 0;
	int i;

	g->cum_gp = malloc(sizeof(double) * (size_t)g->ndays);
	g->cum_er = malloc(sizeof(double) * (size_t)g->ndays);
	g->cum_el = malloc(sizeof(double) * (size_t)g->ndays);
	g->midnight = malloc(sizeof(int64_t) * (size_t)(g->ndays + DAY_MARGIN));
	if (!g->cum_gp || !g->cum_er || !g->cum_el || !g->midnight)
		return -IZA_ENOMEM;
	for (i = 0; i < g->ndays + DAY_MARGIN; i++) {
		int y, m, d;

		civil_from_days(g->o.from_day + i, &y, &m, &d);
		g->midnight[i] = ams_local_to_utc(y, m, d, 0, 0, 0);
	}
	g->export_at = g->midnight[g->ndays];
	for (i = 0; i < g->ndays; i++) {
		int64_t day = g->o.from_day + i;
		int w = weekday_of(day), y, m, d;
		double el = w == 0 || w == 6 ? 0.03 : 1.0;

		civil_from_days(day, &y, &m, &d);
		if ((m == 7 && d >= 15) || (m == 8 && d <= 20))
			el *= 0.7; /* summer holidays */
		if (m == 12 && d >= 24)
			el *= 0.5;
		tg += season(day, 0.2) * gp_dow[w];
		te += season(day, 0.2) * er_dow[w];
		tl += season(day, 0.08) * el;
		g->cum_gp[i] = tg;
		g->cum_er[i] = te;
		g->cum_el[i] = tl;
	}
	return 0;
}

static int64_t local_day_index(const struct gen *g, int64_t t)
{
	int64_t lt = t + ams_offset_at_utc(t);

	return floor_div64(lt, 86400) - g->o.from_day;
}

/* Month index of the local date of t, -1 outside the range. */
static int month_index(const struct gen *g, int64_t t)
{
	int64_t lt = t + ams_offset_at_utc(t);
	int y, m, d, mi;
	int64_t day = floor_div64(lt, 86400);

	if (day < g->o.from_day || day > g->o.to_day)
		return -1;
	civil_from_days(day, &y, &m, &d);
	mi = (y - g->y0) * 12 + (m - g->m0);
	return mi;
}

static int64_t at(const struct gen *g, int day, int minutes)
{
	return g->midnight[day] + (int64_t)minutes * 60;
}

static int draw_los(struct rng *r)
{
	static const double cum[10] = {0.25, 0.45, 0.60, 0.71, 0.80,
				       0.87, 0.92, 0.96, 0.98, 1.0};

	return 1 + rng_pick(r, cum, 10);
}

/* Discharge `nights` local days after the local day of t, 10:00-15:59. */
static int64_t discharge_after(const struct gen *g, struct rng *r, int64_t t,
			       int nights)
{
	int64_t day = local_day_index(g, t) + nights;

	if (day >= g->ndays + DAY_MARGIN)
		day = g->ndays + DAY_MARGIN - 1;
	return at(g, (int)day, rng_range(r, 600, 959));
}

static double share_at(const struct gen *g, int day, double first, double last)
{
	int mi = month_index(g, g->midnight[day] + 43200);

	if (g->nmonths <= 1 || mi < 0)
		return first;
	return first + (last - first) * mi / (g->nmonths - 1);
}

static void er_times(const struct gen *g, struct rng *r, struct enc *e)
{
	static const double hour_w[24] = {0.45, 0.35, 0.3,  0.25, 0.22, 0.25,
					  0.35, 0.55, 0.8,  1.0,  1.1,	1.15,
					  1.1,	1.1,  1.15, 1.2,  1.3,	1.45,
					  1.6,	1.65, 1.6,  1.4,  1.1,	0.75};
	static double cum[24];
	int day = rng_pick(r, g->cum_er, g->ndays), h, i;

	if (cum[23] == 0) {
		double t = 0;

		for (i = 0; i < 24; i++) {
			t += hour_w[i];
			cum[i] = t;
		}
	}
	h = rng_pick(r, cum, 24);
	/* Minutes 1..59: never exactly on a local midnight. */
	e->start = at(g, day, h * 60 + rng_range(r, 1, 59));
	e->end =
	    e->start +
	    (int64_t)(60 + rng_range(r, 0, 150) + rng_range(r, 0, 150)) * 60;
}

/* The next free slot of the person's encounter buffer, NULL when full. */
static struct enc *next_enc(struct gen *g, struct source *s, struct rng *r,
			    int nrec, int *n)
{
	struct enc *e;

	if (*n == MAX_ENC_PER_SOURCE) {
		s->dropped++;
		return NULL;
	}
	e = &g->ebuf[(*n)++];
	memset(e, 0, sizeof(*e));
	e->rec = (uint8_t)(nrec > 1 && rng_chance(r, 0.3) ? 1 : 0);
	return e;
}

static void gen_hospital(struct gen *g, struct rng *r, const struct person *p,
			 int nrec, int *n)
{
	double years = g->ndays / 365.25;
	double er_m, adm_m, out_m, imp_p;
	int a = p->age, k, i;

	er_m = a < 5 ? 1.5 : a < 18 ? 0.8 : a < 65 ? 0.8 : a < 75 ? 1.3 : 2.5;
	adm_m = a < 18 ? 0.4 : a < 65 ? 0.7 : a < 75 ? 1.8 : 2.6;
	out_m = a < 18 ? 0.5 : a < 65 ? 0.9 : 1.6;
	imp_p = a < 18 ? 0.08 : a < 65 ? 0.12 : a < 75 ? 0.22 : 0.32;
	*n = 0;
	k = rng_poisson(r, 0.10 * er_m * p->frail * years);
	for (i = 0; i < k; i++) {
		struct enc *e;

		e = next_enc(g, &g->hosp, r, nrec, n);
		if (!e)
			continue;
		er_times(g, r, e);
		e->kind = K_ER;
		if (rng_chance(r, imp_p)) {
			e->kind = K_ER_IMP;
			e->mid = e->end;
			e->end = discharge_after(g, r, e->mid, draw_los(r));
		}
	}
	k = rng_poisson(r, 0.065 * adm_m * p->frail * years);
	for (i = 0; i < k; i++) {
		struct enc *e;
		int day = rng_pick(r, g->cum_el, g->ndays);

		e = next_enc(g, &g->hosp, r, nrec, n);
		if (!e)
			continue;
		e->kind = K_IMP;
		e->start = at(g, day, rng_range(r, 420, 659));
		e->end = discharge_after(g, r, e->start, draw_los(r));
	}
	k = rng_poisson(r, 0.06 * adm_m * p->frail * years);
	for (i = 0; i < k; i++) {
		struct enc *e;
		int day = rng_pick(r, g->cum_el, g->ndays);

		e = next_enc(g, &g->hosp, r, nrec, n);
		if (!e)
			continue;
		e->kind = K_SS;
		e->start = at(g, day, 450 + 15 * rng_range(r, 0, 12));
		e->end = e->start + (int64_t)rng_range(r, 180, 540) * 60;
	}
	/* About a third of the people are in an outpatient trajectory. */
	k = rng_chance(r, 0.35 * (out_m < 1.5 ? out_m : 1.5))
		? rng_poisson(r, 1.5 * p->frail * years)
		: 0;
	for (i = 0; i < k; i++) {
		struct enc *e;
		int day = rng_pick(r, g->cum_el, g->ndays);
		double u = rng_unit(r);

		e = next_enc(g, &g->hosp, r, nrec, n);
		if (!e)
			continue;
		if (u < 0.01) {
			e->kind = K_OUT_HOME;
			e->start = at(g, day, 540 + 10 * rng_range(r, 0, 36));
			e->end = e->start + (int64_t)rng_range(r, 30, 60) * 60;
		} else {
			e->kind = rng_chance(r, share_at(g, day, 0.04, 0.12))
				      ? K_OUT_VR
				      : K_OUT;
			e->start = at(g, day, 510 + 10 * rng_range(r, 0, 47));
			e->end =
			    e->start + (int64_t)(5 * rng_range(r, 2, 6)) * 60;
		}
	}
}

static void gen_gp(struct gen *g, struct rng *r, const struct person *p, int *n)
{
	double years = g->ndays / 365.25;
	int a = p->age, k, i;
	double m = a < 5    ? 1.3
		   : a < 18 ? 0.6
		   : a < 45 ? 0.8
		   : a < 65 ? 1.0
		   : a < 75 ? 1.5
			    : 2.2;
	double home = a < 75 ? 0.02 : 0.10;

	*n = 0;
	k = rng_poisson(r, 5.0 * m * p->frail * years);
	for (i = 0; i < k; i++) {
		struct enc *e;
		int day = rng_pick(r, g->cum_gp, g->ndays), mins;
		double dig = share_at(g, day, 0.08, 0.25), u = rng_unit(r);

		e = next_enc(g, &g->gp, r, 1, n);
		if (!e)
			continue;
		if (u < dig) {
			e->kind = rng_chance(r, 0.3) ? K_GP_VIDEO : K_GP_MSG;
		} else if (u < dig + home) {
			e->kind = K_GP_HOME;
		} else if (u < dig + home + 0.2) {
			e->kind = K_GP_PHONE;
		} else {
			e->kind = K_GP_AMB;
		}
		switch (e->kind) {
		case K_GP_MSG:
			mins = rng_range(r, 420, 1379);
			e->start = at(g, day, mins);
			e->end = e->start + (int64_t)rng_range(r, 2, 6) * 60;
			break;
		case K_GP_HOME:
			mins = 660 + 5 * rng_range(r, 0, 54);
			e->start = at(g, day, mins);
			e->end = e->start + (int64_t)rng_range(r, 20, 45) * 60;
			break;
		default:
			mins = 480 + 10 * rng_range(r, 0, 53);
			e->start = at(g, day, mins);
			e->end = e->start +
				 (int64_t)(e->kind == K_GP_PHONE
					       ? rng_range(r, 4, 10)
					       : 10 * rng_range(r, 1, 2)) *
				     60;
			break;
		}
	}
}

/* Statuses, resends and duplicates; applies to both sources. */
static void decorate(const struct gen *g, struct rng *r, struct enc *e,
		     int hospital)
{
	int admission = e->kind == K_ER_IMP || e->kind == K_IMP;

	e->status = ST_FINISHED;
	if (e->end != NO_TIME && e->end > g->export_at) {
		e->status = ST_IN_PROGRESS; /* still running at export time */
		e->end = NO_TIME;
	} else if (admission && rng_chance(r, 0.002)) {
		e->status = ST_IN_PROGRESS; /* never closed in the EPD */
		e->end = NO_TIME;
	} else if (rng_chance(r, 0.003)) {
		e->status = ST_CANCELLED;
	}
	e->updated = (e->end != NO_TIME ? e->end : e->start) +
		     rng_range(r, 300, 3 * 86400);
	if (e->status == ST_FINISHED && rng_chance(r, 0.01)) {
		e->corr = rng_chance(r, 0.5) ? CORR_ERROR : CORR_END;
		e->corr_secs = 60 * rng_range(r, 5, 90);
		e->updated2 = e->updated + rng_range(r, 3600, 45 * 86400);
	}
	if (rng_chance(r, 0.005))
		e->dup = rng_chance(r, 0.6) ? DUP_NOW : DUP_LATER;
	e->zib = (uint8_t)(hospital && rng_chance(r, 0.12));
}

static int cmp_enc(const void *a, const void *b)
{
	const struct enc *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/* --------------------------------------------------------- encounters */

static void put_class(struct line *l, int kind, int zib)
{
	if (zib) {
		PUTS(l, "{\"system\":\"urn:oid:2.16.840.1.113883.2.4.3.11.60."
			"40.4.14.1\",\"code\":\"");
		put_cstr(l, zibcode[kind]);
	} else {
		PUTS(l, "{\"system\":\"http://terminology.hl7.org/CodeSystem/"
			"v3-ActCode\",\"code\":\"");
		put_cstr(l, actcode[kind]);
	}
	PUTS(l, "\"}");
}

static void put_enc_id(struct line *l, const struct source *s, uint32_t ctr)
{
	uint32_t id = mix32(ctr, s->ekey);

	if (s->uuid_ids) {
		uint32_t w2 = mix32(id, s->ukey + 7), w3 = mix32(w2, s->ukey);

		put_hex32(l, id, 8);
		PUTS(l, "-");
		put_hex32(l, w2 >> 16, 4);
		PUTS(l, "-4");
		put_hex32(l, w2 & 0xfff, 3);
		PUTS(l, "-");
		put_hex32(l, 0x8000 | (w3 >> 20 & 0x3fff), 4);
		PUTS(l, "-");
		put_hex32(l, w3 & 0xfffff, 5);
		put_hex32(l, mix32(w3, s->ukey + 9) & 0xfffffff, 7);
	} else {
		put_cstr(l, s->eid_prefix);
		put_hex32(l, id, 8);
	}
}

static void put_type(struct line *l, int kind)
{
	switch (kind) {
	case K_GP_PHONE:
		PUTS(l, ",\"type\":[{\"coding\":[{\"system\":\"http://snomed."
			"info/sct\",\"code\":\"185317003\",\"display\":"
			"\"Telephone encounter\"}]}]");
		break;
	case K_GP_VIDEO:
	case K_OUT_VR:
		PUTS(l, ",\"type\":[{\"coding\":[{\"system\":\"http://snomed."
			"info/sct\",\"code\":\"448337001\",\"display\":"
			"\"Telemedicine consultation with patient\"}]}]");
		break;
	case K_GP_MSG:
		PUTS(l, ",\"type\":[{\"coding\":[{\"system\":\"https://"
			"iza-gateway.nl/fhir/CodeSystem/contact-channel\","
			"\"code\":\"message\",\"display\":\"E-consult\"}]}]");
		break;
	default:
		break;
	}
}

struct enc_view { /* what one line says about an encounter */
	uint32_t ctr;
	int version;
	const char *status;
	int64_t end, updated;
	const char *subject; /* NULL: no subject */
	const char *class_override;
	const char *bad_start, *bad_end, *bad_text;
};

static void build_encounter(struct line *l, const struct source *s,
			    const struct enc *e, const struct enc_view *v)
{
	l->n = 0;
	l->overflow = 0;
	PUTS(l, "{\"resourceType\":\"Encounter\",\"id\":\"");
	put_enc_id(l, s, v->ctr);
	PUTS(l, "\",\"meta\":{\"versionId\":\"");
	put_uint(l, (uint64_t)v->version);
	PUTS(l, "\",\"lastUpdated\":\"");
	put_utc_dt(l, v->updated);
	PUTS(l, "\"},\"status\":\"");
	put_cstr(l, v->status);
	PUTS(l, "\",\"class\":");
	if (v->class_override) {
		PUTS(l, "{\"system\":\"http://terminology.hl7.org/CodeSystem/"
			"v3-ActCode\",\"code\":\"");
		put_cstr(l, v->class_override);
		PUTS(l, "\"}");
	} else {
		put_class(l, e->kind, e->zib);
	}
	if (e->kind == K_ER_IMP && !v->class_override) {
		PUTS(l, ",\"classHistory\":[{\"class\":");
		put_class(l, K_ER, e->zib);
		PUTS(l, ",\"period\":{\"start\":\"");
		put_local_dt(l, e->start);
		PUTS(l, "\",\"end\":\"");
		put_local_dt(l, e->mid);
		PUTS(l, "\"}},{\"class\":");
		put_class(l, K_ER_IMP, e->zib);
		PUTS(l, ",\"period\":{\"start\":\"");
		put_local_dt(l, e->mid);
		if (v->end != NO_TIME) {
			PUTS(l, "\",\"end\":\"");
			put_local_dt(l, v->end);
		}
		PUTS(l, "\"}}]");
	}
	put_type(l, e->kind);
	if (v->bad_text) {
		PUTS(l, ",\"type\":[{\"text\":\"");
		put_cstr(l, v->bad_text); /* raw on purpose: the bad bytes */
		PUTS(l, "\"}]");
	}
	if (v->subject) {
		PUTS(l, ",\"subject\":{\"reference\":\"Patient/");
		put_cstr(l, v->subject);
		PUTS(l, "\"}");
	}
	PUTS(l, ",\"period\":{\"start\":\"");
	if (v->bad_start)
		put_cstr(l, v->bad_start);
	else
		put_local_dt(l, e->start);
	if (v->bad_end) {
		PUTS(l, "\",\"end\":\"");
		put_cstr(l, v->bad_end);
	} else if (v->end != NO_TIME) {
		PUTS(l, "\",\"end\":\"");
		put_local_dt(l, v->end);
	}
	PUTS(l, "\"},\"serviceProvider\":{\"identifier\":{\"system\":\"http://"
		"fhir.nl/fhir/NamingSystem/agb-z\",\"value\":\"");
	put_cstr(l, s->agb);
	PUTS(l, "\"}}}");
}

static void count_into(struct counts *c, int kind, int digital)
{
	switch (kind) {
	case K_ER:
		c->er_visits++;
		break;
	case K_ER_IMP:
		c->er_visits++;
		c->admissions++;
		break;
	case K_IMP:
		c->admissions++;
		break;
	case K_SS:
		c->day_admissions++;
		break;
	case K_OUT:
	case K_OUT_VR:
	case K_OUT_HOME:
		c->outpatient++;
		c->gp_total++;
		c->gp_digital += digital;
		break;
	default:
		c->gp_total++;
		c->gp_digital += digital;
		break;
	}
}

/* The truth: the final version, counted statuses, residents only. */
static void account(struct gen *g, const struct enc *e, const struct prec *rec,
		    uint64_t stamp)
{
	int mi, qi, yi, am, digital;

	if (e->status == ST_CANCELLED || e->corr == CORR_ERROR)
		return;
	if (rec->addr.kind != ADDR_REGION)
		return;
	mi = month_index(g, e->start);
	if (mi < 0)
		return;
	am = g->y0 * 12 + (g->m0 - 1) + mi;
	qi = am / 3 - (g->y0 * 12 + g->m0 - 1) / 3;
	yi = am / 12 - g->y0;
	digital =
	    e->kind == K_GP_VIDEO || e->kind == K_GP_MSG || e->kind == K_OUT_VR;
	count_into(&g->months[mi], e->kind, digital);
	count_into(&g->quarters[qi], e->kind, digital);
	count_into(&g->years[yi], e->kind, digital);
	if (e->kind != K_ER && e->kind != K_ER_IMP)
		return;
	if (g->mark_m[rec->slot][mi] != stamp) {
		g->mark_m[rec->slot][mi] = stamp;
		g->months[mi].er_patients++;
	}
	if (g->mark_q[rec->slot][qi] != stamp) {
		g->mark_q[rec->slot][qi] = stamp;
		g->quarters[qi].er_patients++;
	}
	if (g->mark_y[rec->slot][yi] != stamp) {
		g->mark_y[rec->slot][yi] = stamp;
		g->years[yi].er_patients++;
	}
}

static int emit_encounters(struct gen *g, struct source *s, struct rng *r,
			   const struct prec *recs, int n)
{
	struct line l;
	struct enc_view v;
	int i, rc;

	qsort(g->ebuf, (size_t)n, sizeof(g->ebuf[0]), cmp_enc);
	for (i = 0; i < n; i++) {
		const struct enc *e = &g->ebuf[i];

		memset(&v, 0, sizeof(v));
		v.ctr = s->enc_ctr++;
		v.version = 1;
		v.status = status_name[e->status];
		v.end = e->end;
		v.updated = e->updated;
		v.subject = recs[e->rec].id;
		build_encounter(&l, s, e, &v);
		rc = out_put(&s->enc, &l);
		if (rc)
			return rc;
		s->encounters++;
		s->cancelled += e->status == ST_CANCELLED;
		s->in_progress += e->status == ST_IN_PROGRESS;
		s->zib_coded += e->zib;
		if (e->dup == DUP_NOW) {
			rc = out_put(&s->enc, &l);
			s->duplicates++;
		} else if (e->dup == DUP_LATER) {
			rc = delayq_push(
			    s->q, &s->enc,
			    g->now + (uint64_t)rng_range(r, 5, 400), &l);
			s->duplicates++;
		}
		if (rc)
			return rc;
		if (e->corr != CORR_NONE) {
			v.version = 2;
			v.updated = e->updated2;
			if (e->corr == CORR_ERROR)
				v.status = "entered-in-error";
			else
				v.end = e->end + e->corr_secs;
			build_encounter(&l, s, e, &v);
			rc = delayq_push(
			    s->q, &s->enc,
			    g->now + (uint64_t)rng_range(r, 1, 300), &l);
			if (rc)
				return rc;
			s->corrections++;
			s->corr_kind[e->corr]++;
		}
	}
	return 0;
}

/* One deliberately malformed Encounter line of kind `kind`. */
static int emit_bad(struct gen *g, struct source *s, long i)
{
	struct rng r;
	struct enc e;
	struct enc_view v;
	struct line l;
	int kind = (int)(i % BAD_COUNT_), y, m, d;
	char bad_start[32], bad_end[32];
	int day;

	rng_seed(&r, g->o.seed,
		 0x8000000000000000ULL + (uint64_t)i * 2 + (s == &g->gp));
	memset(&e, 0, sizeof(e));
	er_times(g, &r, &e);
	e.kind = K_ER;
	e.updated = e.end + 3600;
	memset(&v, 0, sizeof(v));
	v.ctr = s->enc_ctr++;
	v.version = 1;
	v.status = "finished";
	v.end = e.end;
	v.updated = e.updated;
	v.subject = s->last_pid[0] ? s->last_pid : "unknown";
	switch (kind) {
	case BAD_NO_SUBJECT:
		v.subject = NULL;
		break;
	case BAD_CLASS:
		v.class_override = "XYZ";
		break;
	case BAD_DATE:
		day = (int)local_day_index(g, e.start);
		civil_from_days(g->o.from_day + day, &y, &m, &d);
		snprintf(bad_start, sizeof(bad_start),
			 "%04d-02-30T10:00:00+01:00", y);
		snprintf(bad_end, sizeof(bad_end), "%04d-02-30T13:30:00+01:00",
			 y);
		v.bad_start = bad_start;
		v.bad_end = bad_end;
		break;
	case BAD_UTF8:
		v.bad_text = "Spoedeisende hulp \xc3\x28 triage";
		break;
	default:
		break;
	}
	build_encounter(&l, s, &e, &v);
	if (kind == BAD_TRUNCATED)
		l.n = l.n * 3 / 5;
	s->bad[s->nbad].line = s->enc.lines + 1;
	s->bad[s->nbad].kind = kind;
	s->nbad++;
	s->bad_kind[kind]++;
	return out_put(&s->enc, &l);
}

static int emit_due_bad(struct gen *g, struct source *s, uint64_t person)
{
	int rc;

	while (s->nbad < g->o.bad) {
		uint64_t due =
		    ((uint64_t)(2 * s->nbad + 1) * (uint64_t)g->o.patients) /
		    (uint64_t)(2 * g->o.bad);

		if (due > person)
			break;
		rc = emit_bad(g, s, s->nbad);
		if (rc)
			return rc;
	}
	return 0;
}

static int gen_person(struct gen *g, uint64_t idx)
{
	struct rng r;
	struct person p;
	struct prec hrec[2], grec;
	int at_gp, nh = 0, nrec = 0, ng = 0, i, rc;
	int64_t updated;

	rng_seed(&r, g->o.seed, idx + 1);
	draw_person(g, &r, idx, &p);
	at_gp = rng_chance(&r, 0.95);
	updated = g->midnight[0] - rng_range(&r, 86400, 1500 * 86400);

	/* Hospital: records are decided before the encounters are drawn. */
	nrec = rng_chance(&r, 0.005) ? 2 : 1;
	gen_hospital(g, &r, &p, nrec, &nh);
	if (nh > 0 || !at_gp || rng_chance(&r, 0.10)) {
		for (i = 0; i < nrec; i++) {
			make_record(&g->hosp, &r, &p, &p.home, &hrec[i]);
			hrec[i].slot = hrec[i].bsn_kind == 0 ? 0 : 1 + i;
			hrec[i].updated = updated + rng_range(&r, 0, 86400);
			rc = write_patient(&g->hosp, &p, &hrec[i]);
			if (rc)
				return rc;
		}
		g->hosp_dup_records += nrec - 1;
		for (i = 0; i < nh; i++) {
			decorate(g, &r, &g->ebuf[i], 1);
			account(g, &g->ebuf[i], &hrec[g->ebuf[i].rec], idx + 1);
		}
		rc = emit_encounters(g, &g->hosp, &r, hrec, nh);
		if (rc)
			return rc;
		if (at_gp)
			g->persons_both++;
		else
			g->persons_hosp_only++;
	} else {
		g->persons_gp_only++;
	}
	if (!at_gp)
		return 0;
	make_record(&g->gp, &r, &p, &p.gp_home, &grec);
	grec.slot = grec.bsn_kind == 0 ? 0 : 2;
	grec.updated = updated + rng_range(&r, 0, 300 * 86400);
	rc = write_patient(&g->gp, &p, &grec);
	if (rc)
		return rc;
	gen_gp(g, &r, &p, &ng);
	for (i = 0; i < ng; i++) {
		decorate(g, &r, &g->ebuf[i], 0);
		account(g, &g->ebuf[i], &grec, idx + 1);
	}
	return emit_encounters(g, &g->gp, &r, &grec, ng);
}

/* ------------------------------------------------------------- region */

static int load_region(struct gen *g, struct iza_error *err)
{
	struct refdata *rd = NULL;
	char dir[PATH_CAP];
	unsigned char *flag = NULL; /* 1 in region at both ends, 2 at either */
	int *tmp = NULL, n, rc, code, p;
	long k, i;
	int dist[PC4_CAP];

	n = snprintf(dir, sizeof(dir), "%s/regions", g->o.mappings);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return iza_error_set(err, -IZA_ETOOBIG, NULL, 0, "--mappings",
				     "path too long");
	rc = refdata_load(dir, &rd, err);
	if (rc) {
		g->refdata_failed = 1;
		return rc;
	}
	if (!refdata_region_name(rd, g->o.region)) {
		rc = iza_error_set(err, -IZA_ENOTFOUND, dir, 0, "--region",
				   "unknown zorgkantoorregio %s", g->o.region);
		goto out;
	}
	flag = calloc(PC4_CAP, 1);
	tmp = malloc(sizeof(int) * PC4_CAP);
	g->pc4_region = malloc(sizeof(int) * PC4_CAP);
	g->pc4_other = malloc(sizeof(int) * PC4_CAP);
	if (!flag || !tmp || !g->pc4_region || !g->pc4_other) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	/* In the region on the first and on the last day: 1 (both) 2 (one). */
	k = refdata_region_pc4s(rd, g->o.region, g->o.from_day, tmp, PC4_CAP);
	for (i = 0; i < k && i < PC4_CAP; i++)
		flag[tmp[i] % PC4_CAP] = 3;
	k = refdata_region_pc4s(rd, g->o.region, g->o.to_day, tmp, PC4_CAP);
	if (k < 0) {
		rc = (int)k;
		goto out;
	}
	for (i = 0; i < k && i < PC4_CAP; i++)
		flag[tmp[i] % PC4_CAP] = flag[tmp[i] % PC4_CAP] == 3 ? 1 : 2;
	g->n_region = 0;
	for (p = 0; p < PC4_CAP; p++) {
		if (flag[p] == 3)
			flag[p] = 2;
		if (flag[p] == 1)
			g->pc4_region[g->n_region++] = p;
	}
	if (g->n_region == 0) {
		rc = iza_error_set(err, -IZA_ENOTFOUND, dir, 0, "--region",
				   "region %s has no PC4 areas", g->o.region);
		goto out;
	}
	/* Distance of every PC4 number to the nearest one in the region:
	 * Dutch PC4 numbers are geographic, so near numbers are neighbours. */
	for (p = 0; p < PC4_CAP; p++)
		dist[p] = flag[p] == 1 ? 0 : PC4_CAP;
	for (p = 1; p < PC4_CAP; p++)
		if (dist[p - 1] + 1 < dist[p])
			dist[p] = dist[p - 1] + 1;
	for (p = PC4_CAP - 2; p >= 0; p--)
		if (dist[p + 1] + 1 < dist[p])
			dist[p] = dist[p + 1] + 1;
	for (code = 1; code <= 99; code++) {
		char other[8] = {'Z', 'K', (char)('0' + code / 10),
				 (char)('0' + code % 10), 0};

		if (strcmp(other, g->o.region) == 0 ||
		    !refdata_region_name(rd, other))
			continue;
		k = refdata_region_pc4s(rd, other, g->o.from_day, tmp, PC4_CAP);
		for (i = 0; i < k && i < PC4_CAP; i++)
			if (flag[tmp[i] % PC4_CAP] == 0)
				flag[tmp[i] % PC4_CAP] = 4;
	}
	for (n = 60; n < PC4_CAP; n *= 2) {
		g->n_other = 0;
		for (p = 0; p < PC4_CAP; p++)
			if (flag[p] == 4 && dist[p] <= n)
				g->pc4_other[g->n_other++] = p;
		if (g->n_other >= 30)
			break;
	}
	if (g->n_other == 0) {
		rc = iza_error_set(err, -IZA_ENOTFOUND, dir, 0, "--region",
				   "no PC4 areas outside region %s",
				   g->o.region);
		goto out;
	}
	rc = 0;
out:
	free(flag);
	free(tmp);
	refdata_free(rd);
	return rc;
}

/* --------------------------------------------------------------- truth */

static json_t *counts_json(const struct counts *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "er_visits", json_integer(c->er_visits));
	json_object_set_new(o, "er_patients", json_integer(c->er_patients));
	json_object_set_new(o, "gp_contacts_total", json_integer(c->gp_total));
	json_object_set_new(o, "gp_contacts_digital",
			    json_integer(c->gp_digital));
	json_object_set_new(o, "admissions", json_integer(c->admissions));
	json_object_set_new(o, "day_admissions",
			    json_integer(c->day_admissions));
	json_object_set_new(o, "outpatient_contacts",
			    json_integer(c->outpatient));
	return o;
}

static json_t *source_json(const struct source *s)
{
	json_t *o = json_object(), *bad = json_array(), *kinds = json_object();
	json_t *corr = json_object();
	long i;
	int k;

	if (!o || !bad || !kinds || !corr) {
		json_decref(o);
		json_decref(bad);
		json_decref(kinds);
		json_decref(corr);
		return NULL;
	}
	json_object_set_new(o, "agb", json_string(s->agb));
	json_object_set_new(o, "patients", json_integer(s->patients));
	json_object_set_new(o, "patient_lines", json_integer(s->pat.lines));
	json_object_set_new(o, "patient_bytes",
			    json_integer((json_int_t)s->pat.bytes));
	json_object_set_new(o, "encounters", json_integer(s->encounters));
	json_object_set_new(o, "encounter_lines", json_integer(s->enc.lines));
	json_object_set_new(o, "encounter_bytes",
			    json_integer((json_int_t)s->enc.bytes));
	json_object_set_new(o, "duplicates", json_integer(s->duplicates));
	json_object_set_new(o, "corrections", json_integer(s->corrections));
	json_object_set_new(corr, "entered_in_error",
			    json_integer(s->corr_kind[CORR_ERROR]));
	json_object_set_new(corr, "end_corrected",
			    json_integer(s->corr_kind[CORR_END]));
	json_object_set_new(o, "corrections_by_kind", corr);
	json_object_set_new(o, "cancelled", json_integer(s->cancelled));
	json_object_set_new(o, "in_progress", json_integer(s->in_progress));
	json_object_set_new(o, "zib_contacttype_coded",
			    json_integer(s->zib_coded));
	json_object_set_new(o, "dropped_over_cap", json_integer(s->dropped));
	json_object_set_new(o, "bad_lines", json_integer(s->nbad));
	for (k = 0; k < BAD_COUNT_; k++)
		json_object_set_new(kinds, bad_name[k],
				    json_integer(s->bad_kind[k]));
	json_object_set_new(o, "bad_lines_by_kind", kinds);
	for (i = 0; i < s->nbad; i++) {
		json_t *b = json_object();

		json_object_set_new(b, "line", json_integer(s->bad[i].line));
		json_object_set_new(b, "kind",
				    json_string(bad_name[s->bad[i].kind]));
		json_array_append_new(bad, b);
	}
	json_object_set_new(o, "bad", bad);
	return o;
}

static const char DEFINITIONS[] =
    "Counts per period of the local (Europe/Amsterdam) start date. Only the "
    "final version of an encounter counts (highest meta.versionId); it "
    "counts when its status is finished, in-progress, arrived, triaged or "
    "onleave and the Patient record it references (at the source that sent "
    "it) has a home postcode whose PC4 lies in the region. er_visits: class "
    "EMER, or EMER in classHistory (an ER visit that became an admission is "
    "one ER visit and one admission). er_patients: distinct persons with an "
    "ER visit; a person is the valid BSN (11-test) if the record has one, "
    "else the (source, local Patient id). admissions: class IMP. "
    "day_admissions: class SS. gp_contacts_total: GP contacts (AMB, HH, VR "
    "at the GP practice) plus hospital outpatient contacts (AMB, HH, VR); "
    "gp_contacts_digital: those by video (SNOMED 448337001, or VR without "
    "a channel code) or message; phone (185317003) and home (HH) are not "
    "digital. outpatient_contacts: the hospital part of gp_contacts_total. "
    "Exact duplicate lines count once; malformed lines never count.";

static int write_truth(struct gen *g)
{
	json_t *root = json_object(), *months = NULL, *quarters = NULL,
	       *years = NULL, *src = NULL, *persons = NULL;
	char path[PATH_CAP], label[16];
	int i, rc = -IZA_ENOMEM;

	if (!root)
		goto out;
	months = json_object();
	quarters = json_object();
	years = json_object();
	src = json_object();
	persons = json_object();
	if (!months || !quarters || !years || !src || !persons)
		goto out;
	json_object_set_new(root, "generator", json_string("izagen"));
	json_object_set_new(root, "format", json_string("izagen-truth/1"));
	json_object_set_new(root, "synthetic", json_true());
	snprintf(label, sizeof(label), "%" PRIu64, g->o.seed);
	json_object_set_new(root, "seed", json_string(label));
	json_object_set_new(root, "region", json_string(g->o.region));
	json_object_set_new(root, "from", json_string(g->o.from));
	json_object_set_new(root, "to", json_string(g->o.to));
	json_object_set_new(root, "definitions", json_string(DEFINITIONS));
	json_object_set_new(persons, "total", json_integer(g->o.patients));
	json_object_set_new(persons, "gp_only",
			    json_integer(g->persons_gp_only));
	json_object_set_new(persons, "hospital_only",
			    json_integer(g->persons_hosp_only));
	json_object_set_new(persons, "both", json_integer(g->persons_both));
	json_object_set_new(persons, "hospital_duplicate_records",
			    json_integer(g->hosp_dup_records));
	json_object_set_new(root, "persons", persons);
	persons = NULL;
	json_object_set_new(src, "hospital", source_json(&g->hosp));
	json_object_set_new(src, "gp", source_json(&g->gp));
	json_object_set_new(root, "sources", src);
	src = NULL;
	for (i = 0; i < g->nmonths; i++) {
		int am = g->y0 * 12 + g->m0 - 1 + i;

		snprintf(label, sizeof(label), "%04d-%02d", am / 12,
			 am % 12 + 1);
		json_object_set_new(months, label, counts_json(&g->months[i]));
	}
	for (i = 0; i < g->nquarters; i++) {
		int aq = (g->y0 * 12 + g->m0 - 1) / 3 + i;

		snprintf(label, sizeof(label), "%04d-Q%d", aq / 4, aq % 4 + 1);
		json_object_set_new(quarters, label,
				    counts_json(&g->quarters[i]));
	}
	for (i = 0; i < g->nyears; i++) {
		snprintf(label, sizeof(label), "%04d", g->y0 + i);
		json_object_set_new(years, label, counts_json(&g->years[i]));
	}
	json_object_set_new(root, "months", months);
	json_object_set_new(root, "quarters", quarters);
	json_object_set_new(root, "years", years);
	months = quarters = years = NULL;
	snprintf(path, sizeof(path), "%s/truth.json", g->o.out);
	rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
		 ? -IZA_EIO
		 : 0;
out:
	json_decref(root);
	json_decref(months);
	json_decref(quarters);
	json_decref(years);
	json_decref(src);
	json_decref(persons);
	return rc;
}

static int write_readme(const struct gen *g)
{
	char path[PATH_CAP];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/README.txt", g->o.out);
	f = fopen(path, "w");
	if (!f)
		return -IZA_EIO;
	fprintf(f,
		"Synthetic FHIR R4 demo export of zorgkantoorregio %s written "
		"by izagen (seed %" PRIu64 ", %s to %s): %ld persons, of whom "
		"%ld appear as %ld Patient records at hospital AGB %s "
		"(hospital/, %ld Encounter lines) and %ld as Patient records "
		"at GP practice AGB %s (gp/, %ld Encounter lines). No record "
		"describes a real person: BSNs, ids, dates and postcodes are "
		"drawn from a seeded pseudo-random generator. The Encounter "
		"files contain resends, exact duplicates and %ld deliberately "
		"malformed lines each; truth.json lists them and holds the "
		"KPI values the gateway must compute. See docs/demo-data.md "
		"in the gateway's source tree.\n",
		g->o.region, g->o.seed, g->o.from, g->o.to, g->o.patients,
		g->persons_both + g->persons_hosp_only, g->hosp.patients,
		g->hosp.agb, g->hosp.enc.lines, g->gp.patients, g->gp.agb,
		g->gp.enc.lines, g->o.bad);
	if (ferror(f))
		rc = -IZA_EIO;
	if (fclose(f) != 0)
		rc = -IZA_EIO;
	return rc;
}

/* ------------------------------------------------------------------ CLI */

static void usage(FILE *f)
{
	fputs("usage: izagen --out DIR [--region ZK02] [--patients N] "
	      "[--from YYYY-MM-DD]\n"
	      "              [--to YYYY-MM-DD] [--seed S] [--bad N] "
	      "[--mappings DIR] [--quiet]\n"
	      "Writes a synthetic FHIR R4 NDJSON export of one region "
	      "(DIR/hospital, DIR/gp),\nDIR/truth.json and DIR/README.txt. "
	      "Defaults: ZK02, 20000 patients,\n2024-01-01..2025-12-31, "
	      "seed 1, 5 bad lines per Encounter file, mappings\n"
	      "directory ./mappings (the regions tables are read from "
	      "DIR/regions).\n",
	      f);
}

static int parse_long(const char *flag, const char *s, long lo, long hi,
		      long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr,
			"izagen: %s: expected an integer %ld..%ld, got '%s'\n",
			flag, lo, hi, s);
		return -IZA_EUSAGE;
	}
	*out = (long)v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

static int parse_day(const char *flag, const char *s, int64_t *day,
		     char text[11])
{
	int v[3] = {0, 0, 0}, i, f = 0;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		goto bad;
	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			f++;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		v[f] = v[f] * 10 + (s[i] - '0');
	}
	if (v[0] < 1970 || v[0] > 2999 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
	    v[2] > days_in_month(v[0], v[1]))
		goto bad;
	*day = days_from_civil(v[0], v[1], v[2]);
	memcpy(text, s, 11);
	return 0;
bad:
	fprintf(stderr,
		"izagen: %s: expected a date YYYY-MM-DD (1970..2999), "
		"got '%s'\n",
		flag, s);
	return -IZA_EUSAGE;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i, rc;

	memset(o, 0, sizeof(*o));
	o->region = "ZK02";
	o->mappings = "mappings";
	o->patients = 20000;
	o->bad = 5;
	o->seed = 1;
	rc = parse_day("--from", "2024-01-01", &o->from_day, o->from);
	if (!rc)
		rc = parse_day("--to", "2025-12-31", &o->to_day, o->to);
	for (i = 1; i < argc && !rc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--out") && strcmp(a, "--region") &&
		    strcmp(a, "--patients") && strcmp(a, "--from") &&
		    strcmp(a, "--to") && strcmp(a, "--seed") &&
		    strcmp(a, "--bad") && strcmp(a, "--mappings")) {
			fprintf(stderr, "izagen: unknown option '%s'\n", a);
			return -IZA_EUSAGE;
		}
		if (!v) {
			fprintf(stderr, "izagen: %s needs a value\n", a);
			return -IZA_EUSAGE;
		}
		i++;
		if (strcmp(a, "--out") == 0) {
			o->out = v;
		} else if (strcmp(a, "--mappings") == 0) {
			o->mappings = v;
		} else if (strcmp(a, "--region") == 0) {
			if (strlen(v) != 4 || v[0] != 'Z' || v[1] != 'K' ||
			    v[2] < '0' || v[2] > '9' || v[3] < '0' ||
			    v[3] > '9') {
				fprintf(stderr,
					"izagen: --region: expected a "
					"zorgkantoorregio code ZKnn, got "
					"'%s'\n",
					v);
				return -IZA_EUSAGE;
			}
			o->region = v;
		} else if (strcmp(a, "--patients") == 0) {
			rc = parse_long(a, v, 1, MAX_PATIENTS, &o->patients);
		} else if (strcmp(a, "--bad") == 0) {
			rc = parse_long(a, v, 0, MAX_BAD, &o->bad);
		} else if (strcmp(a, "--from") == 0) {
			rc = parse_day(a, v, &o->from_day, o->from);
		} else if (strcmp(a, "--to") == 0) {
			rc = parse_day(a, v, &o->to_day, o->to);
		} else {
			char *end;

			errno = 0;
			o->seed = strtoull(v, &end, 10);
			if (errno || end == v || *end || v[0] == '-') {
				fprintf(stderr,
					"izagen: --seed: expected an "
					"unsigned integer, got '%s'\n",
					v);
				return -IZA_EUSAGE;
			}
		}
	}
	if (rc)
		return rc;
	if (!o->out) {
		fputs("izagen: --out DIR is required\n", stderr);
		usage(stderr);
		return -IZA_EUSAGE;
	}
	if (o->to_day < o->from_day) {
		fputs("izagen: --to is before --from\n", stderr);
		return -IZA_EUSAGE;
	}
	if (o->to_day - o->from_day >= (int64_t)MAX_YEARS * 365) {
		fprintf(stderr,
			"izagen: --from..--to spans more than %d years\n",
			MAX_YEARS - 1);
		return -IZA_EUSAGE;
	}
	return 0;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0777) == 0 || errno == EEXIST)
		return 0;
	return -IZA_EIO;
}

static int setup(struct gen *g, struct iza_error *err)
{
	char dir[PATH_CAP];
	int y1, m1, d, rc;
	uint64_t x = g->o.seed ^ 0x42534eULL;
	struct source *srcs[2] = {&g->hosp, &g->gp};
	int i;

	civil_from_days(g->o.from_day, &g->y0, &g->m0, &d);
	civil_from_days(g->o.to_day, &y1, &m1, &d);
	g->nmonths = (y1 - g->y0) * 12 + (m1 - g->m0) + 1;
	g->nquarters =
	    (y1 * 12 + m1 - 1) / 3 - (g->y0 * 12 + g->m0 - 1) / 3 + 1;
	g->nyears = y1 - g->y0 + 1;
	g->ndays = (int)(g->o.to_day - g->o.from_day + 1);
	g->bsn_a = splitmix64(&x) % 9000000;
	g->bsn_a |= 1;
	while (g->bsn_a % 3 == 0 || g->bsn_a % 5 == 0)
		g->bsn_a += 2;
	g->bsn_b = splitmix64(&x) % 9000000;

	rc = build_day_tables(g);
	if (rc)
		return iza_error_set(err, rc, NULL, 0, NULL, "day tables");
	rc = load_region(g, err);
	if (rc)
		return rc;

	g->hosp.name = "hospital";
	g->hosp.agb = HOSPITAL_AGB;
	memcpy(g->hosp.pid_prefix, "h-", 3);
	memcpy(g->hosp.eid_prefix, "he-", 4);
	g->gp.name = "gp";
	g->gp.agb = GP_AGB;
	g->gp.uuid_ids = 1;
	for (i = 0; i < 2; i++) {
		struct source *s = srcs[i];

		s->pkey = (uint32_t)splitmix64(&x);
		s->ekey = (uint32_t)splitmix64(&x);
		s->ukey = (uint32_t)splitmix64(&x);
		s->q = calloc(1, sizeof(*s->q));
		s->bad = calloc((size_t)g->o.bad + 1, sizeof(*s->bad));
		if (!s->q || !s->bad)
			return iza_error_set(err, -IZA_ENOMEM, NULL, 0, NULL,
					     "allocating %s", s->name);
		snprintf(dir, sizeof(dir), "%s/%s", g->o.out, s->name);
		if (make_dir(dir))
			return iza_error_set(err, -IZA_EIO, dir, 0, NULL,
					     "cannot create directory: %s",
					     strerror(errno));
		rc = out_open(&s->pat, dir, "Patient.ndjson");
		if (!rc)
			rc = out_open(&s->enc, dir, "Encounter.ndjson");
		if (rc)
			return iza_error_set(err, rc, dir, 0, NULL,
					     "cannot open output: %s",
					     strerror(errno));
	}
	return 0;
}

static int finish_sources(struct gen *g, struct iza_error *err)
{
	struct source *srcs[2] = {&g->hosp, &g->gp};
	int i, rc = 0, rc2;

	for (i = 0; i < 2; i++) {
		struct source *s = srcs[i];

		if (!rc && s->q)
			rc = delayq_release(s->q, &s->enc, UINT64_MAX);
		if (!rc)
			rc = emit_due_bad(g, s, UINT64_MAX);
		rc2 = out_close(&s->pat);
		if (!rc)
			rc = rc2;
		rc2 = out_close(&s->enc);
		if (!rc)
			rc = rc2;
		if (rc) {
			iza_error_set(err, rc, s->enc.path, 0, NULL,
				      "writing failed");
			return rc;
		}
	}
	return 0;
}

static void gen_free(struct gen *g)
{
	struct source *srcs[2] = {&g->hosp, &g->gp};
	int i;

	for (i = 0; i < 2; i++) {
		out_close(&srcs[i]->pat);
		out_close(&srcs[i]->enc);
		if (srcs[i]->q)
			delayq_release_memory(srcs[i]->q);
		free(srcs[i]->q);
		free(srcs[i]->bad);
	}
	free(g->cum_gp);
	free(g->cum_er);
	free(g->cum_el);
	free(g->midnight);
	free(g->pc4_region);
	free(g->pc4_other);
	free(g);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct gen *g = NULL;
	struct iza_error err;
	char msg[512];
	double t0 = now_seconds(), secs;
	uint64_t p, bytes;
	int rc;

	iza_error_clear(&err);
	g = calloc(1, sizeof(*g));
	if (!g) {
		fputs("izagen: out of memory\n", stderr);
		return 1;
	}
	rc = parse_args(argc, argv, &g->o);
	if (rc) {
		free(g);
		return 2;
	}
	if (make_dir(g->o.out)) {
		iza_error_set(&err, -IZA_EIO, g->o.out, 0, "--out",
			      "cannot create directory: %s", strerror(errno));
		rc = err.code;
		goto out;
	}
	rc = setup(g, &err);
	if (rc)
		goto out;
	for (p = 0; p < (uint64_t)g->o.patients; p++) {
		rc = emit_due_bad(g, &g->hosp, p);
		if (!rc)
			rc = emit_due_bad(g, &g->gp, p);
		g->now = p;
		if (!rc)
			rc = delayq_release(g->hosp.q, &g->hosp.enc, p);
		if (!rc)
			rc = delayq_release(g->gp.q, &g->gp.enc, p);
		if (!rc)
			rc = gen_person(g, p);
		if (rc) {
			iza_error_set(&err, rc, g->o.out, (long)p, NULL,
				      "generating person %" PRIu64, p);
			goto out;
		}
		if (!g->o.quiet && p && p % 500000 == 0)
			fprintf(stderr, "izagen: %" PRIu64 " persons ...\n", p);
	}
	rc = finish_sources(g, &err);
	if (rc)
		goto out;
	rc = write_truth(g);
	if (!rc)
		rc = write_readme(g);
	if (rc) {
		iza_error_set(&err, rc, g->o.out, 0, NULL,
			      "cannot write truth.json or README.txt");
		goto out;
	}
	secs = now_seconds() - t0;
	bytes = g->hosp.pat.bytes + g->hosp.enc.bytes + g->gp.pat.bytes +
		g->gp.enc.bytes;
	if (!g->o.quiet)
		fprintf(stderr,
			"izagen: %ld persons, %ld+%ld Patient and %ld+%ld "
			"Encounter lines (hospital+gp), %.1f MB in %.2f s "
			"(%.0f MB/s) -> %s\n",
			g->o.patients, g->hosp.pat.lines, g->gp.pat.lines,
			g->hosp.enc.lines, g->gp.enc.lines, bytes / 1e6, secs,
			secs > 0 ? bytes / 1e6 / secs : 0.0, g->o.out);
out:
	if (rc) {
		if (!err.code)
			iza_error_set(&err, rc, NULL, 0, NULL, "failed");
		fprintf(stderr, "izagen: %s\n",
			iza_error_format(&err, msg, sizeof(msg)));
		if (g->refdata_failed)
			fprintf(stderr,
				"izagen: the region tables are read from "
				"%s/regions; pass --mappings DIR (the "
				"repository's mappings folder)\n",
				g->o.mappings);
	}
	gen_free(g);
	return rc ? 1 : 0;
}
