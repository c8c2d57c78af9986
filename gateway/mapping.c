/*
 * mapping.c - load, validate and apply declarative mapping files.
 * See mapping.h and docs/mapping-language.md.
 */
#include "mapping.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "fhirpath.h"
#include "json_util.h"
#include "period.h"
#include "pseudo.h"
#include "refdata.h"
#include "v2msg.h"
#include "v2path.h"

#define MAP_MAX_FIELDS	    32
#define MAP_MAX_MANY	    32
#define MAP_MAX_VALUE	    1024
#define MAP_MAX_RECORD_TEXT (1u << 20) /* strings taken from one XML record */
#define ME		    (-IZA_EMAPPING)

/* ---- vocabulary ------------------------------------------------------- */

static const char *const vocab_kinds[] = {"types",    "channels",     "sectors",
					  "statuses", "dispositions", NULL};

struct vocabulary {
	char **lists[5];
};

void vocabulary_free(struct vocabulary *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < 5; i++)
		jutil_strv_free(v->lists[i]);
	free(v);
}

int vocabulary_load(const char *path, struct vocabulary **out,
		    struct iza_error *err)
{
	static const char *const keys[] = {
	    "format",	"version",	"types",       "channels", "sectors",
	    "statuses", "dispositions", "description", NULL};
	struct vocabulary *v = NULL;
	json_t *root = NULL;
	const char *fmt;
	size_t i;
	int rc;

	rc = jutil_load_file(path, &root, err);
	if (rc)
		return rc;
	rc = jutil_check_keys(path, "vocabulary", root, keys, ME, err);
	if (rc)
		goto out;
	rc = jutil_string(path, "vocabulary", root, "format", true, &fmt, ME,
			  err);
	if (rc)
		goto out;
	if (strcmp(fmt, "iza-vocabulary/1") != 0) {
		rc = iza_error_set(err, ME, path, 0, "vocabulary.format",
				   "expected \"iza-vocabulary/1\"");
		goto out;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	for (i = 0; vocab_kinds[i]; i++) {
		rc = jutil_strv(path, "vocabulary", root, vocab_kinds[i], true,
				&v->lists[i], ME, err);
		if (rc)
			goto out;
	}
	*out = v;
	v = NULL;
out:
	vocabulary_free(v);
	json_decref(root);
	return rc;
}

int vocabulary_has(const struct vocabulary *v, const char *kind,
		   const char *code)
{
	size_t i;

	for (i = 0; vocab_kinds[i]; i++)
		if (strcmp(vocab_kinds[i], kind) == 0)
			return jutil_strv_has(v->lists[i], code);
	return 0;
}

const char *const *vocabulary_list(const struct vocabulary *v, const char *kind)
{
	size_t i;

	for (i = 0; v && vocab_kinds[i]; i++)
		if (strcmp(vocab_kinds[i], kind) == 0)
			return (const char *const *)v->lists[i];
	return NULL;
}

/* ---- mapping model ---------------------------------------------------- */

enum unknown_policy { UNK_QUARANTINE, UNK_KEEP, UNK_DROP };

struct vmap {
	char *name;
	char **from, **to;
	size_t n;
	enum unknown_policy unknown;
};

enum ftype { FT_STRING, FT_INSTANT, FT_DATE, FT_BOOLEAN, FT_TS };

/* What a mapping reads, and so which path language its fields use. */
enum input_kind { IN_FHIR, IN_HL7V2, IN_CDA };

enum path_lang { PL_FHIRPATH, PL_XPATH, PL_V2 };

struct compiled_path {
	enum path_lang lang;
	struct fhirpath *fp;
	xmlXPathCompExprPtr xp;
	struct v2path *v2;
};

#define MAP_MAX_ALTERNATIVES 4

struct field {
	char *name;
	/* alternatives: the first that yields a value wins */
	struct compiled_path path[MAP_MAX_ALTERNATIVES];
	size_t npath;
	enum ftype type;
	bool required, many;
	const struct vmap *map;
};

#define FIELD_SECTOR (-2) /* the derived field "sector" in conditions */

struct cond {
	int field;
	char **values;
	bool negate; /* an "unless" condition: holds when the field has none */
};

struct rule {
	char *id;
	struct cond *conds;
	size_t nconds;
	char *type;    /* emit.type, classification rules */
	char *channel; /* emit.channel or channel rule result */
};

enum role { ROLE_PATIENT, ROLE_ENCOUNTER };

/* indexes of the fields the engine itself reads (-1 when not declared) */
enum known {
	K_ID,
	K_PATIENT,
	K_STATUS,
	K_CLASS,
	K_START,
	K_END,
	K_PROVIDER,
	K_LAST_UPDATED,
	K_VERSION,
	K_URGENCY,
	K_DISPOSITION,
	K_BSN,
	K_POSTCODE,
	K_BIRTH_DATE,
	K_SEX,
	K_ACTIVE,
	K_COUNT_
};

static const char *const known_names[K_COUNT_] = {
    "id",	"patient",	"status",  "class",   "start",	     "end",
    "provider", "last_updated", "version", "urgency", "disposition", "bsn",
    "postcode", "birth_date",	"sex",	   "active"};

struct rmap {
	char *resource;
	enum role role;
	bool has_match; /* XML inputs: apply only where match is non-empty */
	struct compiled_path match;
	struct field fields[MAP_MAX_FIELDS];
	size_t nfields;
	struct rule *rules;
	size_t nrules;
	struct rule *channels;
	size_t nchannels;
	int known[K_COUNT_];
};

struct mapping {
	char *id, *version;
	enum input_kind input;
	char **ns_prefix, **ns_uri; /* XPath namespaces, NULL-terminated */
	struct vmap *maps;
	size_t nmaps;
	struct rmap *res;
	size_t nres;
};

static void path_release(struct compiled_path *cp)
{
	fhirpath_free(cp->fp);
	if (cp->xp)
		xmlXPathFreeCompExpr(cp->xp);
	v2path_free(cp->v2);
	memset(cp, 0, sizeof(*cp));
}

/* libxml2 reports XPath syntax errors through a global handler; keep them
 * off stderr (we report our own error naming the mapping file). */
static void quiet_xml_errors(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static pthread_once_t xml_errors_once = PTHREAD_ONCE_INIT;

static void install_quiet_errors(void)
{
	xmlSetGenericErrorFunc(NULL, quiet_xml_errors);
}

/* Compile text in the path language of m's input: FHIRPath for FHIR;
 * XPath 1.0 for CDA; for HL7 v2 a v2 field path (PV1-2.1) or, with the
 * prefix "xpath:", XPath 1.0. */
static int compile_path(const struct mapping *m, const char *text,
			struct compiled_path *cp, struct iza_error *perr)
{
	memset(cp, 0, sizeof(*cp));
	if (m->input == IN_FHIR) {
		cp->lang = PL_FHIRPATH;
		return fhirpath_compile(text, &cp->fp, perr);
	}
	if (m->input == IN_HL7V2 && strncmp(text, "xpath:", 6) != 0) {
		cp->lang = PL_V2;
		return v2path_compile(text, &cp->v2, perr);
	}
	if (strncmp(text, "xpath:", 6) == 0)
		text += 6;
	pthread_once(&xml_errors_once, install_quiet_errors);
	cp->lang = PL_XPATH;
	cp->xp = xmlXPathCompile((const xmlChar *)text);
	if (!cp->xp)
		return iza_error_set(perr, -IZA_EMAPPING, NULL, 0, NULL,
				     "not a valid XPath 1.0 expression");
	return 0;
}

static void rules_free(struct rule *r, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		free(r[i].id);
		free(r[i].type);
		free(r[i].channel);
		for (j = 0; j < r[i].nconds; j++)
			jutil_strv_free(r[i].conds[j].values);
		free(r[i].conds);
	}
	free(r);
}

void mapping_free(struct mapping *m)
{
	size_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->nmaps; i++) {
		free(m->maps[i].name);
		jutil_strv_free(m->maps[i].from);
		jutil_strv_free(m->maps[i].to);
	}
	free(m->maps);
	for (i = 0; i < m->nres; i++) {
		struct rmap *r = &m->res[i];

		free(r->resource);
		for (j = 0; j < r->nfields; j++) {
			size_t a;

			free(r->fields[j].name);
			for (a = 0; a < r->fields[j].npath; a++)
				path_release(&r->fields[j].path[a]);
		}
		path_release(&r->match);
		rules_free(r->rules, r->nrules);
		rules_free(r->channels, r->nchannels);
	}
	free(m->res);
	jutil_strv_free(m->ns_prefix);
	jutil_strv_free(m->ns_uri);
	free(m->id);
	free(m->version);
	free(m);
}

const char *mapping_id(const struct mapping *m)
{
	return m->id;
}

const char *mapping_version(const struct mapping *m)
{
	return m->version;
}

/* ---- loading ---------------------------------------------------------- */

static int load_maps(const char *file, const json_t *maps, struct mapping *m,
		     struct iza_error *err)
{
	static const char *const keys[] = {"values", "unknown", "description",
					   NULL};
	const char *name;
	json_t *def;
	size_t k = 0;
	int rc;

	if (!maps)
		return 0;
	if (!json_is_object(maps))
		return iza_error_set(err, ME, file, 0, "maps",
				     "expected an object");
	m->maps = calloc(json_object_size(maps) + 1, sizeof(*m->maps));
	if (!m->maps)
		return -IZA_ENOMEM;
	json_object_foreach((json_t *)(uintptr_t)maps, name, def)
	{
		struct vmap *vm = &m->maps[k];
		char where[IZA_ERR_FIELD_MAX];
		const json_t *vals;
		const char *unk, *from;
		json_t *to;
		size_t n, i = 0;

		snprintf(where, sizeof(where), "maps.%.60s", name);
		rc = jutil_check_keys(file, where, def, keys, ME, err);
		if (rc)
			return rc;
		vm->name = strdup(name);
		m->nmaps = ++k;
		vals = json_object_get(def, "values");
		if (!json_is_object(vals) || json_object_size(vals) == 0)
			return iza_error_set(err, ME, file, 0, where,
					     "\"values\" must be a non-empty "
					     "object of code -> code");
		n = json_object_size(vals);
		vm->from = calloc(n + 1, sizeof(char *));
		vm->to = calloc(n + 1, sizeof(char *));
		if (!vm->name || !vm->from || !vm->to)
			return -IZA_ENOMEM;
		json_object_foreach((json_t *)(uintptr_t)vals, from, to)
		{
			if (!json_is_string(to))
				return iza_error_set(
				    err, ME, file, 0, where,
				    "value for \"%.40s\" is not a string",
				    from);
			vm->from[i] = strdup(from);
			vm->to[i] = strdup(json_string_value(to));
			if (!vm->from[i] || !vm->to[i])
				return -IZA_ENOMEM;
			vm->n = ++i;
		}
		rc = jutil_string(file, where, def, "unknown", false, &unk, ME,
				  err);
		if (rc)
			return rc;
		if (!unk || strcmp(unk, "quarantine") == 0)
			vm->unknown = UNK_QUARANTINE;
		else if (strcmp(unk, "keep") == 0)
			vm->unknown = UNK_KEEP;
		else if (strcmp(unk, "drop") == 0)
			vm->unknown = UNK_DROP;
		else
			return iza_error_set(err, ME, file, 0, where,
					     "\"unknown\" must be quarantine, "
					     "keep or drop");
	}
	return 0;
}

static const struct vmap *find_map(const struct mapping *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nmaps; i++)
		if (strcmp(m->maps[i].name, name) == 0)
			return &m->maps[i];
	return NULL;
}

static int field_index(const struct rmap *r, const char *name)
{
	size_t i;

	if (strcmp(name, "sector") == 0)
		return FIELD_SECTOR;
	for (i = 0; i < r->nfields; i++)
		if (strcmp(r->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* "path": "p" or ["p1", "p2", ...] (alternatives, first with a value). */
static int load_paths(const char *file, const char *where,
		      const struct mapping *m, const json_t *pv,
		      struct field *f, struct iza_error *err)
{
	struct iza_error perr;
	size_t n, a;

	if (json_is_string(pv)) {
		n = 1;
	} else if (json_is_array(pv) && json_array_size(pv) > 0 &&
		   json_array_size(pv) <= MAP_MAX_ALTERNATIVES) {
		n = json_array_size(pv);
	} else {
		return iza_error_set(err, ME, file, 0, where,
				     "\"path\" must be a path or a list of 1 "
				     "to %d alternative paths",
				     MAP_MAX_ALTERNATIVES);
	}
	for (a = 0; a < n; a++) {
		const json_t *p =
		    json_is_string(pv) ? pv : json_array_get(pv, a);

		if (!json_is_string(p) || json_string_length(p) == 0)
			return iza_error_set(err, ME, file, 0, where,
					     "path %zu is not a non-empty "
					     "string",
					     a + 1);
		iza_error_clear(&perr);
		if (compile_path(m, json_string_value(p), &f->path[a], &perr))
			return iza_error_set(
			    err, ME, file, 0, where, "path%s: %s",
			    n > 1 ? " alternative" : "", perr.text);
		f->npath = a + 1;
	}
	return 0;
}

static int load_fields(const char *file, const char *where0,
		       const json_t *fields, const struct mapping *m,
		       struct rmap *r, struct iza_error *err)
{
	static const char *const keys[] = {
	    "path", "type", "required", "many", "map", "description", NULL};
	const char *name;
	json_t *def;
	int rc;

	if (!json_is_object(fields) || json_object_size(fields) == 0)
		return iza_error_set(err, ME, file, 0, where0,
				     "\"fields\" must be a non-empty object");
	if (json_object_size(fields) > MAP_MAX_FIELDS)
		return iza_error_set(err, ME, file, 0, where0,
				     "more than %d fields", MAP_MAX_FIELDS);
	json_object_foreach((json_t *)(uintptr_t)fields, name, def)
	{
		struct field *f = &r->fields[r->nfields];
		char where[IZA_ERR_FIELD_MAX];
		const char *type, *mapname;

		snprintf(where, sizeof(where), "%s.%.40s", where0, name);
		if (strcmp(name, "sector") == 0)
			return iza_error_set(err, ME, file, 0, where,
					     "\"sector\" is derived from the "
					     "provider and cannot be declared");
		rc = jutil_check_keys(file, where, def, keys, ME, err);
		if (rc)
			return rc;
		f->name = strdup(name);
		if (!f->name)
			return -IZA_ENOMEM;
		r->nfields++;
		rc = load_paths(file, where, m, json_object_get(def, "path"), f,
				err);
		if (rc)
			return rc;
		rc = jutil_string(file, where, def, "type", false, &type, ME,
				  err);
		if (rc)
			return rc;
		if (!type || strcmp(type, "string") == 0)
			f->type = FT_STRING;
		else if (strcmp(type, "instant") == 0)
			f->type = FT_INSTANT;
		else if (strcmp(type, "date") == 0)
			f->type = FT_DATE;
		else if (strcmp(type, "boolean") == 0)
			f->type = FT_BOOLEAN;
		else if (strcmp(type, "hl7-ts") == 0)
			f->type = FT_TS;
		else
			return iza_error_set(err, ME, file, 0, where,
					     "type must be string, instant, "
					     "hl7-ts, date or boolean");
		f->required = json_is_true(json_object_get(def, "required"));
		f->many = json_is_true(json_object_get(def, "many"));
		if (f->many && f->type != FT_STRING)
			return iza_error_set(err, ME, file, 0, where,
					     "only string fields can be "
					     "\"many\"");
		rc = jutil_string(file, where, def, "map", false, &mapname, ME,
				  err);
		if (rc)
			return rc;
		if (mapname) {
			f->map = find_map(m, mapname);
			if (!f->map)
				return iza_error_set(err, ME, file, 0, where,
						     "map \"%.40s\" is not "
						     "declared under \"maps\"",
						     mapname);
		}
	}
	return 0;
}

/* The conditions of member key ("if" or "unless") of a rule, appended to
 * rule->conds. */
static int load_conds(const char *file, const char *where, const json_t *def,
		      const char *key, struct rmap *r, struct rule *rule,
		      struct iza_error *err)
{
	const json_t *cond = json_object_get(def, key);
	struct cond *grown;
	const char *name;
	json_t *vals;
	int rc;

	if (!cond)
		return 0;
	if (!json_is_object(cond))
		return iza_error_set(err, ME, file, 0, where,
				     "\"%s\" must be an object of field -> "
				     "list of values",
				     key);
	grown =
	    realloc(rule->conds, (rule->nconds + json_object_size(cond) + 1) *
				     sizeof(*rule->conds));
	if (!grown)
		return -IZA_ENOMEM;
	rule->conds = grown;
	json_object_foreach((json_t *)(uintptr_t)cond, name, vals)
	{
		struct cond *c = &rule->conds[rule->nconds];
		char w[IZA_ERR_FIELD_MAX];

		memset(c, 0, sizeof(*c));
		c->negate = strcmp(key, "unless") == 0;
		snprintf(w, sizeof(w), "%s.%s", where, key);
		(void)vals;
		c->field = field_index(r, name);
		if (c->field == -1)
			return iza_error_set(err, ME, file, 0, w,
					     "condition on undeclared field "
					     "\"%.40s\"",
					     name);
		rc = jutil_strv(file, w, cond, name, true, &c->values, ME, err);
		if (rc)
			return rc;
		rule->nconds++;
	}
	return 0;
}

static int load_rules(const char *file, const char *where0, const json_t *arr,
		      const struct vocabulary *voc, struct rmap *r,
		      bool channel_rules, struct iza_error *err)
{
	static const char *const ckeys[] = {"id",   "if",	   "unless",
					    "emit", "description", NULL};
	static const char *const hkeys[] = {"if", "unless", "channel",
					    "description", NULL};
	static const char *const ekeys[] = {"type", "channel", NULL};
	struct rule *rules;
	size_t i, n;
	int rc;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return iza_error_set(err, ME, file, 0, where0,
				     "expected an array of rules");
	n = json_array_size(arr);
	rules = calloc(n + 1, sizeof(*rules));
	if (!rules)
		return -IZA_ENOMEM;
	if (channel_rules)
		r->channels = rules;
	else
		r->rules = rules;
	for (i = 0; i < n; i++) {
		const json_t *def = json_array_get(arr, i);
		struct rule *ru = &rules[i];
		char where[IZA_ERR_FIELD_MAX];
		const char *s;

		if (channel_rules)
			r->nchannels = i + 1;
		else
			r->nrules = i + 1;
		snprintf(where, sizeof(where), "%s[%zu]", where0, i);
		rc = jutil_check_keys(file, where, def,
				      channel_rules ? hkeys : ckeys, ME, err);
		if (rc)
			return rc;
		if (!channel_rules) {
			const json_t *emit = json_object_get(def, "emit");

			rc = jutil_string(file, where, def, "id", true, &s, ME,
					  err);
			if (rc)
				return rc;
			ru->id = strdup(s);
			snprintf(where, sizeof(where), "%s.rules[%.40s]",
				 where0, s);
			rc = jutil_check_keys(file, where,
					      emit ? emit : json_object(),
					      ekeys, ME, err);
			if (!emit)
				return iza_error_set(err, ME, file, 0, where,
						     "\"emit\" missing");
			if (rc)
				return rc;
			rc = jutil_string(file, where, emit, "type", true, &s,
					  ME, err);
			if (rc)
				return rc;
			if (!vocabulary_has(voc, "types", s))
				return iza_error_set(err, ME, file, 0, where,
						     "event type \"%.40s\" is "
						     "not in the vocabulary",
						     s);
			ru->type = strdup(s);
			rc = jutil_string(file, where, emit, "channel", false,
					  &s, ME, err);
			if (rc)
				return rc;
		} else {
			rc = jutil_string(file, where, def, "channel", true, &s,
					  ME, err);
			if (rc)
				return rc;
		}
		if (s && !vocabulary_has(voc, "channels", s))
			return iza_error_set(err, ME, file, 0, where,
					     "channel \"%.40s\" is not in the "
					     "vocabulary",
					     s);
		ru->channel = jutil_strdup(s);
		rc = load_conds(file, where, def, "if", r, ru, err);
		if (rc == 0)
			rc = load_conds(file, where, def, "unless", r, ru, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int load_resource(const char *file, const char *name, const json_t *def,
			 const struct mapping *m, const struct vocabulary *voc,
			 struct rmap *r, struct iza_error *err)
{
	static const char *const keys[] = {"role",     "match",	  "fields",
					   "classify", "channel", "description",
					   NULL};
	static const int patient_required[] = {K_ID, -1};
	static const int encounter_required[] = {K_ID,	  K_PATIENT, K_STATUS,
						 K_CLASS, K_START,   -1};
	char where[IZA_ERR_FIELD_MAX];
	const int *req;
	const char *role, *match;
	size_t i, k;
	int rc;

	snprintf(where, sizeof(where), "resources.%.40s", name);
	rc = jutil_check_keys(file, where, def, keys, ME, err);
	if (rc)
		return rc;
	r->resource = strdup(name);
	if (!r->resource)
		return -IZA_ENOMEM;
	rc = jutil_string(file, where, def, "role", true, &role, ME, err);
	if (rc)
		return rc;
	if (strcmp(role, "patient") == 0)
		r->role = ROLE_PATIENT;
	else if (strcmp(role, "encounter") == 0)
		r->role = ROLE_ENCOUNTER;
	else
		return iza_error_set(err, ME, file, 0, where,
				     "role must be \"patient\" or "
				     "\"encounter\"");
	rc = jutil_string(file, where, def, "match", false, &match, ME, err);
	if (rc)
		return rc;
	if (match) {
		struct iza_error perr;

		iza_error_clear(&perr);
		snprintf(where, sizeof(where), "resources.%.40s.match", name);
		if (compile_path(m, match, &r->match, &perr) != 0)
			return iza_error_set(err, ME, file, 0, where,
					     "path: %s", perr.text);
		r->has_match = true;
	}
	snprintf(where, sizeof(where), "resources.%.40s.fields", name);
	rc =
	    load_fields(file, where, json_object_get(def, "fields"), m, r, err);
	if (rc)
		return rc;
	for (k = 0; k < K_COUNT_; k++) {
		r->known[k] = -1;
		for (i = 0; i < r->nfields; i++)
			if (strcmp(r->fields[i].name, known_names[k]) == 0)
				r->known[k] = (int)i;
	}
	req = r->role == ROLE_PATIENT ? patient_required : encounter_required;
	for (k = 0; req[k] >= 0; k++)
		if (r->known[req[k]] < 0 ||
		    !r->fields[r->known[req[k]]].required)
			return iza_error_set(err, ME, file, 0, where,
					     "the %s mapping must declare the "
					     "required field \"%s\"",
					     role, known_names[req[k]]);
	for (k = 0; k < K_COUNT_; k++) {
		bool is_time =
		    k == K_START || k == K_END || k == K_LAST_UPDATED;
		enum ftype t;

		if (!is_time || r->known[k] < 0)
			continue;
		t = r->fields[r->known[k]].type;
		if (t != FT_INSTANT && t != FT_TS)
			return iza_error_set(err, ME, file, 0, where,
					     "field \"%s\" must have type "
					     "instant or hl7-ts",
					     known_names[k]);
	}
	if (r->role == ROLE_ENCOUNTER) {
		snprintf(where, sizeof(where), "resources.%.30s.classify",
			 name);
		rc = load_rules(file, where, json_object_get(def, "classify"),
				voc, r, false, err);
		if (rc)
			return rc;
		if (r->nrules == 0)
			return iza_error_set(err, ME, file, 0, where,
					     "an encounter mapping needs "
					     "classification rules");
		snprintf(where, sizeof(where), "resources.%.30s.channel", name);
		rc = load_rules(file, where, json_object_get(def, "channel"),
				voc, r, true, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int load_namespaces(const char *file, const json_t *ns,
			   struct mapping *m, struct iza_error *err)
{
	const char *prefix;
	json_t *uri;
	size_t i = 0;

	if (!ns)
		return 0;
	if (!json_is_object(ns))
		return iza_error_set(err, ME, file, 0, "namespaces",
				     "expected an object of prefix -> URI");
	m->ns_prefix = calloc(json_object_size(ns) + 1, sizeof(char *));
	m->ns_uri = calloc(json_object_size(ns) + 1, sizeof(char *));
	if (!m->ns_prefix || !m->ns_uri)
		return -IZA_ENOMEM;
	json_object_foreach((json_t *)(uintptr_t)ns, prefix, uri)
	{
		if (!json_is_string(uri))
			return iza_error_set(err, ME, file, 0, "namespaces",
					     "URI of \"%.20s\" is not a string",
					     prefix);
		m->ns_prefix[i] = strdup(prefix);
		m->ns_uri[i] = strdup(json_string_value(uri));
		if (!m->ns_prefix[i] || !m->ns_uri[i])
			return -IZA_ENOMEM;
		i++;
	}
	return 0;
}

int mapping_load(const char *path, const struct vocabulary *voc,
		 struct mapping **out, struct iza_error *err)
{
	static const char *const keys[] = {
	    "format",	  "id",	       "version",     "input", "maps",
	    "namespaces", "resources", "description", NULL};
	struct mapping *m = NULL;
	json_t *root = NULL, *res, *def;
	const char *s, *name;
	int rc;

	rc = jutil_load_file(path, &root, err);
	if (rc)
		return rc;
	rc = jutil_check_keys(path, "mapping", root, keys, ME, err);
	if (rc)
		goto out;
	rc = jutil_string(path, "mapping", root, "format", true, &s, ME, err);
	if (rc)
		goto out;
	if (strcmp(s, "iza-mapping/1") != 0) {
		rc = iza_error_set(err, ME, path, 0, "mapping.format",
				   "expected \"iza-mapping/1\"");
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	rc = jutil_string(path, "mapping", root, "id", true, &s, ME, err);
	if (rc)
		goto out;
	m->id = strdup(s);
	rc = jutil_string(path, "mapping", root, "version", true, &s, ME, err);
	if (rc)
		goto out;
	m->version = strdup(s);
	rc = jutil_string(path, "mapping", root, "input", false, &s, ME, err);
	if (rc)
		goto out;
	if (!s || strcmp(s, "fhir-r4") == 0) {
		m->input = IN_FHIR;
	} else if (strcmp(s, "hl7v2") == 0) {
		m->input = IN_HL7V2;
	} else if (strcmp(s, "cda") == 0) {
		m->input = IN_CDA;
	} else {
		rc = iza_error_set(err, ME, path, 0, "mapping.input",
				   "input must be fhir-r4, hl7v2 or cda");
		goto out;
	}
	rc = load_namespaces(path, json_object_get(root, "namespaces"), m, err);
	if (rc)
		goto out;
	rc = load_maps(path, json_object_get(root, "maps"), m, err);
	if (rc)
		goto out;
	res = json_object_get(root, "resources");
	if (!json_is_object(res) || json_object_size(res) == 0) {
		rc = iza_error_set(err, ME, path, 0, "resources",
				   "expected a non-empty object");
		goto out;
	}
	m->res = calloc(json_object_size(res), sizeof(*m->res));
	if (!m->res) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	json_object_foreach(res, name, def)
	{
		rc = load_resource(path, name, def, m, voc, &m->res[m->nres++],
				   err);
		if (rc)
			goto out;
	}
	*out = m;
	m = NULL;
out:
	if (rc == -IZA_ENOMEM && err && !err->code)
		iza_error_set(err, rc, path, 0, NULL, "out of memory");
	mapping_free(m);
	json_decref(root);
	return rc;
}

/* ---- applying --------------------------------------------------------- */

struct mapper {
	const struct mapping *m;
	struct pseudo *ps;
	const struct refdata *rd;
	char region[8];
	long today;
	struct fp_collection coll;
	/* strings extracted from XML records live here until the next record */
	char *sbuf;
	size_t slen, scap;
	bool sfull;
	/* the record being mapped */
	const struct jval *json;
	xmlNode *xml;
	const struct v2msg *v2; /* an HL7 v2 message (flat model) */
	xmlDocPtr v2doc;	/* its tree, made at its first XPath path */
	xmlXPathContextPtr xctx;
	/* extracted values of the current resource */
	const char *val[MAP_MAX_FIELDS];
	const char *many[MAP_MAX_FIELDS][MAP_MAX_MANY];
	size_t nmany[MAP_MAX_FIELDS];
	int64_t tval[MAP_MAX_FIELDS];
	char sector[IZA_CODE_MAX];
};

int mapper_new(const struct mapping *m, struct pseudo *ps,
	       const struct refdata *rd, const char *region, long today,
	       struct mapper **out)
{
	struct mapper *mp = calloc(1, sizeof(*mp));

	if (!mp)
		return -IZA_ENOMEM;
	mp->m = m;
	mp->ps = ps;
	mp->rd = rd;
	snprintf(mp->region, sizeof(mp->region), "%s", region ? region : "");
	mp->today = today;
	fp_collection_init(&mp->coll);
	*out = mp;
	return 0;
}

void mapper_free(struct mapper *mp)
{
	if (!mp)
		return;
	fp_collection_release(&mp->coll);
	xmlXPathFreeContext(mp->xctx);
	free(mp->sbuf);
	free(mp);
}

long fhir_reference_id(const char *ref, char *out, size_t size)
{
	const char *p, *end;
	size_t len;

	if (!ref || !*ref || size == 0)
		return -1;
	p = strchr(ref, '?');
	if (p) {
		p++;
		end = p + strlen(p);
	} else if (strncmp(ref, "urn:uuid:", 9) == 0 ||
		   strncmp(ref, "urn:oid:", 8) == 0) {
		p = strchr(ref + 4, ':') + 1;
		end = p + strlen(p);
	} else {
		/* [base/]Type/id[/_history/v] */
		const char *h = strstr(ref, "/_history/");

		end = h ? h : ref + strlen(ref);
		p = end;
		while (p > ref && p[-1] != '/')
			p--;
	}
	len = (size_t)(end - p);
	if (len == 0 || len >= size)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return (long)len;
}

static const struct rmap *find_resource(const struct mapping *m,
					const char *type)
{
	size_t i;

	for (i = 0; i < m->nres; i++)
		if (strcmp(m->res[i].resource, type) == 0)
			return &m->res[i];
	return NULL;
}

static const char boolean_true[] = "true", boolean_false[] = "false";

/* Text of a primitive node, NULL for objects/arrays/null. */
static const char *node_text(const struct jval *v)
{
	switch (v->type) {
	case JT_STRING:
	case JT_NUMBER:
		return v->u.s;
	case JT_TRUE:
		return boolean_true;
	case JT_FALSE:
		return boolean_false;
	default:
		return NULL;
	}
}

/* Apply a value map; returns the mapped text, or NULL with *drop / *bad. */
static const char *apply_map(const struct vmap *vm, const char *v, bool *bad)
{
	size_t i;

	for (i = 0; i < vm->n; i++)
		if (strcmp(vm->from[i], v) == 0)
			return vm->to[i];
	switch (vm->unknown) {
	case UNK_KEEP:
		return v;
	case UNK_DROP:
		return NULL;
	case UNK_QUARANTINE:
	default:
		*bad = true;
		return NULL;
	}
}

static int quarantine(struct map_result *out, enum quarantine_reason r,
		      struct iza_error *why, const char *field,
		      const char *text)
{
	out->outcome = MAP_QUARANTINE;
	out->reason = r;
	iza_error_set(why, -IZA_EINVALID, NULL, 0, field, "%s", text);
	return 0;
}

/* Copy an XML-derived string into the record's string buffer; NULL when
 * the record's strings exceed MAP_MAX_RECORD_TEXT (sfull is then set). */
static const char *keep_text(struct mapper *mp, const char *t, size_t len)
{
	char *dst;

	if (len > MAP_MAX_VALUE)
		len =
		    MAP_MAX_VALUE + 1; /* checked (and refused) by the caller */
	if (!mp->sbuf) {
		/* one fixed buffer: strings handed out point into it, so it
		 * never moves */
		mp->sbuf = malloc(MAP_MAX_RECORD_TEXT);
		if (!mp->sbuf) {
			mp->sfull = true;
			return NULL;
		}
		mp->scap = MAP_MAX_RECORD_TEXT;
	}
	if (mp->slen + len + 1 > mp->scap) {
		mp->sfull = true;
		return NULL;
	}
	dst = mp->sbuf + mp->slen;
	memcpy(dst, t, len);
	dst[len] = '\0';
	mp->slen += len + 1;
	return dst;
}

/* Values of one path on the current record, handed to cb one by one. */
struct value_sink {
	int (*cb)(struct value_sink *vs, const char *t);
	struct mapper *mp;
	const struct field *f;
	size_t i;
	struct map_result *out;
	struct iza_error *why;
	bool matched; /* for match paths: any value seen */
	int verdict;  /* 0 go on, 1 quarantined, 2 done */
};

static int v2_value(void *ctx, const char *value, size_t len)
{
	struct value_sink *vs = ctx;
	const char *t = keep_text(vs->mp, value, len);

	if (!t) {
		quarantine(vs->out, QR_TOO_LARGE, vs->why,
			   vs->f ? vs->f->name : "match",
			   "record holds too much text");
		vs->verdict = 1;
		return 1;
	}
	return vs->cb(vs, t);
}

/* The XPath context, made at the first XML record with the mapping's
 * namespaces (registering them per record was ~7 % of an HL7 v2 XML
 * ingest); each record only sets doc and node. */
static int xpath_context(struct mapper *mp, xmlDocPtr doc)
{
	const struct mapping *m = mp->m;
	size_t k;

	if (!mp->xctx) {
		mp->xctx = xmlXPathNewContext(doc);
		if (!mp->xctx)
			return -IZA_ENOMEM;
		for (k = 0; m->ns_prefix && m->ns_prefix[k]; k++)
			if (xmlXPathRegisterNs(mp->xctx,
					       (const xmlChar *)m->ns_prefix[k],
					       (const xmlChar *)m->ns_uri[k]))
				return -IZA_ENOMEM;
	}
	mp->xctx->doc = doc;
	mp->xctx->node = xmlDocGetRootElement(doc);
	return 0;
}

static int eval_xpath(struct mapper *mp, const struct compiled_path *cp,
		      struct value_sink *vs)
{
	xmlXPathObjectPtr o;
	char num[32];
	int i, rc = 0;

	if (mp->v2 && !mp->xml) {
		/* an HL7 v2 mapping with an xpath: path: the tree is made
		 * once per message, only when a path needs it */
		if (v2msg_to_doc(mp->v2, &mp->v2doc))
			return -IZA_ENOMEM;
		mp->xml = xmlDocGetRootElement(mp->v2doc);
		rc = xpath_context(mp, mp->v2doc);
		if (rc)
			return rc;
	}
	if (!mp->xml)
		return 0;
	mp->xctx->node = mp->xml;
	o = xmlXPathCompiledEval(cp->xp, mp->xctx);
	if (!o)
		return 0; /* evaluation error (e.g. unknown prefix): no value */
	switch (o->type) {
	case XPATH_NODESET:
		if (!vs->f && o->nodesetval && o->nodesetval->nodeNr > 0) {
			/* a match path: an element exists, whatever its text */
			vs->matched = true;
			break;
		}
		for (i = 0; o->nodesetval && i < o->nodesetval->nodeNr && !rc;
		     i++) {
			xmlChar *t =
			    xmlXPathCastNodeToString(o->nodesetval->nodeTab[i]);

			if (t && t[0])
				rc = v2_value(vs, (const char *)t,
					      strlen((const char *)t));
			xmlFree(t);
		}
		break;
	case XPATH_STRING:
		if (o->stringval && o->stringval[0])
			rc = v2_value(vs, (const char *)o->stringval,
				      strlen((const char *)o->stringval));
		break;
	case XPATH_BOOLEAN:
		if (o->boolval)
			rc = v2_value(vs, "true", 4);
		break;
	case XPATH_NUMBER:
		if (o->floatval == o->floatval) {
			snprintf(num, sizeof(num), "%.15g", o->floatval);
			rc = v2_value(vs, num, strlen(num));
		}
		break;
	default:
		break;
	}
	xmlXPathFreeObject(o);
	return 0;
}

/* Evaluate cp on the current record, feeding vs. Returns 0 or a negative
 * code (vs->verdict says whether the record was quarantined). */
static int eval_path(struct mapper *mp, const struct compiled_path *cp,
		     struct value_sink *vs)
{
	size_t j;
	int rc;

	switch (cp->lang) {
	case PL_FHIRPATH:
		rc = fhirpath_eval(cp->fp, mp->json, &mp->coll);
		if (rc == -IZA_ETOOBIG) {
			quarantine(vs->out, QR_TOO_LARGE, vs->why,
				   vs->f ? vs->f->name : "match",
				   "too many values on the path");
			vs->verdict = 1;
			return 0;
		}
		if (rc)
			return rc;
		for (j = 0; j < mp->coll.n; j++) {
			const char *t = node_text(mp->coll.items[j]);

			if (t && vs->cb(vs, t))
				break;
		}
		return 0;
	case PL_V2:
		v2path_eval(cp->v2, mp->v2, v2_value, vs);
		return 0;
	case PL_XPATH:
		return eval_xpath(mp, cp, vs);
	}
	return 0;
}

/* One value of field vs->f: checks, value map, single/many. */
static int field_value(struct value_sink *vs, const char *t)
{
	struct mapper *mp = vs->mp;
	const struct field *f = vs->f;
	size_t i = vs->i;
	bool bad = false;

	if (strnlen(t, MAP_MAX_VALUE + 1) > MAP_MAX_VALUE) {
		quarantine(vs->out, QR_BAD_VALUE, vs->why, f->name,
			   "value longer than 1024 bytes");
		vs->verdict = 1;
		return 1;
	}
	if (f->map) {
		t = apply_map(f->map, t, &bad);
		if (bad) {
			quarantine(vs->out, QR_UNKNOWN_CODE, vs->why, f->name,
				   "code not in the mapping's value map");
			vs->verdict = 1;
			return 1;
		}
		if (!t)
			return 0;
	}
	if (f->many) {
		if (mp->nmany[i] < MAP_MAX_MANY)
			mp->many[i][mp->nmany[i]++] = t;
		return 0;
	}
	mp->val[i] = t;
	vs->verdict = 2; /* single fields take the first value */
	return 1;
}

static int match_value(struct value_sink *vs, const char *t)
{
	vs->matched = strcmp(t, "false") != 0;
	return vs->matched;
}

/* Does resource entry r apply to the current record? */
static int matches(struct mapper *mp, const struct rmap *r,
		   struct map_result *out, struct iza_error *why, bool *yes)
{
	struct value_sink vs = {
	    .cb = match_value, .mp = mp, .out = out, .why = why};
	int rc;

	*yes = true;
	if (!r->has_match)
		return 0;
	rc = eval_path(mp, &r->match, &vs);
	if (rc)
		return rc;
	if (vs.verdict == 1)
		return 1;
	*yes = vs.matched;
	return 0;
}

/* Parse an instant-typed value; false if it is not valid. */
static bool parse_time(const struct field *f, const char *v, int64_t *out)
{
	if (f->type == FT_TS)
		return parse_hl7_ts(v, strlen(v), out) == 0;
	return parse_fhir_instant(v, strlen(v), out) == 0;
}

/* A date field: FHIR "YYYY[-MM[-DD]]" or HL7 "YYYY[MM[DD...]]": the year. */
static bool parse_year(const char *v, int64_t *year)
{
	int y, mo, d, i;

	if (parse_fhir_date(v, strlen(v), &y, &mo, &d) == 0) {
		*year = y;
		return true;
	}
	for (i = 0; i < 4; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 +
	    (v[3] - '0');
	if (y < 1800 || y > 2999)
		return false;
	*year = y;
	return true;
}

/* Extract every declared field of r from the current record into mp;
 * 1 if quarantined. */
static int extract(struct mapper *mp, const struct rmap *r,
		   struct map_result *out, struct iza_error *why)
{
	size_t i, a;
	int rc;

	for (i = 0; i < r->nfields; i++) {
		const struct field *f = &r->fields[i];
		struct value_sink vs = {.cb = field_value,
					.mp = mp,
					.f = f,
					.i = i,
					.out = out,
					.why = why};

		mp->val[i] = NULL;
		mp->nmany[i] = 0;
		mp->tval[i] = IZA_TIME_NONE;
		for (a = 0; a < f->npath; a++) {
			rc = eval_path(mp, &f->path[a], &vs);
			if (rc)
				return rc;
			if (vs.verdict == 1)
				return 1;
			if (mp->val[i] || mp->nmany[i])
				break;
		}
		if (f->required && !mp->val[i] && mp->nmany[i] == 0) {
			quarantine(out, QR_MISSING, why, f->name,
				   "required field missing");
			return 1;
		}
		if (mp->val[i] && (f->type == FT_INSTANT || f->type == FT_TS)) {
			if (!parse_time(f, mp->val[i], &mp->tval[i])) {
				quarantine(out, QR_BAD_DATE, why, f->name,
					   f->type == FT_TS
					       ? "not a valid HL7 date/time"
					       : "not a valid FHIR date/time");
				return 1;
			}
		} else if (mp->val[i] && f->type == FT_DATE) {
			if (!parse_year(mp->val[i], &mp->tval[i])) {
				quarantine(out, QR_BAD_DATE, why, f->name,
					   "not a valid date");
				return 1;
			}
		}
	}
	return 0;
}

static bool cond_holds(const struct mapper *mp, const struct cond *c)
{
	size_t k;

	if (c->field == FIELD_SECTOR)
		return jutil_strv_has(c->values, mp->sector);
	if (mp->val[c->field] && jutil_strv_has(c->values, mp->val[c->field]))
		return true;
	for (k = 0; k < mp->nmany[c->field]; k++)
		if (jutil_strv_has(c->values, mp->many[c->field][k]))
			return true;
	return false;
}

static bool rule_holds(const struct mapper *mp, const struct rule *ru)
{
	size_t i;

	for (i = 0; i < ru->nconds; i++)
		if (cond_holds(mp, &ru->conds[i]) == ru->conds[i].negate)
			return false;
	return true;
}

static const char *known(const struct mapper *mp, const struct rmap *r,
			 enum known k)
{
	return r->known[k] >= 0 ? mp->val[r->known[k]] : NULL;
}

static int64_t known_time(const struct mapper *mp, const struct rmap *r,
			  enum known k)
{
	return r->known[k] >= 0 ? mp->tval[r->known[k]] : IZA_TIME_NONE;
}

static int64_t parse_version(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	v = strtoll(s, &end, 10);
	return (*end == '\0' && v >= 0) ? (int64_t)v : -1;
}

/* What snprintf(dst, size, "%s", src) does (truncate, terminate), without
 * the format machinery: this runs a dozen times per record. */
static void copy_code(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static int map_patient(struct mapper *mp, const struct rmap *r,
		       const char *source, struct map_result *out,
		       struct iza_error *why)
{
	struct canon_patient *p = &out->patient;
	const char *id = known(mp, r, K_ID), *bsn = known(mp, r, K_BSN);
	const char *pc = known(mp, r, K_POSTCODE), *active;
	bool used_bsn = false;
	int rc;

	memset(p, 0, sizeof(*p));
	copy_code(p->source, sizeof(p->source), source);
	rc = pseudo_patient_key(mp->ps, source, id, strlen(id), p->patient_key);
	if (rc == 0)
		rc = pseudo_person(mp->ps, bsn, bsn ? strlen(bsn) : 0, source,
				   id, strlen(id), p->pseudonym, &used_bsn);
	if (rc == -IZA_ENOMEM || rc == -IZA_ECRYPTO)
		return rc;
	if (rc)
		return quarantine(out, QR_BAD_VALUE, why, "id",
				  "unusable patient id");
	p->has_bsn = used_bsn;
	p->pc4 = pc ? postcode_pc4(pc, strlen(pc)) : 0;
	out->in_region = -1;
	if (p->pc4 && refdata_locate(mp->rd, p->pc4, mp->today, p->gemeente,
				     p->region) == 0)
		out->in_region = strcmp(p->region, mp->region) == 0;
	if (r->known[K_BIRTH_DATE] >= 0 &&
	    mp->tval[r->known[K_BIRTH_DATE]] != IZA_TIME_NONE)
		p->birth_year = (int)mp->tval[r->known[K_BIRTH_DATE]];
	copy_code(p->sex, sizeof(p->sex), known(mp, r, K_SEX));
	p->last_updated = known_time(mp, r, K_LAST_UPDATED);
	p->version = parse_version(known(mp, r, K_VERSION));
	active = known(mp, r, K_ACTIVE);
	p->active = !(active && strcmp(active, "false") == 0);
	out->outcome = MAP_PATIENT;
	(void)why;
	return 0;
}

static int map_encounter(struct mapper *mp, const struct rmap *r,
			 const char *source, const char *default_sector,
			 struct map_result *out, struct iza_error *why)
{
	const char *id = known(mp, r, K_ID),
		   *provider = known(mp, r, K_PROVIDER);
	const char *channel = NULL, *urg, *sector = NULL;
	char pid[IZA_ID_MAX];
	uint8_t pkey[IZA_HASH_LEN];
	struct canon_event tmpl;
	int64_t start = known_time(mp, r, K_START),
		end = known_time(mp, r, K_END);
	size_t i, k;
	long plen;
	int rc;

	if (strlen(id) >= IZA_ID_MAX)
		return quarantine(out, QR_BAD_VALUE, why, "id",
				  "record id longer than 128 bytes");
	plen = fhir_reference_id(known(mp, r, K_PATIENT), pid, sizeof(pid));
	if (plen < 0)
		return quarantine(out, QR_BAD_VALUE, why, "patient",
				  "unusable patient reference");
	if (end != IZA_TIME_NONE && end < start)
		return quarantine(out, QR_BAD_DATE, why, "end",
				  "end lies before start");
	rc = pseudo_patient_key(mp->ps, source, pid, (size_t)plen, pkey);
	if (rc == -IZA_ENOMEM || rc == -IZA_ECRYPTO)
		return rc;
	if (rc)
		return quarantine(out, QR_BAD_VALUE, why, "patient",
				  "unusable patient reference");
	if (provider)
		sector = refdata_sector_of_agb(mp->rd, provider);
	if (!sector)
		sector = default_sector;
	copy_code(mp->sector, sizeof(mp->sector), sector);
	for (i = 0; i < r->nchannels; i++)
		if (rule_holds(mp, &r->channels[i])) {
			channel = r->channels[i].channel;
			break;
		}
	/* the fields every event of this encounter shares */
	memset(&tmpl, 0, sizeof(tmpl));
	copy_code(tmpl.source, sizeof(tmpl.source), source);
	copy_code(tmpl.source_id, sizeof(tmpl.source_id), id);
	memcpy(tmpl.patient_key, pkey, sizeof(pkey));
	copy_code(tmpl.channel, sizeof(tmpl.channel),
		  channel ? channel : "in_person");
	copy_code(tmpl.status, sizeof(tmpl.status), known(mp, r, K_STATUS));
	copy_code(tmpl.provider, sizeof(tmpl.provider), provider);
	copy_code(tmpl.sector, sizeof(tmpl.sector), mp->sector);
	tmpl.start = start;
	tmpl.end = end;
	tmpl.last_updated = known_time(mp, r, K_LAST_UPDATED);
	tmpl.version = parse_version(known(mp, r, K_VERSION));
	urg = known(mp, r, K_URGENCY);
	tmpl.urgency =
	    (urg && urg[0] == 'U' && urg[1] >= '0' && urg[1] <= '5' && !urg[2])
		? urg[1] - '0'
		: -1;
	copy_code(tmpl.disposition, sizeof(tmpl.disposition),
		  known(mp, r, K_DISPOSITION));
	/* with no event, events[0] still identifies the encounter for the
	 * store (store_put_encounter with n == 0) */
	out->events[0] = tmpl;
	out->nevents = 0;
	for (i = 0; i < r->nrules; i++) {
		const struct rule *ru = &r->rules[i];
		struct canon_event *ev;
		bool seen = false;

		if (!rule_holds(mp, ru))
			continue;
		for (k = 0; k < out->nevents; k++)
			if (strcmp(out->events[k].type, ru->type) == 0)
				seen = true;
		if (seen || out->nevents == MAP_MAX_EVENTS)
			continue;
		ev = &out->events[out->nevents++];
		*ev = tmpl;
		copy_code(ev->type, sizeof(ev->type), ru->type);
		if (ru->channel)
			copy_code(ev->channel, sizeof(ev->channel),
				  ru->channel);
		copy_code(ev->rule, sizeof(ev->rule), ru->id);
	}
	out->outcome = MAP_ENCOUNTER;
	return 0;
}

int mapper_map(struct mapper *mp, const char *source,
	       const char *default_sector, const struct jval *res,
	       struct map_result *out, struct iza_error *why)
{
	const struct jval *rt = jobj_get(res, "resourceType");
	const struct rmap *r;
	int rc;

	out->nevents = 0;
	out->resource_type[0] = '\0';
	if (!rt || rt->type != JT_STRING || rt->len == 0)
		return quarantine(out, QR_NO_TYPE, why, "resourceType",
				  "no resourceType: not a FHIR resource");
	copy_code(out->resource_type, sizeof(out->resource_type), rt->u.s);
	r = find_resource(mp->m, rt->u.s);
	if (!r) {
		out->outcome = MAP_SKIPPED;
		return 0;
	}
	mp->json = res;
	out->with_patient = 0;
	rc = extract(mp, r, out, why);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return 0;
	if (r->role == ROLE_PATIENT)
		return map_patient(mp, r, source, out, why);
	return map_encounter(mp, r, source, default_sector, out, why);
}

/* The entries of an XML mapping applied to the current record (mp->xml or
 * mp->v2): every patient entry whose match holds, then the first
 * encounter entry whose match holds. */
static int map_record(struct mapper *mp, const char *source,
		      const char *default_sector, struct map_result *out,
		      struct iza_error *why)
{
	const struct mapping *m = mp->m;
	bool patient = false, encounter = false;
	size_t k;
	int rc = 0;

	mp->json = NULL;
	mp->slen = 0;
	mp->sfull = false;
	/* patients first, so an encounter of the same record finds its
	 * patient mapped (the store links them either way) */
	for (k = 0; k < m->nres && rc == 0; k++) {
		const struct rmap *r = &m->res[k];
		bool yes;

		if (r->role != ROLE_PATIENT)
			continue;
		rc = matches(mp, r, out, why, &yes);
		if (rc || !yes)
			continue;
		rc = extract(mp, r, out, why);
		if (rc == 0)
			rc = map_patient(mp, r, source, out, why);
		if (rc == 0 && out->outcome == MAP_PATIENT)
			patient = true;
		else if (rc == 0)
			rc = 1; /* quarantined */
	}
	for (k = 0; k < m->nres && rc == 0; k++) {
		const struct rmap *r = &m->res[k];
		bool yes;

		if (r->role != ROLE_ENCOUNTER)
			continue;
		rc = matches(mp, r, out, why, &yes);
		if (rc || !yes)
			continue;
		rc = extract(mp, r, out, why);
		if (rc == 0)
			rc = map_encounter(mp, r, source, default_sector, out,
					   why);
		if (rc == 0 && out->outcome == MAP_ENCOUNTER)
			encounter = true;
		else if (rc == 0)
			rc = 1;
		break; /* one encounter per record */
	}
	if (rc < 0)
		return rc;
	if (rc > 0)
		return 0; /* out->outcome is MAP_QUARANTINE */
	if (encounter) {
		out->with_patient = patient;
		out->outcome = MAP_ENCOUNTER;
	} else if (patient) {
		out->outcome = MAP_PATIENT;
	} else {
		out->outcome = MAP_SKIPPED;
	}
	return 0;
}

static void start_record(struct map_result *out, const char *name)
{
	out->nevents = 0;
	out->with_patient = 0;
	out->in_region = -1;
	copy_code(out->resource_type, sizeof(out->resource_type), name);
}

int mapper_map_xml(struct mapper *mp, const char *source,
		   const char *default_sector, struct _xmlNode *rec,
		   struct map_result *out, struct iza_error *why)
{
	int rc;

	start_record(out, rec && rec->name ? (const char *)rec->name : "");
	if (mp->m->input != IN_CDA || !rec || !rec->doc)
		return quarantine(out, QR_NO_TYPE, why, "mapping",
				  "an XML record reached a mapping that is "
				  "not for CDA");
	rc = xpath_context(mp, rec->doc);
	if (rc)
		return rc;
	mp->xml = rec;
	rc = map_record(mp, source, default_sector, out, why);
	mp->xctx->doc = NULL;
	mp->xctx->node = NULL;
	mp->xml = NULL;
	return rc;
}

int mapper_map_v2(struct mapper *mp, const char *source,
		  const char *default_sector, const struct v2msg *msg,
		  struct map_result *out, struct iza_error *why)
{
	int rc;

	start_record(out, msg ? msg->name : "");
	if (mp->m->input != IN_HL7V2 || !msg)
		return quarantine(out, QR_NO_TYPE, why, "mapping",
				  "an HL7 v2 message reached a mapping that "
				  "is not for hl7v2");
	mp->v2 = msg;
	rc = map_record(mp, source, default_sector, out, why);
	if (mp->xctx) {
		mp->xctx->doc = NULL;
		mp->xctx->node = NULL;
	}
	xmlFreeDoc(mp->v2doc);
	mp->v2doc = NULL;
	mp->xml = NULL;
	mp->v2 = NULL;
	return rc;
}
