/*
 * adapter.h - the input adapter interface: one adapter per input format,
 * each a const struct of function pointers in its own file, listed in the
 * registry in adapter.c.
 *
 * An adapter reads one input (struct input), parses it record by record and
 * hands every record to the sink: a parsed FHIR resource (json_dom tree) to
 * sink->resource, an HL7 v2 message (flat model, v2msg.h) to
 * sink->v2_message, a CDA document header to sink->xml_record, or an
 * unparseable record to sink->bad with the reason.  An
 * adapter knows nothing of mappings, the store or KPIs.  It stops only for
 * errors that make the rest of the input unreadable (I/O) or when a sink
 * callback returns nonzero.
 */
#ifndef IZA_ADAPTER_H
#define IZA_ADAPTER_H

#include <stddef.h>

struct _xmlNode; /* libxml2's xmlNode */
struct v2msg;	 /* v2msg.h */

#include "input.h"
#include "iza_error.h"
#include "json_dom.h"
#include "quarantine.h"

struct adapter_sink {
	void *ctx;
	/* A parsed resource; line: 1-based line (NDJSON) or, for a Bundle
	 * entry, the Bundle's line (NDJSON) or 0, with entry its 1-based
	 * index (0 when not in a Bundle).  The tree is valid during the call.
	 */
	int (*resource)(void *ctx, const struct jval *res, long line,
			long entry);
	/* An XML record: the root element of one CDA document's header
	 * (cda.h).  line: 1-based line where the record starts (0 unknown);
	 * entry: 1-based index of the record in the input.  The node and its
	 * document are valid during the call only. */
	int (*xml_record)(void *ctx, struct _xmlNode *node, long line,
			  long entry);
	/* One HL7 v2 message, XML encoding or ER7 (hl7v2.h), as its flat
	 * model; line and entry as for xml_record.  msg is valid during the
	 * call only. */
	int (*v2_message)(void *ctx, const struct v2msg *msg, long line,
			  long entry);
	/* An unparseable record; raw/rawlen the bytes (NULL when too large
	 * to keep); why says where and why (never the content). */
	int (*bad)(void *ctx, long line, long entry,
		   enum quarantine_reason reason, const struct iza_error *why,
		   const char *raw, size_t rawlen);
};

struct adapter_limits {
	size_t max_line;  /* NDJSON / ER7: longest line or message accepted */
	size_t max_doc;	  /* Bundle/whole document: largest accepted */
	size_t max_depth; /* JSON / XML nesting */
};

#define ADAPTER_DEFAULT_MAX_LINE (16u << 20)
#define ADAPTER_DEFAULT_MAX_DOC	 (64u << 20)

struct adapter {
	const char *name; /* "fhir-ndjson" */
	const char *description;
	/* which mapping reads its records: "fhir-r4", "hl7v2" or "cda" */
	const char *input;
	/* 0..100: how likely head (the first bytes) is this format. */
	int (*sniff)(const char *head, size_t len);
	/* Read all of in. Returns 0, or a negative code with err filled for a
	 * fatal error (records before it were delivered). */
	int (*run)(struct input *in, const struct adapter_limits *lim,
		   const struct adapter_sink *sink, struct iza_error *err);
};

extern const struct adapter adapter_fhir_ndjson;
extern const struct adapter adapter_fhir_bundle;

/* By name; NULL if unknown. */
const struct adapter *adapter_find(const char *name);
/* The best match for the head of an input; NULL if none scores. */
const struct adapter *adapter_detect(const char *head, size_t len);
/* NULL-terminated registry (for --help). */
extern const struct adapter *const adapter_registry[];

#endif
