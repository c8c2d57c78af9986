/*
 * json_dom.c - strict, fast JSON parser into an arena-allocated tree.
 *
 * Implements json_dom.h.  The parser is an explicit state machine (no C
 * recursion): open containers live on a frame stack capped by max_depth, and
 * the values of every open container are collected on one reusable scratch
 * stack of struct jval; when a container closes its children are copied to
 * the arena in one memcpy.  Strings and numbers are copied into the arena and
 * NUL-terminated.  The arena is a list of blocks that is reset, not freed,
 * between calls; if one call needed several blocks they are merged into one
 * block of the combined size at the next reset, so steady-state parsing of
 * similar inputs does no allocation at all.
 *
 * Acceptance is bug-for-bug identical to jansson 2.14's
 * json_loadb(buf, len, JSON_DECODE_ANY, &err), including these quirks:
 *   - nesting depth counts every value, scalars included: a scalar inside
 *     2048 arrays is too deep with the default limit, an empty array at that
 *     depth is not;
 *   - a single NUL byte directly after a number or true/false/null is
 *     skipped (jansson's lexer "ungets" it and its stream then loses it), so
 *     "[1\0]" is accepted as [1];
 *   - integers outside int64 and reals that round to +-inf are rejected,
 *     reals that underflow are accepted;
 *   - "\u0000" is rejected, in values and in keys.
 * The overflow test for reals is exact and locale-independent: it compares
 * the decimal digits against 2^1024 - 2^970, the smallest value that
 * round-to-nearest turns into infinity.
 *
 * Memory: the arena holds at most about 16 bytes per input byte (an array of
 * one-digit numbers is the worst case) plus block slack; the scratch stack at
 * most one struct jval per value; the frame stack at most max_depth frames.
 */
#include "json_dom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define ARENA_MIN_BLOCK ((size_t)64 * 1024)
#define SCRATCH_MIN	256
#define FRAMES_MIN	32

struct arena_block {
	struct arena_block *next;
	size_t cap;
	/* data follows, aligned for struct jval */
};

struct jframe {
	const char *key; /* key of the container itself (NULL in arrays) */
	uint32_t keylen;
	uint32_t base; /* first child's index on the scratch stack */
	uint32_t is_obj;
};

struct jdom_parser {
	size_t max_depth;
	size_t max_bytes;

	struct arena_block *blocks; /* newest first */
	size_t nblocks;
	size_t arena_total; /* sum of block capacities */
	char *cur, *lim;    /* free space in the newest block */

	struct jval *stk; /* scratch stack of finished values */
	size_t stk_cap;

	struct jframe *frames;
	size_t frames_cap;

	struct jval root;
};

#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)
#define IS_WS(c)    ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
/* Ends a run of plain string bytes: '"', '\\', < 0x20 or >= 0x80. */
#define IS_STR_SPECIAL(c)                                                      \
	((c) == '"' || (c) == '\\' || (unsigned char)((c)-0x20) >= 0x60)

/*
 * 2^1024 - 2^970 in decimal (309 digits): any real at or above it rounds to
 * infinity under round-to-nearest-even, so jansson's strtod reports ERANGE.
 */
static const char overflow_digits[] =
    "17976931348623158079372897140530341507993413271003782693617377898044"
    "49682927647509466490179775872070963302864166928879109465555478519404"
    "02630657488671505820681908902000708383676273854845817711531764475730"
    "27006985557136695962284291481986083493647529271907416844436551070434"
    "2711559699508093042880177904174497792";

/* ------------------------------------------------------------------ arena */

static struct arena_block *block_new(size_t cap)
{
	struct arena_block *b;

	if (cap > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + cap);
	if (b) {
		b->next = NULL;
		b->cap = cap;
	}
	return b;
}

static char *block_data(struct arena_block *b)
{
	return (char *)(b + 1);
}

/* Slow path of arena allocation: start a new block that fits n bytes. */
static void *arena_grow(struct jdom_parser *p, size_t n)
{
	size_t cap = p->blocks ? p->blocks->cap * 2 : ARENA_MIN_BLOCK;
	struct arena_block *b;

	if (cap < ARENA_MIN_BLOCK)
		cap = ARENA_MIN_BLOCK;
	if (n > SIZE_MAX / 2 - 16)
		return NULL;
	if (cap < n + 16)
		cap = n + 16;
	b = block_new(cap);
	if (!b)
		return NULL;
	b->next = p->blocks;
	p->blocks = b;
	p->nblocks++;
	p->arena_total += cap;
	p->cur = block_data(b) + n;
	p->lim = block_data(b) + cap;
	return block_data(b);
}

/* n bytes of unaligned arena memory (strings). */
static inline char *arena_bytes(struct jdom_parser *p, size_t n)
{
	char *r = p->cur;

	if ((size_t)(p->lim - r) < n)
		return arena_grow(p, n);
	p->cur = r + n;
	return r;
}

/* n bytes aligned for struct jval. */
static inline void *arena_aligned(struct jdom_parser *p, size_t n)
{
	uintptr_t a = ((uintptr_t)p->cur + 7) & ~(uintptr_t)7;
	char *r = (char *)a;

	if (r > p->lim || (size_t)(p->lim - r) < n)
		return arena_grow(p, n);
	p->cur = r + n;
	return r;
}

/*
 * Forget everything allocated.  Several blocks are merged into one block of
 * their combined size, so the next parse of a similar input fits in one.
 */
static int arena_reset(struct jdom_parser *p)
{
	struct arena_block *b, *next;
	size_t total = p->arena_total;

	if (p->nblocks > 1) {
		for (b = p->blocks; b; b = next) {
			next = b->next;
			free(b);
		}
		p->blocks = NULL;
		p->nblocks = 0;
		p->arena_total = 0;
		b = block_new(total);
		if (!b)
			return -IZA_ENOMEM;
		p->blocks = b;
		p->nblocks = 1;
		p->arena_total = total;
	}
	if (p->blocks) {
		p->cur = block_data(p->blocks);
		p->lim = p->cur + p->blocks->cap;
	} else {
		p->cur = NULL;
		p->lim = NULL;
	}
	return 0;
}

/* --------------------------------------------------------------- lifecycle */

struct jdom_parser *jdom_parser_new(size_t max_depth, size_t max_bytes)
{
	struct jdom_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->max_depth = max_depth ? max_depth : JDOM_DEFAULT_MAX_DEPTH;
	p->max_bytes = max_bytes;
	/* the first block up front: the arena never has to handle NULL */
	if (!arena_grow(p, 0)) {
		free(p);
		return NULL;
	}
	return p;
}

void jdom_parser_free(struct jdom_parser *p)
{
	struct arena_block *b, *next;

	if (!p)
		return;
	for (b = p->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(p->stk);
	free(p->frames);
	free(p);
}

size_t jdom_parser_arena_bytes(const struct jdom_parser *p)
{
	return p ? p->arena_total : 0;
}

/* ------------------------------------------------------------------ stacks */

static int stk_grow(struct jdom_parser *p)
{
	size_t cap = p->stk_cap ? p->stk_cap * 2 : SCRATCH_MIN;
	struct jval *n;

	if (cap > SIZE_MAX / sizeof(*n) || cap > UINT32_MAX)
		return -IZA_ENOMEM;
	n = realloc(p->stk, cap * sizeof(*n));
	if (!n)
		return -IZA_ENOMEM;
	p->stk = n;
	p->stk_cap = cap;
	return 0;
}

static int frames_grow(struct jdom_parser *p)
{
	size_t cap = p->frames_cap ? p->frames_cap * 2 : FRAMES_MIN;
	struct jframe *n;

	if (cap > p->max_depth)
		cap = p->max_depth;
	if (cap <= p->frames_cap || cap > SIZE_MAX / sizeof(*n))
		return -IZA_ENOMEM;
	n = realloc(p->frames, cap * sizeof(*n));
	if (!n)
		return -IZA_ENOMEM;
	p->frames = n;
	p->frames_cap = cap;
	return 0;
}

/* ---------------------------------------------------------------- scanning */

/* First byte in [q, e) that is '"', '\\', < 0x20 or >= 0x80; e if none. */
static inline const unsigned char *scan_plain(const unsigned char *q,
					      const unsigned char *e)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);

	while (e - q >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
		/* signed compare: bytes >= 0x80 are negative, so < 0x20 too */
		__m128i m =
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
					      _mm_cmpeq_epi8(v, bslash)),
				 _mm_cmplt_epi8(v, space));
		int mask = _mm_movemask_epi8(m);

		if (mask)
			return q + __builtin_ctz((unsigned)mask);
		q += 16;
	}
#endif
	while (q < e && !IS_STR_SPECIAL(*q))
		q++;
	return q;
}

static inline const unsigned char *skip_ws(const unsigned char *q,
					   const unsigned char *e)
{
	while (q < e && IS_WS(*q))
		q++;
	return q;
}

/* Length of the valid UTF-8 sequence at q (lead byte >= 0x80), 0 if invalid. */
static size_t utf8_seq(const unsigned char *q, const unsigned char *e)
{
	unsigned c = q[0];
	size_t avail = (size_t)(e - q);
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf) {
		if (avail < 2 || (q[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
		if (avail < 3 || q[1] < lo || q[1] > hi ||
		    (q[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		if (avail < 4 || q[1] < lo || q[1] > hi ||
		    (q[2] & 0xc0) != 0x80 || (q[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

static inline int hexval(unsigned c)
{
	if (c - '0' < 10)
		return (int)(c - '0');
	c |= 0x20;
	if (c - 'a' < 6)
		return (int)(c - 'a' + 10);
	return -1;
}

/* Four hex digits at q (caller checked they exist); -1 if not hex. */
static long hex4(const unsigned char *q)
{
	int a = hexval(q[0]), b = hexval(q[1]), c = hexval(q[2]),
	    d = hexval(q[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return ((long)a << 12) | (b << 8) | (c << 4) | d;
}

static const char *describe(unsigned c)
{
	switch (c) {
	case '{':
		return "'{'";
	case '}':
		return "'}'";
	case '[':
		return "'['";
	case ']':
		return "']'";
	case ':':
		return "':'";
	case ',':
		return "','";
	case '"':
		return "'\"'";
	default:
		return "character";
	}
}

/* ------------------------------------------------------------------ parser */

struct pstate {
	struct jdom_parser *p;
	const unsigned char *base; /* start of input, for offsets */
	const unsigned char *end;
	struct iza_error *err;
};

static int fail(const struct pstate *ps, int code, const unsigned char *at,
		const char *what)
{
	return iza_error_set(ps->err, code, NULL, 0, NULL, "%s at byte %zu",
			     what, (size_t)(at - ps->base));
}

static int fail_unexpected(const struct pstate *ps, const unsigned char *at)
{
	char what[48];

	if (at >= ps->end)
		return fail(ps, -IZA_ETRUNCATED, at, "unexpected end of input");
	if (*at >= 0x80 && !utf8_seq(at, ps->end))
		return fail(ps, -IZA_EUTF8, at, "invalid UTF-8");
	snprintf(what, sizeof(what), "unexpected %s", describe(*at));
	return fail(ps, -IZA_EPARSE, at, what);
}

/*
 * Decode the escapes of the string body raw[0..n) (UTF-8 already checked)
 * into dst; *outlen gets the decoded length.
 */
static int unescape(const struct pstate *ps, const unsigned char *raw, size_t n,
		    char *dst, size_t *outlen)
{
	const unsigned char *q = raw, *e = raw + n, *bs;
	char *d = dst;
	long cp, lo;

	while (q < e) {
		bs = memchr(q, '\\', (size_t)(e - q));
		if (!bs) {
			memcpy(d, q, (size_t)(e - q));
			d += e - q;
			break;
		}
		memcpy(d, q, (size_t)(bs - q));
		d += bs - q;
		q = bs + 1; /* the scanner guaranteed a byte follows */
		switch (*q) {
		case '"':
		case '\\':
		case '/':
			*d++ = (char)*q;
			break;
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u':
			if (e - q < 5 || (cp = hex4(q + 1)) < 0)
				return fail(ps, -IZA_EPARSE, bs,
					    "invalid \\u escape");
			if (cp == 0)
				return fail(ps, -IZA_EPARSE, bs,
					    "\\u0000 not allowed");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(ps, -IZA_EPARSE, bs,
					    "lone low surrogate escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (e - q < 11 || q[5] != '\\' || q[6] != 'u' ||
				    (lo = hex4(q + 7)) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return fail(
					    ps, -IZA_EPARSE, bs,
					    "unpaired surrogate escape");
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				q += 6;
			}
			q += 4;
			if (cp < 0x80) {
				*d++ = (char)cp;
			} else if (cp < 0x800) {
				*d++ = (char)(0xc0 | (cp >> 6));
				*d++ = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				*d++ = (char)(0xe0 | (cp >> 12));
				*d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*d++ = (char)(0x80 | (cp & 0x3f));
			} else {
				*d++ = (char)(0xf0 | (cp >> 18));
				*d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
				*d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*d++ = (char)(0x80 | (cp & 0x3f));
			}
			break;
		default:
			return fail(ps, -IZA_EPARSE, bs, "invalid escape");
		}
		q++;
	}
	*outlen = (size_t)(d - dst);
	return 0;
}

/*
 * String starting at *qp (the opening quote).  On success *qp is past the
 * closing quote and *s / *slen hold the NUL-terminated arena copy.
 */
static int parse_string(const struct pstate *ps, const unsigned char **qp,
			const char **s, uint32_t *slen)
{
	const unsigned char *start = *qp + 1, *q = start, *e = ps->end;
	struct jdom_parser *p = ps->p;
	int escaped = 0, rc;
	size_t n, len = 0, k;
	char *dst;

	for (;;) {
		q = scan_plain(q, e);
		if (q == e)
			return fail(ps, -IZA_ETRUNCATED, *qp,
				    "unterminated string starting");
		if (*q == '"')
			break;
		if (*q == '\\') {
			if (e - q < 2)
				return fail(ps, -IZA_ETRUNCATED, *qp,
					    "unterminated string starting");
			escaped = 1;
			q += 2;
		} else if (*q < 0x20) {
			return fail(ps, -IZA_EPARSE, q,
				    "control character in string");
		} else {
			k = utf8_seq(q, e);
			if (!k)
				return fail(ps, -IZA_EUTF8, q, "invalid UTF-8");
			q += k;
		}
	}
	n = (size_t)(q - start);
	dst = arena_bytes(p, n + 1);
	if (!dst)
		return fail(ps, -IZA_ENOMEM, start, "out of memory");
	if (!escaped) {
		memcpy(dst, start, n);
		len = n;
	} else {
		rc = unescape(ps, start, n, dst, &len);
		if (rc)
			return rc;
	}
	dst[len] = '\0';
	*s = dst;
	*slen = (uint32_t)len;
	*qp = q + 1;
	return 0;
}

/* Does the real with these parts round to +-infinity? */
static int real_overflows(const unsigned char *ip, size_t ilen,
			  const unsigned char *fp, size_t flen, int64_t exp10)
{
	int64_t mag; /* value lies in [10^(mag-1), 10^mag) */
	size_t i = 0, lz = 0, t = 0;
	const unsigned char *d;
	size_t dn;

	if (!(ilen == 1 && ip[0] == '0')) {
		mag = (int64_t)ilen + exp10;
	} else {
		while (lz < flen && fp[lz] == '0')
			lz++;
		if (lz == flen)
			return 0; /* zero */
		mag = exp10 - (int64_t)lz;
	}
	if (mag < 309)
		return 0;
	if (mag > 309)
		return 1;
	/* Same magnitude as the threshold: compare the significant digits. */
	d = ilen == 1 && ip[0] == '0' ? fp + lz : ip;
	dn = ilen == 1 && ip[0] == '0' ? flen - lz : ilen;
	for (t = 0; t < sizeof(overflow_digits) - 1; t++) {
		unsigned c;

		if (i == dn) {
			if (d == ip && flen) {
				d = fp;
				dn = flen;
				i = 0;
			} else {
				return 0; /* shorter and equal so far: below */
			}
		}
		c = d[i++];
		if (c != (unsigned char)overflow_digits[t])
			return c > (unsigned char)overflow_digits[t];
	}
	return 1; /* equal prefix of all threshold digits: at or above */
}

/*
 * Number at *qp.  On success *qp is past it and *s / *slen hold the
 * NUL-terminated arena copy of its text.
 */
static int parse_number(const struct pstate *ps, const unsigned char **qp,
			const char **s, uint32_t *slen)
{
	static const char int64_max[] = "9223372036854775807";
	static const char int64_min[] = "9223372036854775808";
	const unsigned char *start = *qp, *q = start, *e = ps->end;
	const unsigned char *ip, *fp = NULL;
	size_t ilen, flen = 0, n;
	int neg = 0, real = 0, eneg = 0;
	int64_t exp10 = 0;
	char *dst;

	if (*q == '-') {
		neg = 1;
		q++;
	}
	ip = q;
	if (q == e)
		return fail(ps, -IZA_ETRUNCATED, start, "truncated number");
	if (*q == '0') {
		q++;
		if (q < e && IS_DIGIT(*q))
			return fail(ps, -IZA_EPARSE, start,
				    "leading zero in number");
	} else if ((unsigned)(*q - '1') < 9u) {
		while (q < e && IS_DIGIT(*q))
			q++;
	} else {
		return fail(ps, -IZA_EPARSE, start, "invalid number");
	}
	ilen = (size_t)(q - ip);
	if (q < e && *q == '.') {
		real = 1;
		q++;
		fp = q;
		while (q < e && IS_DIGIT(*q))
			q++;
		flen = (size_t)(q - fp);
		if (!flen)
			return fail(ps, q == e ? -IZA_ETRUNCATED : -IZA_EPARSE,
				    start, "invalid fraction in number");
	}
	if (q < e && (*q | 0x20) == 'e') {
		const unsigned char *ed;

		real = 1;
		q++;
		if (q < e && (*q == '+' || *q == '-')) {
			eneg = *q == '-';
			q++;
		}
		ed = q;
		while (q < e && IS_DIGIT(*q)) {
			if (exp10 < ((int64_t)1 << 59))
				exp10 = exp10 * 10 + (*q - '0');
			q++;
		}
		if (q == ed)
			return fail(ps, q == e ? -IZA_ETRUNCATED : -IZA_EPARSE,
				    start, "invalid exponent in number");
		if (eneg)
			exp10 = -exp10;
	}
	if (!real) {
		if (ilen > 19 ||
		    (ilen == 19 &&
		     memcmp(ip, neg ? int64_min : int64_max, 19) > 0))
			return fail(ps, -IZA_EPARSE, start,
				    "integer out of range");
	} else if ((exp10 || ilen > 308) &&
		   real_overflows(ip, ilen, fp, flen, exp10)) {
		return fail(ps, -IZA_EPARSE, start, "real number overflow");
	}
	n = (size_t)(q - start);
	dst = arena_bytes(ps->p, n + 1);
	if (!dst)
		return fail(ps, -IZA_ENOMEM, start, "out of memory");
	memcpy(dst, start, n);
	dst[n] = '\0';
	*s = dst;
	*slen = (uint32_t)n;
	/* jansson quirk: a NUL right after a number is swallowed */
	if (q < e && *q == '\0')
		q++;
	*qp = q;
	return 0;
}

/* Finish a container: move its children from the scratch stack to the arena
 * and leave the container itself on the scratch stack. */
static int close_container(const struct pstate *ps, size_t *sp, size_t *nf,
			   const unsigned char *at)
{
	struct jdom_parser *p = ps->p;
	struct jframe *f = &p->frames[*nf - 1];
	size_t n = *sp - f->base;
	struct jval *v, *kids = NULL;

	if (n) {
		kids = arena_aligned(p, n * sizeof(*kids));
		if (!kids)
			return fail(ps, -IZA_ENOMEM, at, "out of memory");
		memcpy(kids, p->stk + f->base, n * sizeof(*kids));
	}
	v = &p->stk[f->base];
	v->key = f->key;
	v->keylen = f->keylen;
	v->type = f->is_obj ? JT_OBJECT : JT_ARRAY;
	v->len = (uint32_t)n;
	v->u.kids = kids;
	*sp = f->base + 1;
	(*nf)--;
	return 0;
}

int jdom_parse(struct jdom_parser *p, const char *buf, size_t len,
	       const struct jval **out, struct iza_error *err)
{
	const unsigned char *q = (const unsigned char *)buf;
	const unsigned char *e = q + len;
	struct pstate ps = {p, q, e, err};
	const char *key = NULL; /* key of the value about to be parsed */
	uint32_t keylen = 0;
	size_t sp = 0, nf = 0; /* scratch and frame stack heights */
	struct jval *v;
	struct jframe *f;
	int rc;

	if (!p || (!buf && len) || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "invalid arguments");
	if ((p->max_bytes && len > p->max_bytes) || len >= UINT32_MAX)
		return iza_error_set(err, -IZA_ETOOBIG, NULL, 0, NULL,
				     "input of %zu bytes exceeds the limit",
				     len);
	rc = arena_reset(p);
	if (rc)
		return iza_error_set(err, rc, NULL, 0, NULL, "out of memory");
	if (!p->stk_cap && (rc = stk_grow(p)) != 0)
		return iza_error_set(err, rc, NULL, 0, NULL, "out of memory");

	q = skip_ws(q, e);

value:
	if (nf + 1 > p->max_depth)
		return fail(&ps, -IZA_ETOODEEP, q, "nesting too deep");
	if (q == e)
		return fail(&ps, -IZA_ETRUNCATED, q, "expected a value");
	if (sp == p->stk_cap && (rc = stk_grow(p)) != 0)
		return fail(&ps, rc, q, "out of memory");
	v = &p->stk[sp];
	switch (*q) {
	case '"':
		v->type = JT_STRING;
		rc = parse_string(&ps, &q, &v->u.s, &v->len);
		if (rc)
			return rc;
		break;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		v->type = JT_NUMBER;
		rc = parse_number(&ps, &q, &v->u.s, &v->len);
		if (rc)
			return rc;
		break;
	case '{':
	case '[':
		if (nf == p->frames_cap && (rc = frames_grow(p)) != 0)
			return fail(&ps, rc, q, "out of memory");
		f = &p->frames[nf++];
		f->key = key;
		f->keylen = keylen;
		f->base = (uint32_t)sp;
		f->is_obj = *q == '{';
		q = skip_ws(q + 1, e);
		if (q < e && *q == (f->is_obj ? '}' : ']')) {
			q++;
			rc = close_container(&ps, &sp, &nf, q);
			if (rc)
				return rc;
			goto after;
		}
		if (f->is_obj)
			goto member;
		key = NULL;
		keylen = 0;
		goto value;
	case 't':
	case 'f':
	case 'n': {
		static const char *const lit[] = {"true", "false", "null"};
		static const uint32_t litlen[] = {4, 5, 4};
		static const uint32_t littype[] = {JT_TRUE, JT_FALSE, JT_NULL};
		int i = *q == 't' ? 0 : *q == 'f' ? 1 : 2;
		size_t avail = (size_t)(e - q);

		if (avail < litlen[i] || memcmp(q, lit[i], litlen[i]) != 0) {
			if (avail < litlen[i] && !memcmp(q, lit[i], avail))
				return fail(&ps, -IZA_ETRUNCATED, q,
					    "truncated literal");
			return fail(&ps, -IZA_EPARSE, q, "invalid literal");
		}
		q += litlen[i];
		if (q < e && *q == '\0')
			q++; /* jansson quirk, as after numbers */
		v->type = littype[i];
		v->len = 0;
		v->u.s = NULL;
		break;
	}
	default:
		return fail_unexpected(&ps, q);
	}
	v->key = key;
	v->keylen = keylen;
	sp++;

after:
	if (nf == 0)
		goto done;
	q = skip_ws(q, e);
	if (q == e)
		return fail(&ps, -IZA_ETRUNCATED, q, "unexpected end of input");
	f = &p->frames[nf - 1];
	if (*q == ',') {
		q = skip_ws(q + 1, e);
		if (f->is_obj)
			goto member;
		key = NULL;
		keylen = 0;
		goto value;
	}
	if (*q == (f->is_obj ? '}' : ']')) {
		q++;
		rc = close_container(&ps, &sp, &nf, q);
		if (rc)
			return rc;
		goto after;
	}
	return fail_unexpected(&ps, q);

member:
	if (q == e || *q != '"')
		return fail_unexpected(&ps, q);
	rc = parse_string(&ps, &q, &key, &keylen);
	if (rc)
		return rc;
	q = skip_ws(q, e);
	if (q == e || *q != ':')
		return fail_unexpected(&ps, q);
	q = skip_ws(q + 1, e);
	goto value;

done:
	q = skip_ws(q, e);
	if (q != e) {
		if (*q >= 0x80 && !utf8_seq(q, e))
			return fail(&ps, -IZA_EUTF8, q, "invalid UTF-8");
		return fail(&ps, -IZA_EPARSE, q, "trailing data");
	}
	p->root = p->stk[0];
	*out = &p->root;
	return 0;
}

/* ---------------------------------------------------------------- queries */

const struct jval *jobj_get(const struct jval *v, const char *key)
{
	size_t n, i;

	if (!v || v->type != JT_OBJECT || !key)
		return NULL;
	n = strlen(key);
	for (i = v->len; i-- > 0;) {
		const struct jval *k = &v->u.kids[i];

		if (k->keylen == n && memcmp(k->key, key, n) == 0)
			return k;
	}
	return NULL;
}

bool jval_streq(const struct jval *v, const char *s)
{
	return v && s && v->type == JT_STRING && strlen(s) == v->len &&
	       memcmp(v->u.s, s, v->len) == 0;
}

/* ------------------------------------------------------------------ writer */

static void w_put(FILE *f, const char *s, size_t n)
{
	if (n)
		fwrite(s, 1, n, f);
}

static void w_string(FILE *f, const char *s, size_t n)
{
	size_t i, run = 0;

	fputc('"', f);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		w_put(f, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else
			fprintf(f, "\\u%04x", c);
	}
	w_put(f, s + run, n - run);
	fputc('"', f);
}

static void w_value(FILE *f, const struct jval *v)
{
	uint32_t i;

	switch ((enum jtype)v->type) {
	case JT_NULL:
		fputs("null", f);
		break;
	case JT_FALSE:
		fputs("false", f);
		break;
	case JT_TRUE:
		fputs("true", f);
		break;
	case JT_NUMBER:
		w_put(f, v->u.s, v->len);
		break;
	case JT_STRING:
		w_string(f, v->u.s, v->len);
		break;
	case JT_ARRAY:
	case JT_OBJECT:
		fputc(v->type == JT_ARRAY ? '[' : '{', f);
		for (i = 0; i < v->len; i++) {
			const struct jval *k = &v->u.kids[i];

			if (i)
				fputc(',', f);
			if (v->type == JT_OBJECT) {
				w_string(f, k->key, k->keylen);
				fputc(':', f);
			}
			w_value(f, k);
		}
		fputc(v->type == JT_ARRAY ? ']' : '}', f);
		break;
	}
}

int jdom_write(const struct jval *v, char **out, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	bool bad;

	if (!v || !out)
		return -IZA_EUSAGE;
	f = open_memstream(&buf, &size);
	if (!f)
		return -IZA_ENOMEM;
	w_value(f, v);
	bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad || !buf) {
		free(buf);
		return -IZA_ENOMEM;
	}
	*out = buf;
	if (len)
		*len = size;
	return 0;
}
