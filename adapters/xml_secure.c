/*
 * xml_secure.c - hardened libxml2 setup, a capped streaming reader and a
 * capped SAX2 stream; see xml_secure.h for the guarantees.
 */
#include "xml_secure.h"

#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/hash.h>
#include <libxml/xmlerror.h>

#define XML_MSG_MAX 120

struct xml_reader {
	xmlTextReaderPtr tr;
	struct input *in;
	struct xml_limits lim;
	/* read callback state */
	bool in_record;
	uint64_t rec_bytes; /* bytes read since the record began */
	size_t rec_marks;   /* '<' characters among them */
	int stop;	    /* why the callback failed: -IZA_Exxx or 0 */
	bool broken;
	/* first libxml2 error (level ERROR or FATAL) */
	long nerrors;
	int xml_code;
	int xml_level;
	long xml_line;
	char xml_msg[XML_MSG_MAX];
};

static void silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Every external entity, DTD or schema URL: refused, no I/O at all. */
static xmlParserInputPtr refuse_loader(const char *url, const char *id,
				       xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_global(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(refuse_loader);
	xmlThrDefSetGenericErrorFunc(NULL, silent);
	xmlThrDefSetStructuredErrorFunc(NULL, NULL);
	/* libxml2 2.9's global defaults, for any code that ignores options */
	xmlThrDefSubstituteEntitiesDefaultValue(0);
	xmlThrDefLoadExtDtdDefaultValue(0);
	xmlThrDefDoValidityCheckingDefaultValue(0);
}

void xml_secure_init(void)
{
	pthread_once(&init_once, init_global);
	/* the generic handler is per thread in libxml2 */
	xmlSetGenericErrorFunc(NULL, silent);
}

/* Keep the message template only: up to the first ':' or newline,
 * printable ASCII; a leading "function:" prefix is skipped. */
static void clean_message(char *dst, size_t size, const char *msg)
{
	const char *colon;
	size_t i = 0;

	if (!msg)
		msg = "";
	colon = strchr(msg, ':');
	if (colon && colon > msg && !memchr(msg, ' ', (size_t)(colon - msg)) &&
	    colon[1] == ' ' && colon[2])
		msg = colon + 2;
	for (; *msg && *msg != ':' && *msg != '\n' && i + 1 < size; msg++)
		dst[i++] = (*msg >= 0x20 && *msg < 0x7f) ? *msg : '?';
	while (i > 0 && (dst[i - 1] == ' ' || dst[i - 1] == ','))
		i--;
	dst[i] = '\0';
}

static void on_error(void *arg, xmlErrorPtr e)
{
	struct xml_reader *r = arg;

	if (!e || (int)e->level < (int)XML_ERR_ERROR)
		return;
	r->nerrors++;
	if (r->xml_code && r->xml_level >= (int)e->level)
		return; /* keep the first error, or the first fatal one */
	r->xml_code = e->code;
	r->xml_level = (int)e->level;
	r->xml_line = e->line;
	clean_message(r->xml_msg, sizeof(r->xml_msg), e->message);
}

static size_t count_marks(const char *p, size_t n)
{
	const char *end = p + n;
	size_t c = 0;

	while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

static int io_read(void *ctx, char *buf, int len)
{
	struct xml_reader *r = ctx;
	ssize_t n;

	if (r->stop)
		return -1;
	if (len <= 0)
		return 0;
	n = input_read(r->in, buf, (size_t)len);
	if (n < 0) {
		r->stop = (int)n;
		return -1;
	}
	if (r->in_record && n > 0) {
		r->rec_bytes += (uint64_t)n;
		r->rec_marks += count_marks(buf, (size_t)n);
		if (r->rec_bytes > r->lim.max_record ||
		    r->rec_marks > r->lim.max_nodes) {
			r->stop = -IZA_ETOOBIG;
			return -1;
		}
	}
	return (int)n;
}

int xml_reader_new(struct input *in, const struct xml_limits *lim,
		   struct xml_reader **out, struct iza_error *err)
{
	struct xml_reader *r;

	xml_secure_init();
	r = calloc(1, sizeof(*r));
	if (!r)
		return iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				     "out of memory");
	r->in = in;
	if (lim)
		r->lim = *lim;
	if (!r->lim.max_depth)
		r->lim.max_depth = XML_SECURE_DEFAULT_DEPTH;
	if (!r->lim.max_record)
		r->lim.max_record = XML_SECURE_DEFAULT_RECORD;
	if (!r->lim.max_nodes)
		r->lim.max_nodes = XML_SECURE_DEFAULT_NODES;
	r->tr = xmlReaderForIO(io_read, NULL, r, NULL, NULL,
			       XML_SECURE_PARSE_OPTIONS);
	if (!r->tr) {
		free(r);
		return iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				     "cannot create the XML reader");
	}
	xmlTextReaderSetStructuredErrorHandler(r->tr, on_error, r);
	*out = r;
	return 0;
}

void xml_reader_free(struct xml_reader *r)
{
	if (!r)
		return;
	xmlFreeTextReader(r->tr);
	free(r);
}

xmlTextReaderPtr xml_reader_raw(struct xml_reader *r)
{
	return r->tr;
}

bool xml_reader_broken(const struct xml_reader *r)
{
	return r->broken;
}

long xml_reader_line(struct xml_reader *r)
{
	xmlNodePtr n = xmlTextReaderCurrentNode(r->tr);
	long line = n ? xmlGetLineNo(n) : -1;

	if (line <= 0 || line >= 65535)
		line = xmlTextReaderGetParserLineNumber(r->tr);
	return line > 0 ? line : 0;
}

/* Our code for a libxml2 error that stopped the parser. */
static int code_for(int xml_code, const char *msg)
{
	int code;

	switch (xml_code) {
	case XML_ERR_INVALID_CHAR:
	case XML_ERR_INVALID_ENCODING:
	case XML_ERR_UNSUPPORTED_ENCODING:
	case XML_ERR_UNKNOWN_ENCODING:
	case XML_I18N_CONV_FAILED:
		code = -IZA_EUTF8;
		break;
	case XML_ERR_ENTITY_LOOP:
	case XML_ERR_INTERNAL_ERROR: /* "Huge input lookup" */
		code = -IZA_ETOOBIG;
		break;
	default:
		code = -IZA_EPARSE;
	}
	if (strstr(msg, "depth"))
		code = -IZA_ETOODEEP;
	else if (strstr(msg, "huge") || strstr(msg, "Huge"))
		code = -IZA_ETOOBIG;
	return code;
}

/* The error that stopped the parser (or the callback). */
static int fatal(struct xml_reader *r, struct iza_error *err)
{
	long line = r->xml_line > 0
			? r->xml_line
			: (long)xmlTextReaderGetParserLineNumber(r->tr);
	int code;

	r->broken = true;
	if (r->stop == -IZA_ETOOBIG)
		return iza_error_set(
		    err, -IZA_ETOOBIG, input_name(r->in), line, NULL,
		    r->rec_bytes > r->lim.max_record
			? "XML record larger than %zu bytes; reading stopped"
			: "XML record has more than %zu elements; reading "
			  "stopped",
		    r->rec_bytes > r->lim.max_record ? r->lim.max_record
						     : r->lim.max_nodes);
	if (r->stop)
		return iza_error_set(err, r->stop, input_name(r->in), line,
				     NULL, "read error");
	if (!r->xml_code)
		return iza_error_set(err, -IZA_EPARSE, input_name(r->in), line,
				     NULL, "XML reader failed");
	code = code_for(r->xml_code, r->xml_msg);
	return iza_error_set(err, code, input_name(r->in), line, NULL,
			     "XML not well-formed (libxml2 error %d: %s)",
			     r->xml_code, r->xml_msg);
}

static bool declares_entities(xmlDtdPtr dtd)
{
	return (dtd->entities &&
		xmlHashSize((xmlHashTablePtr)dtd->entities) > 0) ||
	       (dtd->pentities &&
		xmlHashSize((xmlHashTablePtr)dtd->pentities) > 0);
}

/* Checks on the node the reader stands on after a successful move. */
static int check_node(struct xml_reader *r, struct iza_error *err)
{
	int type = xmlTextReaderNodeType(r->tr);
	int depth = xmlTextReaderDepth(r->tr);

	if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
		xmlNodePtr n = xmlTextReaderCurrentNode(r->tr);

		if (n && n->type == XML_DTD_NODE &&
		    declares_entities((xmlDtdPtr)n)) {
			r->broken = true;
			return iza_error_set(
			    err, -IZA_EINVALID, input_name(r->in),
			    xml_reader_line(r), "DOCTYPE",
			    "document refused: its DOCTYPE declares entities "
			    "(entities are never expanded)");
		}
	}
	if (depth >= 0 && (size_t)depth + 1 > r->lim.max_depth) {
		r->broken = true;
		return iza_error_set(err, -IZA_ETOODEEP, input_name(r->in),
				     xml_reader_line(r), NULL,
				     "XML elements nested deeper than %zu",
				     r->lim.max_depth);
	}
	return 0;
}

static int move(struct xml_reader *r, bool skip, struct iza_error *err)
{
	int ret;

	if (r->broken)
		return iza_error_set(err, -IZA_EPARSE, input_name(r->in), 0,
				     NULL, "XML reader already stopped");
	ret = skip ? xmlTextReaderNext(r->tr) : xmlTextReaderRead(r->tr);
	if (ret < 0 || r->stop)
		return fatal(r, err);
	if (ret == 0) {
		if (r->xml_code && r->xml_level == XML_ERR_FATAL)
			return fatal(r, err);
		return 0;
	}
	ret = check_node(r, err);
	return ret ? ret : 1;
}

int xml_reader_next(struct xml_reader *r, struct iza_error *err)
{
	return move(r, false, err);
}

int xml_reader_skip(struct xml_reader *r, struct iza_error *err)
{
	return move(r, true, err);
}

/* Depth, node count and entity references of an expanded subtree,
 * iteratively (no recursion on input-controlled depth). */
static int check_tree(struct xml_reader *r, xmlNodePtr root, size_t depth0,
		      long line, struct iza_error *err)
{
	xmlNodePtr n = root;
	size_t depth = depth0, nodes = 0;

	while (n) {
		xmlAttrPtr a;

		if (n->type == XML_ENTITY_REF_NODE ||
		    n->type == XML_ENTITY_NODE || n->type == XML_XINCLUDE_START)
			return iza_error_set(err, -IZA_EINVALID,
					     input_name(r->in), line, NULL,
					     "XML record contains an entity "
					     "reference (never expanded)");
		nodes++;
		if (n->type == XML_ELEMENT_NODE)
			for (a = n->properties; a; a = a->next)
				nodes++;
		if (nodes > r->lim.max_nodes)
			return iza_error_set(err, -IZA_ETOOBIG,
					     input_name(r->in), line, NULL,
					     "XML record has more than %zu "
					     "nodes",
					     r->lim.max_nodes);
		if (depth > r->lim.max_depth)
			return iza_error_set(err, -IZA_ETOODEEP,
					     input_name(r->in), line, NULL,
					     "XML elements nested deeper than "
					     "%zu",
					     r->lim.max_depth);
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
			depth++;
			continue;
		}
		while (n != root && !n->next) {
			n = n->parent;
			depth--;
		}
		if (n == root)
			break;
		n = n->next;
	}
	return 0;
}

/* The parser went past the end of n: n's subtree is complete even if a
 * later part of the input was not well-formed. */
static bool complete(xmlNodePtr n)
{
	for (; n && n->type != XML_DOCUMENT_NODE; n = n->parent)
		if (n->next)
			return true;
	return false;
}

int xml_reader_expand(struct xml_reader *r, xmlNodePtr *node,
		      struct iza_error *err)
{
	long line = xml_reader_line(r);
	long errors = r->nerrors;
	int depth = xmlTextReaderDepth(r->tr);
	xmlNodePtr n;
	int rc;

	if (r->broken)
		return iza_error_set(err, -IZA_EPARSE, input_name(r->in), line,
				     NULL, "XML reader already stopped");
	r->in_record = true;
	r->rec_bytes = 0;
	r->rec_marks = 0;
	n = xmlTextReaderExpand(r->tr);
	r->in_record = false;
	if (!n && !r->stop) {
		/* the parser stopped beyond the record: its subtree is
		 * complete in the tree even though Expand refuses */
		xmlNodePtr cur = xmlTextReaderCurrentNode(r->tr);

		if (cur && cur->type == XML_ELEMENT_NODE && complete(cur))
			n = cur;
	}
	if (!n || r->stop ||
	    (r->xml_code && r->xml_level == XML_ERR_FATAL && !complete(n))) {
		rc = fatal(r, err);
		if (err && err->line <= 0)
			err->line = line;
		return rc;
	}
	if (r->nerrors != errors && r->xml_level != XML_ERR_FATAL)
		return iza_error_set(err, -IZA_EPARSE, input_name(r->in), line,
				     NULL,
				     "XML record not namespace-well-formed "
				     "(libxml2 error %d: %s)",
				     r->xml_code, r->xml_msg);
	rc = check_tree(r, n, depth < 0 ? 1 : (size_t)depth + 1, line, err);
	if (rc)
		return rc;
	*node = n;
	return 0;
}

/* ------------------------------------------------------------ SAX2 stream */

struct xml_sax {
	xmlParserCtxtPtr ctxt;
	struct input *in;
	struct xml_limits lim;
	const struct xml_sax_handler *h;
	void *user;
	size_t depth;
	/* the record being read */
	bool in_record;
	size_t rec_depth;
	uint64_t rec_bytes;
	size_t rec_nodes;
	long rec_errors; /* nerrors when it began */
	int refused;	 /* -IZA_Exxx: the record is refused */
	char refused_text[IZA_ERR_TEXT_MAX];
	/* why the parse stopped */
	int stop;	/* read callback: -IZA_Exxx */
	int handler_rc; /* a handler's nonzero return */
	int refuse_doc; /* -IZA_Exxx: a check of ours */
	char doc_field[16];
	char doc_text[IZA_ERR_TEXT_MAX];
	long doc_line;
	bool broken;
	/* first libxml2 error (level ERROR or FATAL) */
	long nerrors;
	int xml_code;
	int xml_level;
	long xml_line;
	char xml_msg[XML_MSG_MAX];
};

static void sax_on_error(void *arg, xmlErrorPtr e)
{
	struct xml_sax *s = arg;

	if (!e || (int)e->level < (int)XML_ERR_ERROR)
		return;
	s->nerrors++;
	if (s->xml_code && s->xml_level >= (int)e->level)
		return;
	s->xml_code = e->code;
	s->xml_level = (int)e->level;
	s->xml_line = e->line;
	clean_message(s->xml_msg, sizeof(s->xml_msg), e->message);
}

long xml_sax_line(const struct xml_sax *s)
{
	long line = s->ctxt && s->ctxt->input ? s->ctxt->input->line : 0;

	return line > 0 ? line : 0;
}

/* Stop the whole document with one of our refusals. */
static void sax_refuse_doc(struct xml_sax *s, int code, const char *field,
			   const char *text)
{
	if (!s->refuse_doc) {
		s->refuse_doc = code;
		snprintf(s->doc_field, sizeof(s->doc_field), "%s",
			 field ? field : "");
		snprintf(s->doc_text, sizeof(s->doc_text), "%s", text);
		s->doc_line = xml_sax_line(s);
	}
	xmlStopParser(s->ctxt);
}

static void sax_refuse_record(struct xml_sax *s, int code, const char *text)
{
	if (s->refused)
		return;
	s->refused = code;
	snprintf(s->refused_text, sizeof(s->refused_text), "%s", text);
}

static void sax_handler_stop(struct xml_sax *s, int rc)
{
	s->handler_rc = rc;
	xmlStopParser(s->ctxt);
}

static void sax_start(void *ctx, const xmlChar *local, const xmlChar *prefix,
		      const xmlChar *uri, int nb_namespaces,
		      const xmlChar **namespaces, int nb_attributes,
		      int nb_defaulted, const xmlChar **attributes)
{
	struct xml_sax *s = ctx;
	char text[96];
	int rc;

	(void)prefix;
	(void)nb_namespaces;
	(void)namespaces;
	(void)nb_defaulted;
	(void)attributes;
	s->depth++;
	if (s->depth > s->lim.max_depth) {
		snprintf(text, sizeof(text),
			 "XML elements nested deeper than %zu",
			 s->lim.max_depth);
		if (!s->in_record) {
			sax_refuse_doc(s, -IZA_ETOODEEP, NULL, text);
			return;
		}
		sax_refuse_record(s, -IZA_ETOODEEP, text);
	}
	if (s->in_record) {
		s->rec_nodes +=
		    1 + (size_t)(nb_attributes > 0 ? nb_attributes : 0);
		if (s->rec_nodes > s->lim.max_nodes) {
			snprintf(text, sizeof(text),
				 "XML record has more than %zu nodes",
				 s->lim.max_nodes);
			sax_refuse_record(s, -IZA_ETOOBIG, text);
		}
		if (s->refused)
			return;
	}
	rc = s->h->start(s->user, local, uri, s->depth);
	if (rc)
		sax_handler_stop(s, rc);
}

static void sax_end(void *ctx, const xmlChar *local, const xmlChar *prefix,
		    const xmlChar *uri)
{
	struct xml_sax *s = ctx;
	size_t depth = s->depth;
	int rc;

	(void)local;
	(void)prefix;
	(void)uri;
	if (s->depth > 0)
		s->depth--;
	if (s->in_record && s->refused && depth > s->rec_depth)
		return;
	rc = s->h->end(s->user, depth);
	if (rc)
		sax_handler_stop(s, rc);
}

static void sax_text(void *ctx, const xmlChar *ch, int len)
{
	struct xml_sax *s = ctx;
	int rc;

	if ((s->in_record && s->refused) || len <= 0)
		return;
	rc = s->h->text(s->user, (const char *)ch, (size_t)len);
	if (rc)
		sax_handler_stop(s, rc);
}

/* Any entity declaration in the DOCTYPE: the document is refused before
 * a single reference is resolved. */
static void sax_entity_decl(void *ctx, const xmlChar *name, int type,
			    const xmlChar *public_id, const xmlChar *system_id,
			    xmlChar *content)
{
	(void)name;
	(void)type;
	(void)public_id;
	(void)system_id;
	(void)content;
	sax_refuse_doc(ctx, -IZA_EINVALID, "DOCTYPE",
		       "document refused: its DOCTYPE declares entities "
		       "(entities are never expanded)");
}

static void sax_unparsed_entity_decl(void *ctx, const xmlChar *name,
				     const xmlChar *public_id,
				     const xmlChar *system_id,
				     const xmlChar *notation)
{
	(void)notation;
	sax_entity_decl(ctx, name, 0, public_id, system_id, NULL);
}

/* A reference to an undeclared entity (left unexpanded). */
static void sax_reference(void *ctx, const xmlChar *name)
{
	struct xml_sax *s = ctx;

	(void)name;
	if (s->in_record)
		sax_refuse_record(s, -IZA_EINVALID,
				  "XML record contains an entity "
				  "reference (never expanded)");
}

static xmlEntityPtr sax_get_entity(void *ctx, const xmlChar *name)
{
	(void)ctx;
	(void)name;
	return NULL; /* none is ever declared */
}

static int sax_io_read(void *ctx, char *buf, int len)
{
	struct xml_sax *s = ctx;
	ssize_t n;

	if (s->stop)
		return -1;
	if (len <= 0)
		return 0;
	n = input_read(s->in, buf, (size_t)len);
	if (n < 0) {
		s->stop = (int)n;
		return -1;
	}
	if (s->in_record && n > 0) {
		s->rec_bytes += (uint64_t)n;
		if (s->rec_bytes > s->lim.max_record) {
			s->stop = -IZA_ETOOBIG;
			return -1;
		}
	}
	return (int)n;
}

int xml_sax_new(struct input *in, const struct xml_limits *lim,
		const struct xml_sax_handler *h, void *user,
		struct xml_sax **out, struct iza_error *err)
{
	xmlSAXHandler sax;
	struct xml_sax *s;

	xml_secure_init();
	s = calloc(1, sizeof(*s));
	if (!s)
		return iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				     "out of memory");
	s->in = in;
	s->h = h;
	s->user = user;
	if (lim)
		s->lim = *lim;
	if (!s->lim.max_depth)
		s->lim.max_depth = XML_SECURE_DEFAULT_DEPTH;
	if (!s->lim.max_record)
		s->lim.max_record = XML_SECURE_DEFAULT_RECORD;
	if (!s->lim.max_nodes)
		s->lim.max_nodes = XML_SECURE_DEFAULT_NODES;
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = sax_start;
	sax.endElementNs = sax_end;
	sax.characters = sax_text;
	sax.ignorableWhitespace = sax_text;
	sax.cdataBlock = sax_text;
	sax.entityDecl = sax_entity_decl;
	sax.unparsedEntityDecl = sax_unparsed_entity_decl;
	sax.reference = sax_reference;
	sax.getEntity = sax_get_entity;
	sax.getParameterEntity = sax_get_entity;
	sax.serror = sax_on_error;
	s->ctxt = xmlCreateIOParserCtxt(&sax, s, sax_io_read, NULL, s,
					XML_CHAR_ENCODING_NONE);
	if (!s->ctxt) {
		free(s);
		return iza_error_set(err, -IZA_ENOMEM, input_name(in), 0, NULL,
				     "cannot create the XML parser");
	}
	xmlCtxtUseOptions(s->ctxt, XML_SECURE_PARSE_OPTIONS);
	*out = s;
	return 0;
}

void xml_sax_free(struct xml_sax *s)
{
	if (!s)
		return;
	if (s->ctxt) {
		xmlFreeDoc(s->ctxt->myDoc); /* none is made; defensive */
		s->ctxt->myDoc = NULL;
		xmlFreeParserCtxt(s->ctxt);
	}
	free(s);
}

bool xml_sax_broken(const struct xml_sax *s)
{
	return s->broken;
}

void xml_sax_record_begin(struct xml_sax *s)
{
	s->in_record = true;
	s->rec_depth = s->depth;
	s->rec_bytes = 0;
	s->rec_nodes = 0;
	s->rec_errors = s->nerrors;
	s->refused = 0;
}

int xml_sax_record_end(struct xml_sax *s, long line, struct iza_error *err)
{
	int rc = 0;

	s->in_record = false;
	if (s->refused)
		rc = iza_error_set(err, s->refused, input_name(s->in), line,
				   NULL, "%s", s->refused_text);
	else if (s->nerrors != s->rec_errors && s->xml_level != XML_ERR_FATAL)
		rc = iza_error_set(err, -IZA_EPARSE, input_name(s->in), line,
				   NULL,
				   "XML record not namespace-well-formed "
				   "(libxml2 error %d: %s)",
				   s->xml_code, s->xml_msg);
	s->refused = 0;
	return rc;
}

int xml_sax_run(struct xml_sax *s, struct iza_error *err)
{
	long line;

	xmlParseDocument(s->ctxt);
	if (s->handler_rc)
		return s->handler_rc;
	if (s->refuse_doc) {
		s->broken = true;
		return iza_error_set(
		    err, s->refuse_doc, input_name(s->in), s->doc_line,
		    s->doc_field[0] ? s->doc_field : NULL, "%s", s->doc_text);
	}
	if (!s->stop && s->xml_level != XML_ERR_FATAL && s->ctxt->wellFormed)
		return 0;
	s->broken = true;
	line = s->xml_line > 0 ? s->xml_line : xml_sax_line(s);
	if (s->stop == -IZA_ETOOBIG)
		return iza_error_set(
		    err, -IZA_ETOOBIG, input_name(s->in), line, NULL,
		    "XML record larger than %zu bytes; reading stopped",
		    s->lim.max_record);
	if (s->stop)
		return iza_error_set(err, s->stop, input_name(s->in), line,
				     NULL, "read error");
	if (!s->xml_code)
		return iza_error_set(err, -IZA_EPARSE, input_name(s->in), line,
				     NULL, "XML parser failed");
	return iza_error_set(err, code_for(s->xml_code, s->xml_msg),
			     input_name(s->in), line, NULL,
			     "XML not well-formed (libxml2 error %d: %s)",
			     s->xml_code, s->xml_msg);
}
