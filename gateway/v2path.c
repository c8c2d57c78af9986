/*
 * v2path.c - HL7 v2 field paths over a message's element tree (v2path.h).
 */
#include "v2path.h"

#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#define V2PATH_MAX_TEXT 256

struct v2path {
	char seg[4];
	int field, rep;	 /* rep 0: all */
	int fcomp, fsub; /* filter: 0 none */
	int fnot;	 /* filter is != */
	char *fvalue;
	int comp, sub; /* 0: not given */
};

static int digits(const char **s, int *out)
{
	int v = 0, n = 0;

	while (**s >= '0' && **s <= '9' && n < 3) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (n == 0 || v == 0 || (**s >= '0' && **s <= '9'))
		return -1;
	*out = v;
	return 0;
}

int v2path_is(const char *t)
{
	return t && t[0] >= 'A' && t[0] <= 'Z' &&
	       ((t[1] >= 'A' && t[1] <= 'Z') || (t[1] >= '0' && t[1] <= '9')) &&
	       ((t[2] >= 'A' && t[2] <= 'Z') || (t[2] >= '0' && t[2] <= '9')) &&
	       t[3] == '-' && t[4] >= '1' && t[4] <= '9';
}

static int fail(struct iza_error *err, const char *text, const char *at,
		const char *what)
{
	return iza_error_set(err, -IZA_EMAPPING, NULL, 0, NULL,
			     "%s at column %ld", what, (long)(at - text) + 1);
}

int v2path_compile(const char *text, struct v2path **out, struct iza_error *err)
{
	struct v2path *p;
	const char *s = text;

	if (!v2path_is(text))
		return fail(err, text, text,
			    "expected a segment id and field (PID-3)");
	if (strlen(text) > V2PATH_MAX_TEXT)
		return fail(err, text, text + V2PATH_MAX_TEXT, "path too long");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -IZA_ENOMEM;
	memcpy(p->seg, s, 3);
	s += 4;
	if (digits(&s, &p->field))
		goto bad_number;
	if (*s == '(') {
		s++;
		if (digits(&s, &p->rep) || *s != ')')
			goto bad_number;
		s++;
	}
	if (*s == '[') {
		const char *q;

		s++;
		if (digits(&s, &p->fcomp))
			goto bad_number;
		if (*s == '.') {
			s++;
			if (digits(&s, &p->fsub))
				goto bad_number;
		}
		if (s[0] == '!' && s[1] == '=') {
			p->fnot = 1;
			s++;
		}
		if (s[0] != '=' || s[1] != '\'') {
			v2path_free(p);
			return fail(err, text, s,
				    "expected ='text' or !='text' in filter");
		}
		s += 2;
		q = strchr(s, '\'');
		if (!q || q[1] != ']') {
			v2path_free(p);
			return fail(err, text, s, "unterminated filter text");
		}
		p->fvalue = strndup(s, (size_t)(q - s));
		if (!p->fvalue) {
			v2path_free(p);
			return -IZA_ENOMEM;
		}
		s = q + 2;
	}
	if (*s == '.') {
		s++;
		if (digits(&s, &p->comp))
			goto bad_number;
		if (*s == '.') {
			s++;
			if (digits(&s, &p->sub))
				goto bad_number;
		}
	}
	if (*s) {
		v2path_free(p);
		return fail(err, text, s, "unexpected character");
	}
	*out = p;
	return 0;
bad_number:
	v2path_free(p);
	return fail(err, text, s, "expected a position 1..999");
}

void v2path_free(struct v2path *p)
{
	if (!p)
		return;
	free(p->fvalue);
	free(p);
}

/* The number after the last '.' of an element's local name, 0 if none. */
static int position(const xmlNode *n)
{
	const char *name = (const char *)n->name, *dot = strrchr(name, '.');
	int v = 0;

	if (!dot || !dot[1])
		return 0;
	for (dot++; *dot; dot++) {
		if (*dot < '0' || *dot > '9' || v > 9999)
			return 0;
		v = v * 10 + (*dot - '0');
	}
	return v;
}

static int has_elements(const xmlNode *n)
{
	const xmlNode *c;

	for (c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return 1;
	return 0;
}

/* Child with position pos; a leaf is its own position 1; NULL if absent. */
static xmlNode *part(xmlNode *n, int pos)
{
	xmlNode *c;

	if (!has_elements(n))
		return pos == 1 ? n : NULL;
	for (c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && position(c) == pos)
			return c;
	return NULL;
}

/* The value of an element: its text if a leaf, else its first part's. */
static xmlNode *leaf(xmlNode *n)
{
	int guard = 0;

	while (n && has_elements(n) && guard++ < 8)
		n = part(n, 1);
	return n;
}

/* The text of a leaf without a copy when it is one text node (the usual
 * case), else NULL. */
static const char *only_text(const xmlNode *n)
{
	const xmlNode *t = n->children;

	if (t && !t->next && t->type == XML_TEXT_NODE && t->content)
		return (const char *)t->content;
	return NULL;
}

static int emit(xmlNode *n, int (*cb)(void *, const char *, size_t), void *ctx)
{
	const char *direct;
	xmlChar *t;
	int rc = 0;

	n = leaf(n);
	if (!n)
		return 0;
	direct = only_text(n);
	if (direct)
		return direct[0] ? cb(ctx, direct, strlen(direct)) : 0;
	t = xmlNodeGetContent(n);
	if (t && t[0])
		rc = cb(ctx, (const char *)t, strlen((const char *)t));
	xmlFree(t);
	return rc;
}

static int filter_holds(const struct v2path *p, xmlNode *rep)
{
	xmlNode *n = part(rep, p->fcomp);
	xmlChar *t;
	int ok;

	if (n && p->fsub)
		n = part(n, p->fsub);
	n = leaf(n);
	if (!n)
		return p->fnot; /* absent differs from any text */
	if (only_text(n)) {
		ok = strcmp(only_text(n), p->fvalue) == 0;
		return p->fnot ? !ok : ok;
	}
	t = xmlNodeGetContent(n);
	ok = t && strcmp((const char *)t, p->fvalue) == 0;
	xmlFree(t);
	return p->fnot ? !ok : ok;
}

static int eval_segment(const struct v2path *p, xmlNode *seg,
			int (*cb)(void *, const char *, size_t), void *ctx)
{
	xmlNode *f;
	int nrep = 0, rc;

	for (f = seg->children; f; f = f->next) {
		xmlNode *n;

		if (f->type != XML_ELEMENT_NODE || position(f) != p->field)
			continue;
		nrep++;
		if (p->rep && nrep != p->rep)
			continue;
		if (p->fvalue && !filter_holds(p, f))
			continue;
		n = p->comp ? part(f, p->comp) : f;
		if (n && p->sub)
			n = part(n, p->sub);
		if (n) {
			rc = emit(n, cb, ctx);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int walk(const struct v2path *p, xmlNode *n, int depth,
		int (*cb)(void *, const char *, size_t), void *ctx)
{
	xmlNode *c;
	int rc;

	if (depth > 16)
		return 0;
	for (c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, p->seg) == 0)
			rc = eval_segment(p, c, cb, ctx);
		else if (position(c) == 0)
			rc =
			    walk(p, c, depth + 1, cb, ctx); /* group, segment */
		else
			rc = 0; /* a field of another segment */
		if (rc)
			return rc;
	}
	return 0;
}

int v2path_eval(const struct v2path *p, struct _xmlNode *message,
		int (*cb)(void *ctx, const char *value, size_t len), void *ctx)
{
	if (!p || !message)
		return 0;
	return walk(p, message, 0, cb, ctx);
}
