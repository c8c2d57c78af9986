/*
 * json_dom.h - a strict, fast JSON parser into a read-only tree in an arena.
 *
 * The hot path of the FHIR adapter: one NDJSON line (or one Bundle) is parsed
 * into a tree of struct jval that lives in the parser's arena until the next
 * jdom_parse() call on the same parser.  It accepts exactly what RFC 8259
 * accepts and what jansson (json_loadb with JSON_REJECT_DUPLICATES off,
 * JSON_DISABLE_EOF_CHECK off) accepts: no comments, no trailing commas, no
 * leading zeros, no bare words, no invalid UTF-8 (including overlong forms and
 * surrogates in UTF-8), \u escapes with correctly paired surrogates, no NUL
 * from \u0000 (jansson rejects it unless asked; so do we), control characters
 * below 0x20 rejected inside strings.  Nesting deeper than max_depth and
 * inputs longer than max_bytes are clear errors, and no input can make it run
 * in more than linear time and memory.
 *
 * Ownership: every struct jval and every string it points to belongs to the
 * parser; they are valid until the next jdom_parse() or jdom_parser_free().
 */
#ifndef IZA_JSON_DOM_H
#define IZA_JSON_DOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

enum jtype {
	JT_NULL,
	JT_FALSE,
	JT_TRUE,
	JT_NUMBER, /* text in s/len, exactly as in the input */
	JT_STRING, /* unescaped UTF-8 in s/len, NUL-terminated */
	JT_ARRAY,  /* len children in kids[0..len) */
	JT_OBJECT  /* len members in kids[0..len), each with key/keylen */
};

struct jval {
	const char
	    *key; /* member name (NUL-terminated) when inside an object */
	uint32_t keylen;
	uint32_t type; /* enum jtype */
	uint32_t len;  /* string/number byte length, or child count */
	union {
		const char *s;
		struct jval *kids;
	} u;
};

#define JDOM_DEFAULT_MAX_DEPTH 2048

struct jdom_parser;

/* max_bytes: largest accepted input (0 = no limit). Returns NULL on ENOMEM. */
struct jdom_parser *jdom_parser_new(size_t max_depth, size_t max_bytes);
void jdom_parser_free(struct jdom_parser *p); /* accepts NULL */

/*
 * Parse buf[0..len) as one JSON text (leading/trailing whitespace allowed).
 * On success *out is the root and 0 is returned.  On failure returns
 * -IZA_EPARSE / -IZA_EUTF8 / -IZA_ETOODEEP / -IZA_ETOOBIG / -IZA_ETRUNCATED /
 * -IZA_ENOMEM and sets err->text to a short reason with the byte offset
 * ("unexpected ',' at byte 17"); err->file/line are left for the caller.
 */
int jdom_parse(struct jdom_parser *p, const char *buf, size_t len,
	       const struct jval **out, struct iza_error *err);

/* Member of an object by name, NULL if absent or v is not an object. */
const struct jval *jobj_get(const struct jval *v, const char *key);

/* True if v is a string equal to s. */
bool jval_streq(const struct jval *v, const char *s);

/* Bytes currently held by the arena (for memory accounting in tests). */
size_t jdom_parser_arena_bytes(const struct jdom_parser *p);

/*
 * The tree as compact JSON text (numbers as they were read, strings
 * escaped again: '"', '\\' and control characters; other UTF-8 as is), for
 * keeping a record whose source bytes are no longer at hand (quarantine).
 * *out is malloc'ed and NUL-terminated, *len its length.  0 or -IZA_ENOMEM.
 */
int jdom_write(const struct jval *v, char **out, size_t *len);

/*
 * Details of the contract (see json_dom.c for the full list):
 *  - jdom_parser_new(0, ...) uses JDOM_DEFAULT_MAX_DEPTH.  Depth counts every
 *    value as jansson does: a scalar inside max_depth arrays is too deep.
 *  - Inputs of UINT32_MAX bytes or more are -IZA_ETOOBIG whatever max_bytes.
 *  - NULL p or out (or NULL buf with len > 0) is -IZA_EUSAGE.  err may be
 *    NULL; it is written only on failure, *out only on success.
 *  - Empty or whitespace-only input, and input ending inside a value, give
 *    -IZA_ETRUNCATED; invalid UTF-8 anywhere gives -IZA_EUTF8.
 *  - Like jansson, one NUL byte directly after a number or a literal is
 *    skipped ("[1\0]" parses as [1]).
 *  - JT_NUMBER text is NUL-terminated too; integers (no '.', 'e', 'E') fit in
 *    int64_t and reals are finite as doubles.
 *  - Object members keep input order, duplicates included; jobj_get()
 *    returns the last member with that name.
 *  - The arena keeps its largest size between calls (memory is reused, not
 *    returned); free the parser to give it back.
 */

#endif
