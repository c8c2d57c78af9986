/*
 * json_util.h - helpers for reading declarative JSON files (configuration,
 * mappings, KPI definitions) with jansson, with errors that name the file and
 * the JSON path of the offending member.
 */
#ifndef IZA_JSON_UTIL_H
#define IZA_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>

#include "iza_error.h"

/* Load a JSON file (max 16 MiB, duplicate keys rejected). *out is a new
 * reference owned by the caller. A missing file is -IZA_ENOTFOUND; a file
 * that is not valid JSON is a configuration error, -IZA_ECONFIG. */
int jutil_load_file(const char *path, json_t **out, struct iza_error *err);

/* Fail with -IZA_EMAPPING (code) if obj has a member not in allowed
 * (NULL-terminated). where: JSON path used in the error, e.g. "kpis[2]". */
int jutil_check_keys(const char *file, const char *where, const json_t *obj,
		     const char *const *allowed, int code,
		     struct iza_error *err);

/* A string member. required: absence is an error. *out borrowed from obj
 * (NULL when absent and optional). */
int jutil_string(const char *file, const char *where, const json_t *obj,
		 const char *key, bool required, const char **out, int code,
		 struct iza_error *err);

/* An array of strings as a heap NULL-terminated list of heap strings
 * (caller frees with jutil_strv_free). Absent + optional -> *out NULL. */
int jutil_strv(const char *file, const char *where, const json_t *obj,
	       const char *key, bool required, char ***out, int code,
	       struct iza_error *err);
void jutil_strv_free(char **v); /* accepts NULL */
bool jutil_strv_has(char *const *v, const char *s);

/* strdup that returns NULL on NULL input. */
char *jutil_strdup(const char *s);

#endif
