#include "json_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JUTIL_MAX_FILE (16L * 1024 * 1024)

int jutil_load_file(const char *path, json_t **out, struct iza_error *err)
{
	json_error_t jerr;
	struct stat stt;
	json_t *root;

	if (stat(path, &stt) != 0)
		return iza_error_set(err, -IZA_ENOTFOUND, path, 0, NULL,
				     "cannot open file");
	if (stt.st_size > JUTIL_MAX_FILE)
		return iza_error_set(err, -IZA_ETOOBIG, path, 0, NULL,
				     "file larger than %ld bytes",
				     JUTIL_MAX_FILE);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return iza_error_set(err, -IZA_ECONFIG, path, jerr.line, NULL,
				     "%s", jerr.text);
	*out = root;
	return 0;
}

int jutil_check_keys(const char *file, const char *where, const json_t *obj,
		     const char *const *allowed, int code,
		     struct iza_error *err)
{
	const char *key;
	json_t *val;
	size_t i;

	if (!json_is_object(obj))
		return iza_error_set(err, code, file, 0, where,
				     "expected an object");
	json_object_foreach((json_t *)(uintptr_t)obj, key, val)
	{
		bool ok = false;

		(void)val;
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], key) == 0)
				ok = true;
		if (!ok)
			return iza_error_set(err, code, file, 0, where,
					     "unknown member \"%.64s\"", key);
	}
	return 0;
}

int jutil_string(const char *file, const char *where, const json_t *obj,
		 const char *key, bool required, const char **out, int code,
		 struct iza_error *err)
{
	const json_t *v = json_object_get(obj, key);
	char path[IZA_ERR_FIELD_MAX];

	snprintf(path, sizeof(path), "%s%s%s", where, *where ? "." : "", key);
	if (!v) {
		if (required)
			return iza_error_set(err, code, file, 0, path,
					     "required member missing");
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return iza_error_set(err, code, file, 0, path,
				     "expected a non-empty string");
	*out = json_string_value(v);
	return 0;
}

void jutil_strv_free(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

bool jutil_strv_has(char *const *v, const char *s)
{
	size_t i;

	if (!v || !s)
		return false;
	for (i = 0; v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

char *jutil_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int jutil_strv(const char *file, const char *where, const json_t *obj,
	       const char *key, bool required, char ***out, int code,
	       struct iza_error *err)
{
	const json_t *arr = json_object_get(obj, key);
	char path[IZA_ERR_FIELD_MAX];
	char **v = NULL;
	size_t i, n;

	snprintf(path, sizeof(path), "%s%s%s", where, *where ? "." : "", key);
	if (!arr) {
		if (required)
			return iza_error_set(err, code, file, 0, path,
					     "required member missing");
		*out = NULL;
		return 0;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return iza_error_set(err, code, file, 0, path,
				     "expected a non-empty array of strings");
	n = json_array_size(arr);
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return iza_error_set(err, -IZA_ENOMEM, file, 0, path,
				     "out of memory");
	for (i = 0; i < n; i++) {
		const json_t *s = json_array_get(arr, i);

		if (!json_is_string(s) || json_string_length(s) == 0) {
			jutil_strv_free(v);
			return iza_error_set(err, code, file, 0, path,
					     "element %zu is not a non-empty "
					     "string",
					     i);
		}
		v[i] = strdup(json_string_value(s));
		if (!v[i]) {
			jutil_strv_free(v);
			return iza_error_set(err, -IZA_ENOMEM, file, 0, path,
					     "out of memory");
		}
	}
	*out = v;
	return 0;
}
