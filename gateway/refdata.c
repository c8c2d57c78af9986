/*
 * refdata.c - the Dutch reference tables of mappings/regions/ (see refdata.h
 * for the contract and mappings/regions/README.md for the data).
 *
 * Every table is read whole (capped), split into rows, validated field by
 * field and sorted by key then date; per key an index array (PC4 and GM
 * codes are at most 4 digits, ZK codes 2) gives the first row, so a lookup
 * is a few array reads.
 */
#include "refdata.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

#define PC4_MIN	 1000
#define PC4_MAX	 9999
#define GM_SPACE 10000 /* GM0000..GM9999 */
#define ZK_SPACE 100   /* ZK00..ZK99 */

#define TABLE_MAX_BYTES (16L << 20) /* per file */
#define TABLE_MAX_ROWS	500000	    /* per file */
#define TABLE_MAX_COLS	8
#define NAME_MAX_LEN	80  /* region name, bytes */
#define LABEL_MAX_LEN	160 /* AGB label, bytes */
#define AGB_LEN		8
#define MERGE_DEPTH	32 /* longest chain of successive mergers */

struct pc4_row {
	long line;
	int32_t from; /* valid_from, days since 1970-01-01 */
	int16_t pc4;
	int16_t gm;
};

struct gm_row {
	long line;
	int32_t from;
	int16_t gm;
	int16_t zk;
};

struct merge_row {
	long line;
	int32_t effective;
	int16_t old;
	int16_t new_;
};

struct pop_row {
	long line;
	int64_t inhabitants;
	int16_t zk;
	int16_t year;
};

struct sector_row {
	long line;
	char prefix[AGB_LEN + 1];
	size_t plen;
	const char *sector; /* points into sectors[] below */
	char *label;
};

struct refdata {
	struct pc4_row *pc4;
	size_t npc4;
	struct gm_row *gm;
	size_t ngm;
	struct merge_row *merge;
	size_t nmerge;
	struct pop_row *pop;
	size_t npop;
	struct sector_row *sector;
	size_t nsector;
	char *region_name[ZK_SPACE];
	int32_t pc4_first[PC4_MAX + 1]; /* first row of a key, -1 none */
	int32_t gm_first[GM_SPACE];
	int32_t merge_first[GM_SPACE];
	int32_t pop_first[ZK_SPACE];
};

static const char *const sectors[] = {
    "msz", "huisartsenzorg", "ggz",    "wijkverpleging",
    "vvt", "sociaal_domein", "overig",
};

/* ---- CSV reading ---- */

struct table {
	const char *path;
	const char *const *cols; /* expected header */
	size_t ncols;
	char *buf;
	size_t len, pos;
	long line;
	char *f[TABLE_MAX_COLS];
	size_t nf;
	long rows;
};

static int fail(struct iza_error *err, int code, const struct table *t,
		long line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* An error at line/column (1-based; col 0 = the whole line). */
static int fail(struct iza_error *err, int code, const struct table *t,
		long line, size_t col, const char *fmt, ...)
{
	char text[IZA_ERR_TEXT_MAX], field[IZA_ERR_FIELD_MAX] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (col > 0 && col <= t->ncols)
		snprintf(field, sizeof(field), "column %zu (%s)", col,
			 t->cols[col - 1]);
	else if (col > 0)
		snprintf(field, sizeof(field), "column %zu", col);
	return iza_error_set(err, code, t->path, line, field, "%s", text);
}

static int table_read(struct table *t, struct iza_error *err)
{
	FILE *f = fopen(t->path, "rb");
	size_t cap = 0, r;
	char *nb;
	int rc = 0;

	if (!f)
		return iza_error_set(
		    err, errno == ENOENT ? -IZA_ENOTFOUND : -IZA_EIO, t->path,
		    0, NULL, "cannot open: %s", strerror(errno));
	t->len = 0;
	for (;;) {
		if (t->len + 1 >= cap) {
			if (cap >= (size_t)TABLE_MAX_BYTES + 2) {
				rc = iza_error_set(err, -IZA_ETOOBIG, t->path,
						   0, NULL,
						   "file larger than %ld bytes",
						   TABLE_MAX_BYTES);
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > (size_t)TABLE_MAX_BYTES + 2)
				cap = (size_t)TABLE_MAX_BYTES + 2;
			nb = realloc(t->buf, cap);
			if (!nb) {
				rc = iza_error_set(err, -IZA_ENOMEM, t->path, 0,
						   NULL, "out of memory");
				goto out;
			}
			t->buf = nb;
		}
		r = fread(t->buf + t->len, 1, cap - 1 - t->len, f);
		t->len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		rc = iza_error_set(err, -IZA_EIO, t->path, 0, NULL,
				   "read error");
		goto out;
	}
	if (t->len > (size_t)TABLE_MAX_BYTES) {
		rc = iza_error_set(err, -IZA_ETOOBIG, t->path, 0, NULL,
				   "file larger than %ld bytes",
				   TABLE_MAX_BYTES);
		goto out;
	}
	t->buf[t->len] = '\0';
	t->pos = 0;
	if (t->len >= 3 && memcmp(t->buf, "\xef\xbb\xbf", 3) == 0)
		t->pos = 3; /* UTF-8 byte order mark */
out:
	fclose(f);
	return rc;
}

/*
 * The next non-blank line, split into t->f[] in place (RFC 4180 quotes:
 * "a,b" and "" inside quotes).  Returns 1 for a row, 0 at the end, or an
 * error.  Every row must have exactly ncols fields.
 */
static int table_next(struct table *t, struct iza_error *err)
{
	char *p, *w;
	size_t col;

	for (;;) {
		if (t->pos >= t->len)
			return 0;
		t->line++;
		p = t->buf + t->pos;
		if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
			t->pos += *p == '\n' ? 1 : 2;
			continue; /* blank line */
		}
		break;
	}
	t->nf = 0;
	for (;;) {
		col = t->nf + 1;
		if (t->nf == TABLE_MAX_COLS || t->nf == t->ncols)
			return fail(err, -IZA_EPARSE, t, t->line, col,
				    "more than %zu columns", t->ncols);
		t->f[t->nf++] = w = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else if (*p == '\0' || *p == '\n') {
					return fail(err, -IZA_EPARSE, t,
						    t->line, col,
						    "unterminated quote");
				} else {
					*w++ = *p++;
				}
			}
			if (*p != ',' && *p != '\n' && *p != '\0' &&
			    !(*p == '\r' && (p[1] == '\n' || p[1] == '\0')))
				return fail(err, -IZA_EPARSE, t, t->line, col,
					    "text after a closing quote");
		} else {
			while (
			    *p != ',' && *p != '\n' && *p != '\0' &&
			    !(*p == '\r' && (p[1] == '\n' || p[1] == '\0'))) {
				if (*p == '"')
					return fail(err, -IZA_EPARSE, t,
						    t->line, col,
						    "quote inside an unquoted "
						    "field");
				w++;
				p++;
			}
		}
		if (*p == ',') {
			*w = '\0';
			p++;
			continue;
		}
		if (*p == '\r')
			p++;
		if (*p == '\n')
			p++;
		*w = '\0';
		break;
	}
	t->pos = (size_t)(p - t->buf);
	if (t->pos > t->len)
		t->pos = t->len;
	if (t->nf < t->ncols)
		return fail(err, -IZA_EPARSE, t, t->line, t->nf + 1,
			    "missing: the line has %zu of %zu columns", t->nf,
			    t->ncols);
	if (++t->rows > TABLE_MAX_ROWS)
		return fail(err, -IZA_ETOOBIG, t, t->line, 0,
			    "more than %d rows", TABLE_MAX_ROWS);
	return 1;
}

/* Open a table and check its header line. */
static int table_open(struct table *t, const char *dir, const char *name,
		      const char *const *cols, size_t ncols, char *path,
		      size_t pathsize, struct iza_error *err)
{
	int n, rc;
	size_t i;

	memset(t, 0, sizeof(*t));
	n = snprintf(path, pathsize, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= pathsize)
		return iza_error_set(err, -IZA_ETOOBIG, name, 0, NULL,
				     "directory path too long");
	t->path = path;
	t->cols = cols;
	t->ncols = ncols;
	rc = table_read(t, err);
	if (rc < 0)
		return rc;
	rc = table_next(t, err);
	if (rc == 0)
		return iza_error_set(err, -IZA_EPARSE, path, 1, NULL,
				     "empty file: a header line is required");
	if (rc < 0)
		return rc;
	for (i = 0; i < ncols; i++)
		if (strcmp(t->f[i], cols[i]) != 0)
			return fail(err, -IZA_EPARSE, t, t->line, i + 1,
				    "header must be \"%s\"", cols[i]);
	t->rows = 0;
	return 0;
}

static void table_close(struct table *t)
{
	free(t->buf);
	t->buf = NULL;
}

/* ---- field parsers: value or -1 ---- */

static long parse_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;
	long v = 0;

	if (n < min || n > max || n > 9)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int parse_pc4(const char *s)
{
	long v = parse_digits(s, 4, 4);

	return v >= PC4_MIN && v <= PC4_MAX ? (int)v : -1;
}

static int parse_gm(const char *s)
{
	if (s[0] != 'G' || s[1] != 'M')
		return -1;
	return (int)parse_digits(s + 2, 4, 4);
}

static int parse_zk(const char *s)
{
	if (!s || s[0] != 'Z' || s[1] != 'K')
		return -1;
	return (int)parse_digits(s + 2, 2, 2);
}

/* "YYYY-MM-DD" -> days since 1970, years 1900..2999; false if not. */
static bool parse_day(const char *s, int32_t *day)
{
	int y, m, d;

	if (strlen(s) != 10 || parse_fhir_date(s, 10, &y, &m, &d) < 0 ||
	    m == 0 || d == 0 || y < 1900 || y > 2999)
		return false;
	*day = (int32_t)days_from_civil(y, m, d);
	return true;
}

/* ---- growable row arrays ---- */

/* arr with room for row n (TABLE_MAX_ROWS bounds n), or NULL. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void *na;
	size_t nc;

	if (n < *cap)
		return arr;
	nc = *cap ? *cap * 2 : 256;
	na = realloc(arr, nc * size);
	if (na)
		*cap = nc;
	return na;
}

#define GROW(arr, cap, n)                                                      \
	((p_ = grow((arr), &(cap), (n), sizeof(*(arr)))) ? ((arr) = p_, 0)     \
							 : -IZA_ENOMEM)

/* ---- the tables ---- */

static int load_regions(struct refdata *rd, const char *dir,
			struct iza_error *err)
{
	static const char *const cols[] = {"zorgkantoorregio_code", "name"};
	char path[PATH_MAX];
	struct table t;
	int rc, zk;
	size_t n;

	rc = table_open(&t, dir, "regions.csv", cols, 2, path, sizeof(path),
			err);
	while (rc == 0 && (rc = table_next(&t, err)) > 0) {
		rc = 0;
		zk = parse_zk(t.f[0]);
		if (zk < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "expected a region code ZKnn");
			break;
		}
		if (rd->region_name[zk]) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "duplicate region %s", t.f[0]);
			break;
		}
		n = strlen(t.f[1]);
		if (n == 0 || n > NAME_MAX_LEN) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 2,
				  "name must be 1..%d bytes", NAME_MAX_LEN);
			break;
		}
		rd->region_name[zk] = strdup(t.f[1]);
		if (!rd->region_name[zk]) {
			rc = -IZA_ENOMEM;
			break;
		}
	}
	table_close(&t);
	return rc < 0 ? rc : 0;
}

static int load_gemeente_region(struct refdata *rd, const char *dir,
				struct iza_error *err)
{
	static const char *const cols[] = {
	    "gemeente_code", "zorgkantoorregio_code", "valid_from"};
	char path[PATH_MAX];
	struct table t;
	size_t cap = 0;
	void *p_;
	int rc, gm, zk;
	int32_t from;

	rc = table_open(&t, dir, "gemeente_region.csv", cols, 3, path,
			sizeof(path), err);
	while (rc == 0 && (rc = table_next(&t, err)) > 0) {
		rc = 0;
		if ((gm = parse_gm(t.f[0])) < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "expected a municipality code GMnnnn");
			break;
		}
		zk = parse_zk(t.f[1]);
		if (zk < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 2,
				  "expected a region code ZKnn");
			break;
		}
		if (!rd->region_name[zk]) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 2,
				  "region %s is not in regions.csv", t.f[1]);
			break;
		}
		if (!parse_day(t.f[2], &from)) {
			rc = fail(err, -IZA_EDATE, &t, t.line, 3,
				  "expected a date YYYY-MM-DD (1900..2999)");
			break;
		}
		if (GROW(rd->gm, cap, rd->ngm) < 0) {
			rc = -IZA_ENOMEM;
			break;
		}
		rd->gm[rd->ngm++] = (struct gm_row){.line = t.line,
						    .from = from,
						    .gm = (int16_t)gm,
						    .zk = (int16_t)zk};
	}
	if (rc == 0 && rd->ngm == 0)
		rc =
		    iza_error_set(err, -IZA_EMISSING, path, 0, NULL, "no rows");
	table_close(&t);
	return rc < 0 ? rc : 0;
}

static int load_merges(struct refdata *rd, const char *dir,
		       struct iza_error *err)
{
	static const char *const cols[] = {"old_code", "new_code", "effective"};
	char path[PATH_MAX];
	struct table t;
	size_t cap = 0;
	void *p_;
	int rc, old, nw;
	int32_t eff;

	rc = table_open(&t, dir, "gemeente_merges.csv", cols, 3, path,
			sizeof(path), err);
	while (rc == 0 && (rc = table_next(&t, err)) > 0) {
		rc = 0;
		if ((old = parse_gm(t.f[0])) < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "expected a municipality code GMnnnn");
			break;
		}
		if ((nw = parse_gm(t.f[1])) < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 2,
				  "expected a municipality code GMnnnn");
			break;
		}
		if (old == nw) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 2,
				  "a municipality cannot merge into itself");
			break;
		}
		if (!parse_day(t.f[2], &eff)) {
			rc = fail(err, -IZA_EDATE, &t, t.line, 3,
				  "expected a date YYYY-MM-DD (1900..2999)");
			break;
		}
		if (GROW(rd->merge, cap, rd->nmerge) < 0) {
			rc = -IZA_ENOMEM;
			break;
		}
		rd->merge[rd->nmerge++] =
		    (struct merge_row){.line = t.line,
				       .effective = eff,
				       .old = (int16_t)old,
				       .new_ = (int16_t)nw};
	}
	table_close(&t);
	return rc < 0 ? rc : 0;
}

static int load_pc4(struct refdata *rd, const char *dir, struct iza_error *err)
{
	static const char *const cols[] = {"pc4", "gemeente_code",
					   "valid_from"};
	char path[PATH_MAX];
	struct table t;
	size_t cap = 0;
	void *p_;
	int rc, pc4, gm;
	int32_t from;

	rc = table_open(&t, dir, "pc4_gemeente.csv", cols, 3, path,
			sizeof(path), err);
	while (rc == 0 && (rc = table_next(&t, err)) > 0) {
		rc = 0;
		if ((pc4 = parse_pc4(t.f[0])) < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "expected a 4-digit postcode 1000..9999");
			break;
		}
		if ((gm = parse_gm(t.f[1])) < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 2,
				  "expected a municipality code GMnnnn");
			break;
		}
		if (!parse_day(t.f[2], &from)) {
			rc = fail(err, -IZA_EDATE, &t, t.line, 3,
				  "expected a date YYYY-MM-DD (1900..2999)");
			break;
		}
		if (GROW(rd->pc4, cap, rd->npc4) < 0) {
			rc = -IZA_ENOMEM;
			break;
		}
		rd->pc4[rd->npc4++] = (struct pc4_row){.line = t.line,
						       .from = from,
						       .pc4 = (int16_t)pc4,
						       .gm = (int16_t)gm};
	}
	if (rc == 0 && rd->npc4 == 0)
		rc =
		    iza_error_set(err, -IZA_EMISSING, path, 0, NULL, "no rows");
	table_close(&t);
	return rc < 0 ? rc : 0;
}

static int load_population(struct refdata *rd, const char *dir,
			   struct iza_error *err)
{
	static const char *const cols[] = {"zorgkantoorregio_code", "year",
					   "inhabitants"};
	char path[PATH_MAX];
	struct table t;
	size_t cap = 0;
	void *p_;
	long year, inh;
	int rc, zk;

	rc = table_open(&t, dir, "population.csv", cols, 3, path, sizeof(path),
			err);
	while (rc == 0 && (rc = table_next(&t, err)) > 0) {
		rc = 0;
		zk = parse_zk(t.f[0]);
		if (zk < 0 || !rd->region_name[zk]) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "expected a region code ZKnn from "
				  "regions.csv");
			break;
		}
		year = parse_digits(t.f[1], 4, 4);
		if (year < 1900 || year > 2999) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 2,
				  "expected a year 1900..2999");
			break;
		}
		inh = parse_digits(t.f[2], 1, 9);
		if (inh < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 3,
				  "expected a count of inhabitants "
				  "(digits only)");
			break;
		}
		if (GROW(rd->pop, cap, rd->npop) < 0) {
			rc = -IZA_ENOMEM;
			break;
		}
		rd->pop[rd->npop++] = (struct pop_row){.line = t.line,
						       .inhabitants = inh,
						       .zk = (int16_t)zk,
						       .year = (int16_t)year};
	}
	table_close(&t);
	return rc < 0 ? rc : 0;
}

static const char *known_sector(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++)
		if (strcmp(s, sectors[i]) == 0)
			return sectors[i];
	return NULL;
}

static int load_sectors(struct refdata *rd, const char *dir,
			struct iza_error *err)
{
	static const char *const cols[] = {"agb_prefix", "sector", "label"};
	char path[PATH_MAX];
	struct sector_row *r;
	struct table t;
	size_t cap = 0, i, n;
	void *p_;
	int rc;

	rc = table_open(&t, dir, "agb_sector.csv", cols, 3, path, sizeof(path),
			err);
	while (rc == 0 && (rc = table_next(&t, err)) > 0) {
		rc = 0;
		if (parse_digits(t.f[0], 1, AGB_LEN) < 0) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "expected an AGB prefix of 1..%d digits",
				  AGB_LEN);
			break;
		}
		for (i = 0; i < rd->nsector; i++)
			if (strcmp(rd->sector[i].prefix, t.f[0]) == 0)
				break;
		if (i < rd->nsector) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 1,
				  "duplicate prefix (first on line %ld)",
				  rd->sector[i].line);
			break;
		}
		if (!known_sector(t.f[1])) {
			rc = fail(err, -IZA_ECODE, &t, t.line, 2,
				  "sector must be one of msz, huisartsenzorg, "
				  "ggz, wijkverpleging, vvt, sociaal_domein, "
				  "overig");
			break;
		}
		n = strlen(t.f[2]);
		if (n > LABEL_MAX_LEN) {
			rc = fail(err, -IZA_EINVALID, &t, t.line, 3,
				  "label longer than %d bytes", LABEL_MAX_LEN);
			break;
		}
		if (GROW(rd->sector, cap, rd->nsector) < 0) {
			rc = -IZA_ENOMEM;
			break;
		}
		r = &rd->sector[rd->nsector];
		memset(r, 0, sizeof(*r));
		r->line = t.line;
		r->plen = strlen(t.f[0]);
		memcpy(r->prefix, t.f[0], r->plen + 1);
		r->sector = known_sector(t.f[1]);
		r->label = strdup(t.f[2]);
		if (!r->label) {
			rc = -IZA_ENOMEM;
			break;
		}
		rd->nsector++;
	}
	table_close(&t);
	return rc < 0 ? rc : 0;
}

/* ---- sorting and indexes ---- */

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

static int cmp_pc4(const void *a, const void *b)
{
	const struct pc4_row *x = a, *y = b;

	if (x->pc4 != y->pc4)
		return CMP(x->pc4, y->pc4);
	if (x->from != y->from)
		return CMP(x->from, y->from);
	return CMP(x->line, y->line);
}

static int cmp_gm(const void *a, const void *b)
{
	const struct gm_row *x = a, *y = b;

	if (x->gm != y->gm)
		return CMP(x->gm, y->gm);
	if (x->from != y->from)
		return CMP(x->from, y->from);
	return CMP(x->line, y->line);
}

/* merges keep file order per old code: the first listed successor of a
 * split is the main one */
static int cmp_merge(const void *a, const void *b)
{
	const struct merge_row *x = a, *y = b;

	if (x->old != y->old)
		return CMP(x->old, y->old);
	return CMP(x->line, y->line);
}

static int cmp_pop(const void *a, const void *b)
{
	const struct pop_row *x = a, *y = b;

	if (x->zk != y->zk)
		return CMP(x->zk, y->zk);
	if (x->year != y->year)
		return CMP(x->year, y->year);
	return CMP(x->line, y->line);
}

static int dup_error(struct iza_error *err, const char *dir, const char *name,
		     long line, const char *what, long first)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return iza_error_set(err, -IZA_EINVALID, path, line, "column 1",
			     "duplicate %s (first on line %ld)", what, first);
}

static int build_indexes(struct refdata *rd, const char *dir,
			 struct iza_error *err)
{
	size_t i, j;

	qsort(rd->pc4, rd->npc4, sizeof(*rd->pc4), cmp_pc4);
	qsort(rd->gm, rd->ngm, sizeof(*rd->gm), cmp_gm);
	qsort(rd->merge, rd->nmerge, sizeof(*rd->merge), cmp_merge);
	qsort(rd->pop, rd->npop, sizeof(*rd->pop), cmp_pop);
	for (i = 0; i < rd->npc4; i++) {
		const struct pc4_row *r = &rd->pc4[i];

		if (i > 0 && r[-1].pc4 == r->pc4 && r[-1].from == r->from)
			return dup_error(err, dir, "pc4_gemeente.csv", r->line,
					 "pc4 and valid_from", r[-1].line);
		if (rd->pc4_first[r->pc4] < 0)
			rd->pc4_first[r->pc4] = (int32_t)i;
	}
	for (i = 0; i < rd->ngm; i++) {
		const struct gm_row *r = &rd->gm[i];

		if (i > 0 && r[-1].gm == r->gm && r[-1].from == r->from)
			return dup_error(
			    err, dir, "gemeente_region.csv", r->line,
			    "gemeente_code and valid_from", r[-1].line);
		if (rd->gm_first[r->gm] < 0)
			rd->gm_first[r->gm] = (int32_t)i;
	}
	for (i = 0; i < rd->nmerge; i++) {
		const struct merge_row *r = &rd->merge[i];

		j = rd->merge_first[r->old] < 0
			? i
			: (size_t)rd->merge_first[r->old];
		for (; j < i; j++)
			if (rd->merge[j].new_ == r->new_)
				return dup_error(err, dir,
						 "gemeente_merges.csv", r->line,
						 "merger", rd->merge[j].line);
		if (rd->merge_first[r->old] < 0)
			rd->merge_first[r->old] = (int32_t)i;
	}
	for (i = 0; i < rd->npop; i++) {
		const struct pop_row *r = &rd->pop[i];

		if (i > 0 && r[-1].zk == r->zk && r[-1].year == r->year)
			return dup_error(err, dir, "population.csv", r->line,
					 "region and year", r[-1].line);
		if (rd->pop_first[r->zk] < 0)
			rd->pop_first[r->zk] = (int32_t)i;
	}
	return 0;
}

/* ---- lookups ---- */

/* Successor of municipality gm by day (or on any date: all_dates), or -1 if
 * it was not merged away. */
static int successor(const struct refdata *rd, int gm, int64_t day,
		     bool all_dates)
{
	int32_t i = rd->merge_first[gm];

	if (i < 0)
		return -1;
	for (; (size_t)i < rd->nmerge && rd->merge[i].old == gm; i++)
		if (all_dates || rd->merge[i].effective <= day)
			return rd->merge[i].new_;
	return -1;
}

/* Region of municipality gm on day; when gm has no row (a code merged
 * away), its successors' region.  -1 if none. */
static int region_of(const struct refdata *rd, int gm, int64_t day)
{
	int step, zk;
	int32_t i;

	for (step = 0; step <= MERGE_DEPTH && gm >= 0; step++) {
		i = rd->gm_first[gm];
		if (i >= 0) {
			zk = rd->gm[i].zk;
			for (; (size_t)i < rd->ngm && rd->gm[i].gm == gm; i++)
				if (rd->gm[i].from <= day)
					zk = rd->gm[i].zk;
			return zk;
		}
		gm = successor(rd, gm, day, true);
	}
	return -1;
}

/* Municipality of pc4 on day after mergers, or -1. */
static int gemeente_of(const struct refdata *rd, int pc4, int64_t day)
{
	int32_t i;
	int gm, next, step;

	if (pc4 < PC4_MIN || pc4 > PC4_MAX || rd->pc4_first[pc4] < 0)
		return -1;
	i = rd->pc4_first[pc4];
	gm = rd->pc4[i].gm; /* the earliest row also applies before it */
	for (; (size_t)i < rd->npc4 && rd->pc4[i].pc4 == pc4; i++)
		if (rd->pc4[i].from <= day)
			gm = rd->pc4[i].gm;
	for (step = 0; step < MERGE_DEPTH; step++) {
		next = successor(rd, gm, day, false);
		if (next < 0)
			break;
		gm = next;
	}
	return gm;
}

/* Cross-table checks: no merger cycles, every PC4's municipality has a
 * region (directly or through its successors). */
static int check_links(const struct refdata *rd, const char *dir,
		       struct iza_error *err)
{
	char path[PATH_MAX];
	size_t i;
	int gm, step;

	for (i = 0; i < rd->nmerge; i++) {
		gm = rd->merge[i].new_;
		for (step = 0; step < MERGE_DEPTH && gm >= 0; step++) {
			if (gm == rd->merge[i].old)
				break;
			gm = successor(rd, gm, 0, true);
		}
		if (gm >= 0) {
			snprintf(path, sizeof(path), "%s/gemeente_merges.csv",
				 dir);
			return iza_error_set(err, -IZA_EINVALID, path,
					     rd->merge[i].line,
					     "column 2 (new_code)",
					     "mergers form a cycle or a chain "
					     "longer than %d",
					     MERGE_DEPTH);
		}
	}
	for (i = 0; i < rd->npc4; i++) {
		if (region_of(rd, rd->pc4[i].gm, rd->pc4[i].from) >= 0)
			continue;
		snprintf(path, sizeof(path), "%s/pc4_gemeente.csv", dir);
		return iza_error_set(err, -IZA_EINVALID, path, rd->pc4[i].line,
				     "column 2 (gemeente_code)",
				     "municipality GM%04d has no region in "
				     "gemeente_region.csv",
				     rd->pc4[i].gm);
	}
	return 0;
}

int refdata_load(const char *dir, struct refdata **out, struct iza_error *err)
{
	struct refdata *rd;
	int rc;

	if (!dir || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "no directory given");
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return iza_error_set(err, -IZA_ENOMEM, dir, 0, NULL,
				     "out of memory");
	memset(rd->pc4_first, 0xff, sizeof(rd->pc4_first));
	memset(rd->gm_first, 0xff, sizeof(rd->gm_first));
	memset(rd->merge_first, 0xff, sizeof(rd->merge_first));
	memset(rd->pop_first, 0xff, sizeof(rd->pop_first));
	rc = load_regions(rd, dir, err);
	if (rc == 0)
		rc = load_gemeente_region(rd, dir, err);
	if (rc == 0)
		rc = load_merges(rd, dir, err);
	if (rc == 0)
		rc = load_pc4(rd, dir, err);
	if (rc == 0)
		rc = load_population(rd, dir, err);
	if (rc == 0)
		rc = load_sectors(rd, dir, err);
	if (rc == 0)
		rc = build_indexes(rd, dir, err);
	if (rc == 0)
		rc = check_links(rd, dir, err);
	if (rc < 0) {
		if (rc == -IZA_ENOMEM)
			iza_error_set(err, rc, dir, 0, NULL, "out of memory");
		refdata_free(rd);
		return rc;
	}
	*out = rd;
	return 0;
}

void refdata_free(struct refdata *rd)
{
	size_t i;

	if (!rd)
		return;
	for (i = 0; i < ZK_SPACE; i++)
		free(rd->region_name[i]);
	for (i = 0; i < rd->nsector; i++)
		free(rd->sector[i].label);
	free(rd->pc4);
	free(rd->gm);
	free(rd->merge);
	free(rd->pop);
	free(rd->sector);
	free(rd);
}

int postcode_pc4(const char *s, size_t len)
{
	size_t i = 0, end = len;
	int v = 0;

	if (!s)
		return 0;
	while (i < end && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	if (end - i < 4 || s[i] == '0')
		return 0;
	for (size_t k = 0; k < 4; k++, i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	if (i == end)
		return v;
	if (s[i] == ' ')
		i++;
	if (end - i != 2)
		return 0;
	for (; i < end; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	return v;
}

int refdata_locate(const struct refdata *rd, int pc4, int64_t day,
		   char gemeente[8], char region[8])
{
	int gm, zk;

	if (!rd)
		return -IZA_EUSAGE;
	gm = gemeente_of(rd, pc4, day);
	if (gm < 0)
		return -IZA_ENOTFOUND;
	zk = region_of(rd, gm, day);
	if (zk < 0)
		return -IZA_ENOTFOUND;
	if (gemeente)
		snprintf(gemeente, 8, "GM%04d", gm % 10000);
	if (region)
		snprintf(region, 8, "ZK%02d", zk % 100);
	return 0;
}

const char *refdata_region_name(const struct refdata *rd, const char *region)
{
	int zk;

	if (!rd || !region || strlen(region) != 4)
		return NULL;
	zk = parse_zk(region);
	return zk < 0 ? NULL : rd->region_name[zk];
}

int64_t refdata_population(const struct refdata *rd, const char *region,
			   int year, int *year_used)
{
	int64_t found = -1;
	int zk, used = 0;
	int32_t i;

	if (!rd || !region || strlen(region) != 4 ||
	    (zk = parse_zk(region)) < 0)
		return -1;
	i = rd->pop_first[zk];
	if (i < 0)
		return -1;
	for (; (size_t)i < rd->npop && rd->pop[i].zk == zk; i++) {
		if (rd->pop[i].year > year)
			break;
		found = rd->pop[i].inhabitants;
		used = rd->pop[i].year;
	}
	if (found >= 0 && year_used)
		*year_used = used;
	return found;
}

long refdata_region_pc4s(const struct refdata *rd, const char *region,
			 int64_t day, int *out, size_t cap)
{
	long n = 0;
	int zk, pc4, gm;

	if (!rd || !region || strlen(region) != 4 ||
	    (zk = parse_zk(region)) < 0)
		return -IZA_EINVALID;
	if (!out && cap > 0)
		return -IZA_EUSAGE;
	for (pc4 = PC4_MIN; pc4 <= PC4_MAX; pc4++) {
		gm = gemeente_of(rd, pc4, day);
		if (gm < 0 || region_of(rd, gm, day) != zk)
			continue;
		if ((size_t)n < cap)
			out[n] = pc4;
		n++;
	}
	return n;
}

const char *refdata_sector_of_agb(const struct refdata *rd, const char *agb)
{
	const struct sector_row *best = NULL;
	size_t i;

	if (!rd || !agb || parse_digits(agb, AGB_LEN, AGB_LEN) < 0)
		return NULL;
	for (i = 0; i < rd->nsector; i++) {
		const struct sector_row *r = &rd->sector[i];

		if (memcmp(agb, r->prefix, r->plen) == 0 &&
		    (!best || r->plen > best->plen))
			best = r;
	}
	return best ? best->sector : NULL;
}
