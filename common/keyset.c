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

static int insert(struct keyset *s, const uint8_t key[32])
{
	size_t i = slot_of(key, s->cap);

	while (s->used[i]) {
		if (memcmp(s->slots[i], key, 32) == 0)
			return 0;
		i = (i + 1) & (s->cap - 1);
	}
	s->used[i] = 1;
	memcpy(s->slots[i], key, 32);
	s->n++;
	return 1;
}

static int grow(struct keyset *s)
{
	struct keyset bigger;
	size_t i;

	bigger.cap = s->cap ? s->cap * 2 : 1024;
	bigger.n = 0;
	bigger.slots = malloc(bigger.cap * sizeof(*bigger.slots));
	bigger.used = calloc(bigger.cap, 1);
	if (!bigger.slots || !bigger.used) {
		free(bigger.slots);
		free(bigger.used);
		return -IZA_ENOMEM;
	}
	for (i = 0; i < s->cap; i++)
		if (s->used[i])
			insert(&bigger, s->slots[i]);
	free(s->slots);
	free(s->used);
	*s = bigger;
	return 0;
}

int keyset_add(struct keyset *s, const uint8_t key[32])
{
	if ((s->n + 1) * 4 > s->cap * 3) {
		int rc = grow(s);

		if (rc)
			return rc;
	}
	return insert(s, key);
}
