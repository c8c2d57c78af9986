/*
 * event.h - the canonical event and the canonical patient: the one data model.
 *
 * Every adapter + mapping turns its input into these records; everything after
 * the mapping engine (store, KPI engine, disclosure control, reports) works on
 * them only.  No raw identifier ever enters these structs: the patient is
 * represented by keyed hashes made in pseudo.c.
 *
 *   patient_key  HMAC(region key, "ref:v1:" source "|" local patient id):
 *                links an encounter to the patient record of the same source,
 *                whatever order the two arrive in;
 *   pseudonym    HMAC(region key, "bsn:v1:" BSN) for a BSN that passes the
 *                11-test, else HMAC(region key, "src:v1:" source "|" id):
 *                the person across sources, used for distinct-person counts.
 */
#ifndef IZA_EVENT_H
#define IZA_EVENT_H

#include <stdint.h>

#define IZA_HASH_LEN   32
#define IZA_SOURCE_MAX 33  /* AGB code or configured source name */
#define IZA_ID_MAX     129 /* source record id (FHIR id: 64, HL7 visit: more) */
#define IZA_CODE_MAX   33  /* vocabulary codes: type, channel, sector, status */

/* Time values are Unix seconds (UTC). IZA_TIME_NONE when absent. */
#define IZA_TIME_NONE INT64_MIN

struct canon_event {
	char source[IZA_SOURCE_MAX];
	char source_id[IZA_ID_MAX];
	uint8_t patient_key[IZA_HASH_LEN];
	char type[IZA_CODE_MAX];    /* er_visit, admission, gp_contact, ... */
	char channel[IZA_CODE_MAX]; /* in_person, video, phone, message, home */
	char status[IZA_CODE_MAX];  /* FHIR Encounter.status vocabulary */
	char provider[IZA_SOURCE_MAX]; /* AGB code, "" unknown */
	char sector[IZA_CODE_MAX];     /* msz, huisartsenzorg, ggz, ... */
	char rule[IZA_CODE_MAX]; /* id of the classification rule that fired */
	int64_t start;
	int64_t end;	      /* IZA_TIME_NONE when open or unknown */
	int64_t last_updated; /* meta.lastUpdated, IZA_TIME_NONE when absent */
	int64_t version;      /* meta.versionId if numeric, else -1 */
	int urgency;	      /* NTS U0..U5 as 0..5, -1 unknown */
	char disposition[IZA_CODE_MAX];
};

struct canon_patient {
	char source[IZA_SOURCE_MAX];
	uint8_t patient_key[IZA_HASH_LEN];
	uint8_t pseudonym[IZA_HASH_LEN];
	int has_bsn;	  /* 1 if the pseudonym derives from a valid BSN */
	int pc4;	  /* 1000..9999, 0 unknown */
	char gemeente[8]; /* GMxxxx, "" unknown */
	char region[8];	  /* ZKxx zorgkantoorregio, "" unknown */
	int birth_year;	  /* 0 unknown (year only: less identifying) */
	char sex[IZA_CODE_MAX]; /* administrative gender code, "" unknown */
	int64_t last_updated;
	int64_t version;
	int active; /* 0 when entered-in-error / inactive */
};

#endif
