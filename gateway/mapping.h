/*
 * mapping.h - the mapping engine: declarative mapping files (JSON, in
 * mappings/) turn parsed FHIR resources into canonical patients and events.
 *
 * A mapping file declares, per resource type, named fields extracted with
 * FHIRPath (fhirpath.h), value maps (code -> canonical code, with a policy
 * for unknown codes), classification rules that emit canonical events, and
 * first-match channel rules.  docs/mapping-language.md is the reference for
 * data stewards.  Everything is validated when the file is loaded; an error
 * names the file, the rule and the field.
 *
 * struct mapping is immutable after load and may be shared between threads;
 * struct mapper holds per-thread scratch and the pseudonymisation context.
 */
#ifndef IZA_MAPPING_H
#define IZA_MAPPING_H

#include <stddef.h>

#include "event.h"
#include "iza_error.h"
#include "json_dom.h"
#include "quarantine.h"

struct pseudo;
struct refdata;
struct vocabulary;

/* The canonical vocabulary (mappings/vocabulary.json): allowed event types,
 * channels, sectors, statuses, counted statuses, dispositions. */
int vocabulary_load(const char *path, struct vocabulary **out,
		    struct iza_error *err);
void vocabulary_free(struct vocabulary *v); /* accepts NULL */
/* kind: "types", "channels", "sectors", "statuses", "dispositions". */
int vocabulary_has(const struct vocabulary *v, const char *kind,
		   const char *code);
/* The codes of one kind, NULL-terminated (borrowed from v); NULL for an
 * unknown kind or v NULL. */
const char *const *vocabulary_list(const struct vocabulary *v,
				   const char *kind);

struct mapping;

/* Load and validate a mapping file against the vocabulary (borrowed; must
 * outlive the mapping). */
int mapping_load(const char *path, const struct vocabulary *voc,
		 struct mapping **out, struct iza_error *err);
void mapping_free(struct mapping *m); /* accepts NULL */
const char *mapping_id(const struct mapping *m);
const char *mapping_version(const struct mapping *m);

#define MAP_MAX_EVENTS 8

enum map_outcome {
	MAP_PATIENT,   /* result.patient is filled */
	MAP_ENCOUNTER, /* result.events[0..nevents) filled (nevents may be 0) */
	MAP_SKIPPED,   /* a resource type the mapping does not handle */
	MAP_QUARANTINE /* result.reason and the error say why */
};

struct map_result {
	enum map_outcome outcome;
	char resource_type[40];
	struct canon_patient patient;
	struct canon_event events[MAP_MAX_EVENTS];
	size_t nevents;
	enum quarantine_reason reason;
	/* patient's residence as resolved (MAP_PATIENT, or with_patient): 1
	 * in the gateway's region, 0 elsewhere, -1 unknown */
	int in_region;
	/* MAP_ENCOUNTER from an XML record that also carried the patient
	 * (an HL7 v2 message's PID, a CDA recordTarget): patient is filled
	 * too; store it before the events */
	int with_patient;
};

struct mapper;

/* ps and rd are borrowed. region: the gateway's zorgkantoorregio ("ZK02").
 * today: day number (days since 1970-01-01) used for effective-dated
 * reference tables. */
int mapper_new(const struct mapping *m, struct pseudo *ps,
	       const struct refdata *rd, const char *region, long today,
	       struct mapper **out);
void mapper_free(struct mapper *mp); /* accepts NULL */

/*
 * Map one resource sent by `source` (AGB code or configured name).
 * default_sector: sector of the source, used when the encounter names no
 * provider whose AGB code resolves (may be NULL).  Returns 0 (look at
 * out->outcome) or -IZA_ENOMEM.  For MAP_QUARANTINE, why->field/text say
 * which field and why, never the value.
 */
int mapper_map(struct mapper *mp, const char *source,
	       const char *default_sector, const struct jval *res,
	       struct map_result *out, struct iza_error *why);

struct _xmlNode;
struct v2msg;

/*
 * Map one CDA document header (an XML record, see adapter.h) with a
 * mapping whose input is cda: every patient resource entry whose "match"
 * holds fills out->patient, then the first encounter entry whose "match"
 * holds fills out->events.  outcome is MAP_ENCOUNTER (with_patient set
 * when a patient entry applied too), MAP_PATIENT, MAP_SKIPPED (no entry
 * applied, e.g. a CDA document without an encounter and without a patient
 * entry) or MAP_QUARANTINE.
 */
int mapper_map_xml(struct mapper *mp, const char *source,
		   const char *default_sector, struct _xmlNode *rec,
		   struct map_result *out, struct iza_error *why);

/*
 * The same for one HL7 v2 message (flat model, v2msg.h) with a mapping
 * whose input is hl7v2: v2 field paths read the model directly; xpath:
 * paths read the tree v2msg_to_doc() makes of it, built only when such a
 * path is evaluated, once per message.
 */
int mapper_map_v2(struct mapper *mp, const char *source,
		  const char *default_sector, const struct v2msg *msg,
		  struct map_result *out, struct iza_error *why);

/* Local patient id from a FHIR reference: "Patient/x", "urn:uuid:x",
 * "https://host/fhir/Patient/x/_history/2" -> "x"; conditional references
 * ("Patient?identifier=...") are kept whole after the '?'.  Writes at most
 * size-1 bytes; returns the length or -1 if empty/unusable. */
long fhir_reference_id(const char *ref, char *out, size_t size);

#endif
