/*
 * hl7v2.c - HL7 v2 adapters: the XML encoding (xml_secure's SAX2 stream)
 * and ER7 text, both filling the flat message model (v2msg.h); see hl7v2.h
 * for the contract.
 */
#include "hl7v2.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "v2msg.h"
#include "xml_secure.h"

#define ER7_CHUNK (64u << 10)

/* ---------------------------------------------------------------- names */

static bool upper_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* [A-Z][A-Z0-9]{2}_[A-Z0-9]{3} */
static bool message_name(const char *s, size_t n)
{
	return n == 7 && s[0] >= 'A' && s[0] <= 'Z' && upper_alnum(s[1]) &&
	       upper_alnum(s[2]) && s[3] == '_' && upper_alnum(s[4]) &&
	       upper_alnum(s[5]) && upper_alnum(s[6]);
}

/* ------------------------------------------------------------ XML adapter */

static enum quarantine_reason reason_for(int rc)
{
	return rc == -IZA_ETOOBIG ? QR_TOO_LARGE : QR_MALFORMED;
}

/* What an open element is to the message model. */
enum role {
	R_MSG,	 /* the message element */
	R_GROUP, /* a segment group or other wrapper: walked through */
	R_SEG,	 /* a segment (also walked through for nested ones) */
	R_FIELD, /* a field repetition: an entry */
	R_COMP,	 /* a component: an entry */
	R_SUB,	 /* a subcomponent: an entry */
	R_CHAIN, /* a first component below a subcomponent: its value */
	R_SKIP	 /* not addressable, nor anything in it */
};

struct frame {
	uint8_t role;
	bool kids;    /* has had a child element */
	bool chose1;  /* R_SUB/R_CHAIN: its position-1 child was seen */
	int32_t seg;  /* the enclosing segment, -1 none */
	size_t entry; /* R_FIELD..R_CHAIN: the entry its text goes to */
};

#define V2_MAX_POS 999 /* v2 paths address positions 1..999 */

struct xmlrun {
	struct xml_sax *sax;
	const struct adapter_sink *sink;
	struct v2msg msg;
	struct frame *f; /* by depth */
	size_t nf;
	bool in_msg;
	size_t msg_depth, depth;
	long index, line;
	uint32_t field; /* of the open R_FIELD */
	uint32_t comp;	/* of the open R_COMP */
	/* positions seen under the open field / component: seen when the
	 * slot holds the current generation (no clearing per element) */
	uint32_t fseen[V2_MAX_POS + 1], cseen[V2_MAX_POS + 1];
	uint32_t fgen, cgen;
	uint32_t reps[V2_MAX_POS + 1];
	int rc; /* -IZA_ENOMEM from a handler */
};

/* The number after the last '.' of a local name, 0 if none (as the tree
 * walk had it: more than five digits count as none). */
static uint32_t position(const char *name)
{
	const char *dot = strrchr(name, '.');
	uint32_t v = 0;

	if (!dot || !dot[1])
		return 0;
	for (dot++; *dot; dot++) {
		if (*dot < '0' || *dot > '9' || v > 9999)
			return 0;
		v = v * 10 + (uint32_t)(*dot - '0');
	}
	return v;
}

static bool segment_name(const char *s)
{
	return s[0] >= 'A' && s[0] <= 'Z' && upper_alnum(s[1]) &&
	       upper_alnum(s[2]) && s[3] == '\0';
}

/* First time position pos (1..V2_MAX_POS) is seen in generation gen. */
static bool first_seen(uint32_t *seen, uint32_t gen, uint32_t pos)
{
	if (pos == 0 || pos > V2_MAX_POS || seen[pos] == gen)
		return false;
	seen[pos] = gen;
	return true;
}

/* A new generation for seen (generation 0 is never current). */
static uint32_t next_gen(uint32_t *seen, uint32_t gen)
{
	if (++gen == 0) {
		memset(seen, 0, (V2_MAX_POS + 1) * sizeof(*seen));
		gen = 1;
	}
	return gen;
}

/* Repetition numbers: the k-th occurrence of a field in its segment. */
static void number_repetitions(struct xmlrun *x)
{
	struct v2msg *m = &x->msg;
	size_t s, i;

	for (s = 0; s < m->nsegs; s++) {
		const struct v2msg_seg *sg = &m->segs[s];

		for (i = sg->first; i < sg->end; i++)
			if (m->e[i].seg == s && m->e[i].comp == 0)
				m->e[i].rep = ++x->reps[m->e[i].field];
		for (i = sg->first; i < sg->end; i++)
			if (m->e[i].seg == s && m->e[i].comp == 0)
				x->reps[m->e[i].field] = 0;
	}
	for (i = 0; i < m->n; i++) /* components carry their field's */
		if (m->e[i].comp != 0)
			m->e[i].rep = m->e[i - 1].rep;
}

static int begin_message(struct xmlrun *x, const char *name, size_t depth)
{
	x->index++;
	x->line = xml_sax_line(x->sax);
	x->in_msg = true;
	x->msg_depth = depth;
	v2msg_reset(&x->msg);
	memcpy(x->msg.name, name, 8); /* a message name: 7 characters */
	x->f[depth] = (struct frame){.role = R_MSG, .seg = -1};
	xml_sax_record_begin(x->sax);
	return 0;
}

/* A child element of frame p at depth: its role, and its entry. */
static int child(struct xmlrun *x, struct frame *p, struct frame *c,
		 const char *name, size_t depth)
{
	struct v2msg *m = &x->msg;
	uint32_t pos = position(name);
	int rc = 0;

	c->kids = false;
	c->chose1 = false;
	c->seg = p->seg;
	c->role = R_SKIP;
	switch (p->role) {
	case R_MSG:
	case R_GROUP:
	case R_SEG:
		if (pos == 0 && segment_name(name)) {
			rc = v2msg_add_segment(
			    m, name, p->seg, (uint32_t)(depth - x->msg_depth));
			c->role = R_SEG;
			c->seg = (int32_t)(m->nsegs - 1);
		} else if (pos == 0) {
			c->role = R_GROUP;
		} else if (p->role == R_SEG && pos <= V2_MAX_POS) {
			rc = v2msg_add_entry(m, (uint32_t)p->seg, pos, 0, 0, 0,
					     &c->entry);
			c->role = R_FIELD;
			x->field = pos;
			x->fgen = next_gen(x->fseen, x->fgen);
		}
		break;
	case R_FIELD:
	case R_COMP:
		if (!p->kids) {
			p->kids = true;
			v2msg_clear_value(m, p->entry, V2E_PARTS);
		}
		if (p->role == R_FIELD && first_seen(x->fseen, x->fgen, pos)) {
			rc = v2msg_add_entry(m, (uint32_t)p->seg, x->field, 0,
					     pos, 0, &c->entry);
			c->role = R_COMP;
			x->comp = pos;
			x->cgen = next_gen(x->cseen, x->cgen);
		} else if (p->role == R_COMP &&
			   first_seen(x->cseen, x->cgen, pos)) {
			rc = v2msg_add_entry(m, (uint32_t)p->seg, x->field, 0,
					     x->comp, pos, &c->entry);
			c->role = R_SUB;
		}
		break;
	case R_SUB:
	case R_CHAIN:
		/* the value of an element with children is its first
		 * component's (none: no value at all) */
		if (!p->kids) {
			p->kids = true;
			v2msg_clear_value(m, p->entry, V2E_NOVAL);
		}
		if (pos == 1 && !p->chose1) {
			p->chose1 = true;
			c->role = R_CHAIN;
			c->entry = p->entry;
			v2msg_clear_value(m, p->entry, 0);
		}
		break;
	default:
		break;
	}
	return rc;
}

static int xml_start(void *user, const xmlChar *local, const xmlChar *uri,
		     size_t depth)
{
	struct xmlrun *x = user;
	const char *name = (const char *)local;
	int rc;

	x->depth = depth;
	if (depth >= x->nf)
		return 0; /* deeper than the cap: the record is refused */
	if (!x->in_msg) {
		if (message_name(name, strlen(name)) &&
		    (!uri || strcmp((const char *)uri, HL7V2_NS) == 0))
			return begin_message(x, name, depth);
		return 0;
	}
	x->msg.nelements++;
	rc = child(x, &x->f[depth - 1], &x->f[depth], name, depth);
	if (rc)
		x->rc = rc;
	return rc;
}

static int xml_end(void *user, size_t depth)
{
	struct xmlrun *x = user;
	struct iza_error why;
	int rc;

	x->depth = depth - 1;
	if (!x->in_msg || depth != x->msg_depth)
		return 0;
	x->in_msg = false;
	iza_error_clear(&why);
	rc = xml_sax_record_end(x->sax, x->line, &why);
	if (rc) {
		snprintf(why.field, sizeof(why.field), "%s", x->msg.name);
		why.file[0] = '\0';
		return x->sink->bad(x->sink->ctx, x->line, x->index,
				    reason_for(rc), &why, NULL, 0);
	}
	number_repetitions(x);
	return x->sink->v2_message(x->sink->ctx, &x->msg, x->line, x->index);
}

static int xml_text(void *user, const char *s, size_t n)
{
	struct xmlrun *x = user;
	struct frame *f;
	int rc;

	if (!x->in_msg || x->depth >= x->nf || x->depth <= x->msg_depth)
		return 0;
	f = &x->f[x->depth];
	if (f->role < R_FIELD || f->role > R_CHAIN || f->kids)
		return 0;
	rc = v2msg_append(&x->msg, f->entry, s, n);
	if (rc)
		x->rc = rc;
	return rc;
}

static const struct xml_sax_handler v2_sax = {
    .start = xml_start, .end = xml_end, .text = xml_text};

static int xml_run(struct input *in, const struct adapter_limits *lim,
		   const struct adapter_sink *sink, struct iza_error *err)
{
	struct xml_limits xl = {.max_depth = lim->max_depth,
				.max_record = lim->max_line,
				.max_nodes = HL7V2_MAX_NODES};
	struct xmlrun x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.sink = sink;
	v2msg_init(&x.msg);
	x.nf = (xl.max_depth ? xl.max_depth : XML_SECURE_DEFAULT_DEPTH) + 1;
	x.f = calloc(x.nf, sizeof(*x.f));
	if (!x.f)
		return iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				     "out of memory");
	rc = xml_sax_new(in, &xl, &v2_sax, &x, &x.sax, err);
	if (rc)
		goto out;
	rc = xml_sax_run(x.sax, err);
	if (x.rc == -IZA_ENOMEM) {
		rc = iza_error_set(err, -IZA_ENOMEM, input_name(in), x.line,
				   NULL, "out of memory");
	} else if (rc < 0 && xml_sax_broken(x.sax)) {
		char text[IZA_ERR_TEXT_MAX];
		long eline = err ? err->line : 0;

		snprintf(text, sizeof(text), "%s", err ? err->text : "");
		if (x.in_msg) {
			/* the message being read is lost with the rest */
			struct iza_error why;
			int brc;

			if (eline > 0 && eline != x.line)
				iza_error_set(&why, rc, NULL, x.line,
					      x.msg.name, "%s (at line %ld)",
					      text, eline);
			else
				iza_error_set(&why, rc, NULL, x.line,
					      x.msg.name, "%s", text);
			brc = sink->bad(sink->ctx, x.line, x.index,
					reason_for(rc), &why, NULL, 0);
			if (brc == 0)
				iza_error_set(err, rc, input_name(in), x.line,
					      NULL,
					      "message %ld: %s; the rest of "
					      "the input was not read",
					      x.index, why.text);
			else
				rc = brc;
		} else {
			iza_error_set(err, rc, input_name(in), eline, NULL,
				      "after message %ld: %s; the rest of the "
				      "input was not read",
				      x.index, text);
		}
	}
out:
	xml_sax_free(x.sax);
	v2msg_release(&x.msg);
	free(x.f);
	return rc < 0 ? rc : 0;
}

/* First occurrence of the NUL-terminated pat in h[0..len). */
static const char *strstr_n(const char *h, size_t len, const char *pat)
{
	size_t m = strlen(pat), i;

	for (i = 0; m <= len && i <= len - m; i++)
		if (h[i] == pat[0] && memcmp(h + i, pat, m) == 0)
			return h + i;
	return NULL;
}

static size_t skip_bom_ws(const char *h, size_t len, bool mllp)
{
	size_t i = 0;

	if (len >= 3 && (unsigned char)h[0] == 0xEF &&
	    (unsigned char)h[1] == 0xBB && (unsigned char)h[2] == 0xBF)
		i = 3;
	while (i < len && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' ||
			   h[i] == '\n' || (mllp && h[i] == 0x0B)))
		i++;
	return i;
}

/* Position of the root element's name in an XML head, skipping the XML
 * declaration, comments, processing instructions and a DOCTYPE. */
static const char *root_name(const char *h, size_t len, size_t *n)
{
	size_t i = skip_bom_ws(h, len, false);

	while (i + 1 < len && h[i] == '<') {
		const char *pat;
		const char *end;

		if (h[i + 1] == '?')
			pat = "?>";
		else if (len - i >= 4 && memcmp(h + i, "<!--", 4) == 0)
			pat = "-->";
		else if (h[i + 1] == '!')
			pat = ">";
		else
			break;
		end = strstr_n(h + i, len - i, pat);
		if (!end)
			return NULL;
		i = (size_t)(end - h) + strlen(pat);
		i += skip_bom_ws(h + i, len - i, false);
	}
	if (i + 1 >= len || h[i] != '<')
		return NULL;
	i++;
	*n = 0;
	while (i + *n < len && h[i + *n] != ' ' && h[i + *n] != '>' &&
	       h[i + *n] != '/' && h[i + *n] != '\t' && h[i + *n] != '\r' &&
	       h[i + *n] != '\n')
		(*n)++;
	return h + i;
}

static bool local_is_message(const char *name, size_t n)
{
	const char *colon = memchr(name, ':', n);

	if (colon) {
		n -= (size_t)(colon + 1 - name);
		name = colon + 1;
	}
	return message_name(name, n);
}

/* Any start tag "<NAME" or "<p:NAME" with a message name in h. */
static bool has_message_tag(const char *h, size_t len)
{
	size_t i;

	for (i = 0; i + 8 < len; i++) {
		size_t n = 0;

		if (h[i] != '<')
			continue;
		while (i + 1 + n < len && n < 64 && h[i + 1 + n] != ' ' &&
		       h[i + 1 + n] != '>' && h[i + 1 + n] != '/' &&
		       h[i + 1 + n] != '\t' && h[i + 1 + n] != '\r' &&
		       h[i + 1 + n] != '\n' && h[i + 1 + n] != '<')
			n++;
		if (local_is_message(h + i + 1, n))
			return true;
	}
	return false;
}

static int xml_sniff(const char *head, size_t len)
{
	const char *name;
	size_t n = 0;

	name = root_name(head, len, &n);
	if (!name)
		return 0;
	if (local_is_message(name, n))
		return 90;
	if (n >= 17 && memcmp(name + n - 17, "ClinicalDocument", 16) == 0)
		return 0;
	if (n == 16 && memcmp(name, "ClinicalDocument", 16) == 0)
		return 0;
	if (strstr_n(head, len, "\"" HL7V2_NS "\""))
		return 85;
	if (has_message_tag(head, len))
		return 70;
	return 0;
}

/* ------------------------------------------------------------------- ER7 */

struct seps {
	char fs, cs, rs, es, ss; /* 0: not declared */
};

enum charset { CS_ASCII, CS_LATIN1, CS_UTF8 };

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -IZA_ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

struct build {
	struct v2msg *m;
	struct seps sep;
	enum charset cs;
	struct buf raw;
	long segno;
	uint32_t seg; /* index of the segment being added */
	struct iza_error *why;
	enum quarantine_reason *reason;
};

/* Where a value is, for error texts: SEG.f[.c[.s]] (0: not given). */
struct where {
	const char *id;
	size_t f, c, s;
};

static int fail(struct build *b, int rc, enum quarantine_reason reason,
		const char *field, const char *text)
{
	*b->reason = reason;
	return iza_error_set(b->why, rc, NULL, b->segno, field, "%s", text);
}

static int fail_at(struct build *b, int rc, enum quarantine_reason reason,
		   const struct where *w, const char *text)
{
	char name[64];

	if (w->s)
		snprintf(name, sizeof(name), "%s.%zu.%zu.%zu", w->id, w->f,
			 w->c, w->s);
	else if (w->c)
		snprintf(name, sizeof(name), "%s.%zu.%zu", w->id, w->f, w->c);
	else
		snprintf(name, sizeof(name), "%s.%zu", w->id, w->f);
	return fail(b, rc, reason, name, text);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode escapes of s[0..n) into b->raw (bytes in the message charset). */
static int unescape(struct build *b, const char *s, size_t n)
{
	const struct seps *sp = &b->sep;
	size_t i = 0;
	int rc = 0;

	b->raw.len = 0;
	if (buf_add(&b->raw, "", 0))
		return -IZA_ENOMEM;
	while (i < n && rc == 0) {
		const char *end;
		size_t k, m;

		if (!sp->es ||
		    s[i] != sp->es) { /* a run up to the next escape */
			const char *e =
			    sp->es ? memchr(s + i, sp->es, n - i) : NULL;
			size_t run = e ? (size_t)(e - (s + i)) : n - i;

			rc = buf_add(&b->raw, s + i, run);
			i += run;
			continue;
		}
		end = memchr(s + i + 1, sp->es, n - i - 1);
		if (!end) { /* unterminated: literal */
			rc = buf_add(&b->raw, s + i, n - i);
			break;
		}
		m = (size_t)(end - (s + i + 1)); /* length inside */
		k = i + 1;
		if (m == 1 && s[k] == 'F' && sp->fs)
			rc = buf_addc(&b->raw, sp->fs);
		else if (m == 1 && s[k] == 'S' && sp->cs)
			rc = buf_addc(&b->raw, sp->cs);
		else if (m == 1 && s[k] == 'T' && sp->ss)
			rc = buf_addc(&b->raw, sp->ss);
		else if (m == 1 && s[k] == 'R' && sp->rs)
			rc = buf_addc(&b->raw, sp->rs);
		else if (m == 1 && s[k] == 'E')
			rc = buf_addc(&b->raw, sp->es);
		else if (m == 1 && (s[k] == 'H' || s[k] == 'N'))
			rc = 0;
		else if (m == 3 && memcmp(s + k, ".br", 3) == 0)
			rc = buf_addc(&b->raw, '\n');
		else if (m >= 3 && (m - 1) % 2 == 0 && s[k] == 'X') {
			size_t j;
			bool ok = true;

			for (j = k + 1; j < k + m; j++)
				if (hexval(s[j]) < 0)
					ok = false;
			if (!ok) {
				rc = buf_add(&b->raw, s + i, m + 2);
			} else {
				for (j = k + 1; j < k + m && rc == 0; j += 2)
					rc = buf_addc(&b->raw,
						      (char)(hexval(s[j]) * 16 +
							     hexval(s[j + 1])));
			}
		} else {
			rc = buf_add(&b->raw, s + i, m + 2);
		}
		i = k + m + 1;
	}
	return rc;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned int c = s[0];
	size_t len, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/* Bytes s[0..n) in the message charset, checked, as UTF-8 appended to the
 * value of entry ei. */
static int to_utf8(struct build *b, size_t ei, const char *bytes, size_t n,
		   const struct where *w)
{
	const unsigned char *s = (const unsigned char *)bytes;
	size_t i = 0;
	int rc = 0;

	while (i < n && rc == 0) {
		unsigned char c = s[i];

		if (c < 0x20 && c != '\t' && c != '\n')
			return fail_at(b, -IZA_EINVALID, QR_BAD_VALUE, w,
				       "control character in a value");
		if (c < 0x80) { /* a run of ASCII that needs no checks */
			size_t j = i + 1;

			while (j < n && s[j] >= 0x20 && s[j] < 0x80)
				j++;
			rc = v2msg_append(b->m, ei, (const char *)s + i, j - i);
			i = j;
		} else if (b->cs == CS_LATIN1) {
			char two[2] = {(char)(0xC0 | (c >> 6)),
				       (char)(0x80 | (c & 0x3F))};

			rc = v2msg_append(b->m, ei, two, 2);
			i++;
		} else {
			size_t l = utf8_seq(s + i, n - i);

			if (!l)
				return fail_at(
				    b, -IZA_EUTF8, QR_BAD_VALUE, w,
				    b->cs == CS_UTF8
					? "invalid UTF-8 (MSH-18 "
					  "UNICODE UTF-8)"
					: "bytes outside ASCII and "
					  "not UTF-8 (MSH-18 empty or "
					  "ASCII)");
			rc = v2msg_append(b->m, ei, (const char *)s + i, l);
			i += l;
		}
	}
	return rc;
}

/* One more element (segment, field repetition, component or
 * subcomponent), counted against the cap; *ei its entry. */
static int new_entry(struct build *b, size_t f, size_t rep, size_t c, size_t s,
		     size_t *ei)
{
	if (++b->m->nelements > HL7V2_MAX_NODES)
		return fail(b, -IZA_ETOOBIG, QR_TOO_LARGE, NULL,
			    "message has more than 100000 elements");
	return v2msg_add_entry(b->m, b->seg, (uint32_t)f, (uint32_t)rep,
			       (uint32_t)c, (uint32_t)s, ei);
}

/* Text of s[0..n), escapes decoded, as the value of entry ei. */
static int add_text(struct build *b, size_t ei, const char *s, size_t n,
		    bool escapes, const struct where *w)
{
	int rc;

	if (!escapes || !b->sep.es || !memchr(s, b->sep.es, n))
		return to_utf8(b, ei, s, n, w);
	rc = unescape(b, s, n);
	return rc ? rc : to_utf8(b, ei, b->raw.p, b->raw.len, w);
}

/* Count the pieces of s[0..n) split at c (0: one piece). */
static size_t pieces(const char *s, size_t n, char c)
{
	size_t k = 1, i;

	if (!c)
		return 1;
	for (i = 0; i < n; i++)
		if (s[i] == c)
			k++;
	return k;
}

/* Next piece of the span (*s, *n) up to c; advances past the separator. */
static void next_piece(const char **s, size_t *n, char c, const char **p,
		       size_t *pn)
{
	const char *e = c ? memchr(*s, c, *n) : NULL;

	*p = *s;
	if (!e) {
		*pn = *n;
		*s += *n;
		*n = 0;
	} else {
		*pn = (size_t)(e - *s);
		*n -= *pn + 1;
		*s = e + 1;
	}
}

static int add_component(struct build *b, size_t ci, struct where *w,
			 const char *s, size_t n)
{
	size_t nsub = pieces(s, n, b->sep.ss), k, si;
	int rc;

	if (nsub <= 1)
		return add_text(b, ci, s, n, true, w);
	for (k = 1; k <= nsub; k++) {
		const char *p;
		size_t pn;

		next_piece(&s, &n, b->sep.ss, &p, &pn);
		if (pn == 0)
			continue;
		b->m->e[ci].flags = V2E_PARTS;
		w->s = k;
		rc = new_entry(b, w->f, b->m->e[ci].rep, w->c, k, &si);
		if (!rc)
			rc = add_text(b, si, p, pn, true, w);
		if (rc)
			return rc;
	}
	w->s = 0;
	return 0;
}

static int add_field(struct build *b, const char *id, size_t fieldno,
		     const char *s, size_t n)
{
	size_t nrep = pieces(s, n, b->sep.rs), i;
	struct where w = {.id = id, .f = fieldno};
	int rc = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < nrep && rc == 0; i++) {
		const char *r;
		size_t rn, ncomp, c, fi;

		next_piece(&s, &n, b->sep.rs, &r, &rn);
		rc = new_entry(b, fieldno, i + 1, 0, 0, &fi);
		if (rc)
			return rc;
		ncomp = pieces(r, rn, b->sep.cs);
		if (ncomp <= 1 && pieces(r, rn, b->sep.ss) <= 1) {
			w.c = 0;
			rc = add_text(b, fi, r, rn, true, &w);
			continue;
		}
		for (c = 1; c <= ncomp && rc == 0; c++) {
			const char *p;
			size_t pn, ci;

			next_piece(&r, &rn, b->sep.cs, &p, &pn);
			if (pn == 0)
				continue;
			b->m->e[fi].flags = V2E_PARTS;
			w.c = c;
			rc = new_entry(b, fieldno, i + 1, c, 0, &ci);
			if (!rc)
				rc = add_component(b, ci, &w, p, pn);
		}
	}
	return rc;
}

static bool sep_ok(char c)
{
	return c > 0x20 && c < 0x7f && !upper_alnum(c) &&
	       !(c >= 'a' && c <= 'z');
}

/* Field k of a segment (MSH numbering when msh), raw; false if absent. */
static bool get_field(const char *seg, size_t n, char fs, bool msh, size_t k,
		      const char **p, size_t *pn)
{
	size_t idx = msh ? 2 : 1, i, start = 4;

	if (n < 4 || seg[3] != fs)
		return false;
	for (i = 4;; i++) {
		if (i == n || seg[i] == fs) {
			if (idx == k) {
				*p = seg + start;
				*pn = i - start;
				return true;
			}
			if (i == n)
				return false;
			idx++;
			start = i + 1;
		}
	}
}

static int parse_msh(struct build *b, const char *seg, size_t n)
{
	struct seps *sp = &b->sep;
	char enc[5] = {0};
	size_t i, k, m;

	if (n < 5 || !sep_ok(seg[3]))
		return fail(b, -IZA_EPARSE, QR_MALFORMED, "MSH-1",
			    "invalid field separator");
	sp->fs = seg[3];
	for (m = 0; 4 + m < n && seg[4 + m] != sp->fs; m++)
		if (m == 5)
			break;
	if (m == 0 || m > 4 + 1 || (4 + m < n && seg[4 + m] != sp->fs))
		return fail(b, -IZA_EPARSE, QR_MALFORMED, "MSH-2",
			    "invalid encoding characters");
	memcpy(enc, seg + 4, m);
	for (i = 0; i < m; i++) {
		if (!sep_ok(enc[i]) || enc[i] == sp->fs)
			return fail(b, -IZA_EPARSE, QR_MALFORMED, "MSH-2",
				    "invalid encoding characters");
		for (k = 0; k < i; k++)
			if (enc[k] == enc[i])
				return fail(b, -IZA_EPARSE, QR_MALFORMED,
					    "MSH-2",
					    "repeated encoding character");
	}
	sp->cs = enc[0];
	sp->rs = m > 1 ? enc[1] : 0;
	sp->es = m > 2 ? enc[2] : 0;
	sp->ss = m > 3 ? enc[3] : 0;
	return 0;
}

/* First repetition's first component of a raw field, trimmed. */
static void first_value(const struct seps *sp, const char **p, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*p)[i] == sp->rs || (*p)[i] == sp->cs)
			break;
	*n = i;
	while (*n > 0 && (*p)[0] == ' ') {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && (*p)[*n - 1] == ' ')
		(*n)--;
}

static int charset_of(struct build *b, const char *msh, size_t n)
{
	const char *p;
	size_t pn;

	if (!get_field(msh, n, b->sep.fs, true, 18, &p, &pn)) {
		b->cs = CS_ASCII;
		return 0;
	}
	first_value(&b->sep, &p, &pn);
	if (pn == 0 || (pn == 5 && memcmp(p, "ASCII", 5) == 0))
		b->cs = CS_ASCII;
	else if (pn == 6 && memcmp(p, "8859/1", 6) == 0)
		b->cs = CS_LATIN1;
	else if (pn == 13 && memcmp(p, "UNICODE UTF-8", 13) == 0)
		b->cs = CS_UTF8;
	else
		return fail(b, -IZA_ECODE, QR_UNKNOWN_CODE, "MSH-18",
			    "unsupported character set");
	return 0;
}

static int root_for(struct build *b, const char *msh, size_t n, char name[8])
{
	const char *p, *c2;
	size_t pn, l1, l2;

	if (!get_field(msh, n, b->sep.fs, true, 9, &p, &pn) || pn == 0)
		return fail(b, -IZA_EMISSING, QR_NO_TYPE, "MSH-9",
			    "no message type");
	first_value(&(struct seps){.rs = b->sep.rs}, &p, &pn);
	c2 = b->sep.cs ? memchr(p, b->sep.cs, pn) : NULL;
	l1 = c2 ? (size_t)(c2 - p) : pn;
	l2 = 0;
	if (c2) {
		const char *e;

		c2++;
		e = memchr(c2, b->sep.cs, pn - (size_t)(c2 - p));
		l2 = e ? (size_t)(e - c2) : pn - (size_t)(c2 - p);
	}
	if (l1 == 0)
		return fail(b, -IZA_EMISSING, QR_NO_TYPE, "MSH-9",
			    "no message type");
	memcpy(name, "MESSAGE", 8);
	if (l1 == 3 && l2 == 3 && p[0] >= 'A' && p[0] <= 'Z') {
		memcpy(name, p, 3);
		name[3] = '_';
		memcpy(name + 4, c2, 3);
		name[7] = '\0';
		if (!message_name(name, 7))
			memcpy(name, "MESSAGE", 8);
	}
	return 0;
}

static int add_segment(struct build *b, const char *seg, size_t n)
{
	bool msh = b->segno == 1;
	char id[4];
	size_t k, i, start, fi;
	int rc;

	if (n < 3 || !(seg[0] >= 'A' && seg[0] <= 'Z') ||
	    !upper_alnum(seg[1]) || !upper_alnum(seg[2]) ||
	    (n > 3 && seg[3] != b->sep.fs))
		return fail(b, -IZA_EPARSE, QR_MALFORMED, NULL,
			    "invalid segment id");
	memcpy(id, seg, 3);
	id[3] = '\0';
	if (!msh && memcmp(id, "MSH", 3) == 0)
		return fail(b, -IZA_EPARSE, QR_MALFORMED, "MSH",
			    "second MSH in a message");
	if (++b->m->nelements > HL7V2_MAX_NODES)
		return fail(b, -IZA_ETOOBIG, QR_TOO_LARGE, NULL,
			    "message has more than 100000 elements");
	rc = v2msg_add_segment(b->m, id, -1, 1);
	if (rc)
		return rc;
	b->seg = (uint32_t)(b->m->nsegs - 1);
	if (n <= 4)
		return 0;
	k = 1;
	start = 4;
	if (msh) {
		struct where w1 = {.id = "MSH", .f = 1},
			     w2 = {.id = "MSH", .f = 2};
		size_t m;

		rc = new_entry(b, 1, 1, 0, 0, &fi);
		if (!rc)
			rc = add_text(b, fi, seg + 3, 1, false, &w1);
		for (m = 0; 4 + m < n && seg[4 + m] != b->sep.fs; m++)
			;
		if (!rc)
			rc = new_entry(b, 2, 1, 0, 0, &fi);
		if (!rc)
			rc = add_text(b, fi, seg + 4, m, false, &w2);
		if (rc || 4 + m >= n)
			return rc;
		k = 3;
		start = 4 + m + 1;
	}
	for (i = start;; i++) {
		if (i == n || seg[i] == b->sep.fs) {
			rc = add_field(b, id, k, seg + start, i - start);
			if (rc || i == n)
				return rc;
			k++;
			start = i + 1;
		}
	}
}

int hl7v2_er7_parse(const char *msg, size_t len, struct v2msg *out,
		    enum quarantine_reason *reason, struct iza_error *why)
{
	struct build b;
	const char *seg = msg, *end = msg + len, *e;
	char rootname[8];
	size_t n;
	int rc;

	memset(&b, 0, sizeof(b));
	b.m = out;
	b.why = why;
	b.reason = reason;
	b.segno = 1;
	*reason = QR_MALFORMED;
	v2msg_reset(out);
	if (len < 4 || memcmp(msg, "MSH", 3) != 0)
		return fail(&b, -IZA_EPARSE, QR_MALFORMED, NULL,
			    "message does not start with MSH");
	e = memchr(msg, '\r', len);
	n = e ? (size_t)(e - msg) : len;
	rc = parse_msh(&b, msg, n);
	if (!rc)
		rc = charset_of(&b, msg, n);
	if (!rc)
		rc = root_for(&b, msg, n, rootname);
	if (rc)
		return rc;
	memcpy(out->name, rootname, 8);
	while (seg < end && rc == 0) {
		e = memchr(seg, '\r', (size_t)(end - seg));
		n = e ? (size_t)(e - seg) : (size_t)(end - seg);
		if (n > 0) {
			rc = add_segment(&b, seg, n);
			b.segno++;
		}
		seg += n + 1;
	}
	if (rc == -IZA_ENOMEM)
		fail(&b, rc, QR_TOO_LARGE, NULL, "out of memory");
	free(b.raw.p);
	if (rc)
		v2msg_reset(out);
	return rc;
}

/* ---------------------------------------------------- ER7 stream reader */

struct er7 {
	struct input *in;
	size_t max;
	const struct adapter_sink *sink;
	struct buf seg, msg;
	struct v2msg model; /* the message delivered, reused */
	bool seg_big, msg_big, have_msg, truncated, cr;
	long seg_line, msg_line, line, index;
};

static int er7_bad(struct er7 *r, long line, long index,
		   enum quarantine_reason reason, int code, const char *field,
		   const char *text, bool raw)
{
	struct iza_error why;

	iza_error_set(&why, code, NULL, line, field, "%s", text);
	return r->sink->bad(r->sink->ctx, line, index, reason, &why,
			    raw ? r->msg.p : NULL, raw ? r->msg.len : 0);
}

static bool has_pv1(const struct v2msg *m)
{
	size_t i;

	for (i = 0; i < m->nsegs; i++)
		if (memcmp(m->segs[i].id, "PV1", 4) == 0)
			return true;
	return false;
}

static int er7_deliver(struct er7 *r)
{
	enum quarantine_reason reason;
	struct iza_error why;
	int rc;

	iza_error_clear(&why);
	rc = hl7v2_er7_parse(r->msg.p, r->msg.len, &r->model, &reason, &why);
	if (rc == -IZA_ENOMEM)
		return rc;
	if (rc) {
		char text[IZA_ERR_TEXT_MAX];

		snprintf(text, sizeof(text), "segment %ld: %s", why.line,
			 why.text);
		return er7_bad(r, r->msg_line, r->index, reason, why.code,
			       why.field, text, true);
	}
	if (strncmp(r->model.name, "ADT_", 4) == 0 && !has_pv1(&r->model))
		return er7_bad(r, r->msg_line, r->index, QR_MISSING,
			       -IZA_ETRUNCATED, "PV1",
			       "ADT message without a PV1 segment (truncated?)",
			       true);
	return r->sink->v2_message(r->sink->ctx, &r->model, r->msg_line,
				   r->index);
}

/* The message collected so far is complete. */
static int er7_flush(struct er7 *r)
{
	int rc = 0;

	if (r->msg.len == 0 && !r->msg_big)
		goto out;
	if (!r->have_msg) {
		rc = er7_bad(r, r->msg_line, 0, QR_MALFORMED, -IZA_EPARSE, NULL,
			     "segments outside a message (before an MSH)",
			     !r->msg_big);
		goto out;
	}
	r->index++;
	if (r->msg_big)
		rc = er7_bad(
		    r, r->msg_line, r->index, QR_TOO_LARGE, -IZA_ETOOBIG, NULL,
		    "message larger than the line/message limit", false);
	else if (r->truncated)
		rc = er7_bad(r, r->msg_line, r->index, QR_MISSING,
			     -IZA_ETRUNCATED, NULL,
			     "message truncated: the input ends inside a "
			     "segment",
			     true);
	else
		rc = er7_deliver(r);
out:
	r->msg.len = 0;
	r->msg_big = false;
	r->have_msg = false;
	r->truncated = false;
	return rc;
}

static bool batch_segment(const char *s, size_t n)
{
	return n >= 3 && (n == 3 || !upper_alnum(s[3])) &&
	       (memcmp(s, "FHS", 3) == 0 || memcmp(s, "BHS", 3) == 0 ||
		memcmp(s, "BTS", 3) == 0 || memcmp(s, "FTS", 3) == 0);
}

static int er7_end_segment(struct er7 *r)
{
	const char *s = r->seg.p;
	size_t n = r->seg.len;
	int rc = 0;

	if (n == 0 && !r->seg_big)
		return 0;
	if (batch_segment(s, n)) {
		rc = er7_flush(r);
		goto out;
	}
	if (n >= 3 && memcmp(s, "MSH", 3) == 0) {
		rc = er7_flush(r);
		if (rc)
			goto out;
		r->have_msg = true;
		r->msg_line = r->seg_line;
	} else if (!r->have_msg && r->msg.len == 0 && !r->msg_big) {
		r->msg_line = r->seg_line;
	}
	if (r->seg_big || r->msg_big || r->msg.len + n + 1 > r->max) {
		r->msg_big = true;
		r->msg.len = 0;
	} else {
		rc = buf_add(&r->msg, s, n);
		if (!rc)
			rc = buf_addc(&r->msg, '\r');
	}
out:
	r->seg.len = 0;
	r->seg_big = false;
	return rc;
}

static int er7_bytes(struct er7 *r, const char *s, size_t n)
{
	if (r->seg.len == 0 && !r->seg_big)
		r->seg_line = r->line;
	if (r->seg_big || r->seg.len + n > r->max) {
		r->seg_big = true;
		r->seg.len = 0;
		return 0;
	}
	return buf_add(&r->seg, s, n);
}

static int er7_feed(struct er7 *r, const char *p, size_t n, bool first)
{
	size_t i = 0;
	int rc = 0;

	if (first && n >= 3 && (unsigned char)p[0] == 0xEF &&
	    (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
		i = 3;
	while (i < n && rc == 0) {
		size_t j = i;
		char c;

		while (j < n && p[j] != '\r' && p[j] != '\n' && p[j] != 0x1C &&
		       p[j] != 0x0B)
			j++;
		if (j > i) {
			r->cr = false;
			rc = er7_bytes(r, p + i, j - i);
			if (rc || j == n)
				break;
		}
		c = p[j];
		i = j + 1;
		if (c == '\n' && r->cr) {
			r->cr = false;
			continue;
		}
		r->cr = c == '\r';
		if (c == '\r' || c == '\n') {
			rc = er7_end_segment(r);
			r->line++;
		} else if (c == 0x1C) {
			rc = er7_end_segment(r);
			if (!rc)
				rc = er7_flush(r);
		} else if (r->seg.len > 0 || r->seg_big) { /* 0x0B inside */
			rc = er7_bytes(r, &c, 1);
		}
	}
	return rc;
}

static int er7_run(struct input *in, const struct adapter_limits *lim,
		   const struct adapter_sink *sink, struct iza_error *err)
{
	struct er7 r;
	char *chunk = malloc(ER7_CHUNK);
	bool first = true;
	ssize_t got;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	v2msg_init(&r.model);
	r.in = in;
	r.sink = sink;
	r.max = lim->max_line ? lim->max_line : ADAPTER_DEFAULT_MAX_LINE;
	r.line = 1;
	if (!chunk)
		return iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				     "out of memory");
	while ((got = input_read(in, chunk, ER7_CHUNK)) > 0) {
		rc = er7_feed(&r, chunk, (size_t)got, first);
		first = false;
		if (rc)
			goto out;
	}
	if (got < 0) {
		rc = iza_error_set(err, (int)got, input_name(in), r.line, NULL,
				   "read error");
		goto out;
	}
	if (r.seg.len > 0 || r.seg_big) {
		/* the last segment has no terminator */
		rc = er7_end_segment(&r);
		if (rc)
			goto out;
		if (r.have_msg)
			r.truncated = true;
	}
	rc = er7_flush(&r);
out:
	if (rc == -IZA_ENOMEM)
		rc = iza_error_set(err, rc, input_name(in), r.line, NULL,
				   "out of memory");
	free(chunk);
	free(r.seg.p);
	free(r.msg.p);
	v2msg_release(&r.model);
	return rc < 0 ? rc : 0;
}

static int er7_sniff(const char *head, size_t len)
{
	size_t i = skip_bom_ws(head, len, true);

	if (len - i < 4 || !sep_ok(head[i + 3]))
		return 0;
	if (memcmp(head + i, "MSH", 3) == 0)
		return 90;
	if (memcmp(head + i, "FHS", 3) == 0 || memcmp(head + i, "BHS", 3) == 0)
		return 80;
	return 0;
}

const struct adapter adapter_hl7v2_xml = {
    .name = "hl7v2-xml",
    .input = "hl7v2",
    .description = "HL7 v2.x XML encoding (v2.3-v2.8): messages, batches",
    .sniff = xml_sniff,
    .run = xml_run,
};

const struct adapter adapter_hl7v2_er7 = {
    .name = "hl7v2-er7",
    .input = "hl7v2",
    .description = "HL7 v2.x ER7 (pipe) text, MLLP framing tolerated",
    .sniff = er7_sniff,
    .run = er7_run,
};
