/*
 * keyset.h - a set of 32-byte keys (pseudonyms), open addressing, for
 * distinct-person counts.  Keys are already uniformly distributed (HMAC
 * output), so their first 8 bytes serve as the hash.
 */
#ifndef IZA_KEYSET_H
#define IZA_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keyset {
	uint8_t (*slots)[32];
	unsigned char *used;
	int64_t *amount; /* per slot, once keyset_add_amount was used */
	size_t cap, n;
};

void keyset_init(struct keyset *s);
void keyset_release(struct keyset *s); /* accepts NULL */
void keyset_clear(struct keyset *s);
/* Add key; returns 1 if new, 0 if present, -IZA_ENOMEM. */
int keyset_add(struct keyset *s, const uint8_t key[32]);
/* Add key if new and add amount to its running total; *before gets the
 * total before this call (0 for a new key).  1 if new, 0 if present,
 * -IZA_ENOMEM. */
int keyset_add_amount(struct keyset *s, const uint8_t key[32], int64_t amount,
		      int64_t *before);

#endif
