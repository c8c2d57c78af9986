/*
 * keyset.c - open-addressing set of 32-byte keys (contract in keyset.h),
 * with optional running amounts per key (keyset_add_amount) for
 * per-person contribution bounds.
 */
#include "keyset.h"

#include <stdlib.h>
#include <string.h>

#include "iza_error.h"

void keyset_init(struct keyset *s)
{
	memset(s, 0, sizeof(*s));
}

void keyset_release(struct keyset *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s->used);
	free(s->amount);
	memset(s, 0, sizeof(*s));
}

void keyset_clear(struct keyset *s)
{
	if (s->used)
		memset(s->used, 0, s->cap);
	s->n = 0;
}

static size_t slot_of(const uint8_t key[32], size_t cap)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)(h & (cap - 1));
}

/* Find or insert key; *slot gets its index.  1 if new, 0 if present. */
static int insert(struct keyset *s, const uint8_t key[32], size_t *slot)
{
	size_t i = slot_of(key, s->cap);

	while (s->used[i]) {
		if (memcmp(s->slots[i], key, 32) == 0) {
			*slot = i;
			return 0;
		}
		i = (i + 1) & (s->cap - 1);
	}
	s->used[i] = 1;
	memcpy(s->slots[i], key, 32);
	if (s->amount)
		s->amount[i] = 0;
	s->n++;
	*slot = i;
	return 1;
}

static int grow(struct keyset *s, bool amounts)
{
	struct keyset bigger;
	size_t i, j;

	memset(&bigger, 0, sizeof(bigger));
	bigger.cap = s->cap ? s->cap * 2 : 1024;
	bigger.slots = malloc(bigger.cap * sizeof(*bigger.slots));
	bigger.used = calloc(bigger.cap, 1);
	if (amounts || s->amount)
		bigger.amount = malloc(bigger.cap * sizeof(*bigger.amount));
	if (!bigger.slots || !bigger.used ||
	    ((amounts || s->amount) && !bigger.amount)) {
		free(bigger.slots);
		free(bigger.used);
		free(bigger.amount);
		return -IZA_ENOMEM;
	}
	for (i = 0; i < s->cap; i++)
		if (s->used[i]) {
			insert(&bigger, s->slots[i], &j);
			if (bigger.amount)
				bigger.amount[j] = s->amount ? s->amount[i] : 0;
		}
	free(s->slots);
	free(s->used);
	free(s->amount);
	*s = bigger;
	return 0;
}

int keyset_add(struct keyset *s, const uint8_t key[32])
{
	size_t slot;

	if ((s->n + 1) * 4 > s->cap * 3) {
		int rc = grow(s, false);

		if (rc)
			return rc;
	}
	return insert(s, key, &slot);
}

int keyset_add_amount(struct keyset *s, const uint8_t key[32], int64_t amount,
		      int64_t *before)
{
	size_t slot;
	int rc;

	if (!s->amount || (s->n + 1) * 4 > s->cap * 3) {
		/* the first amount on a set that has keys without amounts:
		 * rebuild it with amounts (existing keys start at 0) */
		rc = grow(s, true);
		if (rc)
			return rc;
	}
	rc = insert(s, key, &slot);
	*before = s->amount[slot];
	s->amount[slot] += amount;
	return rc;
}
