/*
 * lin_audit.h - exact linear audit of released and suppressed cells, and
 * complementary suppression until the audit passes (docs/privacy-model.md,
 * "Secondary suppression").
 *
 * An attacker who sees the released cells and knows the additive structure
 * between them (a total is the sum of its strata, a quarter of its months)
 * can solve that linear system for suppressed cells.  This module decides
 * exactly which suppressed cells it determines:
 *
 *   unknowns   the suppressed cells;
 *   equations  total - sum(parts) = 0 for every declared sum, with the
 *              released cells moved to the right-hand side;
 *   exposed    a suppressed cell the system determines, i.e. whose unit
 *              vector lies in the row space of the equations restricted to
 *              the unknowns.
 * A cell may stand for several additive quantities with the same structure
 * (a share's numerator and its denominator): the equations for each are the
 * same, so one audit decides for all of them.
 *
 * The test is Gauss-Jordan elimination over the rationals on integer rows
 * kept primitive (divided by the gcd of their entries), so it is exact: no
 * floating point, no modular shortcut.  An intermediate value that would
 * overflow 64 bits makes the audit fail (-IZA_ETOOBIG); callers fail closed.
 *
 * Not covered (stated in the privacy model): bounds an attacker can derive
 * from non-negativity (interval disclosure) beyond exact recovery; those
 * are limited by the minimum-size rule on every suppressed cell.
 *
 * A struct lin_audit belongs to one thread.  Cells and sums are added, then
 * lin_audit_check() / lin_audit_protect() run; more cells and sums may be
 * added afterwards (earlier releases, another table) and the audit run again.
 */
#ifndef IZA_LIN_AUDIT_H
#define IZA_LIN_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

/* Caps on one audit (beyond: -IZA_ETOOBIG).  The elimination keeps at most
 * one dense row of 64-bit integers per suppressed cell.  The cap covers a
 * calendar year's grid (17 periods) of a KPI with the most strata (192 and
 * the total): the load profile's 17 x 169 cells.  That is 66 MB at worst
 * when every cell is unknown and every row fills; measured: 31 MB peak for
 * the whole `izagw report` of the load profile's first quarter, whose
 * equations stay sparse. */
#define LIN_AUDIT_MAX_CELLS 3328
#define LIN_AUDIT_MAX_SUMS  16384

struct lin_audit;

/* 0 or -IZA_ENOMEM / -IZA_EUSAGE. */
int lin_audit_new(struct lin_audit **out);
void lin_audit_free(struct lin_audit *a); /* accepts NULL */

/* What an attacker knows of a cell. */
enum lin_cell {
	LIN_RELEASED = 0,   /* its value is known */
	LIN_SUPPRESSED = 1, /* unknown, and must stay so (sensitive) */
	LIN_UNKNOWN = 2	    /* unknown, but its exposure does not matter
			       (e.g. a period not released yet) */
};

/*
 * Add a cell in state `state` (false/true are LIN_RELEASED/LIN_SUPPRESSED);
 * cost is the price of suppressing it later (e.g. its persons).  locked
 * cells are never chosen as complementary suppressions (e.g. figures
 * already published, which cannot be taken back).  Returns the cell's index
 * (0, 1, ...) or a negative code.
 */
int lin_audit_cell(struct lin_audit *a, enum lin_cell state, int64_t cost,
		   bool locked);

/* Declare total = parts[0] + ... + parts[n-1] (n >= 1).  A part may appear
 * once only; total must not be a part.  0 or a negative code. */
int lin_audit_sum(struct lin_audit *a, int total, const int *parts, size_t n);

/* Is cell i suppressed now (initially or by lin_audit_protect)?  (An
 * LIN_UNKNOWN cell is not.) */
bool lin_audit_suppressed(const struct lin_audit *a, int i);

/*
 * The exact audit: exposed[i] (caller's array of lin_audit_cells() entries,
 * may be NULL) is set for every suppressed cell the released cells and the
 * sums determine (LIN_UNKNOWN cells are unknowns of the system but never
 * reported).  Returns the number of exposed cells (0: the audit
 * passes), or -IZA_ETOOBIG (arithmetic beyond 64 bits) / -IZA_ENOMEM.
 */
int lin_audit_check(struct lin_audit *a, bool *exposed);

/*
 * Complementary suppression: while the audit finds an exposed cell, suppress
 * the cheapest released, unlocked cell that shares a sum with it (ties: the
 * lowest index), else the cheapest that shares a sum with any suppressed
 * cell.  Returns the number of cells it suppressed (added[i] set for each
 * when added is not NULL); -IZA_EINVALID when an exposed cell remains and no
 * released cell can be suppressed (e.g. only locked ones), -IZA_ETOOBIG or
 * -IZA_ENOMEM from the audit.  On any error the caller must not release.
 */
int lin_audit_protect(struct lin_audit *a, bool *added);

/* Number of cells added so far. */
int lin_audit_cells(const struct lin_audit *a);

#endif
