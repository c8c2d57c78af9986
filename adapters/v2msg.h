/*
 * v2msg.h - the flat model of one HL7 v2 message: a list of segments and,
 * per segment, its fields, repetitions, components and subcomponents as
 * entries with their values, all in one arena that is reused from one
 * message to the next.  Both HL7 v2 adapters (adapters/hl7v2.h) fill it,
 * ER7 without any libxml2 node and the XML encoding from SAX2 events, and
 * v2 field paths (gateway/v2path.h) read it.
 *
 * What an entry means (the same addressing the element tree had):
 *   - Every field repetition is one entry with comp 0: rep is its 1-based
 *     position among the occurrences of that field in its segment (an
 *     empty repetition is an entry too, keeping positions).
 *   - A repetition with V2E_PARTS has component entries (comp >= 1, sub
 *     0) right after it, one per component that is present; a component
 *     entry with V2E_PARTS has subcomponent entries (sub >= 1) right after
 *     it.  An entry without V2E_PARTS holds the value itself: a field
 *     without parts is its own first component, a component without
 *     parts its own first subcomponent.
 *   - Values are UTF-8 with the ER7 escapes decoded (XML: the element's
 *     text), valid until the next v2msg_reset(); an entry with V2E_NOVAL
 *     has no value at all (an XML element whose children have no first
 *     component), which differs from an empty one.
 *   - MSH-1 and MSH-2 are text entries (the separators as written).
 *   - Segments are in document order; XML segment groups are flattened.
 *     A segment found inside another XML segment's element keeps the
 *     index of that segment in parent (-1 for the usual top-level one).
 *   - A component or subcomponent that repeats a position already seen
 *     under the same parent is not kept (a path can only reach the first).
 */
#ifndef IZA_V2MSG_H
#define IZA_V2MSG_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#define V2E_PARTS 1u /* has component (subcomponent) entries */
#define V2E_NOVAL 2u /* no value (not even an empty one) */

struct v2msg_entry {
	uint32_t seg;	/* index into v2msg.segs */
	uint32_t field; /* 1-based; positions past 99999 are 0 */
	uint32_t rep;	/* 1-based repetition */
	uint32_t comp;	/* 0: the repetition itself */
	uint32_t sub;	/* 0: the component itself */
	uint32_t flags; /* V2E_* */
	uint32_t off;	/* value: arena offset and length */
	uint32_t len;
};

struct v2msg_seg {
	char id[4];	/* "PID", NUL-terminated */
	int32_t parent; /* index of an enclosing segment, -1 for none */
	uint32_t depth; /* XML nesting under the message, 1 = a child */
	uint32_t first; /* entries [first, end) may belong to it (check seg) */
	uint32_t end;
};

struct v2msg {
	char name[16];	    /* "ADT_A01"; ER7 without a usable type: MESSAGE */
	uint32_t nelements; /* elements counted against the node cap */
	struct v2msg_entry *e; /* entries, in document order */
	size_t n, cap;
	struct v2msg_seg *segs;
	size_t nsegs, segcap;
	char *arena; /* values, each NUL-terminated */
	size_t alen, acap;
};

/* An embedded, empty message; release frees its storage. */
void v2msg_init(struct v2msg *m);
void v2msg_release(struct v2msg *m); /* accepts NULL */
/* Empty it for the next message, keeping the storage. */
void v2msg_reset(struct v2msg *m);

/* Building (for the adapters).  Each returns 0 or -IZA_ENOMEM; entries
 * of segment seg are added after v2msg_add_segment() for it. */
int v2msg_add_segment(struct v2msg *m, const char id[3], int32_t parent,
		      uint32_t depth);
/* A new entry of segment seg with an empty value at the arena's end;
 * *out is its index (pointers into m->e move when it grows). */
int v2msg_add_entry(struct v2msg *m, uint32_t seg, uint32_t field, uint32_t rep,
		    uint32_t comp, uint32_t sub, size_t *out);
/* Append s[0..n) to the value of entry i, which must be the last value
 * begun (its bytes at the end of the arena). */
int v2msg_append(struct v2msg *m, size_t i, const char *s, size_t n);
/* Drop the value of entry i (the last value begun) and set flags. */
void v2msg_clear_value(struct v2msg *m, size_t i, uint32_t flags);

/* The value of entry e: NUL-terminated, e->len bytes. */
static inline const char *v2msg_value(const struct v2msg *m,
				      const struct v2msg_entry *e)
{
	return m->arena + e->off;
}

/*
 * The element tree of the message as hl7v2.h describes it for ER7: root
 * named m->name in urn:hl7-org:v2xml, one element per segment, SEG.n per
 * field repetition, SEG.n.c per component, SEG.n.c.s per subcomponent,
 * text where an entry has a value.  For the mappings that use XPath.
 * Returns 0 with *doc set (the caller frees it with xmlFreeDoc) or
 * -IZA_ENOMEM.
 */
int v2msg_to_doc(const struct v2msg *m, xmlDocPtr *doc);

#endif
