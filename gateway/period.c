/*
 * period.c - reporting periods and Europe/Amsterdam time in integer
 * arithmetic (see period.h for the rules and the tolerances).
 */
#include "period.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SECS_PER_DAY 86400
#define CET	     3600
#define CEST	     7200

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};

	if (m == 2 && is_leap(y))
		return 29;
	return dim[m - 1];
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date.  Years are counted in
 * 400-year eras starting on 1 March, so the leap day is the last day of its
 * "year" and the day-of-year follows from the month by a linear formula.
 */
int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2 ? 1 : 0);
	int64_t era = floor_div(yy, 400);
	int64_t yoe = yy - era * 400;			     /* 0..399 */
	int64_t mp = (m + 9) % 12;			     /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;	     /* 0..365 */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */

	return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t zz = z + 719468;
	int64_t era = floor_div(zz, 146097);
	int64_t doe = zz - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t dd = doy - (153 * mp + 2) / 5 + 1;
	int64_t mm = mp < 10 ? mp + 3 : mp - 9;
	int64_t yy = yoe + era * 400 + (mm <= 2 ? 1 : 0);

	*y = (int)yy;
	*m = (int)mm;
	*d = (int)dd;
}

/* 0 = Sunday .. 6 = Saturday; 1970-01-01 was a Thursday. */
static int weekday(int64_t z)
{
	return (int)(z + 4 - floor_div(z + 4, 7) * 7);
}

/* Days since the epoch of the last Sunday of month m in year y. */
static int64_t last_sunday(int y, int m)
{
	int64_t last = days_from_civil(y, m, days_in_month(y, m));

	return last - weekday(last);
}

/* Range of instants for which we compute a calendar year: years 1..9999. */
static int64_t utc_min(void)
{
	return days_from_civil(1, 1, 1) * SECS_PER_DAY;
}

static int64_t utc_max(void)
{
	return days_from_civil(10000, 1, 1) * SECS_PER_DAY - 1;
}

int ams_offset_at_utc(int64_t t)
{
	int64_t begin, end;
	int y, m, d;

	if (t < utc_min() || t > utc_max())
		return CET;
	civil_from_days(floor_div(t, SECS_PER_DAY), &y, &m, &d);
	begin = last_sunday(y, 3) * SECS_PER_DAY + 3600;
	end = last_sunday(y, 10) * SECS_PER_DAY + 3600;
	return (t >= begin && t < end) ? CEST : CET;
}

int64_t ams_local_to_utc(int y, int mo, int d, int h, int mi, int s)
{
	int64_t local = days_from_civil(y, mo, d) * SECS_PER_DAY +
			(int64_t)h * 3600 + (int64_t)mi * 60 + s;
	int64_t as_cet = local - CET, as_cest = local - CEST;
	bool cet_ok = ams_offset_at_utc(as_cet) == CET;
	bool cest_ok = ams_offset_at_utc(as_cest) == CEST;

	if (cet_ok && cest_ok)
		return as_cest; /* overlap: the first (summer-time) pass */
	if (cest_ok)
		return as_cest;
	return as_cet; /* winter time, or the spring gap read as CET */
}

void ams_local_date(int64_t t, int *y, int *m, int *d)
{
	int64_t local = t;

	if (t <= INT64_MAX - CEST)
		local = t + ams_offset_at_utc(t);
	civil_from_days(floor_div(local, SECS_PER_DAY), y, m, d);
}

/* Write v (0 <= v < 10^width) as width decimal digits. */
static void put_digits(char *p, int v, int width)
{
	while (width-- > 0) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

void format_utc(int64_t t, char out[21])
{
	int64_t days;
	int sod, y, m, d;

	memcpy(out, "0000-00-00T00:00:00Z", 21);
	if (t < utc_min() || t > utc_max())
		return; /* before the range check t * 86400 could overflow */
	days = floor_div(t, SECS_PER_DAY);
	sod = (int)(t - days * SECS_PER_DAY);
	civil_from_days(days, &y, &m, &d);
	put_digits(out, y, 4);
	put_digits(out + 5, m, 2);
	put_digits(out + 8, d, 2);
	put_digits(out + 11, sod / 3600, 2);
	put_digits(out + 14, sod / 60 % 60, 2);
	put_digits(out + 17, sod % 60, 2);
}

/* ---- text parsing ---- */

/* n decimal digits at s[0..n): value, or -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * The date part of a FHIR date/dateTime: "YYYY", "YYYY-MM" or "YYYY-MM-DD"
 * at the start of s.  Returns the number of characters used (4, 7, 10) or a
 * negative code; m and d are 0 when absent.
 */
static int parse_date_prefix(const char *s, size_t len, int *y, int *m, int *d)
{
	int yy, mm = 0, dd = 0;
	size_t used = 4;

	if (len < 4 || (yy = digits(s, 4)) < 0)
		return -IZA_EPARSE;
	if (yy < 1)
		return -IZA_EDATE;
	if (len > 4 && s[4] == '-') {
		if (len < 7 || (mm = digits(s + 5, 2)) < 0)
			return -IZA_EPARSE;
		if (mm < 1 || mm > 12)
			return -IZA_EDATE;
		used = 7;
		if (len > 7 && s[7] == '-') {
			if (len < 10 || (dd = digits(s + 8, 2)) < 0)
				return -IZA_EPARSE;
			if (dd < 1 || dd > days_in_month(yy, mm))
				return -IZA_EDATE;
			used = 10;
		}
	}
	*y = yy;
	*m = mm;
	*d = dd;
	return (int)used;
}

int parse_fhir_date(const char *s, size_t len, int *y, int *m, int *d)
{
	int yy, mm, dd;
	int rc;

	if (!s)
		return -IZA_EMISSING;
	rc = parse_date_prefix(s, len, &yy, &mm, &dd);
	if (rc < 0)
		return rc;
	if ((size_t)rc != len)
		return -IZA_EPARSE;
	*y = yy;
	*m = mm;
	*d = dd;
	return 0;
}

/* "hh:mm:ss" at s (8 characters checked by the caller). */
static int parse_hms(const char *s, int *h, int *mi, int *sec)
{
	int hh = digits(s, 2), mm = digits(s + 3, 2), ss = digits(s + 6, 2);

	if (hh < 0 || mm < 0 || ss < 0 || s[2] != ':' || s[5] != ':')
		return -IZA_EPARSE;
	if (hh > 23 || mm > 59 || ss > 59)
		return -IZA_EDATE;
	*h = hh;
	*mi = mm;
	*sec = ss;
	return 0;
}

int parse_fhir_instant(const char *s, size_t len, int64_t *out)
{
	int y, mo, d, h, mi, sec, rc;
	size_t i;
	int64_t t;

	if (!s || !out)
		return -IZA_EMISSING;
	rc = parse_date_prefix(s, len, &y, &mo, &d);
	if (rc < 0)
		return rc;
	i = (size_t)rc;
	if (i == len) {
		t = ams_local_to_utc(y, mo ? mo : 1, d ? d : 1, 0, 0, 0);
		goto done;
	}
	/* a time needs a full date and seconds: "Thh:mm:ss" */
	if (i != 10 || s[i] != 'T' || len - i < 9)
		return -IZA_EPARSE;
	rc = parse_hms(s + i + 1, &h, &mi, &sec);
	if (rc < 0)
		return rc;
	i += 9;
	if (i < len && s[i] == '.') { /* fraction: 1..9 digits, truncated */
		size_t f = ++i;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f || i - f > 9)
			return -IZA_EPARSE;
	}
	if (i == len) { /* tolerance: no zone = Amsterdam local time */
		t = ams_local_to_utc(y, mo, d, h, mi, sec);
		goto done;
	}
	t = days_from_civil(y, mo, d) * SECS_PER_DAY + (int64_t)h * 3600 +
	    (int64_t)mi * 60 + sec;
	if (s[i] == 'Z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		int oh, om, off;

		if (len - i < 6 || s[i + 3] != ':')
			return -IZA_EPARSE;
		oh = digits(s + i + 1, 2);
		om = digits(s + i + 4, 2);
		if (oh < 0 || om < 0)
			return -IZA_EPARSE;
		if (om > 59 || oh > 14 || (oh == 14 && om != 0))
			return -IZA_EDATE;
		off = oh * 3600 + om * 60;
		t -= s[i] == '+' ? off : -off;
		i += 6;
	} else {
		return -IZA_EPARSE;
	}
	if (i != len)
		return -IZA_EPARSE;
done:
	*out = t;
	return 0;
}

/* ---- periods ---- */

int period_make(enum period_kind kind, int year, int index, struct period *out)
{
	struct period p;
	int m0, m1; /* first and last month */

	if (!out || year < 1900 || year > 2999)
		return -IZA_EINVALID;
	memset(&p, 0, sizeof(p));
	switch (kind) {
	case PERIOD_MONTH:
		if (index < 1 || index > 12)
			return -IZA_EINVALID;
		m0 = m1 = index;
		snprintf(p.label, sizeof(p.label), "%04d-%02d", year, index);
		break;
	case PERIOD_QUARTER:
		if (index < 1 || index > 4)
			return -IZA_EINVALID;
		m0 = 3 * index - 2;
		m1 = 3 * index;
		snprintf(p.label, sizeof(p.label), "%04d-Q%d", year, index);
		break;
	case PERIOD_YEAR:
		if (index != 0)
			return -IZA_EINVALID;
		m0 = 1;
		m1 = 12;
		snprintf(p.label, sizeof(p.label), "%04d", year);
		break;
	default:
		return -IZA_EINVALID;
	}
	p.kind = kind;
	p.year = year;
	p.index = index;
	p.start = ams_local_to_utc(year, m0, 1, 0, 0, 0);
	if (m1 == 12)
		p.end = ams_local_to_utc(year + 1, 1, 1, 0, 0, 0);
	else
		p.end = ams_local_to_utc(year, m1 + 1, 1, 0, 0, 0);
	snprintf(p.first_day, sizeof(p.first_day), "%04d-%02d-01", year, m0);
	snprintf(p.last_day, sizeof(p.last_day), "%04d-%02d-%02d", year, m1,
		 days_in_month(year, m1));
	*out = p;
	return 0;
}

int period_parse(const char *s, struct period *out, struct iza_error *err)
{
	size_t len;
	int y, v, rc;

	if (!s)
		return iza_error_set(err, -IZA_EMISSING, NULL, 0, "period",
				     "no period given");
	len = strnlen(s, 16);
	y = len >= 4 ? digits(s, 4) : -1;
	if (y < 0)
		goto bad;
	if (len == 4) {
		rc = period_make(PERIOD_YEAR, y, 0, out);
	} else if (len == 7 && s[4] == '-' && s[5] == 'Q' &&
		   (v = digits(s + 6, 1)) >= 0) {
		rc = period_make(PERIOD_QUARTER, y, v, out);
	} else if (len == 7 && s[4] == '-' && (v = digits(s + 5, 2)) >= 0) {
		rc = period_make(PERIOD_MONTH, y, v, out);
	} else {
		goto bad;
	}
	if (rc < 0)
		return iza_error_set(err, rc, NULL, 0, "period",
				     "period out of range (years 1900..2999, "
				     "quarters Q1..Q4, months 01..12)");
	return 0;
bad:
	return iza_error_set(err, -IZA_EPARSE, NULL, 0, "period",
			     "expected YYYY, YYYY-Qn or YYYY-MM");
}

int period_months(const struct period *p, struct period out[12])
{
	int first, n, i;

	switch (p->kind) {
	case PERIOD_MONTH:
		first = p->index;
		n = 1;
		break;
	case PERIOD_QUARTER:
		first = 3 * p->index - 2;
		n = 3;
		break;
	default:
		first = 1;
		n = 12;
		break;
	}
	for (i = 0; i < n; i++)
		if (period_make(PERIOD_MONTH, p->year, first + i, &out[i]) < 0)
			return -IZA_EINVALID;
	return n;
}

/* HL7 v2 TS/DTM and CDA TS: YYYY[MM[DD[HH[MM[SS[.S{1,4}]]]]]][+/-ZZZZ];
 * without an offset the time is Amsterdam local time. */
int parse_hl7_ts(const char *s, size_t len, int64_t *out)
{
	int v[6] = {0, 1, 1, 0, 0, 0};
	static const int width[6] = {4, 2, 2, 2, 2, 2};
	size_t pos = 0, k, n = len;
	int off = 0, sign = 0, hh, mm;
	int64_t t;

	/* an offset +ZZZZ / -ZZZZ at the end */
	if (n >= 5 && (s[n - 5] == '+' || s[n - 5] == '-')) {
		hh = digits(s + n - 4, 2);
		mm = digits(s + n - 2, 2);
		if (hh < 0 || mm < 0 || hh > 14 || mm > 59)
			return -IZA_EPARSE;
		sign = s[n - 5] == '-' ? -1 : 1;
		off = sign * (hh * 3600 + mm * 60);
		n -= 5;
	}
	for (k = 0; k < 6 && pos < n && s[pos] != '.'; k++) {
		if (pos + (size_t)width[k] > n)
			return -IZA_EPARSE;
		v[k] = digits(s + pos, (size_t)width[k]);
		if (v[k] < 0)
			return -IZA_EPARSE;
		pos += (size_t)width[k];
	}
	if (k < 1)
		return -IZA_EPARSE;
	if (pos < n) { /* fraction of a second: 1-4 digits, only after SS */
		size_t f = n - pos - 1;

		if (k != 6 || s[pos] != '.' || f < 1 || f > 4 ||
		    digits(s + pos + 1, f) < 0)
			return -IZA_EPARSE;
	}
	if (v[0] < 1900 || v[0] > 2999 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
	    v[2] > days_in_month(v[0], v[1]) || v[3] > 23 || v[4] > 59 ||
	    v[5] > 59)
		return -IZA_EDATE;
	if (sign)
		t = (days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 +
		     v[4] * 60 + v[5]) -
		    off;
	else
		t = ams_local_to_utc(v[0], v[1], v[2], v[3], v[4], v[5]);
	*out = t;
	return 0;
}
