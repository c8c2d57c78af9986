/*
 * hl7v2.h - HL7 v2.x adapters: the XML encoding (v2.3 to v2.8, streamed
 * with xml_secure's xmlTextReader) and ER7 "pipe" text.  Both deliver every
 * message to sink->xml_record as the root element of a libxml2 tree with
 * one element naming scheme, so one mapping addresses both.
 *
 * XML encoding (adapter_hl7v2_xml, "hl7v2-xml")
 *   A message is any element whose local name matches
 *   [A-Z][A-Z0-9]{2}_[A-Z0-9]{3} (ADT_A01, the message structure) in the
 *   namespace urn:hl7-org:v2xml or in no namespace, at any depth: batch
 *   wrappers of any name (and v2 XML batch elements) are walked through.
 *   Each message is expanded (xml_reader_expand(): at most
 *   lim->max_line bytes, 100,000 nodes, lim->max_depth deep) and handed
 *   to sink->xml_record(ctx, root, line, index): line is the message's start
 *   line, index its 1-based position in the input.  A message refused after
 *   it was read completely (too many nodes, too deep, an entity reference)
 *   goes to sink->bad and reading continues with the next one.  libxml2's
 *   reader cannot continue after a well-formedness, encoding or size error:
 *   the message being read then goes to sink->bad, and run() returns the
 *   fatal error (-IZA_EPARSE, -IZA_EUTF8, -IZA_ETOOBIG, ...) naming the
 *   line; the rest of the input, including complete messages still in the
 *   reader's ~4 KB look-ahead, is lost and is not reported record by record.
 *
 * ER7 text (adapter_hl7v2_er7, "hl7v2-er7")
 *   Segments end at CR, LF or CRLF (mixed in one file); blank lines are
 *   ignored; a message starts at every MSH segment; FHS/BHS/BTS/FTS batch
 *   segments are skipped; MLLP framing (0x0B before a message, 0x1C 0x0D
 *   after it) is tolerated; a UTF-8 byte order mark at the start is
 *   skipped.  A message is at most lim->max_line bytes (CR-terminated
 *   segments) and 100,000 elements.  Quarantined (sink->bad, raw = the
 *   message with CR segment ends, NULL when too large; reading goes on):
 *     - segments before the first MSH                       QR_MALFORMED
 *     - invalid MSH-1/MSH-2, an invalid segment id           QR_MALFORMED
 *     - larger than max_line or than 100,000 elements        QR_TOO_LARGE
 *     - MSH-18 not empty/ASCII/8859/1/UNICODE UTF-8         QR_UNKNOWN_CODE
 *     - bytes invalid in the declared character set (ASCII
 *       and UNICODE UTF-8 accept UTF-8), control characters  QR_BAD_VALUE
 *     - no MSH-9 message type                                QR_NO_TYPE
 *     - truncated: the input ends inside a segment (the last
 *       segment has no CR/LF/0x1C terminator), or an ADT
 *       message without a PV1 segment                        QR_MISSING
 *
 * The ER7 element tree (the contract the mapping engine relies on)
 *   - Namespace: every element is in urn:hl7-org:v2xml (default namespace,
 *     declared on the root), like the XML encoding.
 *   - Root: MSH-9.1 "_" MSH-9.2 when both are 3 characters [A-Z0-9]
 *     (ADT_A01, ADT_A04 for an A04: the trigger event, not the message
 *     structure of MSH-9.3), else "MESSAGE".
 *   - One child per segment, in order, named by the segment id (MSH, EVN,
 *     PID, PV1, ZBE...).  Segment groups are not reconstructed.
 *   - Fields: element SEG.n (PID.3) for field n, one element per repetition
 *     (a repeated PID-3 gives PID.3 siblings in order; an empty repetition
 *     gives an empty element, keeping positions); an empty
 *     field gives no element.
 *   - MSH.1 is the field separator and MSH.2 the encoding characters, as
 *     text, exactly as in the XML encoding; MSH fields from MSH-3 on follow
 *     the general rule.
 *   - Components: when a repetition has more than one component (or its
 *     only component has subcomponents) it holds one element SEG.n.c per
 *     non-empty component c (PID.3.1, PID.3.4); otherwise its value is the
 *     field element's text.
 *   - Subcomponents: when a component has more than one subcomponent it
 *     holds one element SEG.n.c.s per non-empty subcomponent
 *     (PID.3.4.1); otherwise its value is the component element's text.
 *   - Text is UTF-8 with the escapes decoded: \F\ \S\ \T\ \R\ \E\ give the
 *     message's own separator characters, \Xhh..\ the bytes hh.. (in the
 *     message's character set), \.br\ a newline; \H\ and \N\ are dropped;
 *     other escape sequences are kept literally.  HL7's null "" is kept as
 *     the two characters.  Characters below 0x20 other than tab and newline
 *     quarantine the message.
 *   So the mapping engine can address components by the number after the
 *   last '.' of an element's local name: <PV1.2>E</PV1.2> (ER7 and XML
 *   v2.3), <PV1.2><CWE.1>E</CWE.1></PV1.2> (XML v2.7) and
 *   <PID.3><PID.3.4><PID.3.4.1>NLMINBIZA</PID.3.4.1>... all answer
 *   PV1-2.1 / PID-3.4.1, a component without child elements being its own
 *   first subcomponent.
 *   line is the 1-based line of the message's MSH (every CR, LF or CRLF
 *   ends a line); index is the message's 1-based position among the MSH
 *   segments of the input.
 */
#ifndef IZA_HL7V2_H
#define IZA_HL7V2_H

#include <stddef.h>

#include <libxml/tree.h>

#include "adapter.h"

#define HL7V2_NS	"urn:hl7-org:v2xml"
#define HL7V2_MAX_NODES 100000

extern const struct adapter adapter_hl7v2_xml;
extern const struct adapter adapter_hl7v2_er7;

/*
 * Convert one ER7 message (segments separated by CR, starting with MSH,
 * msg need not be NUL-terminated) into a new document as described above.
 * Returns 0 with *doc set (caller frees with xmlFreeDoc), or a negative code
 * with *reason and why filled (why->line = the 1-based segment number).
 */
int hl7v2_er7_to_doc(const char *msg, size_t len, xmlDocPtr *doc,
		     enum quarantine_reason *reason, struct iza_error *why);

#endif
