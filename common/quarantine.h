/*
 * quarantine.h - why a record was quarantined: stable short codes used in
 * ingest summaries, quarantine files and metrics.  Shared by the adapters
 * (records that cannot be parsed) and the mapping engine (records that
 * cannot be mapped).
 */
#ifndef IZA_QUARANTINE_H
#define IZA_QUARANTINE_H

#define QUARANTINE_REASONS(X)                                                  \
	X(MALFORMED, "malformed")                                              \
	X(TOO_LARGE, "record_too_large")                                       \
	X(NO_TYPE, "no_resource_type")                                         \
	X(MISSING, "missing_field")                                            \
	X(UNKNOWN_CODE, "unknown_code")                                        \
	X(BAD_DATE, "invalid_date")                                            \
	X(BAD_VALUE, "invalid_value")

enum quarantine_reason {
#define IZA_X_(name, text) QR_##name,
	QUARANTINE_REASONS(IZA_X_)
#undef IZA_X_
	    QR_COUNT_
};

/* "malformed", ...; "unknown" for out-of-range values. */
const char *quarantine_reason_name(enum quarantine_reason r);

#endif
