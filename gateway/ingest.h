/*
 * ingest.h - one input file (or stdin) into the event store as one batch:
 * adapter -> mapping engine -> pseudonymised canonical records -> store,
 * with quarantine of bad records and a summary of what happened.
 *
 * A batch is one transaction: a fatal error (I/O, store) rolls the whole
 * file back; bad records never do (they are quarantined and counted).
 * Quarantined records are appended, with file, line and reason, to a file in
 * the quarantine directory (mode 0600, inside the region's data directory)
 * so they can be replayed after a mapping fix; the reason never contains the
 * record's values.
 */
#ifndef IZA_INGEST_H
#define IZA_INGEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "adapter.h"
#include "iza_error.h"
#include "quarantine.h"

struct store;
struct mapping;
struct pseudo;
struct refdata;

#define INGEST_QFILE_MAX 64

struct ingest_summary {
	int64_t records;	  /* records read (lines / Bundle entries) */
	int64_t patients;	  /* patient records stored or updated */
	int64_t events_stored;	  /* events inserted or replaced */
	int64_t duplicates;	  /* identical resends */
	int64_t updated;	  /* newer versions that replaced stored ones */
	int64_t stale;		  /* older versions ignored */
	int64_t excluded_type;	  /* resource types the mapping does not map */
	int64_t excluded_class;	  /* encounters no classification rule counts */
	int64_t patients_outside; /* patients living outside the region */
	int64_t patients_unknown; /* patients whose residence is unknown */
	int64_t quarantined;
	int64_t by_reason[QR_COUNT_];
	uint64_t bytes;
	char sha256[65];
	/* the quarantine file of the batch in the quarantine directory ("":
	 * nothing quarantined), for izagw replay */
	char quarantine_file[INGEST_QFILE_MAX];
};

struct ingest_config {
	struct store *store;
	const struct mapping *mapping;	     /* FHIR R4 inputs */
	const struct mapping *mapping_hl7v2; /* HL7 v2 inputs, may be NULL */
	const struct mapping *mapping_cda;   /* CDA inputs, may be NULL */
	struct pseudo *pseudo;
	const struct refdata *refdata;
	const char *region;
	const char *source;	    /* AGB code or configured name */
	const char *default_sector; /* sector of the source, may be NULL */
	const char *quarantine_dir; /* NULL: do not keep quarantined records */
	struct adapter_limits limits;
	bool progress; /* progress line on stderr */
	long today;    /* day number for reference tables */
	/* 1: read, parse, map and store in the calling thread; 2: a worker
	 * thread reads, parses and maps while the calling thread stores, in
	 * input order (same store contents, summary and quarantine records as
	 * with 1); 0: 2 for regular files of INGEST_PIPELINE_MIN bytes or
	 * more, else 1. */
	int threads;
};

#define INGEST_PIPELINE_MIN (8u << 20)

/* format: "auto", or an adapter name. */
int ingest_file(const struct ingest_config *cfg, const char *path,
		const char *format, struct ingest_summary *sum,
		struct iza_error *err);

/* Add b into a. */
void ingest_summary_add(struct ingest_summary *a,
			const struct ingest_summary *b);
/* Human-readable summary (no patient values). */
void ingest_summary_print(FILE *f, const char *what,
			  const struct ingest_summary *s);

#endif
