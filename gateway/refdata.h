/*
 * refdata.h - Dutch reference tables loaded from mappings/regions/:
 * PC4 -> municipality -> zorgkantoorregio (effective-dated, municipal mergers
 * applied), region names and populations per year, and AGB code -> sector.
 *
 * Files (CSV with a header line, UTF-8; see mappings/regions/README.md for
 * provenance and licences):
 *   pc4_gemeente.csv          pc4,gemeente_code,valid_from
 *   gemeente_region.csv       gemeente_code,zorgkantoorregio_code,valid_from
 *   gemeente_merges.csv       old_code,new_code,effective   (old -> new)
 *   regions.csv               zorgkantoorregio_code,name
 *   population.csv            zorgkantoorregio_code,year,inhabitants
 *   agb_sector.csv            agb_prefix,sector,label
 * Every row is validated (codes, dates, duplicates, links between the
 * tables, merger cycles); an error names file, line and column: err->file is
 * the path, err->line the line, err->field "column N (name)".  Quoted fields
 * (RFC 4180, one line each), CRLF and blank lines are accepted.  Each file is
 * capped at 16 MiB and 500,000 rows.
 *
 * Dates: of the rows of a PC4 or municipality, the one with the latest
 * valid_from on or before the day applies; before the earliest row the
 * earliest applies (so 2024 tables answer for baseline years too).  A merger
 * applies from its effective date; a municipality without a region row of
 * its own (a code merged away) takes its successor's region.  Lookups are
 * array reads indexed by PC4 / GM / ZK number.
 */
#ifndef IZA_REFDATA_H
#define IZA_REFDATA_H

#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

struct refdata;

/* dir: the regions folder (e.g. "mappings/regions"). */
int refdata_load(const char *dir, struct refdata **out, struct iza_error *err);
void refdata_free(struct refdata *rd); /* accepts NULL */

/* Extract PC4 from a postcode text ("1012 AB", "1012AB", "1012"):
 * returns 1000..9999 or 0 if not a Dutch postcode. */
int postcode_pc4(const char *s, size_t len);

/* Municipality and region of a PC4 on a date (days since 1970-01-01, local);
 * writes "GMxxxx"/"ZKxx" (NUL-terminated, 8 bytes each), mergers applied.
 * Returns 0, or -IZA_ENOTFOUND when the PC4 is unknown (outputs untouched). */
int refdata_locate(const struct refdata *rd, int pc4, int64_t day,
		   char gemeente[8], char region[8]);

/* Region name for "ZKxx", NULL if unknown; the string belongs to rd. */
const char *refdata_region_name(const struct refdata *rd, const char *region);

/* Inhabitants of a region in a year. If the table has no row for that year,
 * the nearest earlier year's figure is used and *year_used says which
 * (callers report it). Returns -1 if no figure at or before year exists. */
int64_t refdata_population(const struct refdata *rd, const char *region,
			   int year, int *year_used);

/* The PC4 areas whose municipality lies in region on day, ascending, into
 * out[0..cap); returns how many there are (may exceed cap) or a negative
 * code. Used by the demo-data generator. */
long refdata_region_pc4s(const struct refdata *rd, const char *region,
			 int64_t day, int *out, size_t cap);

/* Sector of an AGB code (exactly 8 digits) by longest matching prefix; NULL
 * if none or not 8 digits.  The string belongs to rd. */
const char *refdata_sector_of_agb(const struct refdata *rd, const char *agb);

#endif
