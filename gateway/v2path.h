/*
 * v2path.h - HL7 v2 field paths ("PV1-2.1", "PID-3[4.1='NLMINBIZA'].1")
 * evaluated over the flat model of one HL7 v2 message (adapters/v2msg.h),
 * whether it came in the XML encoding or as ER7 text.
 *
 * Grammar (docs/mapping-language.md):
 *   path   := SEG '-' FIELD rep? filter? ('.' COMP ('.' SUB)?)?
 *   SEG    := [A-Z][A-Z0-9]{2}          segment id (PID, PV1, ZBE, ...)
 *   FIELD, COMP, SUB := 1..999           positions, 1-based
 *   rep    := '(' N ')'                  only the N-th repetition (1-based)
 *   filter := '[' COMP ('.' SUB)? ('=' | '!=') '\'' text '\'' ']'
 *                                        only repetitions whose component
 *                                        (subcomponent) equals (differs
 *                                        from) text; an absent component
 *                                        differs from every text
 * Addressing is positional (in the XML encoding by the number after the
 * last '.' of an element's local name): the XML encoding's
 * <PID.3><CX.4><HD.1> and ER7's PID-3 component 4 subcomponent 1 are the
 * same path PID-3.4.1.  A component without parts is its own first
 * subcomponent, and a field without parts is its own first component, so
 * PV1-2.1 reads both <PV1.2>E</PV1.2> (v2.3) and
 * <PV1.2><CWE.1>E</CWE.1></PV1.2> (v2.7).  The value of an element that has
 * parts is the value of its first component (so MSH-7 reads
 * <MSH.7><TS.1>2025...</TS.1></MSH.7>).  Segments are found anywhere under
 * the message (segment groups included; the model has them in document
 * order, at most 17 elements deep), every occurrence contributes.
 */
#ifndef IZA_V2PATH_H
#define IZA_V2PATH_H

#include <stddef.h>

#include "iza_error.h"

struct v2msg;
struct v2path;

/* True if text looks like a v2 path (so a mapping can tell it from XPath). */
int v2path_is(const char *text);

/* Compile; errors are -IZA_EMAPPING with the column in err->text. */
int v2path_compile(const char *text, struct v2path **out,
		   struct iza_error *err);
void v2path_free(struct v2path *p); /* accepts NULL */

/* Call cb(ctx, value, len) for every non-empty value, in document order;
 * stops early when cb returns nonzero (that value is returned).  value is
 * valid during the call only. */
int v2path_eval(const struct v2path *p, const struct v2msg *message,
		int (*cb)(void *ctx, const char *value, size_t len), void *ctx);

#endif
