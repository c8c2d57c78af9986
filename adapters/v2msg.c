/*
 * v2msg.c - the flat HL7 v2 message model (v2msg.h): growing arrays and a
 * value arena reused between messages, and the element tree built from it
 * on demand for XPath.
 */
#include "v2msg.h"

#include <stdlib.h>
#include <string.h>

#include "hl7v2.h"
#include "iza_error.h"

void v2msg_init(struct v2msg *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->name, "MESSAGE", 8);
}

void v2msg_release(struct v2msg *m)
{
	if (!m)
		return;
	free(m->e);
	free(m->segs);
	free(m->arena);
	v2msg_init(m);
}

void v2msg_reset(struct v2msg *m)
{
	m->n = 0;
	m->nsegs = 0;
	m->alen = 0;
	m->nelements = 0;
	memcpy(m->name, "MESSAGE", 8);
}

/* Room for need more elements of size sz in *p (cap *cap). */
static int grow(void **p, size_t *cap, size_t used, size_t need, size_t sz)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (used + need <= *cap)
		return 0;
	while (ncap < used + need)
		ncap *= 2;
	if (ncap > UINT32_MAX / sz)
		return -IZA_ENOMEM;
	np = realloc(*p, ncap * sz);
	if (!np)
		return -IZA_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int v2msg_add_segment(struct v2msg *m, const char id[3], int32_t parent,
		      uint32_t depth)
{
	struct v2msg_seg *s;

	if (grow((void **)&m->segs, &m->segcap, m->nsegs, 1, sizeof(*s)))
		return -IZA_ENOMEM;
	s = &m->segs[m->nsegs++];
	memcpy(s->id, id, 3);
	s->id[3] = '\0';
	s->parent = parent;
	s->depth = depth;
	s->first = (uint32_t)m->n;
	s->end = (uint32_t)m->n;
	return 0;
}

int v2msg_add_entry(struct v2msg *m, uint32_t seg, uint32_t field, uint32_t rep,
		    uint32_t comp, uint32_t sub, size_t *out)
{
	struct v2msg_entry *e;

	if (seg >= m->nsegs ||
	    grow((void **)&m->e, &m->cap, m->n, 1, sizeof(*e)) ||
	    grow((void **)&m->arena, &m->acap, m->alen, 1, 1))
		return -IZA_ENOMEM;
	e = &m->e[m->n];
	e->seg = seg;
	e->field = field;
	e->rep = rep;
	e->comp = comp;
	e->sub = sub;
	e->flags = 0;
	e->off = (uint32_t)m->alen;
	e->len = 0;
	m->arena[m->alen++] = '\0';
	*out = m->n++;
	m->segs[seg].end = (uint32_t)m->n;
	return 0;
}

int v2msg_append(struct v2msg *m, size_t i, const char *s, size_t n)
{
	struct v2msg_entry *e = &m->e[i];

	if (n == 0)
		return 0;
	if (n > UINT32_MAX - m->alen ||
	    grow((void **)&m->arena, &m->acap, m->alen, n, 1))
		return -IZA_ENOMEM;
	/* the value ends at the arena's end: overwrite its NUL */
	memcpy(m->arena + e->off + e->len, s, n);
	e->len += (uint32_t)n;
	m->arena[e->off + e->len] = '\0';
	m->alen = (size_t)e->off + e->len + 1;
	return 0;
}

void v2msg_clear_value(struct v2msg *m, size_t i, uint32_t flags)
{
	struct v2msg_entry *e = &m->e[i];

	e->len = 0;
	e->flags = flags;
	m->arena[e->off] = '\0';
	m->alen = (size_t)e->off + 1;
}

/* ------------------------------------------------------------- the tree */

/* out = prefix "." k (see hl7v2.c: no snprintf on this path). */
static void position_name(char *out, const char *prefix, uint32_t k)
{
	char digits[16];
	size_t n = strlen(prefix), d = 0;

	do {
		digits[d++] = (char)('0' + k % 10);
		k /= 10;
	} while (k);
	memcpy(out, prefix, n);
	out[n++] = '.';
	while (d)
		out[n++] = digits[--d];
	out[n] = '\0';
}

static xmlNodePtr add_elem(xmlDocPtr doc, xmlNsPtr ns, xmlNodePtr parent,
			   const char *name, const struct v2msg *m,
			   const struct v2msg_entry *e)
{
	xmlNodePtr el = xmlNewDocNode(doc, ns, (const xmlChar *)name, NULL);

	if (!el || !xmlAddChild(parent, el)) {
		xmlFreeNode(el);
		return NULL;
	}
	if (e && !(e->flags & (V2E_PARTS | V2E_NOVAL)) && e->len > 0) {
		xmlNodePtr t = xmlNewDocTextLen(
		    doc, (const xmlChar *)v2msg_value(m, e), (int)e->len);

		if (!t || !xmlAddChild(el, t)) {
			xmlFreeNode(t);
			return NULL;
		}
	}
	return el;
}

int v2msg_to_doc(const struct v2msg *m, xmlDocPtr *out)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr root = NULL, seg = NULL, field = NULL, comp = NULL;
	char fname[32], cname[48], sname[64];
	xmlNsPtr ns = NULL;
	size_t s, i;

	if (doc)
		root = xmlNewDocNode(doc, NULL, (const xmlChar *)m->name, NULL);
	if (!root)
		goto nomem;
	xmlDocSetRootElement(doc, root);
	ns = xmlNewNs(root, (const xmlChar *)HL7V2_NS, NULL);
	if (!ns)
		goto nomem;
	xmlSetNs(root, ns);
	for (s = 0; s < m->nsegs; s++) {
		const struct v2msg_seg *sg = &m->segs[s];

		seg = add_elem(doc, ns, root, sg->id, NULL, NULL);
		if (!seg)
			goto nomem;
		for (i = sg->first; i < sg->end; i++) {
			const struct v2msg_entry *e = &m->e[i];
			xmlNodePtr el;

			if (e->seg != s)
				continue;
			if (e->comp == 0) {
				position_name(fname, sg->id, e->field);
				el = field =
				    add_elem(doc, ns, seg, fname, m, e);
			} else if (e->sub == 0) {
				position_name(cname, fname, e->comp);
				el = comp =
				    add_elem(doc, ns, field, cname, m, e);
			} else {
				position_name(sname, cname, e->sub);
				el = add_elem(doc, ns, comp, sname, m, e);
			}
			if (!el)
				goto nomem;
		}
	}
	*out = doc;
	return 0;
nomem:
	xmlFreeDoc(doc);
	return -IZA_ENOMEM;
}
