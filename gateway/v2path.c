/*
 * v2path.c - HL7 v2 field paths over the flat message model (v2path.h).
 */
#include "v2path.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "v2msg.h"

#define V2PATH_MAX_TEXT 256
/* segments at most this deep under the message element are seen */
#define V2PATH_MAX_SEG_DEPTH 17

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

/* One repetition: its field entry f and the end of its parts. */
struct rep_span {
	const struct v2msg_entry *f, *end;
};

/* The entry at position pos under parent (a field entry, or with sub a
 * component entry), searching up to end; an entry without parts is its
 * own position 1.  NULL if absent. */
static const struct v2msg_entry *part(const struct v2msg_entry *parent,
				      const struct v2msg_entry *end, int pos,
				      bool sub)
{
	const struct v2msg_entry *e;

	if (!(parent->flags & V2E_PARTS))
		return pos == 1 ? parent : NULL;
	for (e = parent + 1; e < end; e++) {
		if (sub ? e->sub == 0 : e->comp == 0)
			break; /* past parent's parts */
		if (e->seg != parent->seg)
			continue;
		if (sub ? (e->sub == (uint32_t)pos)
			: (e->sub == 0 && e->comp == (uint32_t)pos))
			return e;
	}
	return NULL;
}

/* The element at (comp, sub) of a repetition, 0 = not given, following
 * first components down to a value; NULL if absent or without a value. */
static const struct v2msg_entry *resolve(const struct rep_span *r, int comp,
					 int sub)
{
	const struct v2msg_entry *n = r->f;

	if (n->flags & V2E_PARTS) {
		n = part(n, r->end, comp ? comp : 1, false);
		if (n && (n->flags & V2E_PARTS))
			n = part(n, r->end, sub ? sub : 1, true);
	} else if ((comp && comp != 1) || (sub && sub != 1)) {
		return NULL;
	}
	if (n && n->comp && !(n->flags & V2E_PARTS) && n->sub == 0 && sub > 1)
		return NULL; /* a component without parts is only sub 1 */
	return n && !(n->flags & V2E_NOVAL) ? n : NULL;
}

static int filter_holds(const struct v2path *p, const struct v2msg *m,
			const struct rep_span *r)
{
	const struct v2msg_entry *n = resolve(r, p->fcomp, p->fsub);
	int ok;

	if (!n)
		return p->fnot; /* absent differs from any text */
	ok = strlen(p->fvalue) == n->len &&
	     memcmp(v2msg_value(m, n), p->fvalue, n->len) == 0;
	return p->fnot ? !ok : ok;
}

static int eval_segment(const struct v2path *p, const struct v2msg *m, size_t s,
			int (*cb)(void *, const char *, size_t), void *ctx)
{
	const struct v2msg_seg *sg = &m->segs[s];
	const struct v2msg_entry *e = m->e + sg->first, *end = m->e + sg->end;
	int nrep = 0, rc;

	while (e < end) {
		struct rep_span r;
		const struct v2msg_entry *n;

		if (e->seg != s || e->comp != 0 ||
		    e->field != (uint32_t)p->field) {
			e++;
			continue;
		}
		r.f = e;
		for (r.end = e + 1; r.end < end; r.end++)
			if (r.end->seg == s && r.end->comp == 0)
				break;
		e = r.end;
		nrep++;
		if (p->rep && nrep != p->rep)
			continue;
		if (p->fvalue && !filter_holds(p, m, &r))
			continue;
		n = resolve(&r, p->comp, p->sub);
		if (n && n->len > 0) {
			rc = cb(ctx, v2msg_value(m, n), n->len);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Segments nested deeper than the tree walk went, or inside a segment of
 * the same id (the walk did not look into those), are not seen. */
static bool visible(const struct v2msg *m, size_t s, const char *seg)
{
	int32_t a;

	if (m->segs[s].depth > V2PATH_MAX_SEG_DEPTH)
		return false;
	for (a = m->segs[s].parent; a >= 0; a = m->segs[a].parent)
		if (memcmp(m->segs[a].id, seg, 4) == 0)
			return false;
	return true;
}

int v2path_eval(const struct v2path *p, const struct v2msg *msg,
		int (*cb)(void *ctx, const char *value, size_t len), void *ctx)
{
	size_t s;
	int rc;

	if (!p || !msg)
		return 0;
	for (s = 0; s < msg->nsegs; s++) {
		if (memcmp(msg->segs[s].id, p->seg, 4) != 0 ||
		    !visible(msg, s, p->seg))
			continue;
		rc = eval_segment(p, msg, s, cb, ctx);
		if (rc)
			return rc;
	}
	return 0;
}
