/*
 * lin_audit.c - exact linear audit and complementary suppression (contract
 * in lin_audit.h).
 *
 * Decisions:
 *  - The row space of the equations restricted to the unknowns is kept in
 *    reduced row echelon form, built one equation at a time: a new row is
 *    reduced by the pivots it meets, and when it brings a new pivot the
 *    other rows are cleared at that column.  A unit vector e_j is in the
 *    row space exactly when column j is a pivot whose row has no other
 *    non-zero entry (in RREF the coefficient of each basis row in a
 *    combination is the combination's entry at that row's pivot).
 *  - Rows are integer vectors divided by the gcd of their entries, with a
 *    positive pivot: exact rational elimination without fractions.  Every
 *    product and difference is checked for 64-bit overflow.
 *  - Complementary suppression is greedy (one cell at a time, cheapest
 *    first, deterministic ties) and re-runs the whole audit after each
 *    choice; tables here are small, and the audit, not the heuristic, is
 *    what decides that a release is safe.
 */
#include "lin_audit.h"

#include <stdlib.h>
#include <string.h>

struct sum {
	int total;
	int *parts;
	size_t n;
};

struct lin_audit {
	int ncells, capcells;
	bool *sup, *locked; /* sup: unknown to an attacker */
	bool *sensitive;    /* a suppressed cell (not LIN_UNKNOWN) */
	int64_t *cost;
	struct sum *sums;
	size_t nsums, capsums;
};

int lin_audit_new(struct lin_audit **out)
{
	struct lin_audit *a;

	if (!out)
		return -IZA_EUSAGE;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -IZA_ENOMEM;
	*out = a;
	return 0;
}

void lin_audit_free(struct lin_audit *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->nsums; i++)
		free(a->sums[i].parts);
	free(a->sums);
	free(a->sup);
	free(a->sensitive);
	free(a->locked);
	free(a->cost);
	free(a);
}

int lin_audit_cells(const struct lin_audit *a)
{
	return a ? a->ncells : 0;
}

bool lin_audit_suppressed(const struct lin_audit *a, int i)
{
	return a && i >= 0 && i < a->ncells && a->sup[i] && a->sensitive[i];
}

int lin_audit_cell(struct lin_audit *a, enum lin_cell state, int64_t cost,
		   bool locked)
{
	if (!a || (state != LIN_RELEASED && state != LIN_SUPPRESSED &&
		   state != LIN_UNKNOWN))
		return -IZA_EUSAGE;
	if (a->ncells >= LIN_AUDIT_MAX_CELLS)
		return -IZA_ETOOBIG;
	if (a->ncells == a->capcells) {
		int cap = a->capcells ? a->capcells * 2 : 32;
		bool *sup = realloc(a->sup, (size_t)cap * sizeof(*sup));
		bool *lk, *sens;
		int64_t *c;

		if (!sup)
			return -IZA_ENOMEM;
		a->sup = sup;
		sens = realloc(a->sensitive, (size_t)cap * sizeof(*sens));
		if (!sens)
			return -IZA_ENOMEM;
		a->sensitive = sens;
		lk = realloc(a->locked, (size_t)cap * sizeof(*lk));
		if (!lk)
			return -IZA_ENOMEM;
		a->locked = lk;
		c = realloc(a->cost, (size_t)cap * sizeof(*c));
		if (!c)
			return -IZA_ENOMEM;
		a->cost = c;
		a->capcells = cap;
	}
	a->sup[a->ncells] = state != LIN_RELEASED;
	a->sensitive[a->ncells] = state == LIN_SUPPRESSED;
	a->locked[a->ncells] = locked;
	a->cost[a->ncells] = cost;
	return a->ncells++;
}

int lin_audit_sum(struct lin_audit *a, int total, const int *parts, size_t n)
{
	struct sum *s;
	size_t i, j;

	if (!a || !parts || n == 0 || total < 0 || total >= a->ncells)
		return -IZA_EUSAGE;
	for (i = 0; i < n; i++) {
		if (parts[i] < 0 || parts[i] >= a->ncells || parts[i] == total)
			return -IZA_EUSAGE;
		for (j = 0; j < i; j++)
			if (parts[j] == parts[i])
				return -IZA_EUSAGE;
	}
	if (a->nsums >= LIN_AUDIT_MAX_SUMS)
		return -IZA_ETOOBIG;
	if (a->nsums == a->capsums) {
		size_t cap = a->capsums ? a->capsums * 2 : 16;
		struct sum *ns = realloc(a->sums, cap * sizeof(*ns));

		if (!ns)
			return -IZA_ENOMEM;
		a->sums = ns;
		a->capsums = cap;
	}
	s = &a->sums[a->nsums];
	s->parts = malloc(n * sizeof(*s->parts));
	if (!s->parts)
		return -IZA_ENOMEM;
	memcpy(s->parts, parts, n * sizeof(*s->parts));
	s->total = total;
	s->n = n;
	a->nsums++;
	return 0;
}

/* ---- exact elimination ---- */

struct rref {
	size_t m;	/* columns: the unknowns */
	int64_t **row;	/* basis rows, each m entries */
	int *pivot;	/* pivot column of each row */
	int *pivot_row; /* per column: row index, or -1 */
	size_t nrows;
};

static int64_t gcd64(int64_t a, int64_t b)
{
	if (a < 0)
		a = -a;
	if (b < 0)
		b = -b;
	while (b) {
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Divide v by the gcd of its entries (a positive factor: the row stands
 * for the same equation). */
static void divide_gcd(int64_t *v, size_t m)
{
	int64_t g = 0;
	size_t i;

	for (i = 0; i < m && g != 1; i++)
		if (v[i])
			g = gcd64(g, v[i]);
	if (g > 1)
		for (i = 0; i < m; i++)
			v[i] /= g;
}

/* Divide v by the gcd of its entries; make the entry at lead positive. */
static void primitive(int64_t *v, size_t m, size_t lead)
{
	size_t i;

	divide_gcd(v, m);
	if (v[lead] < 0)
		for (i = 0; i < m; i++)
			v[i] = -v[i];
}

/* v = x*v - y*p, checked; x, y first divided by their gcd. */
static int combine(int64_t *v, const int64_t *p, size_t m, int64_t x, int64_t y)
{
	int64_t g = gcd64(x, y);
	size_t i;

	if (g > 1) {
		x /= g;
		y /= g;
	}
	for (i = 0; i < m; i++) {
		int64_t a, b;

		if (__builtin_mul_overflow(v[i], x, &a) ||
		    __builtin_mul_overflow(p[i], y, &b) ||
		    __builtin_sub_overflow(a, b, &v[i]))
			return -IZA_ETOOBIG;
	}
	return 0;
}

/* Add row v (taken over on success) to the basis. */
static int rref_insert(struct rref *r, int64_t *v)
{
	size_t c, i;
	int rc;

	for (c = 0; c < r->m; c++) {
		const int64_t *p;

		if (!v[c] || r->pivot_row[c] < 0)
			continue;
		p = r->row[r->pivot_row[c]];
		rc = combine(v, p, r->m, p[c], v[c]);
		if (rc)
			return rc;
		/* kept primitive at every step, the entries stay small
		 * (else they grow with the product of the pivots met) */
		divide_gcd(v, r->m);
	}
	for (c = 0; c < r->m && !v[c]; c++)
		;
	if (c == r->m) {
		free(v); /* dependent: nothing new */
		return 0;
	}
	primitive(v, r->m, c);
	for (i = 0; i < r->nrows; i++) {
		int64_t *o = r->row[i];

		if (!o[c])
			continue;
		rc = combine(o, v, r->m, v[c], o[c]);
		if (rc)
			return rc;
		primitive(o, r->m, (size_t)r->pivot[i]);
	}
	r->row[r->nrows] = v;
	r->pivot[r->nrows] = (int)c;
	r->pivot_row[c] = (int)r->nrows;
	r->nrows++;
	return 0;
}

int lin_audit_check(struct lin_audit *a, bool *exposed)
{
	struct rref r = {0};
	int *col = NULL, nexp = 0, rc = 0;
	size_t s, i, j;
	int c;

	if (!a)
		return -IZA_EUSAGE;
	if (exposed)
		memset(exposed, 0, (size_t)a->ncells * sizeof(*exposed));
	col = malloc(((size_t)a->ncells + 1) * sizeof(*col));
	if (!col)
		return -IZA_ENOMEM;
	for (c = 0; c < a->ncells; c++)
		col[c] = a->sup[c] ? (int)r.m++ : -1;
	if (r.m == 0)
		goto out;
	r.row = calloc(r.m, sizeof(*r.row));
	r.pivot = calloc(r.m, sizeof(*r.pivot));
	r.pivot_row = malloc(r.m * sizeof(*r.pivot_row));
	if (!r.row || !r.pivot || !r.pivot_row) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	for (i = 0; i < r.m; i++)
		r.pivot_row[i] = -1;
	for (s = 0; s < a->nsums && r.nrows < r.m; s++) {
		const struct sum *sm = &a->sums[s];
		int64_t *v = calloc(r.m, sizeof(*v));
		bool any = false;

		if (!v) {
			rc = -IZA_ENOMEM;
			goto out;
		}
		if (col[sm->total] >= 0) {
			v[col[sm->total]] = 1;
			any = true;
		}
		for (j = 0; j < sm->n; j++)
			if (col[sm->parts[j]] >= 0) {
				v[col[sm->parts[j]]] = -1;
				any = true;
			}
		if (!any) {
			free(v);
			continue;
		}
		rc = rref_insert(&r, v);
		if (rc) {
			free(v);
			goto out;
		}
	}
	for (c = 0; c < a->ncells; c++) {
		const int64_t *row;
		size_t k;

		if (col[c] < 0 || r.pivot_row[col[c]] < 0)
			continue;
		row = r.row[r.pivot_row[col[c]]];
		for (k = 0; k < r.m; k++)
			if (row[k] && k != (size_t)col[c])
				break;
		if (k == r.m && a->sensitive[c]) {
			nexp++;
			if (exposed)
				exposed[c] = true;
		}
	}
out:
	for (i = 0; i < r.nrows; i++)
		free(r.row[i]);
	free(r.row);
	free(r.pivot);
	free(r.pivot_row);
	free(col);
	return rc ? rc : nexp;
}

/* ---- complementary suppression ---- */

static bool in_sum(const struct sum *s, int cell)
{
	size_t j;

	if (s->total == cell)
		return true;
	for (j = 0; j < s->n; j++)
		if (s->parts[j] == cell)
			return true;
	return false;
}

static bool has_suppressed(const struct lin_audit *a, const struct sum *s)
{
	size_t j;

	if (a->sup[s->total])
		return true;
	for (j = 0; j < s->n; j++)
		if (a->sup[s->parts[j]])
			return true;
	return false;
}

static void consider(const struct lin_audit *a, int cell, int *best)
{
	if (a->sup[cell] || a->locked[cell])
		return;
	if (*best < 0 || a->cost[cell] < a->cost[*best] ||
	    (a->cost[cell] == a->cost[*best] && cell < *best))
		*best = cell;
}

/* The cheapest released, unlocked cell in a sum that holds `cell` (or, with
 * cell < 0, any suppressed cell); -1 if none. */
static int cheapest(const struct lin_audit *a, int cell)
{
	int best = -1;
	size_t s, j;

	for (s = 0; s < a->nsums; s++) {
		const struct sum *sm = &a->sums[s];

		if (cell >= 0 ? !in_sum(sm, cell) : !has_suppressed(a, sm))
			continue;
		consider(a, sm->total, &best);
		for (j = 0; j < sm->n; j++)
			consider(a, sm->parts[j], &best);
	}
	return best;
}

int lin_audit_protect(struct lin_audit *a, bool *added)
{
	bool *exposed;
	int nadded = 0, rc;

	if (!a)
		return -IZA_EUSAGE;
	if (added)
		memset(added, 0, (size_t)a->ncells * sizeof(*added));
	exposed = malloc(((size_t)a->ncells + 1) * sizeof(*exposed));
	if (!exposed)
		return -IZA_ENOMEM;
	while ((rc = lin_audit_check(a, exposed)) > 0) {
		int first = 0, pick;

		while (!exposed[first])
			first++;
		pick = cheapest(a, first);
		if (pick < 0)
			pick = cheapest(a, -1);
		if (pick < 0) {
			rc = -IZA_EINVALID;
			break;
		}
		a->sup[pick] = true;
		a->sensitive[pick] = true;
		if (added)
			added[pick] = true;
		nadded++;
	}
	free(exposed);
	return rc < 0 ? rc : nadded;
}
