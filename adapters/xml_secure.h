/*
 * xml_secure.h - the one place that sets up libxml2 (2.9) for the XML
 * adapters (HL7 v2 XML, CDA): a hardened streaming reader (CDA) and a
 * hardened SAX2 stream (HL7 v2 XML, below) over a struct input, with
 * limits enforced while reading.
 *
 * What it guarantees, whatever the document says:
 *
 *  - No network and no file access.  A process-wide external entity loader
 *    that refuses every URL (file, http, ftp, catalogs) is installed once
 *    (xml_secure_init(), pthread_once); the parser options are
 *    XML_SECURE_PARSE_OPTIONS: XML_PARSE_NONET, never XML_PARSE_NOENT,
 *    XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR, XML_PARSE_DTDVALID,
 *    XML_PARSE_HUGE or XML_PARSE_XINCLUDE.  An external DTD named in a
 *    DOCTYPE is never loaded.
 *  - No entity expansion.  A document whose DOCTYPE internal subset
 *    declares any entity (general or parameter) is refused as a whole when
 *    the reader reaches the DOCTYPE, i.e. before its first record: HL7 v2
 *    XML and CDA never need entities, and this stops XXE, billion laughs
 *    and quadratic blowup before a single reference is resolved.  A
 *    DOCTYPE without entity declarations (e.g. an old v2.xml DTD
 *    reference) is accepted.  Should an entity reference node still
 *    appear (an undeclared entity in a document with an external DTD),
 *    a record containing it is refused by xml_reader_expand(); outside a
 *    record it is skipped unexpanded.  libxml2's own amplification limits
 *    stay on (no XML_PARSE_HUGE) as a second line.
 *  - Bounded memory and time.  Element depth is capped at limits.max_depth
 *    (libxml2 itself stops at 256); a record (the subtree expanded by
 *    xml_reader_expand()) may span at most limits.max_record input bytes
 *    and contain at most limits.max_nodes markup characters ('<') and
 *    nodes.  The byte and markup caps are checked in the read callback,
 *    while libxml2 pulls bytes, so an oversized record (a 1 GB text
 *    element) fails after about max_record bytes have been read, never
 *    after the whole element was buffered; they are approximate by the
 *    reader's read-ahead (4 KiB).  Outside records libxml2 streams and
 *    frees nodes as the reader passes them; its own caps (10 MB text
 *    node, 10 MB lookahead) apply.
 *  - libxml2 never prints: every reader has a structured error handler,
 *    and xml_secure_init()/xml_reader_new() install a silent generic
 *    error handler for the calling thread (and as the default for threads
 *    created later).
 *  - Error texts never carry document content: a libxml2 message is cut at
 *    its first ':' (dropping e.g. the bytes quoted after "Input is not
 *    proper UTF-8") and reduced to printable ASCII.
 *
 * Fatal and non-fatal errors.  libxml2's reader cannot continue after a
 * well-formedness error, an I/O error or a cap hit by the read callback:
 * those leave the reader "broken" (xml_reader_broken()) and the rest of the
 * input cannot be read.  A record refused after it was completely read
 * (too many nodes, too deep, an entity reference, a recoverable namespace
 * error) leaves the reader usable: the caller quarantines the record and
 * continues with xml_reader_skip().
 */
#ifndef IZA_XML_SECURE_H
#define IZA_XML_SECURE_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>

#include "input.h"
#include "iza_error.h"

/* The only options any XML adapter uses.  NOCDATA turns CDATA sections
 * into text; COMPACT saves memory for small text nodes. */
#define XML_SECURE_PARSE_OPTIONS                                               \
	(XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT)

/* Defaults used when a limit is 0. */
#define XML_SECURE_DEFAULT_DEPTH  256
#define XML_SECURE_DEFAULT_RECORD (16u << 20)
#define XML_SECURE_DEFAULT_NODES  100000

struct xml_limits {
	size_t max_depth;  /* element nesting, the document root is depth 1 */
	size_t max_record; /* input bytes of one expanded record */
	size_t max_nodes;  /* nodes (and '<' characters) of one record */
};

/* Once-only process-wide setup (xmlInitParser, the refusing external
 * entity loader, silent default error handlers).  Safe to call from any
 * thread, any number of times; xml_reader_new() calls it. */
void xml_secure_init(void);

struct xml_reader;

/*
 * A streaming reader over in (not owned: the caller closes it after
 * xml_reader_free()).  Bytes reach libxml2 only through input_read(), so
 * input_bytes() and the SHA-256 of in cover exactly what was parsed.
 * lim is copied; zero members take the defaults above.  Returns 0 with
 * *out set (free with xml_reader_free), or -IZA_ENOMEM with err filled.
 */
int xml_reader_new(struct input *in, const struct xml_limits *lim,
		   struct xml_reader **out, struct iza_error *err);
void xml_reader_free(struct xml_reader *r); /* accepts NULL */

/* The underlying libxml2 reader, for xmlTextReaderNodeType(),
 * xmlTextReaderConstLocalName() and the like.  Advance it only through
 * xml_reader_next()/xml_reader_skip(), which apply the checks. */
xmlTextReaderPtr xml_reader_raw(struct xml_reader *r);

/*
 * Advance to the next node (xmlTextReaderRead).  Returns 1 on a node, 0 at
 * the end of the document, or a negative code with err filled (file, line,
 * text): -IZA_EPARSE (not well-formed), -IZA_EINVALID (the DOCTYPE declares
 * entities), -IZA_ETOODEEP (depth over max_depth), -IZA_ETOOBIG,
 * -IZA_EUTF8 (bad encoding), -IZA_EIO.  Every error from xml_reader_next
 * is fatal: the reader is broken afterwards.
 */
int xml_reader_next(struct xml_reader *r, struct iza_error *err);

/*
 * Skip the current node's subtree (xmlTextReaderNext), freeing it; same
 * returns as xml_reader_next().
 */
int xml_reader_skip(struct xml_reader *r, struct iza_error *err);

/*
 * Read the whole subtree of the current element as one record, with the
 * record caps active while its bytes are read, then check it: depth,
 * node count, no entity reference nodes, no parser error raised while it
 * was read.  Returns 0 with *node set (owned by the reader, valid until
 * the next xml_reader_next/skip), or a negative code with err filled
 * (line = where the record starts).  If xml_reader_broken() is then true
 * the error was fatal (the rest of the input is lost); otherwise only this
 * record is refused and the caller continues with xml_reader_skip().
 */
int xml_reader_expand(struct xml_reader *r, xmlNodePtr *node,
		      struct iza_error *err);

/* True once the parser has stopped on an error: no more nodes. */
bool xml_reader_broken(const struct xml_reader *r);

/* 1-based input line of the current node (exact up to line 65534, the
 * parser's position, a little ahead, after that); 0 unknown. */
long xml_reader_line(struct xml_reader *r);

/*
 * The SAX2 stream: one pass of libxml2's SAX2 parser (pull mode, bytes
 * through input_read()) calling the caller's handlers, with the same
 * guarantees as the reader: no network or file access, no DTD loading, a
 * DOCTYPE that declares any entity refuses the document as a whole (the
 * parser stops at the first declaration, before any reference is
 * resolved), elements deeper than max_depth stop the parse (outside a
 * record), a record may span at most max_record input bytes (checked in
 * the read callback: an oversized record stops the parse after about
 * max_record bytes).  No tree is built.
 *
 * Records: the caller marks an element as a record with
 * xml_sax_record_begin() from its start handler.  Inside a record, more
 * than max_nodes elements and attributes, elements deeper than max_depth,
 * an entity reference or a recoverable (namespace) error refuse the
 * record: the handlers get no more events from inside it (so what they
 * keep is bounded), only the record's own end, where
 * xml_sax_record_end() says why it was refused; parsing goes on.
 */
struct xml_sax;

struct xml_sax_handler {
	/* An element starts (depth 1: the document element), end: it ends.
	 * A nonzero return stops the parse; xml_sax_run() returns it. */
	int (*start)(void *user, const xmlChar *local, const xmlChar *uri,
		     size_t depth);
	int (*end)(void *user, size_t depth);
	/* Character data (text, CDATA, character and predefined entity
	 * references), in pieces. */
	int (*text)(void *user, const char *s, size_t len);
};

/* A stream over in (not owned) calling h with user; lim as for the
 * reader.  Returns 0 with *out set (free with xml_sax_free) or
 * -IZA_ENOMEM with err filled. */
int xml_sax_new(struct input *in, const struct xml_limits *lim,
		const struct xml_sax_handler *h, void *user,
		struct xml_sax **out, struct iza_error *err);
void xml_sax_free(struct xml_sax *s); /* accepts NULL */

/*
 * Parse the whole input.  Returns 0 at its end, a handler's nonzero
 * return, or a negative code with err filled (line, text; the same codes
 * and texts as xml_reader_next()) when the parse stopped on an error
 * (xml_sax_broken() is then true and the rest of the input is not read).
 */
int xml_sax_run(struct xml_sax *s, struct iza_error *err);
bool xml_sax_broken(const struct xml_sax *s);

/* 1-based line of the parser's position (in a start handler: the line
 * where the start tag ends); 0 unknown. */
long xml_sax_line(const struct xml_sax *s);

/* From a start handler: the element that starts is a record. */
void xml_sax_record_begin(struct xml_sax *s);
/* From the end handler of that element: 0 if the record is acceptable,
 * else a negative code with err filled (line: the given one). */
int xml_sax_record_end(struct xml_sax *s, long line, struct iza_error *err);

#endif
