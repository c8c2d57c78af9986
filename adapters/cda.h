/*
 * cda.h - the HL7 CDA R2 adapter: streams ClinicalDocuments (namespace
 * urn:hl7-org:v3) with libxml2's xmlTextReader, set up by xml_secure.h (no
 * network, no external entities, no DTD loading, depth and size limits),
 * and hands the mapping engine one small *header DOM* per document.
 *
 * Input: one ClinicalDocument per file (the normal case), or several
 * ClinicalDocuments anywhere inside one wrapper element (a batch).  Memory
 * stays bounded whatever the body holds: the <component> element (the
 * structuredBody or nonXMLBody, e.g. an embedded base64 PDF) is skipped with
 * xmlTextReaderNext and is never built as a tree.
 *
 * The header DOM contract (what sink->xml_record receives)
 * -------------------------------------------------------
 * node is the root element of a fresh xmlDoc that the adapter owns and frees
 * after the call (the node and its document are valid during the call only):
 *
 *   <ClinicalDocument xmlns="urn:hl7-org:v3" ...>   same attributes and the
 *                                                  namespace declarations in
 *                                                  scope in the source
 *     <realmCode/> <typeId/> <templateId/> <id/> <code/> <title/>
 *     <effectiveTime/> <confidentialityCode/> <languageCode/> <setId/>
 *     <versionNumber/> <recordTarget/> <author/> <custodian/>
 *     <informationRecipient/> <legalAuthenticator/> <participant/>
 *     <inFulfillmentOf/> <documentationOf/> <relatedDocument/>
 *     <authorization/> <componentOf/> ...
 *   </ClinicalDocument>
 *
 * i.e. a copy of every element child of ClinicalDocument, in document order,
 * with all their descendants, EXCEPT <component> (the body).  In the copies:
 * element and attribute names, namespaces (hl7 v3, xsi, sdtc, ...), attribute
 * values and text are kept; comments, processing instructions and text that
 * is only whitespace are dropped (so xmlNodeDump(..., format=1) is stable).
 * Each copied element carries its source line (xmlGetLineNo).  A header of
 * more than CDA_MAX_HEADER_NODES nodes or CDA_MAX_HEADER_TEXT bytes of text
 * and attribute values is not delivered (sink->bad, QR_TOO_LARGE).
 *
 * line: the line of the ClinicalDocument start tag (where it ends, as libxml2
 * counts it); entry: the 1-based index of the document in the file.
 *
 * Where the mapping looks (XPath 1.0, prefix hl7 = urn:hl7-org:v3, relative
 * to the delivered root):
 *
 *   patient id       hl7:recordTarget/hl7:patientRole/hl7:id
 *                    @root = '2.16.840.1.113883.2.4.6.3' is the BSN
 *                    (@extension the number); any other @root is a local
 *                    (hospital / GP system) patient number
 *   postcode         hl7:recordTarget/hl7:patientRole/hl7:addr/hl7:postalCode
 *                    (text, e.g. "1012 AB")
 *   sex              hl7:recordTarget/hl7:patientRole/hl7:patient/
 *                    hl7:administrativeGenderCode/@code (M, F, UN;
 *                    system 2.16.840.1.113883.5.1)
 *   birth date       hl7:recordTarget/hl7:patientRole/hl7:patient/
 *                    hl7:birthTime/@value (HL7 TS)
 *   encounter        hl7:componentOf/hl7:encompassingEncounter; absent in
 *                    many documents (the mapping counts those as "no
 *                    encounter"; the adapter delivers them all the same)
 *     id             .../hl7:id (@root + @extension: the dedup key)
 *     class          .../hl7:code[@codeSystem='2.16.840.1.113883.5.4']/@code
 *                    (HL7 ActCode: EMER, IMP, AMB, ...), or the same on
 *                    .../hl7:code/hl7:translation when the code itself is in
 *                    another system (e.g. CPT 99213) or has a nullFlavor
 *     period         .../hl7:effectiveTime/hl7:low/@value and hl7:high/@value
 *                    (or a single @value): HL7 TS YYYYMMDD[HH[MM[SS[.S+]]]]
 *                    [+|-ZZZZ], a time without a zone is local (Europe/
 *                    Amsterdam)
 *     responsible    .../hl7:responsibleParty/hl7:assignedEntity
 *     provider       .../hl7:location/hl7:healthCareFacility/
 *                    hl7:serviceProviderOrganization/hl7:id, and for the
 *                    document as a whole hl7:custodian/
 *                    hl7:assignedCustodian/hl7:representedCustodianOrganization
 *                    /hl7:id, and hl7:author/hl7:assignedAuthor/
 *                    hl7:representedOrganization/hl7:id:
 *                    @root = '2.16.840.1.113883.2.4.6.1' is an AGB code
 *                    (Vektis AGB-z), @root = '2.16.528.1.1007.3.3' is a URA
 *                    (UZI-register abonneenummer)
 *
 * OIDs as listed by Nictiz in github.com/Nictiz/HL7-mappings,
 * util/constants.xsl (oidAGB, oidBurgerservicenummer, oidURAOrganizations,
 * oidHL7ActCode).
 *
 * Errors: a document that is not well-formed (or uses DTD entities, invalid
 * UTF-8, exceeds a libxml2 limit) goes to sink->bad with the line libxml2
 * stopped at and a reason naming that line; the reader cannot continue after
 * a well-formedness error, so the rest of that file is lost and the error
 * says so.  A file with no ClinicalDocument in urn:hl7-org:v3 is one bad
 * record (QR_NO_TYPE).  run() itself fails only for I/O and out-of-memory.
 */
#ifndef IZA_CDA_H
#define IZA_CDA_H

#include "adapter.h"

/* Caps on one delivered header (nodes = elements + text nodes + attributes;
 * text = bytes of text and attribute values). Real headers hold a few
 * hundred nodes and a few KiB.  Over a cap the document is not delivered
 * (sink->bad, QR_TOO_LARGE). */
#define CDA_MAX_HEADER_NODES 100000u
#define CDA_MAX_HEADER_TEXT  (4u << 20)
/* Input bytes of one header child (an author, a recordTarget, ...). */
#define CDA_MAX_HEADER_BYTES (4u << 20)

/* Namespace of CDA R2 (and of every HL7 v3 artefact). */
#define CDA_NS "urn:hl7-org:v3"

extern const struct adapter adapter_cda;

#endif
