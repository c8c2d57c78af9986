/*
 * hl7v2.h - HL7 v2.x adapters: the XML encoding (v2.3 to v2.8, streamed
 * with xml_secure's SAX2 stream) and ER7 "pipe" text.  Both deliver every
 * message to sink->v2_message as the same flat model (v2msg.h: segments,
 * fields, repetitions, components, subcomponents, decoded values), so one
 * mapping addresses both; no libxml2 tree is built (v2msg_to_doc() makes
 * one for mappings that use XPath).
 *
 * XML encoding (adapter_hl7v2_xml, "hl7v2-xml")
 *   A message is any element whose local name matches
 *   [A-Z][A-Z0-9]{2}_[A-Z0-9]{3} (ADT_A01, the message structure) in the
 *   namespace urn:hl7-org:v2xml or in no namespace, at any depth: batch
 *   wrappers of any name (and v2 XML batch elements) are walked through.
 *   Each message is read into the model as its SAX2 events arrive (at most
 *   lim->max_line bytes, 100,000 elements and attributes, lim->max_depth
 *   deep) and handed to sink->v2_message(ctx, msg, line, index) at its end
 *   tag: line is the line of the message's start tag, index its 1-based
 *   position in the input.  The model is the element structure read
 *   positionally: a segment is an element named [A-Z][A-Z0-9]{2} found
 *   through elements without a position (segment groups), a field a
 *   child of a segment whose local name ends in ".n", a component or
 *   subcomponent a child of that (the first of each position; the value
 *   of a subcomponent with children is its first component's); text is the
 *   element's character data.  A message refused after it was read
 *   completely (too many elements, too deep, an entity reference, a
 *   namespace error) goes to sink->bad and reading continues with the next
 *   one.  The parser cannot continue after a well-formedness, encoding or
 *   size error: the message being read then goes to sink->bad, and run()
 *   returns the fatal error (-IZA_EPARSE, -IZA_EUTF8, -IZA_ETOOBIG, ...)
 *   naming the line; every message that ended before the error was
 *   delivered, the rest of the input is lost.
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
 * The ER7 element tree (what v2msg_to_doc() builds for XPath, and the
 * structure of the model either encoding fills)
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
 *   In the model each element of this tree is one entry (v2msg.h); for the
 *   XML encoding v2msg_to_doc() builds the same shape (ER7 element names,
 *   segment groups flattened), not the document as it was written.
 */
#ifndef IZA_HL7V2_H
#define IZA_HL7V2_H

#include <stddef.h>

#include "adapter.h"
#include "v2msg.h"

#define HL7V2_NS	"urn:hl7-org:v2xml"
#define HL7V2_MAX_NODES 100000

extern const struct adapter adapter_hl7v2_xml;
extern const struct adapter adapter_hl7v2_er7;

/*
 * Parse one ER7 message (segments separated by CR, starting with MSH, msg
 * need not be NUL-terminated) into out (reset first; its storage reused)
 * as described above.  Returns 0, or a negative code with *reason and why
 * filled (why->line = the 1-based segment number; out is then empty).
 */
int hl7v2_er7_parse(const char *msg, size_t len, struct v2msg *out,
		    enum quarantine_reason *reason, struct iza_error *why);

#endif
