/*
 * mon_verify.h - what izamon checks of a submitted (or saved) report before
 * it believes it: the detached ES256 JWS over the exact bytes (common/jws.h)
 * against the trusted CA, the allow-list (common/report_check.h), and that
 * the signed claims agree with the report itself: the Bundle's id is the
 * claimed report id, every MeasureReport's reporter is the claimed region
 * and its period the claimed period.  Used by `izamon verify` and, in the
 * upload issue, by POST /reports (which adds the TLS client, enrolment and
 * plan checks).
 */
#ifndef IZA_MON_VERIFY_H
#define IZA_MON_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"
#include "jws.h"

struct mon_verified {
	struct jws_claims claims;
	char signer_sha256[65]; /* hex SHA-256 of the signing certificate */
	char signer_subject[256];
	size_t measure_reports;
};

int mon_verify_report(const char *body, size_t len, const char *jws,
		      const char *ca_pem_path, int64_t now,
		      struct mon_verified *out, struct iza_error *err);

#endif
