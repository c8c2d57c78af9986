/*
 * pseudo.h - pseudonymisation: keyed HMAC-SHA256 with a reusable context,
 * BSN normalisation and the 11-test (elfproef), and the region key file.
 *
 * The raw identifier passes through here and nowhere else: callers hand in the
 * identifier and get back 32 bytes.  Nothing here logs or keeps the input.
 */
#ifndef IZA_PSEUDO_H
#define IZA_PSEUDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "iza_error.h"

#define IZA_KEY_LEN 32

struct pseudo; /* keyed context; not thread-safe (one per thread) */

/* key: IZA_KEY_LEN bytes, copied. */
int pseudo_new(const uint8_t key[IZA_KEY_LEN], struct pseudo **out);
/* Any key length 1..IZA_KEY_MAX bytes (copied): for HMAC test vectors and
 * for keys not made by key_generate(). */
#define IZA_KEY_MAX 1024
int pseudo_new_key(const uint8_t *key, size_t len, struct pseudo **out);
void pseudo_free(struct pseudo *ps); /* accepts NULL; wipes the key */
/* An independent context with the same key (for worker threads). */
int pseudo_clone(const struct pseudo *ps, struct pseudo **out);

/* HMAC(key, label || data) -> out. label like "bsn:v1:". */
int pseudo_hmac(struct pseudo *ps, const char *label, const char *data,
		size_t len, uint8_t out[IZA_HASH_LEN]);

/* Normalise a BSN candidate: strip spaces, dots and dashes; left-pad 8 digits
 * to 9 with a zero.  Writes 9 digits + NUL into out[10] and returns true only
 * if the result is 9 digits passing the 11-test (sum of d_i * (9..2) minus
 * d_9, divisible by 11, and not all zeros). */
bool bsn_normalise(const char *in, size_t len, char out[10]);

/* pseudonym for a person: from a valid BSN if given (bsn may be NULL),
 * else scoped by source and the source's local patient id. */
int pseudo_person(struct pseudo *ps, const char *bsn, size_t bsn_len,
		  const char *source, const char *local_id, size_t id_len,
		  uint8_t out[IZA_HASH_LEN], bool *used_bsn);

/* key linking records of one source to that source's patient record. */
int pseudo_patient_key(struct pseudo *ps, const char *source,
		       const char *local_id, size_t id_len,
		       uint8_t out[IZA_HASH_LEN]);

/* Key file: 64 hex characters + newline, mode 0600.
 * key_generate refuses (-IZA_EEXISTS) if path exists. */
int key_generate(const char *path, struct iza_error *err);
int key_load(const char *path, uint8_t key[IZA_KEY_LEN], struct iza_error *err);

/* Lowercase hex of a hash into out[2*IZA_HASH_LEN+1]. */
void hash_hex(const uint8_t h[IZA_HASH_LEN], char out[2 * IZA_HASH_LEN + 1]);

#endif
