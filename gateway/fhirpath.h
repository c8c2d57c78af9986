/*
 * fhirpath.h - a documented subset of FHIRPath, evaluated over json_dom trees.
 *
 * Mapping files name FHIR elements with FHIRPath expressions; this module
 * compiles them once (when the mapping is loaded, so a bad path is an error
 * naming the mapping file) and evaluates them per resource without allocating
 * per call beyond the result collection.
 *
 * Supported (docs/fhirpath-subset.md gives the exact grammar, semantics and
 * examples for data stewards):
 *   - navigation: name(.name)*; arrays flatten as in FHIRPath; JSON null
 *     items are dropped; a missing element gives empty; the leading resource
 *     type is optional ("Encounter.class.code" == "class.code": a leading
 *     capitalised name equal to the item's resourceType selects the item);
 *     primitive extensions ("_field") are not navigated and names starting
 *     with '_' are a compile error;
 *   - $this: the item under test inside where()/exists(); the resource
 *     itself at the top level;
 *   - literals: 'string' (escapes \' \" \` \\ \/ \n \t \r \f \uXXXX),
 *     integers (no sign, no leading zero, at most 18 digits), true, false;
 *   - functions: where(expr), exists(), exists(expr), empty(), first(),
 *     last(), count(), not(), ofType(T) is not supported;
 *     extension('url') (shorthand for extension.where(url = 'url'));
 *   - operators: = and != (FHIRPath equality: singletons compared as
 *     strings/numbers/booleans, an empty operand gives empty), | (union),
 *     in (membership: class.code in ('IMP' | 'ACUTE')), and, or, and the
 *     function not(); where a boolean is needed, empty counts as false;
 *   - parentheses.
 * Anything else is a compile error whose text names the offending token and
 * its 1-based byte column.
 *
 * Equality compares strings byte for byte, numbers by exact decimal value
 * ("140" = "140.0"), booleans by value; complex elements (objects) are equal
 * only when they are the same element.  Union removes duplicates by the same
 * rule.  and/or/not() use FHIRPath three-valued logic where empty is
 * "unknown".
 */
#ifndef IZA_FHIRPATH_H
#define IZA_FHIRPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "iza_error.h"
#include "json_dom.h"

/* Hard caps: longer or deeper expressions are compile errors; a value stack
 * larger than FHIRPATH_MAX_ITEMS during evaluation is -IZA_ETOOBIG. */
#define FHIRPATH_MAX_LEN   4096 /* bytes of expression text */
#define FHIRPATH_MAX_DEPTH 64	/* nesting of parentheses/function args */
#define FHIRPATH_MAX_ITEMS (1u << 22)

struct fhirpath; /* compiled expression, immutable after compile */

/* Compile expr (NUL-terminated, borrowed: not kept after the call); on
 * error returns -IZA_EMAPPING with err->text naming the position and token
 * ("unknown function 'foo' at column 12"), err->field/file/line untouched by
 * intent (the caller names the mapping rule), or -IZA_ENOMEM.  *out is
 * written only on success and owned by the caller (fhirpath_free).  A
 * compiled expression is immutable and may be shared between threads, each
 * with its own fp_collection. */
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

/* init: an empty collection that owns nothing yet. release: frees items
 * and scratch (accepts NULL); the collection may be init'ed again. */
void fp_collection_init(struct fp_collection *c);
void fp_collection_release(struct fp_collection *c); /* accepts NULL */

/* Evaluate on a resource (root, borrowed; NULL evaluates as an empty
 * context). Replaces the contents of out.
 * Returns 0, -IZA_ENOMEM, -IZA_ETOOBIG (FHIRPATH_MAX_ITEMS exceeded) or
 * -IZA_EUSAGE (fp or out NULL); on error out is empty. Nodes in out are
 * borrowed: they point into the resource's tree, into fp (literals), or into
 * static/collection storage; valid until the next eval on out, until the
 * tree is freed, or until fp is freed. */
int fhirpath_eval(const struct fhirpath *fp, const struct jval *root,
		  struct fp_collection *out);

/* Convenience: evaluate and interpret as a boolean (true iff the result is
 * a single true, or a non-empty collection of non-boolean items; false for
 * empty, a single false, or several items of which any is a boolean).
 * *result is written only on success. */
int fhirpath_eval_bool(const struct fhirpath *fp, const struct jval *root,
		       struct fp_collection *scratch, bool *result);

#endif
