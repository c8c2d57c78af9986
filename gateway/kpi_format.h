/*
 * kpi_format.h - the released KPI values as a table, JSON or CSV (the output
 * of `izagw kpis`).  Only released values are printed: a suppressed cell
 * shows no value and no counts.
 */
#ifndef IZA_KPI_FORMAT_H
#define IZA_KPI_FORMAT_H

#include <stdio.h>

#include "kpi.h"

enum kpi_format { KPI_FORMAT_TABLE, KPI_FORMAT_JSON, KPI_FORMAT_CSV };

/* "table" | "json" | "csv" -> 0 and *out, else -IZA_EUSAGE. */
int kpi_format_parse(const char *s, enum kpi_format *out);

/* Write r to f; returns 0 or -IZA_EIO (also -IZA_ENOMEM, -IZA_EUSAGE for a
 * NULL argument or unknown format). JSON is the shape documented in
 * docs/cli.md (kpi_results_to_json in report.h), compact, sorted keys,
 * followed by a newline, byte-identical for identical inputs.  The exact
 * table and CSV layouts are documented at the top of kpi_format.c. */
int kpi_results_write(FILE *f, const struct kpi_results *r,
		      enum kpi_format fmt);

#endif
