/*
 * period.h - reporting periods and time in Europe/Amsterdam.
 *
 * Periods are calendar months, quarters and years in Dutch local time.  The
 * conversion between local time and UTC implements the EU summer-time rule
 * (since 1996: CEST from the last Sunday of March 01:00 UTC to the last Sunday
 * of October 01:00 UTC; CET = UTC+1 otherwise) in integer arithmetic, so the
 * result does not depend on the machine's tzdata or TZ variable.  The same
 * rule is applied to every year, also before 1996 (the Netherlands then ended
 * summer time on the last Sunday of September, and had none before 1977):
 * before 1996 the result is an hour off from late September to late
 * October (and in the summers before 1977); the gateway's data starts long
 * after that.  Instants outside the years 1..9999 are taken as CET.
 *
 * Instants are FHIR dateTime/instant text: YYYY, YYYY-MM, YYYY-MM-DD (local
 * Amsterdam date, taken as the start of that local day/month/year) or
 * YYYY-MM-DDThh:mm:ss[.f](Z|+hh:mm|-hh:mm), strictly as FHIR R4 writes them:
 * seconds are required, the fraction has 1..9 digits and is truncated, 'T'
 * and 'Z' are upper case, offsets go up to 14:00.  Tolerance: FHIR requires
 * an offset with a time; a time without one is taken as Amsterdam local time.
 * Impossible dates and times (2025-02-30, 2025-02-29, month 13, hour 24,
 * minute 60, second 60 - the leap second FHIR's regex allows is refused) are
 * -IZA_EDATE; anything else that does not match is -IZA_EPARSE.
 */
#ifndef IZA_PERIOD_H
#define IZA_PERIOD_H

#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

enum period_kind { PERIOD_MONTH, PERIOD_QUARTER, PERIOD_YEAR };

struct period {
	enum period_kind kind;
	int year;
	int index;     /* month 1..12, quarter 1..4, 0 for a year */
	int64_t start; /* UTC instant of local 00:00 on the first day */
	int64_t
	    end; /* UTC instant of local 00:00 after the last day (exclusive) */
	char label[12];	    /* "2025-Q1", "2025-03", "2025" */
	char first_day[11]; /* "YYYY-MM-DD" */
	char last_day[11];  /* "YYYY-MM-DD" inclusive */
};

/* "2025", "2025-Q1".."2025-Q4", "2025-01".."2025-12"; years 1900..2999. */
int period_parse(const char *s, struct period *out, struct iza_error *err);
/* Build from kind/year/index. */
int period_make(enum period_kind kind, int year, int index, struct period *out);
/* The months (as periods) that make up p, in order; returns count (1, 3, 12).
 */
int period_months(const struct period *p, struct period out[12]);

/* Days since 1970-01-01 of a civil date, and back. */
int64_t days_from_civil(int y, int m, int d);
void civil_from_days(int64_t z, int *y, int *m, int *d);

/* UTC offset in seconds (3600 or 7200) of Amsterdam at UTC instant t. */
int ams_offset_at_utc(int64_t t);
/* UTC instant of a local Amsterdam wall time.  For the gap/overlap hours the
 * earlier offset (the one in force before the switch) wins: the spring gap
 * 02:30 is read as CET (2025-03-30T02:30 -> 01:30Z, = 03:30 CEST), the autumn
 * overlap 02:30 as CEST, its first pass (2025-10-26T02:30 -> 00:30Z). */
int64_t ams_local_to_utc(int y, int mo, int d, int h, int mi, int s);
/* Local civil date of UTC instant t. */
void ams_local_date(int64_t t, int *y, int *m, int *d);

/* Parse a FHIR date/dateTime/instant (see above). */
int parse_fhir_instant(const char *s, size_t len, int64_t *out);
/* Parse a FHIR date "YYYY[-MM[-DD]]" to year (and month/day, 0 if absent). */
int parse_fhir_date(const char *s, size_t len, int *y, int *m, int *d);

/* Parse an HL7 v2 TS/DTM or CDA TS value: YYYY[MM[DD[HH[MM[SS[.S{1,4}]]]]]]
 * [+/-ZZZZ]; missing parts are the start of the year/month/day/hour; no
 * offset means Amsterdam local time.  -IZA_EPARSE / -IZA_EDATE. */
int parse_hl7_ts(const char *s, size_t len, int64_t *out);

/* Format UTC instant as "YYYY-MM-DDThh:mm:ssZ" into out[21]. */
void format_utc(int64_t t, char out[21]);

#endif
