/*
 * hl7v2.c - HL7 v2 adapters: XML encoding (streamed) and ER7 text converted
 * to the same element tree; see hl7v2.h for the contract.
 */
#include "hl7v2.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int xml_run(struct input *in, const struct adapter_limits *lim,
		   const struct adapter_sink *sink, struct iza_error *err)
{
	struct xml_limits xl = {.max_depth = lim->max_depth,
				.max_record = lim->max_line,
				.max_nodes = HL7V2_MAX_NODES};
	struct xml_reader *r = NULL;
	long index = 0;
	int rc;

	rc = xml_reader_new(in, &xl, &r, err);
	if (rc)
		return rc;
	rc = xml_reader_next(r, err);
	while (rc == 1) {
		xmlTextReaderPtr tr = xml_reader_raw(r);
		const xmlChar *name = xmlTextReaderConstLocalName(tr);
		const xmlChar *ns = xmlTextReaderConstNamespaceUri(tr);
		struct iza_error why;
		xmlNodePtr node;
		long line;

		if (xmlTextReaderNodeType(tr) != XML_READER_TYPE_ELEMENT ||
		    !name ||
		    !message_name((const char *)name,
				  strlen((const char *)name)) ||
		    (ns && strcmp((const char *)ns, HL7V2_NS) != 0)) {
			rc = xml_reader_next(r, err);
			continue;
		}
		index++;
		line = xml_reader_line(r);
		iza_error_clear(&why);
		rc = xml_reader_expand(r, &node, &why);
		if (rc == 0) {
			rc = sink->xml_record(sink->ctx, node, line, index);
		} else {
			int xrc = rc;
			char text[IZA_ERR_TEXT_MAX];

			/* why.text is an argument: copy it before rewriting */
			snprintf(text, sizeof(text), "%s", why.text);
			if (why.line > 0 && why.line != line)
				iza_error_set(&why, why.code, NULL, line,
					      (const char *)name,
					      "%s (at line %ld)", text,
					      why.line);
			else
				iza_error_set(&why, why.code, NULL, line,
					      (const char *)name, "%s", text);
			rc = sink->bad(sink->ctx, line, index, reason_for(xrc),
				       &why, NULL, 0);
			if (rc == 0 && xml_reader_broken(r)) {
				rc = iza_error_set(
				    err, xrc, input_name(in), line, NULL,
				    "message %ld: %s; the rest of the input "
				    "was not read",
				    index, why.text);
				goto out;
			}
		}
		if (rc)
			break;
		rc = xml_reader_skip(r, err);
	}
	if (rc < 0 && err && err->text[0]) {
		char text[IZA_ERR_TEXT_MAX];

		snprintf(text, sizeof(text), "%s", err->text);
		iza_error_set(err, rc, input_name(in), err->line, NULL,
			      "after message %ld: %s; the rest of the input "
			      "was not read",
			      index, text);
	}
out:
	xml_reader_free(r);
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
	xmlDocPtr doc;
	xmlNsPtr ns;
	struct seps sep;
	enum charset cs;
	size_t nodes;
	struct buf raw, utf;
	long segno;
	struct iza_error *why;
	enum quarantine_reason *reason;
};

static int fail(struct build *b, int rc, enum quarantine_reason reason,
		const char *field, const char *text)
{
	*b->reason = reason;
	return iza_error_set(b->why, rc, NULL, b->segno, field, "%s", text);
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

/* b->raw -> b->utf (UTF-8, checked). */
static int to_utf8(struct build *b, const char *field)
{
	const unsigned char *s = (const unsigned char *)b->raw.p;
	size_t n = b->raw.len, i = 0;
	int rc = 0;

	b->utf.len = 0;
	if (buf_add(&b->utf, "", 0))
		return -IZA_ENOMEM;
	while (i < n && rc == 0) {
		unsigned char c = s[i];

		if (c < 0x20 && c != '\t' && c != '\n')
			return fail(b, -IZA_EINVALID, QR_BAD_VALUE, field,
				    "control character in a value");
		if (c < 0x80) { /* a run of ASCII that needs no checks */
			size_t j = i + 1;

			while (j < n && s[j] >= 0x20 && s[j] < 0x80)
				j++;
			rc = buf_add(&b->utf, (const char *)s + i, j - i);
			i = j;
		} else if (b->cs == CS_LATIN1) {
			char two[2] = {(char)(0xC0 | (c >> 6)),
				       (char)(0x80 | (c & 0x3F))};

			rc = buf_add(&b->utf, two, 2);
			i++;
		} else {
			size_t l = utf8_seq(s + i, n - i);

			if (!l)
				return fail(b, -IZA_EUTF8, QR_BAD_VALUE, field,
					    b->cs == CS_UTF8
						? "invalid UTF-8 (MSH-18 "
						  "UNICODE UTF-8)"
						: "bytes outside ASCII and "
						  "not UTF-8 (MSH-18 empty or "
						  "ASCII)");
			rc = buf_add(&b->utf, (const char *)s + i, l);
			i += l;
		}
	}
	return rc;
}

static int new_elem(struct build *b, xmlNodePtr parent, const char *name,
		    xmlNodePtr *out)
{
	xmlNodePtr el;

	if (++b->nodes > HL7V2_MAX_NODES)
		return fail(b, -IZA_ETOOBIG, QR_TOO_LARGE, NULL,
			    "message has more than 100000 elements");
	el = xmlNewDocNode(b->doc, b->ns, (const xmlChar *)name, NULL);
	if (!el || !xmlAddChild(parent, el)) {
		xmlFreeNode(el);
		return -IZA_ENOMEM;
	}
	*out = el;
	return 0;
}

/* Text of s[0..n), escapes decoded, as the content of el. */
static int add_text(struct build *b, xmlNodePtr el, const char *s, size_t n,
		    bool escapes, const char *field)
{
	xmlNodePtr t;
	int rc;

	if (escapes) {
		rc = unescape(b, s, n);
	} else {
		b->raw.len = 0;
		rc = buf_add(&b->raw, s, n);
	}
	if (rc)
		return rc;
	rc = to_utf8(b, field);
	if (rc || b->utf.len == 0)
		return rc;
	t = xmlNewDocTextLen(b->doc, (const xmlChar *)b->utf.p,
			     (int)b->utf.len);
	if (!t || !xmlAddChild(el, t)) {
		xmlFreeNode(t);
		return -IZA_ENOMEM;
	}
	return 0;
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

/* out = prefix "." k, NUL-terminated, as snprintf("%s.%zu") would write it
 * (snprintf was ~5 % of an ER7 ingest).  Positions are below the message
 * cap (16 MiB, 8 digits), so the callers' buffers of 32 and 48 bytes hold
 * SEG.f.c.s. */
static void position_name(char *out, const char *prefix, size_t k)
{
	char digits[24];
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

static int add_component(struct build *b, xmlNodePtr parent, const char *name,
			 const char *s, size_t n)
{
	size_t nsub = pieces(s, n, b->sep.ss), k;
	char sub[48];
	xmlNodePtr el;
	int rc;

	if (nsub <= 1)
		return add_text(b, parent, s, n, true, name);
	for (k = 1; k <= nsub; k++) {
		const char *p;
		size_t pn;

		next_piece(&s, &n, b->sep.ss, &p, &pn);
		if (pn == 0)
			continue;
		position_name(sub, name, k);
		rc = new_elem(b, parent, sub, &el);
		if (!rc)
			rc = add_text(b, el, p, pn, true, sub);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_field(struct build *b, xmlNodePtr seg, const char *id,
		     size_t fieldno, const char *s, size_t n)
{
	size_t nrep = pieces(s, n, b->sep.rs), i;
	char name[32], comp[48];
	int rc = 0;

	if (n == 0)
		return 0;
	position_name(name, id, fieldno);
	for (i = 0; i < nrep && rc == 0; i++) {
		const char *r;
		size_t rn, ncomp, c;
		xmlNodePtr el;

		next_piece(&s, &n, b->sep.rs, &r, &rn);
		rc = new_elem(b, seg, name, &el);
		if (rc)
			return rc;
		ncomp = pieces(r, rn, b->sep.cs);
		if (ncomp <= 1 && pieces(r, rn, b->sep.ss) <= 1) {
			rc = add_text(b, el, r, rn, true, name);
			continue;
		}
		for (c = 1; c <= ncomp && rc == 0; c++) {
			const char *p;
			size_t pn;
			xmlNodePtr cel;

			next_piece(&r, &rn, b->sep.cs, &p, &pn);
			if (pn == 0)
				continue;
			position_name(comp, name, c);
			rc = new_elem(b, el, comp, &cel);
			if (!rc)
				rc = add_component(b, cel, comp, p, pn);
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

static int add_segment(struct build *b, xmlNodePtr root, const char *seg,
		       size_t n)
{
	bool msh = b->segno == 1;
	char id[4];
	xmlNodePtr el, f;
	size_t k, i, start;
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
	rc = new_elem(b, root, id, &el);
	if (rc)
		return rc;
	if (n <= 4)
		return 0;
	k = 1;
	start = 4;
	if (msh) {
		size_t m;

		rc = new_elem(b, el, "MSH.1", &f);
		if (!rc)
			rc = add_text(b, f, seg + 3, 1, false, "MSH.1");
		for (m = 0; 4 + m < n && seg[4 + m] != b->sep.fs; m++)
			;
		if (!rc)
			rc = new_elem(b, el, "MSH.2", &f);
		if (!rc)
			rc = add_text(b, f, seg + 4, m, false, "MSH.2");
		if (rc || 4 + m >= n)
			return rc;
		k = 3;
		start = 4 + m + 1;
	}
	for (i = start;; i++) {
		if (i == n || seg[i] == b->sep.fs) {
			rc = add_field(b, el, id, k, seg + start, i - start);
			if (rc || i == n)
				return rc;
			k++;
			start = i + 1;
		}
	}
}

int hl7v2_er7_to_doc(const char *msg, size_t len, xmlDocPtr *doc,
		     enum quarantine_reason *reason, struct iza_error *why)
{
	struct build b;
	const char *seg = msg, *end = msg + len, *e;
	char rootname[8];
	xmlNodePtr root;
	size_t n;
	int rc;

	memset(&b, 0, sizeof(b));
	b.why = why;
	b.reason = reason;
	b.segno = 1;
	*reason = QR_MALFORMED;
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
	b.doc = xmlNewDoc((const xmlChar *)"1.0");
	root = b.doc
		   ? xmlNewDocNode(b.doc, NULL, (const xmlChar *)rootname, NULL)
		   : NULL;
	if (!root) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	xmlDocSetRootElement(b.doc, root);
	b.ns = xmlNewNs(root, (const xmlChar *)HL7V2_NS, NULL);
	if (!b.ns) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	xmlSetNs(root, b.ns);
	while (seg < end && rc == 0) {
		e = memchr(seg, '\r', (size_t)(end - seg));
		n = e ? (size_t)(e - seg) : (size_t)(end - seg);
		if (n > 0) {
			rc = add_segment(&b, root, seg, n);
			b.segno++;
		}
		seg += n + 1;
	}
out:
	if (rc == -IZA_ENOMEM)
		fail(&b, rc, QR_TOO_LARGE, NULL, "out of memory");
	free(b.raw.p);
	free(b.utf.p);
	if (rc) {
		xmlFreeDoc(b.doc);
		return rc;
	}
	*doc = b.doc;
	return 0;
}

/* ---------------------------------------------------- ER7 stream reader */

struct er7 {
	struct input *in;
	size_t max;
	const struct adapter_sink *sink;
	struct buf seg, msg;
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

static bool has_pv1(xmlNodePtr root)
{
	xmlNodePtr c;

	for (c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, "PV1") == 0)
			return true;
	return false;
}

static int er7_deliver(struct er7 *r)
{
	enum quarantine_reason reason;
	struct iza_error why;
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	int rc;

	iza_error_clear(&why);
	rc = hl7v2_er7_to_doc(r->msg.p, r->msg.len, &doc, &reason, &why);
	if (rc == -IZA_ENOMEM)
		return rc;
	if (rc) {
		char text[IZA_ERR_TEXT_MAX];

		snprintf(text, sizeof(text), "segment %ld: %s", why.line,
			 why.text);
		return er7_bad(r, r->msg_line, r->index, reason, why.code,
			       why.field, text, true);
	}
	root = xmlDocGetRootElement(doc);
	if (strncmp((const char *)root->name, "ADT_", 4) == 0 && !has_pv1(root))
		rc = er7_bad(r, r->msg_line, r->index, QR_MISSING,
			     -IZA_ETRUNCATED, "PV1",
			     "ADT message without a PV1 segment (truncated?)",
			     true);
	else
		rc = r->sink->xml_record(r->sink->ctx, root, r->msg_line,
					 r->index);
	xmlFreeDoc(doc);
	return rc;
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
