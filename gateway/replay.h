/*
 * replay.h - quarantined records back into the store after a mapping fix
 * (`izagw replay BATCH`).
 *
 * A batch's quarantine file (ingest.h) keeps each bad record's position and
 * reason and, where it could, its text: an NDJSON line, a FHIR resource as
 * JSON, an ER7 message.  replay_collect() writes those texts into one spool
 * file in the format they came in (FHIR resources as NDJSON lines, ER7
 * messages one after the other), to be ingested as a new batch of the same
 * source; records kept by their position only (an XML record) are counted,
 * not replayed.  replay_done() then marks the quarantine file replayed
 * (FILE.replayed), so that the same batch is not replayed twice; replaying
 * it twice would do no harm anyway (the store deduplicates), only noise.
 */
#ifndef IZA_REPLAY_H
#define IZA_REPLAY_H

#include <stdint.h>

#include "event.h"
#include "iza_error.h"

struct replay_set {
	char source[IZA_SOURCE_MAX]; /* from the records ("" in old files) */
	char format[16];	     /* the spool's adapter ("" nothing) */
	int64_t quarantined;	     /* records in the quarantine file */
	int64_t with_text;	     /* written to the spool */
	int64_t without_text;	     /* kept by position only */
};

/* Read qfile, write the spool (created, mode 0600).  A file of another
 * source's records than *out->source (when set) is -IZA_EINVALID. */
int replay_collect(const char *qfile, const char *spool, struct replay_set *out,
		   struct iza_error *err);

/* Rename qfile to qfile.replayed. */
int replay_done(const char *qfile, struct iza_error *err);

#endif
