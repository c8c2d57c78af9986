/*
 * pay_split.h - splitting a milestone amount over insurers, exactly.
 *
 * A met milestone is paid by every insurer in proportion to its share in the
 * national distribution key.  Amounts are integer euro cents and the notices
 * must add up to the milestone amount to the cent, so the split uses the
 * largest-remainder (Hamilton) method: every party first gets the floor of
 * its exact quota amount * w / W, and the cents left over go one each to the
 * parties with the largest remainders of that division.  Equal remainders
 * are broken by position (the earlier party first), so a caller that lists
 * parties in a fixed order (the key's UZOVI order) gets the same split every
 * time.
 *
 * Properties (tested): the parts sum to amount exactly; no part is negative;
 * every part is the floor or the ceiling of its exact quota; a party with
 * weight 0 gets 0; the result depends only on amount, the weights and their
 * order.
 *
 * Arithmetic is exact in 64 bits without overflow for every amount in
 * [0, INT64_MAX] as long as the weights sum to at most PAY_SPLIT_MAX_TOTAL.
 */
#ifndef IZA_PAY_SPLIT_H
#define IZA_PAY_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

/* The largest sum of weights accepted (2^32): a key in parts per billion
 * fits with room to spare. */
#define PAY_SPLIT_MAX_TOTAL ((uint64_t)1 << 32)

/*
 * Split amount (cents, >= 0) over n parties with the given weights into
 * parts[0..n-1].  Returns 0, or -IZA_EINVALID (negative amount, n == 0, all
 * weights zero, weights summing above PAY_SPLIT_MAX_TOTAL) with err
 * saying which, or -IZA_ENOMEM.  parts is not touched on error.
 */
int pay_split(int64_t amount, const uint64_t *weights, size_t n, int64_t *parts,
	      struct iza_error *err);

#endif
