/*
 * dashboard.h - izamon's dashboard: server-rendered HTML with inline SVG
 * charts and inline CSS, nothing fetched from elsewhere (no script, no
 * font, no CDN), so it works on an isolated network and in a strict
 * Content-Security-Policy.  Rendered from the same JSON documents the API
 * serves (milestones.h), so the page and the API cannot disagree.
 *
 * Accessibility: status is always written as text (colour only repeats
 * it), colours pass WCAG AA contrast on white, every chart has a title, a
 * description and a data table with the same values as its text
 * alternative; suppressed values are gaps in the line, marked and listed
 * with their reason.
 */
#ifndef IZA_DASHBOARD_H
#define IZA_DASHBOARD_H

#include <jansson.h>
#include <stdint.h>

/* The overview: plans is an array of milestones_status documents.  Heap
 * string, NULL when out of memory. */
char *dashboard_overview(const json_t *plans, int64_t now);

/* One plan: its milestones_status and milestones_indicators documents. */
char *dashboard_plan(const json_t *status, const json_t *indicators,
		     int64_t now);

#endif
