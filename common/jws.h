/*
 * jws.h - detached JSON Web Signatures (RFC 7515) over report Bundles:
 * ES256 (ECDSA P-256 with SHA-256, the signature as R || S), the signer's
 * certificate chain in the protected header's "x5c", and the IZA report
 * claims (report id, region, plan, period) in the protected header, so a
 * signature cannot be moved to another report, region, plan or period.
 *
 * Form: BASE64URL(header) ".." BASE64URL(signature) - the compact
 * serialisation with the payload part left empty (RFC 7515 appendix F);
 * the payload travels beside it, byte for byte as signed.  The signing
 * input is BASE64URL(header) "." BASE64URL(payload).  The header is
 *   {"alg":"ES256","typ":"iza-report+jws","x5c":[leaf, CA...],
 *    "crit":["iza"],"iza":{"report":..,"region":..,"plan":..,"period":..}}
 * and a verifier must understand "iza" (it is critical).  Both the gateway
 * (signing, common/) and izamon (verifying) use this module.
 */
#ifndef IZA_JWS_H
#define IZA_JWS_H

#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

#define JWS_MAX_HEADER (64u << 10) /* decoded protected header bytes */
#define JWS_MAX_CHAIN  4	   /* certificates in x5c */

struct jws_claims {
	char report_id[80]; /* a UUID or FHIR id */
	char region[8];	    /* ZKnn */
	char plan[80];
	char period[12]; /* 2025-Q1 */
};

struct jws_signer;

/* The signing key (PEM, EC P-256) and its chain (PEM: the certificate, then
 * its issuers; the key must belong to the first). */
int jws_signer_load(const char *key_pem_path, const char *chain_pem_path,
		    struct jws_signer **out, struct iza_error *err);
void jws_signer_free(struct jws_signer *s); /* accepts NULL */

/* Sign payload[0..len) with claims c: *out is a heap string (free()). */
int jws_sign(const struct jws_signer *s, const struct jws_claims *c,
	     const void *payload, size_t len, char **out,
	     struct iza_error *err);

struct x509_st; /* OpenSSL's X509 */

/*
 * Verify a detached JWS over payload[0..len): the form, alg ES256, the
 * critical "iza" claims, the x5c chain against the CA certificates in
 * ca_pem_path at time `now` (unix seconds; 0: the current time), and the
 * signature with the leaf's key.  On success *claims is filled and, when
 * leaf is not NULL, *leaf gets the signing certificate (caller frees with
 * X509_free).  Errors: -IZA_EPARSE (form, header), -IZA_EINVALID (alg,
 * crit, claims), -IZA_ECRYPTO (chain or signature), with err saying which.
 */
int jws_verify(const char *jws, const void *payload, size_t len,
	       const char *ca_pem_path, int64_t now, struct jws_claims *claims,
	       struct x509_st **leaf, struct iza_error *err);

/* Base64url without padding of data[0..len): heap string (free()). */
char *jws_b64url(const void *data, size_t len);

#endif
