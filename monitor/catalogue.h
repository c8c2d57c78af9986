/*
 * catalogue.h - what plans may refer to, read from a mapping directory:
 * the gateway's KPI ids (kpis.json) and the vocabulary's sector codes
 * (vocabulary.json).  izamon loads it for `plans load` and for serving,
 * where stored plans are read again.
 */
#ifndef IZA_CATALOGUE_H
#define IZA_CATALOGUE_H

#include <jansson.h>

#include "iza_error.h"
#include "kpi.h"
#include "plan.h"

struct catalogue {
	struct plan_catalogue cat; /* points into the members below */
	struct kpi_set *ks;
	json_t *voc;
	const char **kpis, **sectors;
};

/* 0, or an error naming the file (the catalogue is then freed). */
int catalogue_load(const char *mapping_dir, struct catalogue *c,
		   struct iza_error *err);
void catalogue_free(struct catalogue *c); /* accepts a zeroed one */

#endif
