/*
 * dashboard.c - the HTML dashboard (contract in dashboard.h).
 *
 * Pages are written to a memory stream.  Every string that comes from a
 * stored document (plan names, descriptions, notes) is HTML-escaped; ids
 * and codes are too, for the same price.
 */
#include "dashboard.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"
#include "plan.h"

/* Chart geometry (SVG user units) */
#define CW 640.0
#define CH 260.0
#define ML 70.0
#define MR 48.0
#define MT 20.0
#define MB 50.0

/* Colours: all at least 4.5:1 on white */
#define C_VALUE	   "#1f4e99"
#define C_TARGET   "#1b6e20"
#define C_BASELINE "#5f5f5f"
#define C_BAND	   "#d9ecd9"
#define C_GAP	   "#a1331c"

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static json_int_t num_i(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* "€ 1.500.000,00" */
static void eur(FILE *f, json_int_t cents)
{
	char digits[32], out[48];
	json_int_t a = cents < 0 ? -cents : cents;
	size_t n, i, o = 0;

	snprintf(digits, sizeof(digits), "%lld", (long long)(a / 100));
	n = strlen(digits);
	for (i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			out[o++] = '.';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	fprintf(f, "&euro;&nbsp;%s%s,%02lld", cents < 0 ? "-" : "", out,
		(long long)(a % 100));
}

/* millionths of a JSON number (the documents carry six decimals at most) */
static int64_t millionths(const json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v) * PLAN_SCALE;
	return (int64_t)llround(json_number_value(v) * PLAN_SCALE);
}

/* A JSON number exactly as decided on: all six decimals, no exponent. */
static void value(FILE *f, const json_t *v)
{
	char buf[32];

	if (!json_is_number(v)) {
		fputs("&mdash;", f);
		return;
	}
	plan_value_format(millionths(v), buf);
	fputs(buf, f);
}

static void when(FILE *f, json_int_t t)
{
	char buf[21];

	format_utc((int64_t)t, buf);
	fprintf(f, "<time datetime=\"%s\">%.10s %.5s UTC</time>", buf, buf,
		buf + 11);
}

/* The status as a labelled badge: text first, colour only repeats it. */
static void badge(FILE *f, const char *status, bool final)
{
	static const struct {
		const char *s, *label, *cls;
	} names[] = {
	    {"met", "met", "ok"},
	    {"met-within-bandwidth", "met within bandwidth", "ok"},
	    {"missed", "missed", "bad"},
	    {"not-evaluable", "not evaluable", "warn"},
	    {"pending", "pending", "open"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strcmp(names[i].s, status) == 0) {
			fprintf(f, "<span class=\"badge %s\">%s%s</span>",
				names[i].cls, names[i].label,
				final ? "" : " (provisional)");
			return;
		}
	fputs("<span class=\"badge open\">", f);
	esc(f, status);
	fputs("</span>", f);
}

static void head(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
	      "charset=\"utf-8\">\n<meta name=\"viewport\" "
	      "content=\"width=device-width, initial-scale=1\">\n<title>",
	      f);
	esc(f, title);
	fputs(
	    " &middot; izamon</title>\n<style>\n"
	    "body{font:16px/1.45 system-ui,sans-serif;color:#1a1a1a;"
	    "margin:0;background:#fff}\n"
	    "header{background:#14365f;color:#fff;padding:.8rem 1.5rem}\n"
	    "header a{color:#fff}\n"
	    "main{max-width:72rem;margin:0 auto;padding:1rem 1.5rem}\n"
	    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}\n"
	    "th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px "
	    "solid #ccc;vertical-align:top}\n"
	    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	    ".badge{display:inline-block;padding:0 .5rem;border-radius:.6rem;"
	    "font-weight:600;border:1px solid}\n"
	    ".ok{background:#e3f1e4;color:#1b5e20}\n"
	    ".bad{background:#fbe4e0;color:#8c2a17}\n"
	    ".warn{background:#fff2cc;color:#6b4e00}\n"
	    ".open{background:#eceff4;color:#2d3a4a}\n"
	    "figure{margin:1rem 0 2rem}\nfigcaption{font-weight:600}\n"
	    "svg{max-width:100%;height:auto}\n"
	    ".note{color:#4a4a4a;font-size:.92rem}\n"
	    "</style>\n</head>\n<body>\n<header><a href=\"/dashboard\">izamon"
	    "</a> &middot; IZA plan monitoring</header>\n<main>\n",
	    f);
}

/* buf is the open_memstream pointer: valid only after fclose */
static char *finish(FILE *f, char **buf)
{
	fputs("</main>\n</body>\n</html>\n", f);
	if (fclose(f) != 0) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

char *dashboard_overview(const json_t *plans, int64_t now)
{
	char *buf = NULL;
	size_t size = 0, i, j;
	FILE *f = open_memstream(&buf, &size);
	const json_t *p, *m;

	if (!f)
		return NULL;
	head(f, "Plans");
	fputs("<h1>Plans</h1>\n<p class=\"note\">Evaluated at ", f);
	when(f, now);
	fputs(". A status marked provisional is not decided yet.</p>\n", f);
	fputs("<table>\n<thead><tr><th scope=\"col\">Plan</th><th "
	      "scope=\"col\">Regions</th><th scope=\"col\">Milestones</th>"
	      "<th class=\"n\" scope=\"col\">Budget</th><th class=\"n\" "
	      "scope=\"col\">Notices issued</th></tr></thead>\n<tbody>\n",
	      f);
	json_array_foreach(plans, i, p)
	{
		const json_t *r;
		json_int_t issued = 0;

		fputs("<tr><td><a href=\"/dashboard/plans/", f);
		esc(f, str(p, "id"));
		fputs("\">", f);
		esc(f, str(p, "name"));
		fputs("</a><br><span class=\"note\">", f);
		esc(f, str(p, "id"));
		fputs("</span></td><td>", f);
		json_array_foreach(json_object_get(p, "regions"), j, r)
		{
			if (j)
				fputs(", ", f);
			esc(f, json_string_value(r));
		}
		fputs("</td><td>", f);
		json_array_foreach(json_object_get(p, "milestones"), j, m)
		{
			const json_t *n;
			size_t k;

			esc(f, str(m, "id"));
			fputs(": ", f);
			badge(f, str(m, "status"),
			      json_is_true(json_object_get(m, "final")));
			fputs("<br>", f);
			json_array_foreach(json_object_get(m, "notices"), k, n)
			    issued += num_i(n, "amount_cents");
		}
		fputs("</td><td class=\"n\">", f);
		eur(f, num_i(p, "budget_cents"));
		fputs("</td><td class=\"n\">", f);
		eur(f, issued);
		fputs("</td></tr>\n", f);
	}
	if (json_array_size(plans) == 0)
		fputs("<tr><td colspan=\"5\">No plans are loaded (izamon plans "
		      "load FILE).</td></tr>\n",
		      f);
	fputs("</tbody>\n</table>\n", f);
	return finish(f, &buf);
}

/* ---- charts ---- */

struct scale {
	double lo, hi;
	size_t n; /* periods on the x axis */
};

static double dbl(const json_t *v)
{
	return json_number_value(v);
}

static double ypos(const struct scale *s, double v)
{
	return MT + (CH - MT - MB) * (s->hi - v) / (s->hi - s->lo);
}

static double xpos(const struct scale *s, size_t i)
{
	if (s->n <= 1)
		return ML + (CW - ML - MR) / 2;
	return ML + (CW - ML - MR) * (double)i / (double)(s->n - 1);
}

/* distinct periods of the points, in order (they come sorted) */
static size_t periods(const json_t *pts, const char **out, size_t max)
{
	size_t i, n = 0;
	const json_t *pt;

	json_array_foreach(pts, i, pt)
	{
		const char *per = str(pt, "period");

		if (n == 0 || strcmp(out[n - 1], per) != 0) {
			if (n == max)
				break;
			out[n++] = per;
		}
	}
	return n;
}

/* the x position of period p, n when it is not on the axis */
static size_t period_index(const char **per, size_t n, const char *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(per[i], p) == 0)
			return i;
	return n;
}

static void hline(FILE *f, const struct scale *s, double v, const char *colour,
		  const char *dash, const char *label)
{
	double y = ypos(s, v);

	fprintf(f,
		"<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"%s\" stroke-width=\"1.5\"%s%s%s/>\n",
		ML, CW - MR, y, y, colour, dash ? " stroke-dasharray=\"" : "",
		dash ? dash : "", dash ? "\"" : "");
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"%s\" "
		"text-anchor=\"end\">%s</text>\n",
		CW - MR, y - 4, colour, label);
}

#define MAX_PERIODS 64

static void chart(FILE *f, const json_t *k, const json_t *milestones,
		  size_t idx)
{
	const json_t *pts = json_object_get(k, "points"), *pt;
	const char *per[MAX_PERIODS];
	double base = dbl(
		   json_object_get(json_object_get(k, "baseline"), "value")),
	       target = dbl(json_object_get(k, "target")),
	       lower = dbl(json_object_get(k, "lower")),
	       upper = dbl(json_object_get(k, "upper")), pad, prevx = 0,
	       prevy = 0;
	struct scale s;
	bool have_prev = false;
	size_t i, gaps = 0;
	char label[96], num[32];

	s.n = periods(pts, per, MAX_PERIODS);
	s.lo = fmin(base, target - lower);
	s.hi = fmax(base, target + upper);
	json_array_foreach(pts, i, pt)
	{
		const json_t *v = json_object_get(pt, "value");

		if (json_is_number(v)) {
			s.lo = fmin(s.lo, dbl(v));
			s.hi = fmax(s.hi, dbl(v));
		}
	}
	pad = (s.hi - s.lo) * 0.1;
	if (pad <= 0)
		pad = fabs(s.hi) > 0 ? fabs(s.hi) * 0.1 : 1;
	s.lo -= pad;
	s.hi += pad;

	fputs("<figure>\n<figcaption>", f);
	esc(f, str(k, "kpi"));
	fputs("</figcaption>\n", f);
	fprintf(f,
		"<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
		"height=\"%.0f\" role=\"img\" aria-labelledby=\"t%zu d%zu\">\n"
		"<title id=\"t%zu\">",
		CW, CH, CW, CH, idx, idx, idx);
	esc(f, str(k, "kpi"));
	fprintf(f,
		" over time</title>\n<desc id=\"d%zu\">Reported values "
		"per period against the baseline, the target and its "
		"bandwidth; the table below lists the same values.</desc>\n",
		idx);
	/* bandwidth band, then the reference lines */
	fprintf(f,
		"<rect x=\"%.1f\" width=\"%.1f\" y=\"%.1f\" height=\"%.1f\" "
		"fill=\"%s\"/>\n",
		ML, CW - ML - MR, ypos(&s, target + upper),
		fmax(ypos(&s, target - lower) - ypos(&s, target + upper), 1.0),
		C_BAND);
	fprintf(f,
		"<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"#333\"/>\n<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
		"y2=\"%.1f\" stroke=\"#333\"/>\n",
		ML, ML, MT, CH - MB, ML, CW - MR, CH - MB, CH - MB);
	for (i = 0; i <= 4; i++) {
		double v = s.lo + (s.hi - s.lo) * (double)i / 4;

		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
			"text-anchor=\"end\" fill=\"#333\">%.4g</text>\n",
			ML - 6, ypos(&s, v) + 4, v);
	}
	plan_value_format(millionths(json_object_get(
			      json_object_get(k, "baseline"), "value")),
			  num);
	snprintf(label, sizeof(label), "baseline %s", num);
	hline(f, &s, base, C_BASELINE, "2 4", label);
	plan_value_format(millionths(json_object_get(k, "target")), num);
	snprintf(label, sizeof(label), "target %s", num);
	hline(f, &s, target, C_TARGET, "6 3", label);
	for (i = 0; i < s.n; i++) {
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
			"text-anchor=\"middle\" fill=\"#333\">",
			xpos(&s, i), CH - MB + 18);
		esc(f, per[i]);
		fputs("</text>\n", f);
	}
	/* the values: a line broken at every gap */
	json_array_foreach(pts, i, pt)
	{
		const json_t *v = json_object_get(pt, "value");
		size_t at = period_index(per, s.n, str(pt, "period"));
		double x;

		if (at == s.n)
			continue; /* beyond MAX_PERIODS: the table lists it */
		x = xpos(&s, at);

		if (!json_is_number(v)) {
			gaps++;
			have_prev = false;
			fputs("<g><title>", f);
			esc(f, str(pt, "region"));
			fputs(" ", f);
			esc(f, str(pt, "period"));
			fputs(": no value (", f);
			esc(f, str(pt, "absent"));
			fprintf(f,
				")</title><text x=\"%.1f\" y=\"%.1f\" "
				"font-size=\"16\" text-anchor=\"middle\" "
				"fill=\"%s\">&#215;</text></g>\n",
				x, CH - MB - 6, C_GAP);
			continue;
		}
		if (have_prev)
			fprintf(f,
				"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				"y2=\"%.1f\" stroke=\"%s\" "
				"stroke-width=\"2.5\"/>\n",
				prevx, prevy, x, ypos(&s, dbl(v)), C_VALUE);
		prevx = x;
		prevy = ypos(&s, dbl(v));
		have_prev = true;
		fprintf(f,
			"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" "
			"fill=\"%s\"><title>",
			x, prevy, C_VALUE);
		esc(f, str(pt, "region"));
		fputs(" ", f);
		esc(f, str(pt, "period"));
		fputs(": ", f);
		value(f, v);
		fputs("</title></circle>\n", f);
	}
	/* result milestones on this KPI: a diamond at their period's target */
	json_array_foreach(milestones, i, pt)
	{
		size_t at;
		double x, y;

		if (strcmp(str(pt, "kpi"), str(k, "kpi")) != 0)
			continue;
		for (at = 0; at < s.n; at++)
			if (strcmp(per[at], str(pt, "period")) == 0)
				break;
		if (at == s.n)
			continue;
		x = xpos(&s, at);
		y = ypos(&s, dbl(json_object_get(pt, "target")));
		fprintf(f,
			"<path d=\"M%.1f %.1fl7 7l-7 7l-7-7z\" fill=\"none\" "
			"stroke=\"%s\" stroke-width=\"2\"><title>milestone ",
			x, y - 7, C_TARGET);
		esc(f, str(pt, "id"));
		fputs(": target ", f);
		value(f, json_object_get(pt, "target"));
		fputs(" for ", f);
		esc(f, str(pt, "period"));
		fputs("</title></path>\n", f);
	}
	fputs("</svg>\n", f);
	/* the text alternative */
	fputs("<table class=\"data\">\n<caption class=\"note\">Values of ", f);
	esc(f, str(k, "kpi"));
	fputs(" (direction: ", f);
	esc(f, str(k, "direction"));
	fputs("; baseline ", f);
	value(f, json_object_get(json_object_get(k, "baseline"), "value"));
	fputs(" in ", f);
	esc(f, str(json_object_get(k, "baseline"), "period"));
	fputs("; target ", f);
	value(f, json_object_get(k, "target"));
	fputs(", bandwidth &minus;", f);
	value(f, json_object_get(k, "lower"));
	fputs("/+", f);
	value(f, json_object_get(k, "upper"));
	fputs(")</caption>\n<thead><tr><th scope=\"col\">Period</th><th "
	      "scope=\"col\">Region</th><th class=\"n\" "
	      "scope=\"col\">Value</th><th scope=\"col\">Report</th></tr>"
	      "</thead>\n<tbody>\n",
	      f);
	json_array_foreach(pts, i, pt)
	{
		const json_t *v = json_object_get(pt, "value");

		fputs("<tr><td>", f);
		esc(f, str(pt, "period"));
		fputs("</td><td>", f);
		esc(f, str(pt, "region"));
		fputs("</td><td class=\"n\">", f);
		if (json_is_number(v))
			value(f, v);
		else {
			fputs("no value: ", f);
			esc(f, strcmp(str(pt, "absent"), "masked") == 0
				   ? "suppressed (disclosure control)"
				   : str(pt, "absent"));
		}
		fputs("</td><td class=\"note\">", f);
		esc(f, str(pt, "report"));
		if (num_i(pt, "superseded") > 0)
			fprintf(f, " (corrects %lld earlier)",
				(long long)num_i(pt, "superseded"));
		fputs("</td></tr>\n", f);
	}
	if (json_array_size(pts) == 0)
		fputs("<tr><td colspan=\"4\">No reports yet.</td></tr>\n", f);
	fputs("</tbody>\n</table>\n", f);
	fputs("<p class=\"note\">Legend: line and dots, the reported values; "
	      "dashed green, the target, with its bandwidth shaded; dotted "
	      "grey, the baseline; &#9671;, a milestone's own target for its "
	      "period; &#215;, a period without a value.</p>\n",
	      f);
	if (gaps)
		fprintf(f,
			"<p class=\"note\">&#215; marks %zu period(s) without "
			"a value; they are gaps, not zero.</p>\n",
			gaps);
	fputs("</figure>\n", f);
}

static void evidence(FILE *f, const json_t *list)
{
	const json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const json_t *v = json_object_get(e, "value");

		if (i)
			fputs("<br>", f);
		esc(f, str(e, "region"));
		fputs(": ", f);
		if (json_is_number(v))
			value(f, v);
		else if (*str(e, "report"))
			esc(f, strcmp(str(e, "absent"), "masked") == 0
				   ? "suppressed"
				   : str(e, "absent"));
		else
			fputs("no report", f);
		if (*str(e, "report")) {
			fputs(" <span class=\"note\">(report ", f);
			esc(f, str(e, "report"));
			fputs(")</span>", f);
		}
	}
}

static void milestone_row(FILE *f, const json_t *m)
{
	const json_t *dec = json_object_get(m, "decision");
	const json_t *ev = dec ? json_object_get(dec, "evidence") : NULL;
	bool final = json_is_true(json_object_get(m, "final"));

	fputs("<tr><td>", f);
	esc(f, str(m, "id"));
	fputs("</td><td>", f);
	if (strcmp(str(m, "kind"), "result") == 0) {
		esc(f, str(m, "kpi"));
		fputs(" ", f);
		esc(f, str(m, "period"));
		fputs(" target ", f);
		value(f, json_object_get(m, "target"));
	} else {
		fputs("effort: ", f);
		esc(f, str(m, "description"));
	}
	fputs("</td><td>", f);
	esc(f, str(m, "date"));
	fputs("</td><td class=\"n\">", f);
	eur(f, num_i(m, "amount_cents"));
	fputs("</td><td>", f);
	badge(f, str(m, "status"), final);
	fputs("</td><td>", f);
	if (dec && json_object_get(ev, "reports")) {
		evidence(f, json_object_get(ev, "reports"));
		fputs("<br><span class=\"note\">decided ", f);
		when(f, num_i(dec, "decided"));
		if (json_is_true(json_object_get(dec, "late")))
			fputs(" on late evidence", f);
		fputs("</span>", f);
	} else if (dec) {
		fputs("attested by ", f);
		esc(f, str(ev, "attested_by"));
		fputs(" (", f);
		esc(f, str(ev, "outcome"));
		fputs(")", f);
		if (*str(ev, "note")) {
			fputs(": ", f);
			esc(f, str(ev, "note"));
		}
		fputs("<br><span class=\"note\">", f);
		when(f, num_i(dec, "decided"));
		fputs("</span>", f);
	} else {
		if (json_object_get(m, "evidence")) {
			evidence(f, json_object_get(m, "evidence"));
			fputs("<br>", f);
		}
		fputs("<span class=\"note\">", f);
		esc(f, str(m, "reason"));
		fputs("</span>", f);
	}
	if (json_object_get(m, "correction")) {
		fputs("<br><strong>Correction received after the decision "
		      "(the decision stands):</strong> ",
		      f);
		evidence(f, json_object_get(m, "correction"));
	}
	fputs("</td></tr>\n", f);
}

char *dashboard_plan(const json_t *status, const json_t *indicators,
		     int64_t now)
{
	char *buf = NULL;
	size_t size = 0, i, j, nnotices = 0;
	FILE *f = open_memstream(&buf, &size);
	const json_t *k, *m, *n, *part;

	if (!f)
		return NULL;
	head(f, str(status, "name"));
	fputs("<p><a href=\"/dashboard\">&larr; all plans</a></p>\n<h1>", f);
	esc(f, str(status, "name"));
	fputs("</h1>\n<p>", f);
	esc(f, str(status, "id"));
	fprintf(f, " version %lld &middot; regions ",
		(long long)num_i(status, "version"));
	json_array_foreach(json_object_get(status, "regions"), i, k)
	{
		if (i)
			fputs(", ", f);
		esc(f, json_string_value(k));
	}
	fputs(" &middot; coordinating insurer ", f);
	esc(f, str(status, "coordinating_insurer"));
	fputs(" &middot; payee ", f);
	esc(f, str(status, "payee"));
	fputs(" &middot; budget ", f);
	eur(f, num_i(status, "budget_cents"));
	fputs("</p>\n<p class=\"note\">Evaluated at ", f);
	when(f, now);
	fputs(".</p>\n<h2>Indicators</h2>\n", f);
	json_array_foreach(json_object_get(indicators, "kpis"), i, k)
	    chart(f, k, json_object_get(status, "milestones"), i);

	fputs("<h2>Milestones</h2>\n<table>\n<thead><tr><th "
	      "scope=\"col\">Milestone</th><th scope=\"col\">Condition</th>"
	      "<th scope=\"col\">Date</th><th class=\"n\" "
	      "scope=\"col\">Amount</th><th scope=\"col\">Status</th><th "
	      "scope=\"col\">Evidence</th></tr></thead>\n<tbody>\n",
	      f);
	json_array_foreach(json_object_get(status, "milestones"), i, m)
	    milestone_row(f, m);
	fputs("</tbody>\n</table>\n", f);

	fputs("<h2>Payment notices</h2>\n<table>\n<thead><tr><th "
	      "scope=\"col\">Milestone</th><th scope=\"col\">Payer "
	      "(UZOVI)</th><th scope=\"col\">Payee</th><th class=\"n\" "
	      "scope=\"col\">Amount</th><th scope=\"col\">Schedule</th><th "
	      "scope=\"col\">Key</th></tr></thead>\n<tbody>\n",
	      f);
	json_array_foreach(json_object_get(status, "milestones"), i, m)
	{
		json_array_foreach(json_object_get(m, "notices"), j, n)
		{
			size_t p;

			nnotices++;
			fputs("<tr><td>", f);
			esc(f, str(n, "milestone"));
			fputs("</td><td>", f);
			esc(f, str(n, "payer"));
			fputs("</td><td>", f);
			esc(f, str(n, "payee"));
			fputs("</td><td class=\"n\">", f);
			eur(f, num_i(n, "amount_cents"));
			fputs("</td><td>", f);
			json_array_foreach(json_object_get(n, "schedule"), p,
					   part)
			{
				if (p)
					fputs("<br>", f);
				esc(f, str(part, "date"));
				fputs(": ", f);
				eur(f, num_i(part, "amount_cents"));
			}
			fputs("</td><td>", f);
			esc(f, str(n, "distribution_key"));
			fputs("</td></tr>\n", f);
		}
	}
	if (!nnotices)
		fputs(
		    "<tr><td colspan=\"6\">No payment notices yet.</td></tr>\n",
		    f);
	fputs("</tbody>\n</table>\n", f);
	return finish(f, &buf);
}
