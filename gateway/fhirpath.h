/*
 * fhirpath.h - a documented subset of FHIRPath, evaluated over json_dom trees.
 *
 * Mapping files name FHIR elements with FHIRPath expressions; this module
 * compiles them once (when the mapping is loaded, so a bad path is an error
 * naming the mapping file) and evaluates them per resource without allocating
 * per call beyond the result collection.
 *
 * Supported (docs/mapping-language.md lists it for data stewards):
 *   - navigation: name(.name)*; arrays flatten as in FHIRPath; the leading
 *     resource type is optional ("Encounter.class.code" == "class.code");
 *     primitive extensions ("_field") are not navigated;
 *   - literals: 'string' (with \' \\ escapes), integers, true, false;
 *   - functions: where(expr), exists(), exists(expr), empty(), first(),
 *     last(), count(), not(), ofType(T) is not supported;
 *     extension('url') (shorthand for extension.where(url = 'url'));
 *   - operators: = and != (FHIRPath equality: singletons compared as
 *     strings/numbers/booleans, an empty operand gives empty), | (union),
 *     in (membership: class.code in ('IMP' | 'ACUTE')), and, or, and the
 *     function not(); where a boolean is needed, empty counts as false;
 *   - parentheses.
 * Anything else is a compile error whose text names the offending token.
 */
#ifndef IZA_FHIRPATH_H
#define IZA_FHIRPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "iza_error.h"
#include "json_dom.h"

struct fhirpath; /* compiled expression, immutable after compile */

/* Compile expr; on error returns -IZA_EMAPPING with err->text naming the
 * position and token. *out owned by caller (fhirpath_free). */
int fhirpath_compile(const char *expr, struct fhirpath **out,
		     struct iza_error *err);
void fhirpath_free(struct fhirpath *fp); /* accepts NULL */

/* A collection of nodes. Boolean results are represented by pointers to two
 * static JT_TRUE / JT_FALSE nodes; numbers from count() by nodes owned by
 * the collection. Reuse one collection across calls to avoid allocation. */
struct fp_collection {
	const struct jval **items;
	size_t n, cap;
	/* scratch owned by the collection (for computed values) */
	void *scratch;
};

void fp_collection_init(struct fp_collection *c);
void fp_collection_release(struct fp_collection *c); /* accepts NULL */

/* Evaluate on a resource (root). Replaces the contents of out.
 * Returns 0 or -IZA_ENOMEM. Nodes in out point into the resource's tree or
 * into static/collection storage; valid until the next eval on out or until
 * the tree is freed. */
int fhirpath_eval(const struct fhirpath *fp, const struct jval *root,
		  struct fp_collection *out);

/* Convenience: evaluate and interpret as a boolean (true iff the result is
 * a single true, or a non-empty collection of non-boolean items). */
int fhirpath_eval_bool(const struct fhirpath *fp, const struct jval *root,
		       struct fp_collection *scratch, bool *result);

#endif
