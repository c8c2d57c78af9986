/*
 * cda.c - the CDA R2 adapter (see cda.h for the header DOM contract).
 *
 * One pass of xml_secure's reader over the input.  Outside a document the
 * reader just walks (a batch wrapper, comments).  At a ClinicalDocument
 * start tag the adapter starts a fresh xmlDoc with a copy of that element;
 * each header child is expanded as one xml_secure record (its byte and node
 * caps are enforced while libxml2 reads it) and deep-copied into the new
 * document; the <component> child (the body) is passed over with
 * xml_reader_skip(), which reads and frees it without building a tree.  At
 * the document's end tag the header goes to the sink and is freed.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cda.h"
#include "xml_secure.h"

#define CDA_NAME "ClinicalDocument"

/* Outcomes of reading one document besides 0 and -IZA_Exxx. */
enum {
	DOC_REFUSED = 1, /* this document is lost; the reader is usable */
	DOC_FATAL,	 /* the reader stopped; the rest of the file is lost */
};

struct cda_run {
	struct xml_reader *xr;
	xmlTextReaderPtr r;
	struct input *in;
	const struct adapter_sink *sink;
	long entry; /* documents started so far */
	/* the header being built */
	xmlDocPtr doc;
	size_t nodes, text;
	/* why the current document (or the rest of the file) is lost */
	enum quarantine_reason reason;
	long line;
	struct iza_error why;
};

static bool is_v3(const xmlNode *n)
{
	return n->ns && n->ns->href &&
	       xmlStrEqual(n->ns->href, BAD_CAST CDA_NS);
}

static bool named(const xmlNode *n, const char *local)
{
	return xmlStrEqual(n->name, BAD_CAST local);
}

static long node_line(const xmlNode *n, long fallback)
{
	long line = xmlGetLineNo(n);

	return line > 0 && line < 65535 ? line : fallback;
}

static enum quarantine_reason reason_of(int code)
{
	return code == -IZA_ETOOBIG || code == -IZA_ETOODEEP ? QR_TOO_LARGE
							     : QR_MALFORMED;
}

/* This document is refused (the reader can go on). */
static int refuse(struct cda_run *st, int code, long line, const char *what)
{
	st->reason = reason_of(code);
	st->line = line;
	iza_error_set(&st->why, code, NULL, line, NULL, "line %ld: %s", line,
		      what);
	return DOC_REFUSED;
}

/* An error from xml_secure: a refusal of this document, or fatal. */
static int reader_failed(struct cda_run *st, int rc, const struct iza_error *e)
{
	long line = e->line > 0 ? e->line : xml_reader_line(st->xr);

	if (rc == -IZA_EIO || rc == -IZA_ENOMEM)
		return rc;
	st->reason = reason_of(rc);
	st->line = line;
	if (!xml_reader_broken(st->xr)) {
		iza_error_set(&st->why, rc, NULL, line, e->field,
			      "line %ld: %s", line, e->text);
		return DOC_REFUSED;
	}
	iza_error_set(&st->why, rc, NULL, line, e->field,
		      "line %ld: %s; the rest of the file is lost", line,
		      e->text);
	return DOC_FATAL;
}

/* Advance the reader (next node, or past the current subtree); 1 on a
 * node, 0 at the end, or an outcome from reader_failed(). */
static int step(struct cda_run *st, bool skip)
{
	struct iza_error e;
	int rc;

	iza_error_clear(&e);
	rc = skip ? xml_reader_skip(st->xr, &e) : xml_reader_next(st->xr, &e);
	return rc >= 0 ? rc : reader_failed(st, rc, &e);
}

static int charge(struct cda_run *st, const xmlNode *src, size_t bytes)
{
	st->nodes++;
	st->text += bytes;
	if (st->nodes > CDA_MAX_HEADER_NODES || st->text > CDA_MAX_HEADER_TEXT)
		return refuse(st, -IZA_ETOOBIG,
			      node_line(src, xml_reader_line(st->xr)),
			      "document header larger than the cap (" CDA_NAME
			      " without its body)");
	return 0;
}

/* The namespace a copied element or attribute must use: the declaration
 * in scope in the copy (which mirrors the source's), or a new one on el. */
static xmlNsPtr copy_ns(xmlNodePtr el, const xmlNs *src)
{
	xmlNsPtr ns;

	if (!src || !src->href)
		return NULL;
	ns = xmlSearchNs(el->doc, el, src->prefix);
	if (ns && xmlStrEqual(ns->href, src->href))
		return ns;
	return xmlNewNs(el, src->href, src->prefix);
}

/* The value of an attribute made only of text (character references are
 * text already); an entity reference refuses the document. */
static int attr_value(struct cda_run *st, const xmlAttr *a, xmlChar **out)
{
	const xmlNode *c;

	for (c = a->children; c; c = c->next)
		if (c->type != XML_TEXT_NODE)
			return refuse(
			    st, -IZA_EINVALID,
			    node_line(a->parent, xml_reader_line(st->xr)),
			    "entity reference in an attribute (never "
			    "expanded)");
	*out = a->children ? xmlNodeListGetString(a->doc, a->children, 1)
			   : xmlStrdup(BAD_CAST "");
	return *out ? 0 : -IZA_ENOMEM;
}

/*
 * Copy element src without its children under parent, or as the document's
 * root when parent is NULL: name, namespace declarations (for the root all
 * those in scope, so a batch wrapper's declarations come along), namespace,
 * attributes, line.  *out is the copy.
 */
static int copy_element(struct cda_run *st, xmlNodePtr src, xmlNodePtr parent,
			xmlNodePtr *out)
{
	xmlNsPtr *scope = NULL;
	xmlNodePtr el;
	const xmlNs *d;
	const xmlAttr *a;
	int rc, i;

	rc = charge(st, src, (size_t)xmlStrlen(src->name));
	if (rc)
		return rc;
	/* libxml2 keeps an undeclared prefix in the name, without a
	 * namespace (and only reports it, once, wherever it read ahead) */
	if (!src->ns && xmlStrchr(src->name, ':'))
		return refuse(st, -IZA_EPARSE,
			      node_line(src, xml_reader_line(st->xr)),
			      "element with an undeclared namespace prefix");
	el = xmlNewDocNode(st->doc, NULL, src->name, NULL);
	if (!el)
		return -IZA_ENOMEM;
	if (parent)
		xmlAddChild(parent, el);
	else
		xmlDocSetRootElement(st->doc, el);
	el->line = src->line;
	if (!parent) {
		scope = xmlGetNsList(src->doc, src);
		for (i = 0; scope && scope[i]; i++)
			if (!xmlNewNs(el, scope[i]->href, scope[i]->prefix) &&
			    !xmlSearchNs(st->doc, el, scope[i]->prefix)) {
				xmlFree(scope);
				return -IZA_ENOMEM;
			}
		xmlFree(scope);
	} else {
		for (d = src->nsDef; d; d = d->next)
			if (!xmlNewNs(el, d->href, d->prefix) &&
			    !xmlSearchNs(st->doc, el, d->prefix))
				return -IZA_ENOMEM;
	}
	xmlSetNs(el, copy_ns(el, src->ns));
	for (a = src->properties; a; a = a->next) {
		xmlChar *v = NULL;

		if (!a->ns && xmlStrchr(a->name, ':'))
			return refuse(st, -IZA_EPARSE,
				      node_line(src, xml_reader_line(st->xr)),
				      "attribute with an undeclared namespace "
				      "prefix");
		rc = attr_value(st, a, &v);
		if (rc)
			return rc;
		rc = charge(st, src, (size_t)xmlStrlen(v));
		if (rc == 0 &&
		    !xmlNewNsProp(el, copy_ns(el, a->ns), a->name, v))
			rc = -IZA_ENOMEM;
		xmlFree(v);
		if (rc)
			return rc;
	}
	*out = el;
	return 0;
}

static bool blank(const xmlChar *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

/*
 * Deep-copy the expanded subtree src under parent, iteratively (the depth
 * is the input's): elements and non-blank text; comments, processing
 * instructions and blank text are dropped.
 */
static int copy_tree(struct cda_run *st, xmlNodePtr src, xmlNodePtr parent)
{
	xmlNodePtr n = src, to = parent, el;
	int rc;

	while (n) {
		if (n->type == XML_ELEMENT_NODE) {
			rc = copy_element(st, n, to, &el);
			if (rc)
				return rc;
			if (n->children) {
				to = el;
				n = n->children;
				continue;
			}
		} else if ((n->type == XML_TEXT_NODE ||
			    n->type == XML_CDATA_SECTION_NODE) &&
			   !blank(n->content)) {
			size_t len = (size_t)xmlStrlen(n->content);

			rc = charge(st, n, len);
			if (rc)
				return rc;
			el = xmlNewDocTextLen(st->doc, n->content, (int)len);
			if (!el)
				return -IZA_ENOMEM;
			xmlAddChild(to, el);
		} else if (n->type == XML_ENTITY_REF_NODE) {
			return refuse(
			    st, -IZA_EINVALID,
			    node_line(n->parent, xml_reader_line(st->xr)),
			    "entity reference (never expanded)");
		}
		/* next in document order, without leaving src */
		while (n != src && !n->next) {
			n = n->parent;
			to = to->parent;
		}
		if (n == src)
			break;
		n = n->next;
	}
	return 0;
}

/*
 * The reader is at a ClinicalDocument start tag at depth `depth`: copy it
 * and every header child (each expanded as one capped record) into st->doc,
 * pass over <component> unexpanded, and stop on the end tag.
 */
static int copy_document(struct cda_run *st, xmlNodePtr start, int depth)
{
	xmlNodePtr root;
	bool advanced = false;
	int rc;

	rc = copy_element(st, start, NULL, &root);
	if (rc || xmlTextReaderIsEmptyElement(st->r))
		return rc;
	for (;;) {
		struct iza_error e;
		xmlNodePtr cur;

		if (!advanced) {
			rc = step(st, false);
			if (rc != 1)
				goto ended;
		}
		advanced = false;
		cur = xmlTextReaderCurrentNode(st->r);
		if (xmlTextReaderNodeType(st->r) ==
			XML_READER_TYPE_END_ELEMENT &&
		    xmlTextReaderDepth(st->r) <= depth)
			return 0;
		if (xmlTextReaderNodeType(st->r) != XML_READER_TYPE_ELEMENT)
			continue; /* text, comments between header children */
		if (!(named(cur, "component") && is_v3(cur))) {
			xmlNodePtr sub;

			iza_error_clear(&e);
			rc = xml_reader_expand(st->xr, &sub, &e);
			if (rc)
				return reader_failed(st, rc, &e);
			rc = copy_tree(st, sub, root);
			if (rc)
				return rc;
		}
		/* past this child; the body is read and freed, never built */
		rc = step(st, true);
		if (rc != 1)
			goto ended;
		advanced = true;
	}
ended:
	if (rc == 0) /* libxml2 reports a truncated document, but be sure */
		return refuse(st, -IZA_ETRUNCATED, xml_reader_line(st->xr),
			      "input ends inside " CDA_NAME);
	return rc;
}

/* After a refusal inside a document at `depth`: move to its end tag. */
static int skip_rest(struct cda_run *st, int depth)
{
	int rc;

	for (;;) {
		int type = xmlTextReaderNodeType(st->r);

		if (xmlTextReaderDepth(st->r) <= depth &&
		    (type == XML_READER_TYPE_END_ELEMENT ||
		     (type == XML_READER_TYPE_ELEMENT &&
		      xmlTextReaderIsEmptyElement(st->r))))
			return 0;
		rc = step(st, xmlTextReaderDepth(st->r) > depth);
		if (rc != 1)
			return rc == 0 ? 0 : rc;
	}
}

static int lost(struct cda_run *st, long entry)
{
	return st->sink->bad(st->sink->ctx, st->line, entry, st->reason,
			     &st->why, NULL, 0);
}

/* Report that the rest of the file is lost; DOC_FATAL, or the sink's code. */
static int lost_fatal(struct cda_run *st, long entry)
{
	int rc = lost(st, entry);

	return rc ? rc : DOC_FATAL;
}

/* One ClinicalDocument at the reader's position: deliver its header or
 * report it.  Returns 0, DOC_FATAL (reported; stop), or a sink's or a
 * fatal -IZA_Exxx code. */
static int run_document(struct cda_run *st, xmlNodePtr start)
{
	int depth = xmlTextReaderDepth(st->r);
	long line = xml_reader_line(st->xr), entry = ++st->entry;
	int rc;

	st->nodes = st->text = 0;
	st->doc = xmlNewDoc(BAD_CAST "1.0");
	if (!st->doc)
		return -IZA_ENOMEM;
	rc = copy_document(st, start, depth);
	if (rc == 0)
		rc = st->sink->xml_record(
		    st->sink->ctx, xmlDocGetRootElement(st->doc), line, entry);
	xmlFreeDoc(st->doc);
	st->doc = NULL;
	if (rc == DOC_REFUSED) {
		rc = lost(st, entry);
		if (rc == 0) {
			rc = skip_rest(st, depth);
			if (rc ==
			    DOC_REFUSED) /* cannot happen outside expand */
				rc = DOC_FATAL;
			if (rc == DOC_FATAL)
				rc = lost_fatal(st, entry);
		}
	} else if (rc == DOC_FATAL) {
		rc = lost_fatal(st, entry);
	}
	return rc;
}

/* A ClinicalDocument outside urn:hl7-org:v3: one bad record, skipped. */
static int wrong_namespace(struct cda_run *st)
{
	long line = xml_reader_line(st->xr), entry = ++st->entry;
	int rc;

	refuse(st, -IZA_EPARSE, line, CDA_NAME " not in namespace " CDA_NS);
	st->reason = QR_NO_TYPE;
	rc = lost(st, entry);
	if (rc)
		return rc;
	rc = step(st, true);
	if (rc == 1 || rc == 0)
		return rc == 1 ? 1 : 0;
	if (rc == DOC_FATAL)
		rc = lost_fatal(st, entry);
	return rc;
}

static int cda_run(struct input *in, const struct adapter_limits *lim,
		   const struct adapter_sink *sink, struct iza_error *err)
{
	const struct xml_limits xl = {
	    .max_depth = lim->max_depth,
	    .max_record = CDA_MAX_HEADER_BYTES,
	    .max_nodes = CDA_MAX_HEADER_NODES,
	};
	struct cda_run st = {.in = in, .sink = sink};
	bool seen = false, advanced = false;
	int rc;

	rc = xml_reader_new(in, &xl, &st.xr, err);
	if (rc)
		return rc;
	st.r = xml_reader_raw(st.xr);
	for (;;) {
		xmlNodePtr cur;

		if (!advanced) {
			rc = step(&st, false);
			if (rc == DOC_FATAL)
				rc = lost_fatal(&st, st.entry + 1);
			if (rc != 1)
				break;
		}
		advanced = false;
		if (xmlTextReaderNodeType(st.r) != XML_READER_TYPE_ELEMENT)
			continue;
		cur = xmlTextReaderCurrentNode(st.r);
		if (!named(cur, CDA_NAME))
			continue;
		seen = true;
		if (!is_v3(cur)) {
			rc = wrong_namespace(&st);
			if (rc != 1)
				break;
			advanced = true;
			continue;
		}
		rc = run_document(&st, cur);
		if (rc)
			break;
	}
	if (rc == 0 && !seen) {
		refuse(&st, -IZA_EPARSE, 1,
		       "no " CDA_NAME " element (" CDA_NS ") in the file");
		st.reason = QR_NO_TYPE;
		rc = lost(&st, 1);
	}
	xml_reader_free(st.xr);
	if (rc == DOC_FATAL || rc == DOC_REFUSED)
		rc = 0;
	if ((rc == -IZA_EIO || rc == -IZA_ENOMEM) && !(err && err->code))
		return iza_error_set(err, rc, input_name(in), st.line, NULL,
				     "%s while reading the CDA input",
				     rc == -IZA_EIO ? "read error"
						    : "out of memory");
	return rc < 0 ? rc : 0;
}

static const char *find(const char *h, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; n <= len && i <= len - n; i++)
		if (memcmp(h + i, needle, n) == 0)
			return h + i;
	return NULL;
}

/* Skip a UTF-8 BOM, white space, the XML declaration, processing
 * instructions, comments and a DOCTYPE; return the offset of the first
 * element's name, or len. */
static size_t first_element(const char *h, size_t len)
{
	size_t i = 0;

	if (len >= 3 && (unsigned char)h[0] == 0xef &&
	    (unsigned char)h[1] == 0xbb && (unsigned char)h[2] == 0xbf)
		i = 3;
	while (i < len) {
		const char *end, *sub;
		size_t skip = 1;

		if (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' ||
		    h[i] == '\n') {
			i++;
			continue;
		}
		if (h[i] != '<' || i + 1 >= len)
			return len;
		if (h[i + 1] == '?') {
			end = find(h + i, len - i, "?>");
			skip = 2;
		} else if (len - i >= 4 && memcmp(h + i, "<!--", 4) == 0) {
			end = find(h + i + 4, len - i - 4, "-->");
			skip = 3;
		} else if (h[i + 1] == '!') {
			/* DOCTYPE, with an internal subset in [...] */
			end = memchr(h + i, '>', len - i);
			sub = memchr(h + i, '[', len - i);
			if (sub && end && sub < end) {
				end = find(sub, len - (size_t)(sub - h), "]");
				if (end)
					end = memchr(end, '>',
						     len - (size_t)(end - h));
			}
		} else {
			return i + 1;
		}
		if (!end)
			return len;
		i = (size_t)(end - h) + skip;
	}
	return len;
}

static int cda_sniff(const char *head, size_t len)
{
	static const char name[] = CDA_NAME;
	const size_t nlen = sizeof(name) - 1;
	size_t i = first_element(head, len), j;

	if (i >= len)
		return 0;
	/* the root's name, prefix (hl7:ClinicalDocument) allowed */
	for (j = i;
	     j < len && head[j] != ' ' && head[j] != '>' && head[j] != '/' &&
	     head[j] != '\t' && head[j] != '\r' && head[j] != '\n';
	     j++)
		;
	if (j - i >= nlen && memcmp(head + j - nlen, name, nlen) == 0 &&
	    (j - i == nlen || head[j - nlen - 1] == ':'))
		return 90;
	/* a batch wrapper holding ClinicalDocuments in the v3 namespace */
	if (find(head, len, CDA_NS) && find(head + i, len - i, name))
		return 60;
	return 0;
}

const struct adapter adapter_cda = {
    .name = "cda",
    .description = "HL7 CDA R2 ClinicalDocument(s), one per file or in a "
		   "wrapper element: the header (without the body) per "
		   "document",
    .input = "cda",
    .sniff = cda_sniff,
    .run = cda_run,
};
