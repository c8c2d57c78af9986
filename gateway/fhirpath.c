/*
 * fhirpath.c - compiler and evaluator for the FHIRPath subset in fhirpath.h.
 *
 * Compile: a hand-written lexer and recursive-descent parser turn the text
 * into an array of AST nodes (struct fp_node) owned by struct fhirpath; string
 * and integer literals become struct jval nodes inside that array, so results
 * can point at them.  docs/fhirpath-subset.md gives the grammar.
 *
 * Evaluate: every sub-expression appends its result to one value stack (an
 * array of node pointers in struct fp_scratch, hung off fp_collection.scratch)
 * and the parent collapses its children's ranges into its own result.  Ranges
 * are indices, so the stack may grow (realloc) mid-evaluation; in steady state
 * nothing is allocated because the stack, the union hash table and the number
 * pool keep their capacity from call to call.
 */
#include "fhirpath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* compiled form                                                       */

enum fp_op {
	OP_THIS,   /* $this (the context item) */
	OP_LIT,	   /* string/integer literal: lit */
	OP_TRUE,   /* true */
	OP_FALSE,  /* false */
	OP_MEMBER, /* a.name (a < 0: leading name, relative to $this) */
	OP_FUNC,   /* a.fn(b) (a < 0: applied to $this; b < 0: no argument) */
	OP_UNION,  /* a | b */
	OP_EQ,	   /* a = b */
	OP_NE,	   /* a != b */
	OP_IN,	   /* a in b */
	OP_AND,	   /* a and b */
	OP_OR,	   /* a or b */
};

enum fp_fn {
	FN_WHERE,
	FN_EXISTS,
	FN_EMPTY,
	FN_FIRST,
	FN_LAST,
	FN_COUNT,
	FN_NOT,
	FN_EXTENSION,
};

static const struct {
	const char *name;
	enum fp_fn fn;
	int min_args, max_args;
} fp_functions[] = {
    {"where", FN_WHERE, 1, 1}, {"exists", FN_EXISTS, 0, 1},
    {"empty", FN_EMPTY, 0, 0}, {"first", FN_FIRST, 0, 0},
    {"last", FN_LAST, 0, 0},   {"count", FN_COUNT, 0, 0},
    {"not", FN_NOT, 0, 0},     {"extension", FN_EXTENSION, 1, 1},
};

struct fp_node {
	uint8_t op;	  /* enum fp_op */
	uint8_t fn;	  /* enum fp_fn for OP_FUNC */
	uint8_t leading;  /* OP_MEMBER: first step of a path */
	int32_t a, b;	  /* child node indices, -1 for none */
	const char *name; /* OP_MEMBER name / extension url (in fp->pool) */
	uint32_t namelen;
	struct jval lit; /* OP_LIT value (text in fp->pool) */
};

struct fhirpath {
	struct fp_node *nodes; /* owned */
	size_t nnodes, cap;
	char *pool; /* owned: NUL-terminated names and literal texts */
	size_t poollen, poolcap;
	int32_t root; /* index of the top node */
};

/* ------------------------------------------------------------------ */
/* lexer                                                               */

enum tok_type {
	T_EOF,
	T_IDENT,
	T_STR,
	T_INT,
	T_THIS,
	T_DOT,
	T_LP,
	T_RP,
	T_COMMA,
	T_PIPE,
	T_EQ,
	T_NE,
	T_OTHER, /* anything this subset does not know */
};

struct tok {
	enum tok_type type;
	size_t pos; /* byte offset of the first byte */
	size_t len; /* source length */
};

struct parser {
	const char *src;
	size_t len, pos;
	struct tok tok; /* lookahead */
	struct fhirpath *fp;
	struct iza_error *err;
	int depth;
};

static bool is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static size_t col(size_t pos)
{
	return pos + 1;
}

/* "unexpected X at column N" for the current token. */
static int err_unexpected(struct parser *p)
{
	const struct tok *t = &p->tok;
	unsigned char c = (unsigned char)p->src[t->pos];
	int n = t->len > 40 ? 40 : (int)t->len;

	switch (t->type) {
	case T_EOF:
		return iza_error_set(
		    p->err, -IZA_EMAPPING, NULL, 0, NULL,
		    "unexpected end of expression at column %zu", col(t->pos));
	case T_STR:
		return iza_error_set(p->err, -IZA_EMAPPING, NULL, 0, NULL,
				     "unexpected string at column %zu",
				     col(t->pos));
	case T_OTHER:
		if (c < 0x20 || c >= 0x7f)
			return iza_error_set(
			    p->err, -IZA_EMAPPING, NULL, 0, NULL,
			    "unexpected byte 0x%02x at column %zu", c,
			    col(t->pos));
		break;
	default:
		break;
	}
	return iza_error_set(p->err, -IZA_EMAPPING, NULL, 0, NULL,
			     "unexpected '%.*s' at column %zu", n,
			     p->src + t->pos, col(t->pos));
}

/* Scan the string literal starting at pos (the quote); sets *end to the
 * offset after the closing quote.  Decoding happens in parse_string. */
static int scan_string(struct parser *p, size_t pos, size_t *end)
{
	size_t i = pos + 1;

	while (i < p->len && p->src[i] != '\'') {
		if (p->src[i] == '\\') {
			if (i + 1 >= p->len)
				break;
			i++;
		}
		i++;
	}
	if (i >= p->len)
		return iza_error_set(p->err, -IZA_EMAPPING, NULL, 0, NULL,
				     "unterminated string at column %zu",
				     col(pos));
	*end = i + 1;
	return 0;
}

/* Read the next token into p->tok. */
static int lex(struct parser *p)
{
	const char *s = p->src;
	size_t i = p->pos, start;
	int rc;

	while (i < p->len &&
	       (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	start = i;
	p->tok.pos = start;
	p->tok.len = 1;
	if (i >= p->len) {
		p->tok.type = T_EOF;
		p->tok.len = 0;
		p->pos = i;
		return 0;
	}
	switch (s[i]) {
	case '.':
		p->tok.type = T_DOT;
		break;
	case '(':
		p->tok.type = T_LP;
		break;
	case ')':
		p->tok.type = T_RP;
		break;
	case ',':
		p->tok.type = T_COMMA;
		break;
	case '|':
		p->tok.type = T_PIPE;
		break;
	case '=':
		p->tok.type = T_EQ;
		break;
	case '!':
		if (i + 1 < p->len && s[i + 1] == '=') {
			p->tok.type = T_NE;
			p->tok.len = 2;
		} else {
			p->tok.type = T_OTHER;
		}
		break;
	case '\'':
		rc = scan_string(p, i, &i);
		if (rc)
			return rc;
		p->tok.type = T_STR;
		p->tok.len = i - start;
		p->pos = i;
		return 0;
	case '$':
		i++;
		while (i < p->len && is_ident_char((unsigned char)s[i]))
			i++;
		p->tok.len = i - start;
		if (p->tok.len == 5 && memcmp(s + start, "$this", 5) == 0) {
			p->tok.type = T_THIS;
			p->pos = i;
			return 0;
		}
		return iza_error_set(
		    p->err, -IZA_EMAPPING, NULL, 0, NULL,
		    "unsupported variable '%.*s' at column %zu",
		    p->tok.len > 40 ? 40 : (int)p->tok.len, s + start,
		    col(start));
	default:
		if (is_digit((unsigned char)s[i])) {
			while (i < p->len && is_digit((unsigned char)s[i]))
				i++;
			p->tok.type = T_INT;
			p->tok.len = i - start;
			p->pos = i;
			return 0;
		}
		if (is_ident_start((unsigned char)s[i])) {
			while (i < p->len && is_ident_char((unsigned char)s[i]))
				i++;
			p->tok.type = T_IDENT;
			p->tok.len = i - start;
			p->pos = i;
			return 0;
		}
		p->tok.type = T_OTHER;
		break;
	}
	p->pos = start + p->tok.len;
	return 0;
}

static bool tok_is(const struct parser *p, const char *word)
{
	size_t n = strlen(word);

	return p->tok.type == T_IDENT && p->tok.len == n &&
	       memcmp(p->src + p->tok.pos, word, n) == 0;
}

/* ------------------------------------------------------------------ */
/* AST building                                                        */

static int new_node(struct parser *p, enum fp_op op, int32_t a, int32_t b,
		    int32_t *out)
{
	struct fhirpath *fp = p->fp;
	struct fp_node *n;

	if (fp->nnodes == fp->cap) {
		size_t cap = fp->cap ? fp->cap * 2 : 16;
		struct fp_node *nn = realloc(fp->nodes, cap * sizeof(*nn));

		if (!nn)
			return -IZA_ENOMEM;
		fp->nodes = nn;
		fp->cap = cap;
	}
	n = &fp->nodes[fp->nnodes];
	memset(n, 0, sizeof(*n));
	n->op = (uint8_t)op;
	n->a = a;
	n->b = b;
	*out = (int32_t)fp->nnodes++;
	return 0;
}

/* Room for len bytes plus a NUL in the pool, sized up front (see compile),
 * so pointers into it stay valid. Returns the write position. */
static char *pool_take(struct fhirpath *fp, size_t len)
{
	char *dst;

	if (fp->poollen + len + 1 > fp->poolcap)
		return NULL; /* cannot happen: pool sized to 2 * input */
	dst = fp->pool + fp->poollen;
	dst[len] = '\0';
	fp->poollen += len + 1;
	return dst;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_hex4(const struct parser *p, size_t i, uint32_t *out)
{
	uint32_t v = 0;
	int k, h;

	if (i + 4 > p->len)
		return -1;
	for (k = 0; k < 4; k++) {
		h = hexval(p->src[i + k]);
		if (h < 0)
			return -1;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | cp >> 6);
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | cp >> 12);
		d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | cp >> 18);
	d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode the current T_STR token into the pool; sets *s, *n to the decoded
 * text. */
static int decode_string(struct parser *p, const char **s, uint32_t *n)
{
	size_t i = p->tok.pos + 1, end = p->tok.pos + p->tok.len - 1, k = 0;
	char *d = p->fp->pool + p->fp->poollen;
	uint32_t cp, lo;
	size_t esc = i;

	/* Decoded text is never longer than the source. */
	while (i < end) {
		char c = p->src[i];

		if (c != '\\') {
			d[k++] = c;
			i++;
			continue;
		}
		esc = i;
		c = p->src[i + 1];
		switch (c) {
		case '\'':
		case '"':
		case '`':
		case '\\':
		case '/':
			d[k++] = c;
			break;
		case 'n':
			d[k++] = '\n';
			break;
		case 't':
			d[k++] = '\t';
			break;
		case 'r':
			d[k++] = '\r';
			break;
		case 'f':
			d[k++] = '\f';
			break;
		case 'u':
			if (read_hex4(p, i + 2, &cp) || i + 6 > end)
				goto bad_u;
			i += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad_u;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 8 > end || p->src[i + 2] != '\\' ||
				    p->src[i + 3] != 'u' ||
				    read_hex4(p, i + 4, &lo) || lo < 0xdc00 ||
				    lo > 0xdfff)
					goto bad_u;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				i += 6;
			}
			if (cp == 0)
				goto bad_u;
			k += put_utf8(d + k, cp);
			break;
		default:
			return iza_error_set(
			    p->err, -IZA_EMAPPING, NULL, 0, NULL,
			    "invalid escape in string at column %zu", col(i));
		}
		i += 2;
	}
	if (!pool_take(p->fp, k))
		return -IZA_ENOMEM;
	*s = d;
	*n = (uint32_t)k;
	return 0;
bad_u:
	return iza_error_set(p->err, -IZA_EMAPPING, NULL, 0, NULL,
			     "invalid \\u escape in string at column %zu",
			     col(esc));
}

static int parse_expr(struct parser *p, int level, int32_t *out);

/* One nesting level deeper, at the '(' at byte offset pos. */
static int enter(struct parser *p, size_t pos)
{
	if (++p->depth > FHIRPATH_MAX_DEPTH)
		return iza_error_set(
		    p->err, -IZA_EMAPPING, NULL, 0, NULL,
		    "expression nests deeper than %d at column %zu",
		    FHIRPATH_MAX_DEPTH, col(pos));
	return 0;
}

static int expect(struct parser *p, enum tok_type type)
{
	if (p->tok.type != type)
		return err_unexpected(p);
	return lex(p);
}

/* Current token is a function name followed by '('; focus is the node it
 * applies to (-1 = $this). */
static int parse_call(struct parser *p, int32_t focus, int32_t *out)
{
	size_t name_pos = p->tok.pos, name_len = p->tok.len, i;
	int32_t arg = -1, id;
	int nargs = 0, rc, fi = -1;
	const char *url = NULL;
	uint32_t urllen = 0;

	for (i = 0; i < sizeof(fp_functions) / sizeof(fp_functions[0]); i++) {
		if (strlen(fp_functions[i].name) == name_len &&
		    memcmp(fp_functions[i].name, p->src + name_pos, name_len) ==
			0) {
			fi = (int)i;
			break;
		}
	}
	if (fi < 0)
		return iza_error_set(p->err, -IZA_EMAPPING, NULL, 0, NULL,
				     "unknown function '%.*s' at column %zu",
				     name_len > 40 ? 40 : (int)name_len,
				     p->src + name_pos, col(name_pos));
	rc = lex(p); /* name */
	if (!rc)
		rc = enter(p, p->tok.pos);
	if (!rc)
		rc = lex(p); /* '(' */
	if (rc)
		return rc;
	while (p->tok.type != T_RP) {
		if (nargs > 0) {
			rc = expect(p, T_COMMA);
			if (rc)
				return rc;
		}
		if (p->tok.type == T_RP)
			return err_unexpected(p); /* "f(a,)" */
		if (nargs >= fp_functions[fi].max_args)
			return iza_error_set(
			    p->err, -IZA_EMAPPING, NULL, 0, NULL,
			    "function '%s' takes %d argument%s at column %zu",
			    fp_functions[fi].name, fp_functions[fi].max_args,
			    fp_functions[fi].max_args == 1 ? "" : "s",
			    col(p->tok.pos));
		if (fp_functions[fi].fn == FN_EXTENSION) {
			if (p->tok.type != T_STR)
				return iza_error_set(
				    p->err, -IZA_EMAPPING, NULL, 0, NULL,
				    "extension() needs a string literal at "
				    "column %zu",
				    col(p->tok.pos));
			rc = decode_string(p, &url, &urllen);
			if (!rc)
				rc = lex(p);
		} else {
			rc = parse_expr(p, 0, &arg);
		}
		if (rc)
			return rc;
		nargs++;
	}
	if (nargs < fp_functions[fi].min_args)
		return iza_error_set(
		    p->err, -IZA_EMAPPING, NULL, 0, NULL,
		    "function '%s' needs %d argument%s at column %zu",
		    fp_functions[fi].name, fp_functions[fi].min_args,
		    fp_functions[fi].min_args == 1 ? "" : "s", col(p->tok.pos));
	p->depth--;
	rc = lex(p); /* ')' */
	if (rc)
		return rc;
	rc = new_node(p, OP_FUNC, focus, arg, &id);
	if (rc)
		return rc;
	p->fp->nodes[id].fn = (uint8_t)fp_functions[fi].fn;
	p->fp->nodes[id].name = url;
	p->fp->nodes[id].namelen = urllen;
	*out = id;
	return 0;
}

/* Current token is an identifier: a member name or a function call. */
static int parse_step(struct parser *p, int32_t focus, int32_t *out)
{
	size_t save_pos = p->pos;
	struct tok save = p->tok;
	struct fp_node *n;
	char *name;
	int rc;

	if (p->src[p->tok.pos] == '_')
		return iza_error_set(
		    p->err, -IZA_EMAPPING, NULL, 0, NULL,
		    "names starting with '_' are not supported at column %zu",
		    col(p->tok.pos));
	rc = lex(p);
	if (rc)
		return rc;
	if (p->tok.type == T_LP) {
		p->pos = save_pos;
		p->tok = save;
		return parse_call(p, focus, out);
	}
	rc = new_node(p, OP_MEMBER, focus, -1, out);
	if (rc)
		return rc;
	name = pool_take(p->fp, save.len);
	if (!name)
		return -IZA_ENOMEM;
	memcpy(name, p->src + save.pos, save.len);
	n = &p->fp->nodes[*out];
	n->name = name;
	n->namelen = (uint32_t)save.len;
	n->leading = focus < 0;
	return 0;
}

static int parse_term(struct parser *p, int32_t *out)
{
	struct fp_node *n;
	const char *s;
	uint32_t len;
	char *digits;
	int rc;

	switch (p->tok.type) {
	case T_LP:
		rc = enter(p, p->tok.pos);
		if (!rc)
			rc = lex(p);
		if (!rc)
			rc = parse_expr(p, 0, out);
		if (!rc)
			rc = expect(p, T_RP);
		p->depth--;
		return rc;
	case T_STR:
		rc = decode_string(p, &s, &len);
		if (!rc)
			rc = new_node(p, OP_LIT, -1, -1, out);
		if (rc)
			return rc;
		n = &p->fp->nodes[*out];
		n->lit.type = JT_STRING;
		n->lit.u.s = s;
		n->lit.len = len;
		return lex(p);
	case T_INT:
		if (p->tok.len > 18)
			return iza_error_set(
			    p->err, -IZA_EMAPPING, NULL, 0, NULL,
			    "integer literal too long at column %zu",
			    col(p->tok.pos));
		if (p->tok.len > 1 && p->src[p->tok.pos] == '0')
			return iza_error_set(
			    p->err, -IZA_EMAPPING, NULL, 0, NULL,
			    "integer literal with leading zero at column %zu",
			    col(p->tok.pos));
		if (p->pos + 1 < p->len && p->src[p->pos] == '.' &&
		    is_digit((unsigned char)p->src[p->pos + 1]))
			return iza_error_set(
			    p->err, -IZA_EMAPPING, NULL, 0, NULL,
			    "decimal literals are not supported at column %zu",
			    col(p->tok.pos));
		rc = new_node(p, OP_LIT, -1, -1, out);
		if (rc)
			return rc;
		digits = pool_take(p->fp, p->tok.len);
		if (!digits)
			return -IZA_ENOMEM;
		memcpy(digits, p->src + p->tok.pos, p->tok.len);
		n = &p->fp->nodes[*out];
		n->lit.type = JT_NUMBER;
		n->lit.u.s = digits;
		n->lit.len = (uint32_t)p->tok.len;
		return lex(p);
	case T_THIS:
		rc = new_node(p, OP_THIS, -1, -1, out);
		return rc ? rc : lex(p);
	case T_IDENT:
		if (tok_is(p, "true") || tok_is(p, "false")) {
			rc = new_node(p, tok_is(p, "true") ? OP_TRUE : OP_FALSE,
				      -1, -1, out);
			return rc ? rc : lex(p);
		}
		if (tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "in"))
			return err_unexpected(p);
		return parse_step(p, -1, out);
	default:
		return err_unexpected(p);
	}
}

/* term ('.' step)* */
static int parse_postfix(struct parser *p, int32_t *out)
{
	int32_t cur;
	int rc = parse_term(p, &cur);

	while (!rc && p->tok.type == T_DOT) {
		rc = lex(p);
		if (rc)
			break;
		if (p->tok.type != T_IDENT) {
			rc = iza_error_set(
			    p->err, -IZA_EMAPPING, NULL, 0, NULL,
			    "expected a name after '.' at column %zu",
			    col(p->tok.pos));
			break;
		}
		rc = parse_step(p, cur, &cur);
	}
	if (!rc)
		*out = cur;
	return rc;
}

/* Binary operator levels, loosest first (FHIRPath precedence). */
enum { LVL_OR, LVL_AND, LVL_IN, LVL_EQ, LVL_UNION, LVL_POSTFIX };

static int binary_op(const struct parser *p, int level)
{
	switch (level) {
	case LVL_OR:
		return tok_is(p, "or") ? OP_OR : -1;
	case LVL_AND:
		return tok_is(p, "and") ? OP_AND : -1;
	case LVL_IN:
		return tok_is(p, "in") ? OP_IN : -1;
	case LVL_EQ:
		if (p->tok.type == T_EQ)
			return OP_EQ;
		return p->tok.type == T_NE ? OP_NE : -1;
	case LVL_UNION:
		return p->tok.type == T_PIPE ? OP_UNION : -1;
	default:
		return -1;
	}
}

static int parse_expr(struct parser *p, int level, int32_t *out)
{
	int32_t lhs, rhs;
	int op, rc;

	if (level == LVL_POSTFIX)
		return parse_postfix(p, out);
	rc = parse_expr(p, level + 1, &lhs);
	while (!rc && (op = binary_op(p, level)) >= 0) {
		rc = lex(p);
		if (!rc)
			rc = parse_expr(p, level + 1, &rhs);
		if (!rc)
			rc = new_node(p, (enum fp_op)op, lhs, rhs, &lhs);
	}
	if (!rc)
		*out = lhs;
	return rc;
}

int fhirpath_compile(const char *expr, struct fhirpath **out,
		     struct iza_error *err)
{
	struct parser p = {0};
	struct fhirpath *fp = NULL;
	size_t len;
	int rc;

	if (!expr || !out)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, NULL,
				     "no expression");
	len = strnlen(expr, FHIRPATH_MAX_LEN + 1);
	if (len > FHIRPATH_MAX_LEN)
		return iza_error_set(err, -IZA_EMAPPING, NULL, 0, NULL,
				     "expression longer than %d bytes",
				     FHIRPATH_MAX_LEN);
	fp = calloc(1, sizeof(*fp));
	if (!fp)
		return -IZA_ENOMEM;
	/* Every name or literal is at most as long as its source plus a NUL,
	 * and tokens are separated, so 2 * len + 2 bytes always suffice. */
	fp->poolcap = 2 * len + 2;
	fp->pool = malloc(fp->poolcap);
	if (!fp->pool) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	p.src = expr;
	p.len = len;
	p.fp = fp;
	p.err = err;
	rc = lex(&p);
	if (rc)
		goto out;
	if (p.tok.type == T_EOF) {
		rc = iza_error_set(err, -IZA_EMAPPING, NULL, 0, NULL,
				   "empty expression");
		goto out;
	}
	rc = parse_expr(&p, LVL_OR, &fp->root);
	if (rc)
		goto out;
	if (p.tok.type != T_EOF) {
		rc = err_unexpected(&p);
		goto out;
	}
	*out = fp;
	fp = NULL;
out:
	if (rc == -IZA_ENOMEM)
		iza_error_set(err, rc, NULL, 0, NULL,
			      "out of memory compiling expression");
	fhirpath_free(fp);
	return rc;
}

void fhirpath_free(struct fhirpath *fp)
{
	if (!fp)
		return;
	free(fp->nodes);
	free(fp->pool);
	free(fp);
}

/* ------------------------------------------------------------------ */
/* evaluation scratch                                                  */

static const struct jval fp_true = {.type = JT_TRUE};
static const struct jval fp_false = {.type = JT_FALSE};

#define NUM_CHUNK 64
#define NUM_TEXT  24

/* Numbers computed by count(); chunks are kept and reused across calls. */
struct num_chunk {
	struct num_chunk *next;
	struct jval v[NUM_CHUNK];
	char text[NUM_CHUNK][NUM_TEXT];
};

struct fp_scratch {
	const struct jval **st; /* value stack */
	size_t n, cap;
	size_t *hash; /* union dedup table: stack index + 1, 0 = free */
	size_t hashcap;
	struct num_chunk *chunks, *cur; /* number pool */
	size_t cur_used, nchunks;
};

struct ev {
	struct fp_scratch *sc;
	const struct fhirpath *fp;
};

static void scratch_free(struct fp_scratch *sc)
{
	struct num_chunk *c, *next;

	if (!sc)
		return;
	for (c = sc->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(sc->st);
	free(sc->hash);
	free(sc);
}

void fp_collection_init(struct fp_collection *c)
{
	memset(c, 0, sizeof(*c));
}

void fp_collection_release(struct fp_collection *c)
{
	if (!c)
		return;
	free(c->items);
	scratch_free(c->scratch);
	memset(c, 0, sizeof(*c));
}

static int push(struct ev *e, const struct jval *v)
{
	struct fp_scratch *sc = e->sc;

	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		const struct jval **st;

		if (sc->cap >= FHIRPATH_MAX_ITEMS)
			return -IZA_ETOOBIG;
		if (cap > FHIRPATH_MAX_ITEMS)
			cap = FHIRPATH_MAX_ITEMS;
		st = realloc(sc->st, cap * sizeof(*st));
		if (!st)
			return -IZA_ENOMEM;
		sc->st = st;
		sc->cap = cap;
	}
	sc->st[sc->n++] = v;
	return 0;
}

/* Move stack[from..n) down to stack[to..) and drop what was in between. */
static void collapse(struct ev *e, size_t to, size_t from)
{
	struct fp_scratch *sc = e->sc;
	size_t k = sc->n - from;

	if (to != from && k)
		memmove(sc->st + to, sc->st + from, k * sizeof(*sc->st));
	sc->n = to + k;
}

/* Replace stack[start..n) with one boolean. */
static int put_bool(struct ev *e, size_t start, bool b)
{
	e->sc->n = start;
	return push(e, b ? &fp_true : &fp_false);
}

static int put_number(struct ev *e, size_t start, size_t value)
{
	struct fp_scratch *sc = e->sc;
	struct jval *v;
	char tmp[NUM_TEXT], *t;
	size_t k = 0, i;

	if (!sc->cur || sc->cur_used == NUM_CHUNK) {
		struct num_chunk *next = sc->cur ? sc->cur->next : sc->chunks;

		if (!next) {
			if (sc->nchunks >= FHIRPATH_MAX_ITEMS / NUM_CHUNK)
				return -IZA_ETOOBIG;
			next = calloc(1, sizeof(*next));
			if (!next)
				return -IZA_ENOMEM;
			if (sc->cur)
				sc->cur->next = next;
			else
				sc->chunks = next;
			sc->nchunks++;
		}
		sc->cur = next;
		sc->cur_used = 0;
	}
	v = &sc->cur->v[sc->cur_used];
	t = sc->cur->text[sc->cur_used];
	sc->cur_used++;
	do {
		tmp[k++] = (char)('0' + value % 10);
		value /= 10;
	} while (value && k < NUM_TEXT - 1);
	for (i = 0; i < k; i++)
		t[i] = tmp[k - 1 - i];
	t[k] = '\0';
	memset(v, 0, sizeof(*v));
	v->type = JT_NUMBER;
	v->len = (uint32_t)k;
	v->u.s = t;
	e->sc->n = start;
	return push(e, v);
}

/* ------------------------------------------------------------------ */
/* values                                                              */

/* A JSON number in canonical parts: value = 0.D * 10^exp, D the significant
 * digits (no leading/trailing zeros) read from text skipping the '.'. */
struct dnum {
	bool neg, zero;
	const char *m;	    /* mantissa text (digits and at most one '.') */
	size_t mlen, ip;    /* ip: digits before the '.' */
	size_t first, ndig; /* digit index of first significant, count */
	long long exp;
};

static char dnum_digit(const struct dnum *d, size_t k)
{
	size_t off = k < d->ip ? k : k + 1;

	return off < d->mlen ? d->m[off] : '0';
}

static void dnum_parse(const char *s, size_t len, struct dnum *d)
{
	size_t i = 0, ndigits = 0, k, last = 0;
	long long e = 0;
	bool eneg = false, seen = false, dot = false;

	memset(d, 0, sizeof(*d));
	if (i < len && s[i] == '-') {
		d->neg = true;
		i++;
	}
	d->m = s + i;
	while (i < len &&
	       (is_digit((unsigned char)s[i]) || (s[i] == '.' && !dot))) {
		if (s[i] == '.') {
			dot = true;
			d->ip = ndigits;
		} else {
			ndigits++;
		}
		i++;
	}
	if (!dot)
		d->ip = ndigits;
	d->mlen = (size_t)(s + i - d->m);
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		while (i < len && is_digit((unsigned char)s[i])) {
			if (e < 1000000000000LL)
				e = e * 10 + (s[i] - '0');
			i++;
		}
	}
	for (k = 0; k < ndigits; k++) {
		if (dnum_digit(d, k) != '0') {
			if (!seen)
				d->first = k;
			seen = true;
			last = k;
		}
	}
	if (!seen) {
		d->zero = true;
		d->neg = false;
		return;
	}
	d->ndig = last - d->first + 1;
	d->exp = (long long)d->ip - (long long)d->first + (eneg ? -e : e);
}

static bool num_equal(const struct jval *a, const struct jval *b)
{
	struct dnum x, y;
	size_t k;

	dnum_parse(a->u.s, a->len, &x);
	dnum_parse(b->u.s, b->len, &y);
	if (x.zero || y.zero)
		return x.zero && y.zero;
	if (x.neg != y.neg || x.exp != y.exp || x.ndig != y.ndig)
		return false;
	for (k = 0; k < x.ndig; k++)
		if (dnum_digit(&x, x.first + k) != dnum_digit(&y, y.first + k))
			return false;
	return true;
}

/* FHIRPath equality of two items: primitives by value, complex elements
 * only when they are the same element (see docs/fhirpath-subset.md). */
static bool item_equal(const struct jval *a, const struct jval *b)
{
	if (a == b)
		return true;
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case JT_TRUE:
	case JT_FALSE:
	case JT_NULL:
		return true;
	case JT_STRING:
		return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
	case JT_NUMBER:
		return num_equal(a, b);
	default:
		return false;
	}
}

static uint64_t fnv(uint64_t h, unsigned char c)
{
	return (h ^ c) * 1099511628211ULL;
}

static uint64_t item_hash(const struct jval *v)
{
	uint64_t h = 1469598103934665603ULL;
	struct dnum d;
	size_t k;
	uintptr_t p;

	h = fnv(h, (unsigned char)v->type);
	switch (v->type) {
	case JT_STRING:
		for (k = 0; k < v->len; k++)
			h = fnv(h, (unsigned char)v->u.s[k]);
		break;
	case JT_NUMBER:
		dnum_parse(v->u.s, v->len, &d);
		if (d.zero)
			break;
		h = fnv(h, d.neg);
		for (k = 0; k < sizeof(d.exp); k++)
			h = fnv(h, (unsigned char)((uint64_t)d.exp >> (8 * k)));
		for (k = 0; k < d.ndig; k++)
			h = fnv(h, (unsigned char)dnum_digit(&d, d.first + k));
		break;
	case JT_ARRAY:
	case JT_OBJECT:
		p = (uintptr_t)v;
		for (k = 0; k < sizeof(p); k++)
			h = fnv(h, (unsigned char)(p >> (8 * k)));
		break;
	default:
		break;
	}
	return h;
}

/* Remove later duplicates from stack[start..n), keeping order. */
static int dedup(struct ev *e, size_t start)
{
	struct fp_scratch *sc = e->sc;
	size_t count = sc->n - start, need = 16, i, w = start, mask, slot;

	if (count < 2)
		return 0;
	while (need < 2 * count)
		need *= 2;
	if (need > sc->hashcap) {
		size_t *h = realloc(sc->hash, need * sizeof(*h));

		if (!h)
			return -IZA_ENOMEM;
		sc->hash = h;
		sc->hashcap = need;
	}
	memset(sc->hash, 0, need * sizeof(*sc->hash));
	mask = need - 1;
	for (i = start; i < sc->n; i++) {
		const struct jval *v = sc->st[i];
		bool dup = false;

		slot = (size_t)item_hash(v) & mask;
		while (sc->hash[slot]) {
			if (item_equal(sc->st[sc->hash[slot] - 1], v)) {
				dup = true;
				break;
			}
			slot = (slot + 1) & mask;
		}
		if (dup)
			continue;
		sc->st[w] = v;
		sc->hash[slot] = w + 1;
		w++;
	}
	sc->n = w;
	return 0;
}

enum tri { T3_FALSE, T3_TRUE, T3_EMPTY };

/* Singleton evaluation of collection stack[start..n) as a boolean. */
static enum tri to_tri(const struct ev *e, size_t start)
{
	const struct fp_scratch *sc = e->sc;
	size_t i;

	if (sc->n == start)
		return T3_EMPTY;
	if (sc->n - start == 1) {
		if (sc->st[start]->type == JT_TRUE)
			return T3_TRUE;
		if (sc->st[start]->type == JT_FALSE)
			return T3_FALSE;
		return T3_TRUE;
	}
	for (i = start; i < sc->n; i++)
		if (sc->st[i]->type == JT_TRUE || sc->st[i]->type == JT_FALSE)
			return T3_EMPTY;
	return T3_TRUE;
}

static int put_tri(struct ev *e, size_t start, enum tri t)
{
	e->sc->n = start;
	if (t == T3_EMPTY)
		return 0;
	return push(e, t == T3_TRUE ? &fp_true : &fp_false);
}

/* Append v, flattening an array (nulls and nested arrays are skipped). */
static int push_flat(struct ev *e, const struct jval *v)
{
	uint32_t i;
	int rc;

	if (!v || v->type == JT_NULL)
		return 0;
	if (v->type != JT_ARRAY)
		return push(e, v);
	for (i = 0; i < v->len; i++) {
		const struct jval *k = &v->u.kids[i];

		if (k->type == JT_NULL || k->type == JT_ARRAY)
			continue;
		rc = push(e, k);
		if (rc)
			return rc;
	}
	return 0;
}

static const struct jval *member(const struct jval *obj, const char *name,
				 uint32_t len)
{
	uint32_t i;

	if (obj->type != JT_OBJECT)
		return NULL;
	for (i = 0; i < obj->len; i++) {
		const struct jval *k = &obj->u.kids[i];

		if (k->keylen == len && memcmp(k->key, name, len) == 0)
			return k;
	}
	return NULL;
}

static bool str_is(const struct jval *v, const char *s, uint32_t len)
{
	return v && v->type == JT_STRING && v->len == len &&
	       memcmp(v->u.s, s, len) == 0;
}

static int ev_node(struct ev *e, int32_t idx, const struct jval *thisv);

/* Evaluate node a as the focus of a step: $this when a < 0. */
static int ev_focus(struct ev *e, int32_t a, const struct jval *thisv)
{
	if (a >= 0)
		return ev_node(e, a, thisv);
	return thisv ? push(e, thisv) : 0;
}

static int ev_member(struct ev *e, const struct fp_node *n,
		     const struct jval *thisv, size_t start)
{
	size_t mid, i;
	int rc = ev_focus(e, n->a, thisv);

	if (rc)
		return rc;
	mid = e->sc->n;
	for (i = start; i < mid; i++) {
		const struct jval *it = e->sc->st[i];

		if (n->leading && n->name[0] >= 'A' && n->name[0] <= 'Z' &&
		    str_is(member(it, "resourceType", 12), n->name,
			   n->namelen)) {
			rc = push(e, it);
		} else {
			rc = push_flat(e, member(it, n->name, n->namelen));
		}
		if (rc)
			return rc;
	}
	collapse(e, start, mid);
	return 0;
}

static int ev_func(struct ev *e, const struct fp_node *n,
		   const struct jval *thisv, size_t start)
{
	struct fp_scratch *sc = e->sc;
	size_t mid, i, c;
	enum tri t;
	int rc = ev_focus(e, n->a, thisv);

	if (rc)
		return rc;
	mid = sc->n;
	switch (n->fn) {
	case FN_WHERE:
	case FN_EXISTS:
		if (n->fn == FN_EXISTS && n->b < 0)
			return put_bool(e, start, mid > start);
		for (i = start; i < mid; i++) {
			c = sc->n;
			rc = ev_node(e, n->b, sc->st[i]);
			if (rc)
				return rc;
			t = to_tri(e, c);
			sc->n = c;
			if (t != T3_TRUE)
				continue;
			if (n->fn == FN_EXISTS)
				return put_bool(e, start, true);
			rc = push(e, sc->st[i]);
			if (rc)
				return rc;
		}
		if (n->fn == FN_EXISTS)
			return put_bool(e, start, false);
		collapse(e, start, mid);
		return 0;
	case FN_EMPTY:
		return put_bool(e, start, mid == start);
	case FN_FIRST:
		if (mid > start)
			sc->n = start + 1;
		return 0;
	case FN_LAST:
		if (mid > start) {
			sc->st[start] = sc->st[mid - 1];
			sc->n = start + 1;
		}
		return 0;
	case FN_COUNT:
		return put_number(e, start, mid - start);
	case FN_NOT:
		t = to_tri(e, start);
		if (t != T3_EMPTY)
			t = t == T3_TRUE ? T3_FALSE : T3_TRUE;
		return put_tri(e, start, t);
	case FN_EXTENSION:
		for (i = start; i < mid; i++) {
			const struct jval *ext =
			    member(sc->st[i], "extension", 9);
			uint32_t k;

			if (!ext)
				continue;
			if (ext->type == JT_OBJECT) {
				if (str_is(member(ext, "url", 3), n->name,
					   n->namelen)) {
					rc = push(e, ext);
					if (rc)
						return rc;
				}
				continue;
			}
			if (ext->type != JT_ARRAY)
				continue;
			for (k = 0; k < ext->len; k++) {
				const struct jval *x = &ext->u.kids[k];

				if (!str_is(member(x, "url", 3), n->name,
					    n->namelen))
					continue;
				rc = push(e, x);
				if (rc)
					return rc;
			}
		}
		collapse(e, start, mid);
		return 0;
	default:
		return -IZA_EUSAGE;
	}
}

static int ev_binary(struct ev *e, const struct fp_node *n,
		     const struct jval *thisv, size_t start)
{
	struct fp_scratch *sc = e->sc;
	size_t mid, i, nl, nr;
	enum tri l, r;
	bool eq;
	int rc = ev_node(e, n->a, thisv);

	if (rc)
		return rc;
	mid = sc->n;
	if (n->op == OP_AND || n->op == OP_OR) {
		l = to_tri(e, start);
		/* false and X = false; true or X = true, whatever X is */
		if (n->op == OP_AND && l == T3_FALSE)
			return put_tri(e, start, T3_FALSE);
		if (n->op == OP_OR && l == T3_TRUE)
			return put_tri(e, start, T3_TRUE);
		sc->n = start;
		rc = ev_node(e, n->b, thisv);
		if (rc)
			return rc;
		r = to_tri(e, start);
		if (n->op == OP_AND) {
			if (r == T3_FALSE)
				return put_tri(e, start, T3_FALSE);
			return put_tri(e, start,
				       l == T3_TRUE && r == T3_TRUE ? T3_TRUE
								    : T3_EMPTY);
		}
		if (r == T3_TRUE)
			return put_tri(e, start, T3_TRUE);
		return put_tri(e, start,
			       l == T3_FALSE && r == T3_FALSE ? T3_FALSE
							      : T3_EMPTY);
	}
	rc = ev_node(e, n->b, thisv);
	if (rc)
		return rc;
	nl = mid - start;
	nr = sc->n - mid;
	switch (n->op) {
	case OP_UNION:
		return dedup(e, start);
	case OP_EQ:
	case OP_NE:
		if (nl == 0 || nr == 0)
			return put_tri(e, start, T3_EMPTY);
		eq = nl == nr;
		for (i = 0; eq && i < nl; i++)
			eq = item_equal(sc->st[start + i], sc->st[mid + i]);
		return put_bool(e, start, n->op == OP_EQ ? eq : !eq);
	case OP_IN:
		if (nl != 1)
			return put_tri(e, start, T3_EMPTY);
		eq = false;
		for (i = mid; !eq && i < sc->n; i++)
			eq = item_equal(sc->st[start], sc->st[i]);
		return put_bool(e, start, eq);
	default:
		return -IZA_EUSAGE;
	}
}

/* Append node idx's result, evaluated with context item thisv, to the
 * stack.  Recursion depth is bounded by the AST height, itself bounded by
 * FHIRPATH_MAX_LEN. */
static int ev_node(struct ev *e, int32_t idx, const struct jval *thisv)
{
	const struct fp_node *n = &e->fp->nodes[idx];
	size_t start = e->sc->n;

	switch (n->op) {
	case OP_THIS:
		return thisv ? push(e, thisv) : 0;
	case OP_LIT:
		return push(e, &n->lit);
	case OP_TRUE:
		return push(e, &fp_true);
	case OP_FALSE:
		return push(e, &fp_false);
	case OP_MEMBER:
		return ev_member(e, n, thisv, start);
	case OP_FUNC:
		return ev_func(e, n, thisv, start);
	default:
		return ev_binary(e, n, thisv, start);
	}
}

int fhirpath_eval(const struct fhirpath *fp, const struct jval *root,
		  struct fp_collection *out)
{
	struct fp_scratch *sc;
	struct ev e;
	int rc;

	if (!fp || !out)
		return -IZA_EUSAGE;
	if (!out->scratch) {
		out->scratch = calloc(1, sizeof(struct fp_scratch));
		if (!out->scratch)
			return -IZA_ENOMEM;
	}
	sc = out->scratch;
	sc->n = 0;
	sc->cur = NULL;
	sc->cur_used = 0;
	e.sc = sc;
	e.fp = fp;
	out->n = 0;
	rc = ev_node(&e, fp->root, root);
	if (rc)
		goto out;
	if (sc->n > out->cap) {
		const struct jval **items =
		    realloc(out->items, sc->n * sizeof(*items));

		if (!items) {
			rc = -IZA_ENOMEM;
			goto out;
		}
		out->items = items;
		out->cap = sc->n;
	}
	if (sc->n)
		memcpy(out->items, sc->st, sc->n * sizeof(*out->items));
	out->n = sc->n;
out:
	sc->n = 0;
	return rc;
}

int fhirpath_eval_bool(const struct fhirpath *fp, const struct jval *root,
		       struct fp_collection *scratch, bool *result)
{
	size_t i;
	bool b;
	int rc = fhirpath_eval(fp, root, scratch);

	if (rc)
		return rc;
	if (scratch->n == 1 && scratch->items[0]->type == JT_TRUE) {
		b = true;
	} else {
		b = scratch->n > 0;
		for (i = 0; i < scratch->n; i++)
			if (scratch->items[i]->type == JT_TRUE ||
			    scratch->items[i]->type == JT_FALSE)
				b = false;
	}
	*result = b;
	return 0;
}
