/*
 * xml_secure.c - hardened libxml2 setup and a capped streaming reader; see
 * xml_secure.h for the guarantees.
 */
#include "xml_secure.h"

#include <pthread.h>
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
	switch (r->xml_code) {
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
	if (strstr(r->xml_msg, "depth"))
		code = -IZA_ETOODEEP;
	else if (strstr(r->xml_msg, "huge") || strstr(r->xml_msg, "Huge"))
		code = -IZA_ETOOBIG;
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
