/*
 * catalogue.c - the KPI ids and sector codes plans may use (contract in
 * catalogue.h).
 */
#include "catalogue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

void catalogue_free(struct catalogue *c)
{
	if (!c)
		return;
	kpi_set_free(c->ks);
	json_decref(c->voc);
	free(c->kpis);
	free(c->sectors);
	memset(c, 0, sizeof(*c));
}

static int load(const char *dir, struct catalogue *c, struct iza_error *err)
{
	char path[1100];
	const json_t *arr;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s/kpis.json", dir);
	rc = kpi_set_load(path, &c->ks, err);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/vocabulary.json", dir);
	rc = jutil_load_file(path, &c->voc, err);
	if (rc < 0)
		return rc;
	arr = json_object_get(c->voc, "sectors");
	if (!json_is_array(arr))
		return iza_error_set(err, -IZA_ECONFIG, path, 0, "sectors",
				     "expected a list of sector codes");
	c->kpis = calloc(c->ks->n + 1, sizeof(*c->kpis));
	c->sectors = calloc(json_array_size(arr) + 1, sizeof(*c->sectors));
	if (!c->kpis || !c->sectors)
		return -IZA_ENOMEM;
	for (i = 0; i < c->ks->n; i++)
		c->kpis[i] = c->ks->defs[i].id;
	for (i = 0; i < json_array_size(arr); i++)
		if (!(c->sectors[i] =
			  json_string_value(json_array_get(arr, i))))
			return iza_error_set(err, -IZA_ECONFIG, path, 0,
					     "sectors", "expected strings");
	c->cat.kpis = c->kpis;
	c->cat.sectors = c->sectors;
	return 0;
}

int catalogue_load(const char *mapping_dir, struct catalogue *c,
		   struct iza_error *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = load(mapping_dir, c, err);
	if (rc < 0)
		catalogue_free(c);
	return rc;
}
