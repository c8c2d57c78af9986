/*
 * kpi_format.c - `izagw kpis` output: table, JSON, CSV.
 *
 * Table (for people):
 *   KPIs for region ZK05 (Name), period 2025-Q1 (2025-01-01 to 2025-03-31)
 *   <blank line>
 *   KPI            value  numerator  denominator  note
 *   er-visits       1234       1234
 *     age_band=0-17     -                          suppressed (fewer than k=10
 * persons) digital-share  30.0%        300         1000 KPI and note columns
 * left-aligned, numbers right-aligned, two spaces between columns, no trailing
 * blanks.  Shares as percentages with one decimal, counts as integers, other
 * values with one decimal.  Strata are indented rows "stratifier=value" under
 * their KPI, except the 168 of hour_of_week (a load profile: JSON and CSV
 * have them).  An absent value is
 *   "-"; absent counts are blank.
 *
 * JSON: kpi_results_to_json (report.c documents the shape) dumped with
 *   KPI_JSON_DUMP_FLAGS (compact, sorted keys, at most 15 significant digits
 *   of values already rounded to 6 decimals), then "\n".  Values are exact
 *   fractions for shares (0.3, not 30.0): a machine reader should not have
 *   to undo a percentage; rounding happens once, in kpi_results_to_json.
 *
 * CSV (RFC 4180: CRLF line ends, fields with , " CR or LF quoted, quotes
 *   doubled): header kpi_id,value,numerator,denominator,suppressed,reason;
 *   one row per KPI (strata are in the JSON output only, so the header stays
 *   the contract); value as in JSON (share a fraction, 6 decimals at most),
 *   empty when absent; suppressed true/false.
 */
#include "kpi_format.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define CELL_MAX 128 /* one table cell; longer text is cut */
#define NCOLS	 5

int kpi_format_parse(const char *s, enum kpi_format *out)
{
	if (!s || !out)
		return -IZA_EUSAGE;
	if (strcmp(s, "table") == 0)
		*out = KPI_FORMAT_TABLE;
	else if (strcmp(s, "json") == 0)
		*out = KPI_FORMAT_JSON;
	else if (strcmp(s, "csv") == 0)
		*out = KPI_FORMAT_CSV;
	else
		return -IZA_EUSAGE;
	return 0;
}

static bool released(const struct kpi_cell *c)
{
	return c->has_value && !c->suppressed;
}

/* A value as in the JSON: rounded to 6 decimals, trailing zeros cut. */
static void machine_number(double v, char *buf, size_t size)
{
	size_t n;

	if (!isfinite(v)) {
		buf[0] = '\0';
		return;
	}
	v = round(v * 1e6) / 1e6;
	if (v == 0.0)
		v = 0.0; /* no "-0" */
	snprintf(buf, size, "%.6f", v);
	if (!strchr(buf, '.'))
		return;
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

/* A value for people. */
static void human_value(enum kpi_kind kind, const struct kpi_cell *c, char *buf,
			size_t size)
{
	double v = c->value;

	if (!released(c) || !isfinite(v)) {
		snprintf(buf, size, "-");
		return;
	}
	switch (kind) {
	case KPI_SHARE:
		snprintf(buf, size, "%.1f%%", v * 100.0);
		return;
	case KPI_COUNT:
	case KPI_DISTINCT:
	case KPI_BED_DAYS:
		if (v == floor(v) && fabs(v) < 9e15) {
			snprintf(buf, size, "%" PRId64, (int64_t)v);
			return;
		}
		break;
	case KPI_AVOIDED:
		break;
	}
	snprintf(buf, size, "%.1f", v);
}

static void count_text(bool has, int64_t n, char *buf, size_t size)
{
	if (has)
		snprintf(buf, size, "%" PRId64, n);
	else
		buf[0] = '\0';
}

static void note_text(enum kpi_kind kind, const struct kpi_cell *c, char *buf,
		      size_t size)
{
	if (c->suppressed)
		snprintf(buf, size, "suppressed (%s)",
			 c->reason[0] ? c->reason : "disclosure control");
	else if (!c->has_value)
		snprintf(buf, size, "%s",
			 c->reason[0] ? c->reason : "not computable");
	else if (c->held_release > 0 && c->reason[0])
		snprintf(buf, size, "%s", c->reason);
	else if (kind == KPI_AVOIDED && c->baseline_year > 0 &&
		 c->pop_period_year_used > 0 &&
		 c->pop_period_year_used != c->pop_baseline_year_used)
		snprintf(buf, size,
			 "numerator observed, denominator expected; baseline "
			 "%d; populations of %d and %d",
			 c->baseline_year, c->pop_period_year_used,
			 c->pop_baseline_year_used);
	else if (kind == KPI_AVOIDED && c->baseline_year > 0)
		snprintf(buf, size,
			 "numerator observed, denominator expected; baseline "
			 "%d; population of %d for both years",
			 c->baseline_year, c->pop_baseline_year_used);
	else
		buf[0] = '\0';
}

/* ---- table ---- */

struct row {
	char col[NCOLS][CELL_MAX];
};

static void fill_row(struct row *rw, const char *label, enum kpi_kind kind,
		     const struct kpi_cell *c)
{
	bool rel = released(c);

	snprintf(rw->col[0], CELL_MAX, "%s", label);
	human_value(kind, c, rw->col[1], CELL_MAX);
	count_text(rel && c->has_numerator, c->numerator, rw->col[2], CELL_MAX);
	count_text(rel && c->has_denominator, c->denominator, rw->col[3],
		   CELL_MAX);
	note_text(kind, c, rw->col[4], CELL_MAX);
}

static int write_table(FILE *f, const struct kpi_results *r)
{
	struct row *rows = NULL;
	size_t nrows = 1, i, j, k, w[NCOLS] = {0};
	char label[CELL_MAX];
	int rc = 0;

	for (i = 0; i < r->n; i++)
		nrows += 1 + r->values[i].nstrata;
	/* (hour_of_week strata, 168 of them, are left out below) */
	rows = calloc(nrows, sizeof(*rows));
	if (!rows)
		return -IZA_ENOMEM;
	snprintf(rows[0].col[0], CELL_MAX, "KPI");
	snprintf(rows[0].col[1], CELL_MAX, "value");
	snprintf(rows[0].col[2], CELL_MAX, "numerator");
	snprintf(rows[0].col[3], CELL_MAX, "denominator");
	snprintf(rows[0].col[4], CELL_MAX, "note");
	k = 1;
	for (i = 0; i < r->n; i++) {
		const struct kpi_value *v = &r->values[i];
		enum kpi_kind kind = v->def ? v->def->kind : KPI_COUNT;

		fill_row(&rows[k++], v->def && v->def->id ? v->def->id : "?",
			 kind, &v->cell);
		for (j = 0; j < v->nstrata; j++) {
			if (strcmp(v->strata[j].stratifier, "hour_of_week") ==
			    0)
				continue;
			snprintf(label, sizeof(label), "  %s=%s",
				 v->strata[j].stratifier, v->strata[j].value);
			fill_row(&rows[k++], label, kind, &v->strata[j].cell);
		}
	}
	nrows = k;
	for (i = 0; i < nrows; i++)
		for (j = 0; j < NCOLS; j++)
			if (strlen(rows[i].col[j]) > w[j])
				w[j] = strlen(rows[i].col[j]);

	if (fprintf(f, "KPIs for region %s%s%s%s, period %s (%s to %s)\n\n",
		    r->region, r->region_name[0] ? " (" : "", r->region_name,
		    r->region_name[0] ? ")" : "", r->period.label,
		    r->period.first_day, r->period.last_day) < 0)
		goto io;
	for (i = 0; i < nrows; i++) {
		const struct row *rw = &rows[i];
		char line[NCOLS * (CELL_MAX + 2) + 1];
		size_t n;

		snprintf(line, sizeof(line), "%-*s  %*s  %*s  %*s  %s",
			 (int)w[0], rw->col[0], (int)w[1], rw->col[1],
			 (int)w[2], rw->col[2], (int)w[3], rw->col[3],
			 rw->col[4]);
		n = strlen(line);
		while (n > 0 && line[n - 1] == ' ')
			line[--n] = '\0';
		if (fputs(line, f) == EOF || fputc('\n', f) == EOF)
			goto io;
	}
	goto out;
io:
	rc = -IZA_EIO;
out:
	free(rows);
	return rc;
}

/* ---- CSV ---- */

static int csv_field(FILE *f, const char *s, bool last)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	const char *p;

	if (quote) {
		if (fputc('"', f) == EOF)
			return -IZA_EIO;
		for (p = s; *p; p++) {
			if (*p == '"' && fputc('"', f) == EOF)
				return -IZA_EIO;
			if (fputc(*p, f) == EOF)
				return -IZA_EIO;
		}
		if (fputc('"', f) == EOF)
			return -IZA_EIO;
	} else if (s[0] && fputs(s, f) == EOF) {
		return -IZA_EIO;
	}
	if (fputs(last ? "\r\n" : ",", f) == EOF)
		return -IZA_EIO;
	return 0;
}

static int write_csv(FILE *f, const struct kpi_results *r)
{
	char value[64], num[32], den[32];
	size_t i;
	int rc;

	if (fputs("kpi_id,value,numerator,denominator,suppressed,reason\r\n",
		  f) == EOF)
		return -IZA_EIO;
	for (i = 0; i < r->n; i++) {
		const struct kpi_value *v = &r->values[i];
		const struct kpi_cell *c = &v->cell;
		bool rel = released(c);

		if (rel)
			machine_number(c->value, value, sizeof(value));
		else
			value[0] = '\0';
		count_text(rel && c->has_numerator, c->numerator, num,
			   sizeof(num));
		count_text(rel && c->has_denominator, c->denominator, den,
			   sizeof(den));
		rc =
		    csv_field(f, v->def && v->def->id ? v->def->id : "", false);
		if (!rc)
			rc = csv_field(f, value, false);
		if (!rc)
			rc = csv_field(f, num, false);
		if (!rc)
			rc = csv_field(f, den, false);
		if (!rc)
			rc = csv_field(f, c->suppressed ? "true" : "false",
				       false);
		if (!rc)
			rc = csv_field(f, c->reason, true);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- JSON ---- */

static int write_json(FILE *f, const struct kpi_results *r)
{
	json_t *j = kpi_results_to_json(r);
	char *s = NULL;
	int rc = -IZA_ENOMEM;

	if (!j)
		goto out;
	s = json_dumps(j, KPI_JSON_DUMP_FLAGS);
	if (!s)
		goto out;
	rc = 0;
	if (fputs(s, f) == EOF || fputc('\n', f) == EOF)
		rc = -IZA_EIO;
out:
	free(s);
	json_decref(j);
	return rc;
}

int kpi_results_write(FILE *f, const struct kpi_results *r, enum kpi_format fmt)
{
	int rc;

	if (!f || !r)
		return -IZA_EUSAGE;
	switch (fmt) {
	case KPI_FORMAT_TABLE:
		rc = write_table(f, r);
		break;
	case KPI_FORMAT_JSON:
		rc = write_json(f, r);
		break;
	case KPI_FORMAT_CSV:
		rc = write_csv(f, r);
		break;
	default:
		return -IZA_EUSAGE;
	}
	if (!rc && (fflush(f) == EOF || ferror(f)))
		rc = -IZA_EIO;
	return rc;
}
