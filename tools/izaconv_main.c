/*
 * izaconv - rewrites one source's FHIR R4 NDJSON export (Patient and
 * Encounter files, e.g. izagen's) as the same encounters in the other input
 * formats the gateway reads: HL7 v2 ADT in the XML encoding and as ER7 text,
 * and CDA R2 documents.  It also writes the FHIR records it converted, so
 * that the four outputs say exactly the same thing and `izagw ingest` of any
 * of them must give the same event store and the same KPIs (the test
 * tests/e2e/formats_identical.sh checks that).
 *
 * Only what all three formats can carry is converted; the rest is skipped
 * and counted by reason (docs/demo-data.md, "izaconv"):
 *   - status finished only (CDA R2 has no encounter status);
 *   - class EMER, IMP, ACUTE, NONAC, AMB or their zib ContactType codes
 *     (HL7 v2 PV1-2 has no day-admission, virtual or home class);
 *   - no classHistory (an ER visit that became an admission is one visit in
 *     v2 whose class changes), no channel code in Encounter.type;
 *   - a Patient that is in the Patient file and not inactive.
 * What the formats carry differently is made equal in the FHIR output:
 * meta.versionId is dropped (v2 and CDA order records by time only), a
 * missing serviceProvider becomes the sending source's AGB code (v2 MSH-4
 * always names it), and a Patient's meta.lastUpdated becomes the time of
 * the last message that carries it (every v2 message and CDA document
 * carries the patient as of its own time).
 *
 * HL7 v2: per converted Encounter line an A03 (discharge / end of visit)
 * with MSH-7 = meta.lastUpdated; before the first version of a visit also
 * the A01 (inpatient) or A04 (ER, outpatient) that opened it, with MSH-7 =
 * the start time and no end, which the A03 then corrects.  The ER7 file has
 * the quirks real feeds have, deterministically by message number: CR, LF
 * and CRLF segment ends mixed, Z-segments, non-default separators, MSH-18
 * character sets (ISO 8859-1 bytes under 8859/1), MLLP framing, FHS/BHS
 * batch segments, and with --truncate-last a cut-off last message (which
 * the gateway quarantines).  The XML file alternates the v2.5 shapes
 * (<PV1.2>E</PV1.2>, TS.1 components) and the v2.7 ones (CWE, DTM).
 *
 * Nothing here describes a real person (the input is synthetic); the only
 * names written are the fixed test name "Testpatiënt, Synthetisch".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "input.h"
#include "iza_error.h"
#include "mapping.h"
#include "period.h"

#define LINE_CAP     (16u << 20)
#define PATH_CAP     4096
#define VALUE_CAP    256 /* longest id, code or postcode converted */
#define OUT_BUF_SIZE (1u << 20)

static const char BSN_SYSTEM[] = "http://fhir.nl/fhir/NamingSystem/bsn";
static const char BSN_OID_URN[] = "urn:oid:2.16.840.1.113883.2.4.6.3";
static const char BSN_OID[] = "2.16.840.1.113883.2.4.6.3";
static const char AGB_SYSTEM[] = "http://fhir.nl/fhir/NamingSystem/agb-z";
static const char AGB_OID[] = "2.16.840.1.113883.2.4.6.1";
static const char ACTCODE_OID[] = "2.16.840.1.113883.5.4";
static const char ZIB_CONTACT_OID[] = "2.16.840.1.113883.2.4.3.11.60.40.4.14.1";
/* 2.999 is the ISO/ITU-T arc for examples: the local id namespaces of a
 * synthetic source (patients .1, documents .2, encounters .3). */
static const char EXAMPLE_ARC[] = "2.999";
/* The fixed test name, UTF-8 and ISO 8859-1. */
static const char FAMILY_UTF8[] = "Testpati\xc3\xabnt";
static const char FAMILY_LATIN1[] = "Testpati\xebnt";
static const char GIVEN[] = "Synthetisch";

/* ---------------------------------------------------------------- buffers */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_reserve(struct sbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		fputs("izaconv: out of memory\n", stderr);
		exit(1);
	}
	b->p = p;
	b->cap = cap;
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_reserve(b, 1);
	b->p[b->len++] = c;
}

static void sb_putl(struct sbuf *b, long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%ld", v);

	sb_putn(b, tmp, (size_t)n);
}

/* Text for XML content and attribute values. */
static void sb_xml(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			sb_puts(b, "&amp;");
			break;
		case '<':
			sb_puts(b, "&lt;");
			break;
		case '>':
			sb_puts(b, "&gt;");
			break;
		case '"':
			sb_puts(b, "&quot;");
			break;
		default:
			sb_putc(b, *s);
		}
	}
}

/* <name>text</name> */
static void xel(struct sbuf *b, const char *name, const char *text)
{
	sb_putc(b, '<');
	sb_puts(b, name);
	sb_putc(b, '>');
	sb_xml(b, text);
	sb_puts(b, "</");
	sb_puts(b, name);
	sb_putc(b, '>');
}

/* An output file with its own large buffer; errors are checked at close. */
struct out {
	FILE *f;
	char path[PATH_CAP];
	char *buf;
};

static int out_open(struct out *o, const char *dir, const char *name)
{
	int n = snprintf(o->path, sizeof(o->path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(o->path)) {
		fprintf(stderr, "izaconv: output path too long\n");
		return -1;
	}
	o->f = fopen(o->path, "wb");
	if (!o->f) {
		fprintf(stderr, "izaconv: %s: %s\n", o->path, strerror(errno));
		return -1;
	}
	o->buf = malloc(OUT_BUF_SIZE);
	if (o->buf)
		setvbuf(o->f, o->buf, _IOFBF, OUT_BUF_SIZE);
	return 0;
}

static void out_write(struct out *o, const struct sbuf *b)
{
	if (b->len)
		fwrite(b->p, 1, b->len, o->f);
}

static int out_close(struct out *o)
{
	int rc = 0;

	if (!o->f)
		return 0;
	if (ferror(o->f) || fclose(o->f) != 0) {
		fprintf(stderr, "izaconv: %s: write failed: %s\n", o->path,
			strerror(errno));
		rc = -1;
	}
	o->f = NULL;
	free(o->buf);
	o->buf = NULL;
	return rc;
}

/* ---------------------------------------------------------------- patients */

struct patient {
	char *id;
	char *line; /* the FHIR resource as read (rewritten on output) */
	char bsn[VALUE_CAP];
	char other_id[VALUE_CAP];  /* another identifier (MRN), or "" */
	char other_oid[VALUE_CAP]; /* its system as an OID, or "" */
	char postcode[VALUE_CAP];
	char country[VALUE_CAP];
	char gender[16];   /* FHIR code, "" absent */
	char birth[16];	   /* YYYY[MM[DD]] */
	int64_t read_lu;   /* meta.lastUpdated of the record, for resends */
	int64_t last_msg;  /* latest lastUpdated of a converted encounter */
	bool usable, used; /* convertible; referenced by a converted record */
	long line_no;
};

struct patients {
	struct patient *v;
	size_t n, cap;
	size_t *slot; /* open addressing: index + 1, 0 empty */
	size_t nslot;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct patient *pat_find(struct patients *ps, const char *id)
{
	size_t i;

	if (!ps->nslot)
		return NULL;
	for (i = fnv1a(id) & (ps->nslot - 1); ps->slot[i];
	     i = (i + 1) & (ps->nslot - 1))
		if (strcmp(ps->v[ps->slot[i] - 1].id, id) == 0)
			return &ps->v[ps->slot[i] - 1];
	return NULL;
}

static void pat_rehash(struct patients *ps)
{
	size_t n = ps->nslot ? ps->nslot * 2 : 1024, i, j;

	free(ps->slot);
	ps->slot = calloc(n, sizeof(*ps->slot));
	if (!ps->slot) {
		fputs("izaconv: out of memory\n", stderr);
		exit(1);
	}
	ps->nslot = n;
	for (i = 0; i < ps->n; i++) {
		for (j = fnv1a(ps->v[i].id) & (n - 1); ps->slot[j];
		     j = (j + 1) & (n - 1))
			;
		ps->slot[j] = i + 1;
	}
}

/* A new entry for id (the caller checked it is absent). */
static struct patient *pat_add(struct patients *ps, const char *id)
{
	struct patient *p;
	size_t j;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 1024;
		struct patient *v = realloc(ps->v, cap * sizeof(*v));

		if (!v) {
			fputs("izaconv: out of memory\n", stderr);
			exit(1);
		}
		ps->v = v;
		ps->cap = cap;
	}
	if ((ps->n + 1) * 2 > ps->nslot)
		pat_rehash(ps);
	p = &ps->v[ps->n];
	memset(p, 0, sizeof(*p));
	p->id = strdup(id);
	if (!p->id) {
		fputs("izaconv: out of memory\n", stderr);
		exit(1);
	}
	p->last_msg = IZA_TIME_NONE;
	for (j = fnv1a(id) & (ps->nslot - 1); ps->slot[j];
	     j = (j + 1) & (ps->nslot - 1))
		;
	ps->slot[j] = ++ps->n;
	return p;
}

/* ---------------------------------------------------------------- helpers */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Copy s into out[VALUE_CAP] if it is short and free of control
 * characters. */
static bool take(char out[VALUE_CAP], const char *s)
{
	size_t n, i;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n >= VALUE_CAP)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	memcpy(out, s, n + 1);
	return true;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static bool digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * FHIR date/dateTime/instant text to an HL7 TS value with the same meaning:
 * YYYY[-MM[-DD[Thh:mm:ss[.f](Z|+hh:mm)]]] -> YYYY[MM[DD[hhmmss[.ffff]+hhmm]]].
 * The result is checked by parsing both with the gateway's own parsers
 * (parse_fhir_instant, parse_hl7_ts): false if they disagree or either
 * fails, so a converted time always means the same instant.
 */
static bool fhir_to_ts(const char *s, char out[40], int64_t *t)
{
	size_t n = s ? strlen(s) : 0, k = 0, i;
	int64_t a, b;

	if (n < 4 || n > 35 || !digits(s, 4))
		return false;
	memcpy(out, s, 4);
	k = 4;
	if (n >= 7) {
		if (s[4] != '-' || !digits(s + 5, 2))
			return false;
		memcpy(out + k, s + 5, 2);
		k += 2;
	}
	if (n >= 10) {
		if (s[7] != '-' || !digits(s + 8, 2))
			return false;
		memcpy(out + k, s + 8, 2);
		k += 2;
	}
	if (n > 10) {
		if (n < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		    !digits(s + 11, 2) || !digits(s + 14, 2) ||
		    !digits(s + 17, 2))
			return false;
		memcpy(out + k, s + 11, 2);
		memcpy(out + k + 2, s + 14, 2);
		memcpy(out + k + 4, s + 17, 2);
		k += 6;
		i = 19;
		if (s[i] == '.') {
			size_t f = 0;

			out[k++] = '.';
			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				if (f < 4) {
					out[k++] = s[i];
					f++;
				}
			if (f == 0)
				return false;
		}
		if (i < n && s[i] == 'Z' && i + 1 == n) {
			memcpy(out + k, "+0000", 5);
			k += 5;
		} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') &&
			   s[i + 3] == ':' && digits(s + i + 1, 2) &&
			   digits(s + i + 4, 2)) {
			out[k++] = s[i];
			memcpy(out + k, s + i + 1, 2);
			memcpy(out + k + 2, s + i + 4, 2);
			k += 4;
		} else {
			return false;
		}
	} else if (n != 4 && n != 7 && n != 10) {
		return false;
	}
	out[k] = '\0';
	if (parse_fhir_instant(s, n, &a) || parse_hl7_ts(out, k, &b) || a != b)
		return false;
	if (t)
		*t = a;
	return true;
}

/* "urn:oid:1.2.3" -> "1.2.3"; other systems have no OID: "". */
static void system_oid(const char *system, char out[VALUE_CAP])
{
	out[0] = '\0';
	if (system && strncmp(system, "urn:oid:", 8) == 0)
		take(out, system + 8);
}

/* ---------------------------------------------------------------- reading */

enum skip {
	SK_MALFORMED,
	SK_NOT_ENCOUNTER,
	SK_STATUS,
	SK_CLASS,
	SK_CLASS_HISTORY,
	SK_CHANNEL,
	SK_PATIENT,
	SK_TIME,
	SK_VALUE,
	SK_COUNT
};

static const char *const skip_name[SK_COUNT] = {
    [SK_MALFORMED] = "not JSON",
    [SK_NOT_ENCOUNTER] = "not an Encounter",
    [SK_STATUS] = "status other than finished",
    [SK_CLASS] = "class v2 cannot carry (SS, VR, HH, ...)",
    [SK_CLASS_HISTORY] = "classHistory (ER visit then admission)",
    [SK_CHANNEL] = "channel code in Encounter.type",
    [SK_PATIENT] = "patient not in the Patient file or not convertible",
    [SK_TIME] = "missing or unconvertible time",
    [SK_VALUE] = "missing, long or unprintable value",
};

/* One Encounter line, reduced to what the three formats carry. */
struct enc {
	char id[VALUE_CAP];
	char patient_id[VALUE_CAP];
	char v3class[16];  /* EMER, IMP, ACUTE, NONAC, AMB */
	char zibclass[16]; /* the zib code when the record used one, or "" */
	char v2class[2];   /* E, I, O */
	char start[40], end[40], lu[40]; /* HL7 TS values; end may be "" */
	int64_t start_t, lu_t;
	char provider[VALUE_CAP];
	bool first_version; /* meta.versionId absent or "1" */
	struct patient *pat;
};

static bool class_of(const char *code, struct enc *e)
{
	static const char *const map[][3] = {
	    {"EMER", "EMER", "E"},   {"SEH", "EMER", "E"},
	    {"IMP", "IMP", "I"},     {"Klinisch", "IMP", "I"},
	    {"ACUTE", "ACUTE", "I"}, {"NONAC", "NONAC", "I"},
	    {"AMB", "AMB", "O"},     {"Poliklinisch", "AMB", "O"},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (code && strcmp(code, map[i][0]) == 0) {
			snprintf(e->v3class, sizeof(e->v3class), "%s",
				 map[i][1]);
			snprintf(e->v2class, sizeof(e->v2class), "%s",
				 map[i][2]);
			if (strcmp(map[i][0], map[i][1]) != 0)
				snprintf(e->zibclass, sizeof(e->zibclass), "%s",
					 code);
			return true;
		}
	return false;
}

/* Does Encounter.type carry a code the FHIR mapping reads as a channel? */
static bool has_channel_code(const json_t *res)
{
	static const char *const codes[] = {"185317003", "448337001", "phone",
					    "video", "message"};
	const json_t *type, *cc, *coding;
	size_t i, j, k;

	json_array_foreach(json_object_get(res, "type"), i, type)
	{
		cc = json_object_get(type, "coding");
		json_array_foreach(cc, j, coding)
		{
			const char *sys = jstr(coding, "system");
			const char *code = jstr(coding, "code");

			if (!sys || !code ||
			    (strcmp(sys, "http://snomed.info/sct") != 0 &&
			     strcmp(sys, "https://iza-gateway.nl/fhir/"
					 "CodeSystem/contact-channel") != 0))
				continue;
			for (k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
				if (strcmp(code, codes[k]) == 0)
					return true;
		}
	}
	return false;
}

/* Reduce an Encounter; SK_COUNT when it converts. */
static enum skip read_encounter(const json_t *res, const char *source,
				struct patients *ps, struct enc *e)
{
	const json_t *meta = json_object_get(res, "meta");
	const json_t *period = json_object_get(res, "period");
	const json_t *sp, *ch;
	const char *s, *v;
	char ref[VALUE_CAP];

	memset(e, 0, sizeof(*e));
	s = jstr(res, "resourceType");
	if (!s || strcmp(s, "Encounter") != 0)
		return SK_NOT_ENCOUNTER;
	s = jstr(res, "status");
	if (!s || strcmp(s, "finished") != 0)
		return SK_STATUS;
	if (!class_of(jstr(json_object_get(res, "class"), "code"), e))
		return SK_CLASS;
	ch = json_object_get(res, "classHistory");
	if (json_array_size(ch) > 0)
		return SK_CLASS_HISTORY;
	if (has_channel_code(res))
		return SK_CHANNEL;
	if (!take(e->id, jstr(res, "id")))
		return SK_VALUE;
	s = jstr(json_object_get(res, "subject"), "reference");
	if (!s || fhir_reference_id(s, ref, sizeof(ref)) < 0 ||
	    !take(e->patient_id, ref))
		return SK_PATIENT;
	e->pat = pat_find(ps, e->patient_id);
	if (!e->pat || !e->pat->usable)
		return SK_PATIENT;
	if (!fhir_to_ts(jstr(period, "start"), e->start, &e->start_t) ||
	    !fhir_to_ts(jstr(meta, "lastUpdated"), e->lu, &e->lu_t))
		return SK_TIME;
	s = jstr(period, "end");
	if (s && !fhir_to_ts(s, e->end, NULL))
		return SK_TIME;
	sp = json_object_get(json_object_get(res, "serviceProvider"),
			     "identifier");
	v = NULL;
	if (sp && (s = jstr(sp, "system")) && strcmp(s, AGB_SYSTEM) == 0)
		v = jstr(sp, "value");
	if (!take(e->provider, v ? v : source))
		return SK_VALUE;
	s = jstr(meta, "versionId");
	e->first_version = !s || strcmp(s, "1") == 0;
	return SK_COUNT;
}

/* Fill p from a Patient resource; p->usable says whether it converts. */
static void read_patient(const json_t *res, struct patient *p)
{
	const json_t *ids = json_object_get(res, "identifier");
	const json_t *addr = json_object_get(res, "address"), *it;
	const json_t *active = json_object_get(res, "active");
	const char *s, *g, *b;
	size_t i;

	p->usable = false;
	p->bsn[0] = p->other_id[0] = p->other_oid[0] = '\0';
	p->postcode[0] = p->country[0] = p->gender[0] = p->birth[0] = '\0';
	if (active && !json_is_true(active))
		return;
	json_array_foreach(ids, i, it)
	{
		const char *sys = jstr(it, "system");
		const char *val = jstr(it, "value");

		if (!val)
			continue;
		if (sys && (strcmp(sys, BSN_SYSTEM) == 0 ||
			    strcmp(sys, BSN_OID_URN) == 0)) {
			if (!p->bsn[0] && !take(p->bsn, val))
				return;
		} else if (!p->other_id[0]) {
			if (!take(p->other_id, val))
				return;
			system_oid(sys, p->other_oid);
		}
	}
	/* As the FHIR mapping reads it: the first postalCode of an address
	 * whose use is home or absent. */
	json_array_foreach(addr, i, it)
	{
		s = jstr(it, "use");
		if (s && strcmp(s, "home") != 0)
			continue;
		s = jstr(it, "postalCode");
		if (!s)
			continue;
		if (!take(p->postcode, s))
			return;
		if (jstr(it, "country") &&
		    !take(p->country, jstr(it, "country")))
			return;
		break;
	}
	g = jstr(res, "gender");
	if (g) {
		if (strcmp(g, "male") && strcmp(g, "female") &&
		    strcmp(g, "other") && strcmp(g, "unknown"))
			return;
		snprintf(p->gender, sizeof(p->gender), "%s", g);
	}
	b = jstr(res, "birthDate");
	if (b) {
		char ts[40];

		if (strlen(b) > 10 || !fhir_to_ts(b, ts, NULL))
			return;
		snprintf(p->birth, sizeof(p->birth), "%s", ts);
	}
	p->usable = true;
}

static json_t *parse_line(const char *line, size_t len)
{
	json_error_t jerr;

	return json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
}

struct opts {
	const char *out, *source, *region, *patients, *encounters;
	bool truncate_last, quiet;
};

/* Load the Patient file; a later record with the same id and a newer (or
 * equal) meta.lastUpdated replaces an earlier one, as in the store. */
static int load_patients(const struct opts *o, struct patients *ps, long *bad)
{
	struct iza_error err = {0};
	struct input *in = NULL;
	const char *line;
	size_t len;
	bool too_long;
	long lineno;
	int rc;

	if (input_open(o->patients, &in, &err)) {
		fprintf(stderr, "izaconv: %s: %s\n", o->patients, err.text);
		return -1;
	}
	while ((rc = input_getline(in, LINE_CAP, &line, &len, &too_long,
				   &lineno)) == 1) {
		json_t *res;
		const char *id, *rt;
		struct patient *p;
		int64_t lu = IZA_TIME_NONE;
		const char *lus;

		if (too_long || len == 0)
			continue;
		res = parse_line(line, len);
		rt = res ? jstr(res, "resourceType") : NULL;
		id = res ? jstr(res, "id") : NULL;
		if (!rt || strcmp(rt, "Patient") != 0 || !id || !id[0] ||
		    strlen(id) >= VALUE_CAP) {
			++*bad;
			json_decref(res);
			continue;
		}
		lus = jstr(json_object_get(res, "meta"), "lastUpdated");
		if (lus && parse_fhir_instant(lus, strlen(lus), &lu))
			lu = IZA_TIME_NONE;
		p = pat_find(ps, id);
		if (p && p->read_lu > lu) {
			json_decref(res);
			continue;
		}
		if (!p)
			p = pat_add(ps, id);
		free(p->line);
		p->line = strndup(line, len);
		if (!p->line) {
			fputs("izaconv: out of memory\n", stderr);
			exit(1);
		}
		p->read_lu = lu;
		p->line_no = lineno;
		read_patient(res, p);
		json_decref(res);
	}
	input_close(in);
	if (rc < 0) {
		fprintf(stderr, "izaconv: %s: read error\n", o->patients);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- HL7 v2 */

/* The separators of one ER7 message. */
struct er7 {
	struct sbuf *b;
	char fs, cs, rs, es, ss;
};

static void e_sep(struct er7 *m, char c, int n)
{
	while (n-- > 0)
		sb_putc(m->b, c);
}

/* A value with the message's own separators escaped. */
static void e_val(struct er7 *m, const char *s)
{
	for (; *s; s++) {
		char c = *s, x = 0;

		if (c == m->fs)
			x = 'F';
		else if (c == m->cs)
			x = 'S';
		else if (c == m->rs)
			x = 'R';
		else if (c == m->ss)
			x = 'T';
		else if (c == m->es)
			x = 'E';
		if (x) {
			sb_putc(m->b, m->es);
			sb_putc(m->b, x);
			sb_putc(m->b, m->es);
		} else {
			sb_putc(m->b, c);
		}
	}
}

static const char *v2_sex(const char *g)
{
	if (strcmp(g, "male") == 0)
		return "M";
	if (strcmp(g, "female") == 0)
		return "F";
	if (strcmp(g, "other") == 0)
		return "O";
	return g[0] ? "U" : "";
}

/* One ADT message's content, shared by the ER7 and XML writers. */
struct msg {
	const char *trigger;   /* A01, A03, A04 */
	const char *structure; /* ADT_A01, ADT_A03 */
	const char *msh7;      /* message time */
	const char *end;       /* PV1-45, "" none */
	char control[64];      /* MSH-10 */
	const struct enc *e;
	const char *source, *region;
};

/* Segment ends: CR, LF, CRLF in turn over the whole file. */
static void er7_eol(struct sbuf *b, unsigned long *seg)
{
	switch ((*seg)++ % 3) {
	case 0:
		sb_putc(b, '\r');
		break;
	case 1:
		sb_putc(b, '\n');
		break;
	default:
		sb_puts(b, "\r\n");
	}
}

static void er7_message(struct sbuf *b, const struct msg *g, long n,
			unsigned long *seg)
{
	const struct enc *e = g->e;
	const struct patient *p = e->pat;
	struct er7 m = {b, '|', '^', '~', '\\', '&'};
	const char *charset = "";
	const char *family = "Testpatient";
	bool mllp = n % 7 == 3;

	if (n % 5 == 2) { /* non-default separators */
		m.fs = '#';
		m.cs = '@';
		m.rs = '*';
		m.es = '$';
		m.ss = '!';
	}
	if (n % 3 == 1 && is_ascii(p->postcode) && is_ascii(p->other_id)) {
		charset = "8859/1";
		family = FAMILY_LATIN1;
	} else if (n % 3 == 2) {
		charset = "UNICODE UTF-8";
		family = FAMILY_UTF8;
	}
	if (mllp)
		sb_putc(b, 0x0b);
	/* MSH */
	sb_puts(b, "MSH");
	sb_putc(b, m.fs);
	sb_putc(b, m.cs);
	sb_putc(b, m.rs);
	sb_putc(b, m.es);
	sb_putc(b, m.ss);
	e_sep(&m, m.fs, 1);
	e_val(&m, "IZACONV");
	e_sep(&m, m.fs, 1);
	e_val(&m, g->source);
	e_sep(&m, m.fs, 1);
	e_val(&m, "IZAGW");
	e_sep(&m, m.fs, 1);
	e_val(&m, g->region);
	e_sep(&m, m.fs, 1);
	e_val(&m, g->msh7);
	e_sep(&m, m.fs, 2);
	e_val(&m, "ADT");
	e_sep(&m, m.cs, 1);
	e_val(&m, g->trigger);
	e_sep(&m, m.cs, 1);
	e_val(&m, g->structure);
	e_sep(&m, m.fs, 1);
	e_val(&m, g->control);
	e_sep(&m, m.fs, 1);
	e_val(&m, "P");
	e_sep(&m, m.fs, 1);
	e_val(&m, "2.5");
	e_sep(&m, m.fs, 5);
	e_val(&m, "NLD");
	if (charset[0]) {
		e_sep(&m, m.fs, 1);
		e_val(&m, charset);
	}
	er7_eol(b, seg);
	/* EVN */
	sb_puts(b, "EVN");
	e_sep(&m, m.fs, 1);
	e_val(&m, g->trigger);
	e_sep(&m, m.fs, 1);
	e_val(&m, g->msh7);
	er7_eol(b, seg);
	/* PID: PID-3 local id ~ BSN ~ other id; PID-5 the test name; PID-7,
	 * PID-8; PID-11 the address. */
	sb_puts(b, "PID");
	e_sep(&m, m.fs, 1);
	e_val(&m, "1");
	e_sep(&m, m.fs, 2);
	e_val(&m, p->id);
	e_sep(&m, m.cs, 3);
	e_val(&m, g->source);
	e_sep(&m, m.cs, 1);
	e_val(&m, "PI");
	if (p->bsn[0]) {
		e_sep(&m, m.rs, 1);
		e_val(&m, p->bsn);
		e_sep(&m, m.cs, 3);
		e_val(&m, "NLMINBIZA");
		e_sep(&m, m.ss, 1);
		e_val(&m, BSN_OID);
		e_sep(&m, m.ss, 1);
		e_val(&m, "ISO");
		e_sep(&m, m.cs, 1);
		e_val(&m, "NNNLD");
	}
	if (p->other_id[0]) {
		e_sep(&m, m.rs, 1);
		e_val(&m, p->other_id);
		e_sep(&m, m.cs, 3);
		if (p->other_oid[0]) {
			e_sep(&m, m.ss, 1);
			e_val(&m, p->other_oid);
			e_sep(&m, m.ss, 1);
			e_val(&m, "ISO");
		}
		e_sep(&m, m.cs, 1);
		e_val(&m, "MR");
	}
	e_sep(&m, m.fs, 2);
	e_val(&m, family);
	e_sep(&m, m.cs, 1);
	e_val(&m, GIVEN);
	e_sep(&m, m.fs, 2);
	e_val(&m, p->birth);
	e_sep(&m, m.fs, 1);
	e_val(&m, v2_sex(p->gender));
	if (p->postcode[0]) {
		e_sep(&m, m.fs, 3);
		e_sep(&m, m.cs, 4);
		e_val(&m, p->postcode);
		e_sep(&m, m.cs, 1);
		e_val(&m, p->country);
		e_sep(&m, m.cs, 1);
		e_val(&m, "H");
	}
	er7_eol(b, seg);
	/* PV1: PV1-2 class, PV1-3 location, PV1-4 admission type, PV1-19
	 * visit number, PV1-44 admit, PV1-45 discharge. */
	sb_puts(b, "PV1");
	e_sep(&m, m.fs, 1);
	e_val(&m, "1");
	e_sep(&m, m.fs, 1);
	e_val(&m, e->v2class);
	e_sep(&m, m.fs, 1);
	if (e->v2class[0] == 'E') {
		e_val(&m, "SEH");
		e_sep(&m, m.cs, 3);
		e_val(&m, g->source);
	}
	e_sep(&m, m.fs, 1);
	if (e->v2class[0] == 'I')
		e_val(&m, "R");
	e_sep(&m, m.fs, 15);
	e_val(&m, e->id);
	e_sep(&m, m.cs, 3);
	e_val(&m, g->source);
	e_sep(&m, m.cs, 1);
	e_val(&m, "VN");
	e_sep(&m, m.fs, 25);
	e_val(&m, e->start);
	if (g->end[0]) {
		e_sep(&m, m.fs, 1);
		e_val(&m, g->end);
	}
	er7_eol(b, seg);
	if (n % 4 == 1) { /* a site's own Z-segment */
		sb_puts(b, "ZIZ");
		e_sep(&m, m.fs, 1);
		e_val(&m, "1");
		e_sep(&m, m.fs, 1);
		e_val(&m, "synthetisch^testbericht");
		er7_eol(b, seg);
	}
	if (mllp) {
		sb_putc(b, 0x1c);
		sb_putc(b, '\r');
	}
}

/* The XML encoding: v2.5 shapes for even n, v2.7 for odd. */
static void xml_message(struct sbuf *b, const struct msg *g, long n)
{
	const struct enc *e = g->e;
	const struct patient *p = e->pat;
	bool v27 = n % 2 == 1;
	const char *ts_open = v27 ? "" : "<TS.1>";
	const char *ts_close = v27 ? "" : "</TS.1>";

#define XTS(name, value)                                                       \
	do {                                                                   \
		sb_puts(b, "<" name ">");                                      \
		sb_puts(b, ts_open);                                           \
		sb_xml(b, value);                                              \
		sb_puts(b, ts_close);                                          \
		sb_puts(b, "</" name ">");                                     \
	} while (0)

	sb_puts(b, "<");
	sb_puts(b, g->structure);
	sb_puts(b, ">\n<MSH><MSH.1>|</MSH.1><MSH.2>");
	sb_puts(b, v27 ? "^~\\&amp;#" : "^~\\&amp;");
	sb_puts(b, "</MSH.2><MSH.3><HD.1>IZACONV</HD.1></MSH.3><MSH.4>");
	xel(b, "HD.1", g->source);
	sb_puts(b, "</MSH.4><MSH.5><HD.1>IZAGW</HD.1></MSH.5><MSH.6>");
	xel(b, "HD.1", g->region);
	sb_puts(b, "</MSH.6>");
	XTS("MSH.7", g->msh7);
	sb_puts(b, "<MSH.9><MSG.1>ADT</MSG.1>");
	xel(b, "MSG.2", g->trigger);
	xel(b, "MSG.3", g->structure);
	sb_puts(b, "</MSH.9>");
	xel(b, "MSH.10", g->control);
	sb_puts(b, "<MSH.11><PT.1>P</PT.1></MSH.11><MSH.12><VID.1>");
	sb_puts(b, v27 ? "2.7" : "2.5");
	sb_puts(b, "</VID.1></MSH.12><MSH.17>NLD</MSH.17>"
		   "<MSH.18>UNICODE UTF-8</MSH.18></MSH>\n<EVN>");
	xel(b, "EVN.1", g->trigger);
	XTS("EVN.2", g->msh7);
	sb_puts(b, "</EVN>\n<PID><PID.1>1</PID.1><PID.3>");
	xel(b, "CX.1", p->id);
	sb_puts(b, "<CX.4>");
	xel(b, "HD.1", g->source);
	sb_puts(b, "</CX.4><CX.5>PI</CX.5></PID.3>");
	if (p->bsn[0]) {
		sb_puts(b, "<PID.3>");
		xel(b, "CX.1", p->bsn);
		sb_puts(b, "<CX.4><HD.1>NLMINBIZA</HD.1><HD.2>");
		sb_puts(b, BSN_OID);
		sb_puts(b, "</HD.2><HD.3>ISO</HD.3></CX.4><CX.5>NNNLD</CX.5>"
			   "</PID.3>");
	}
	if (p->other_id[0]) {
		sb_puts(b, "<PID.3>");
		xel(b, "CX.1", p->other_id);
		if (p->other_oid[0]) {
			sb_puts(b, "<CX.4>");
			xel(b, "HD.2", p->other_oid);
			sb_puts(b, "<HD.3>ISO</HD.3></CX.4>");
		}
		sb_puts(b, "<CX.5>MR</CX.5></PID.3>");
	}
	sb_puts(b, "<PID.5><XPN.1><FN.1>");
	sb_puts(b, FAMILY_UTF8);
	sb_puts(b, "</FN.1></XPN.1><XPN.2>");
	sb_puts(b, GIVEN);
	sb_puts(b, "</XPN.2></PID.5>");
	if (p->birth[0])
		XTS("PID.7", p->birth);
	if (p->gender[0]) {
		if (v27) {
			sb_puts(b, "<PID.8>");
			xel(b, "CWE.1", v2_sex(p->gender));
			sb_puts(b, "</PID.8>");
		} else {
			xel(b, "PID.8", v2_sex(p->gender));
		}
	}
	if (p->postcode[0]) {
		sb_puts(b, "<PID.11>");
		xel(b, "XAD.5", p->postcode);
		if (p->country[0])
			xel(b, "XAD.6", p->country);
		sb_puts(b, "<XAD.7>H</XAD.7></PID.11>");
	}
	sb_puts(b, "</PID>\n<PV1><PV1.1>1</PV1.1>");
	if (v27) {
		sb_puts(b, "<PV1.2>");
		xel(b, "CWE.1", e->v2class);
		sb_puts(b, "<CWE.3>HL70004</CWE.3></PV1.2>");
	} else {
		xel(b, "PV1.2", e->v2class);
	}
	if (e->v2class[0] == 'I')
		sb_puts(b, v27 ? "<PV1.4><CWE.1>R</CWE.1></PV1.4>"
			       : "<PV1.4>R</PV1.4>");
	sb_puts(b, "<PV1.19>");
	xel(b, "CX.1", e->id);
	sb_puts(b, "<CX.4>");
	xel(b, "HD.1", g->source);
	sb_puts(b, "</CX.4><CX.5>VN</CX.5></PV1.19>");
	XTS("PV1.44", e->start);
	if (g->end[0])
		XTS("PV1.45", g->end);
	sb_puts(b, "</PV1>\n</");
	sb_puts(b, g->structure);
	sb_puts(b, ">\n");
#undef XTS
}

/* ---------------------------------------------------------------- CDA */

static void cda_id(struct sbuf *b, const char *root, const char *ext)
{
	sb_puts(b, "<id root=\"");
	sb_xml(b, root);
	sb_puts(b, "\" extension=\"");
	sb_xml(b, ext);
	sb_puts(b, "\"/>");
}

static void cda_ts(struct sbuf *b, const char *el, const char *v)
{
	sb_putc(b, '<');
	sb_puts(b, el);
	sb_puts(b, " value=\"");
	sb_xml(b, v);
	sb_puts(b, "\"/>");
}

static void cda_document(struct sbuf *b, const struct enc *e,
			 const char *source, long n)
{
	const struct patient *p = e->pat;
	char root[64];

	sb_puts(b,
		"<ClinicalDocument classCode=\"DOCCLIN\" moodCode=\"EVN\">\n"
		"<realmCode code=\"NL\"/><typeId root=\"2.16.840.1.113883.1.3\""
		" extension=\"POCD_HD000040\"/>");
	snprintf(root, sizeof(root), "%s.%s.2", EXAMPLE_ARC, source);
	sb_puts(b, "<id root=\"");
	sb_puts(b, root);
	sb_puts(b, "\" extension=\"doc-");
	sb_putl(b, n);
	sb_puts(b, "\"/>\n<code code=\"34133-9\" "
		   "codeSystem=\"2.16.840.1.113883.6.1\" "
		   "displayName=\"Summary of episode note\"/>"
		   "<title>Synthetische contactsamenvatting</title>");
	cda_ts(b, "effectiveTime", e->lu);
	sb_puts(b,
		"<confidentialityCode code=\"N\" "
		"codeSystem=\"2.16.840.1.113883.5.25\"/>"
		"<languageCode code=\"nl-NL\"/>\n<recordTarget><patientRole>");
	snprintf(root, sizeof(root), "%s.%s.1", EXAMPLE_ARC, source);
	cda_id(b, root, p->id);
	if (p->bsn[0])
		cda_id(b, BSN_OID, p->bsn);
	if (p->other_id[0] && p->other_oid[0])
		cda_id(b, p->other_oid, p->other_id);
	if (p->postcode[0]) {
		sb_puts(b, "<addr use=\"HP\">");
		xel(b, "postalCode", p->postcode);
		if (p->country[0])
			xel(b, "country", p->country);
		sb_puts(b, "</addr>");
	}
	sb_puts(b, "<patient><name>");
	xel(b, "given", GIVEN);
	xel(b, "family", FAMILY_UTF8);
	sb_puts(b, "</name>");
	if (strcmp(p->gender, "unknown") == 0) {
		sb_puts(b, "<administrativeGenderCode nullFlavor=\"UNK\"/>");
	} else if (p->gender[0]) {
		sb_puts(b, "<administrativeGenderCode code=\"");
		sb_puts(b, strcmp(p->gender, "male") == 0     ? "M"
			   : strcmp(p->gender, "female") == 0 ? "F"
							      : "UN");
		sb_puts(b, "\" codeSystem=\"2.16.840.1.113883.5.1\"/>");
	}
	if (p->birth[0])
		cda_ts(b, "birthTime", p->birth);
	sb_puts(b, "</patient></patientRole></recordTarget>\n<author>");
	cda_ts(b, "time", e->lu);
	sb_puts(b, "<assignedAuthor>");
	cda_id(b, AGB_OID, source);
	sb_puts(b, "</assignedAuthor></author>\n<custodian><assignedCustodian>"
		   "<representedCustodianOrganization>");
	cda_id(b, AGB_OID, source);
	sb_puts(b, "</representedCustodianOrganization></assignedCustodian>"
		   "</custodian>\n<componentOf><encompassingEncounter>");
	snprintf(root, sizeof(root), "%s.%s.3", EXAMPLE_ARC, source);
	cda_id(b, root, e->id);
	if (e->zibclass[0]) { /* the zib code, ActCode in a translation */
		sb_puts(b, "<code code=\"");
		sb_xml(b, e->zibclass);
		sb_puts(b, "\" codeSystem=\"");
		sb_puts(b, ZIB_CONTACT_OID);
		sb_puts(b, "\"><translation code=\"");
		sb_puts(b, e->v3class);
		sb_puts(b, "\" codeSystem=\"");
		sb_puts(b, ACTCODE_OID);
		sb_puts(b, "\"/></code>");
	} else {
		sb_puts(b, "<code code=\"");
		sb_puts(b, e->v3class);
		sb_puts(b, "\" codeSystem=\"");
		sb_puts(b, ACTCODE_OID);
		sb_puts(b, "\"/>");
	}
	sb_puts(b, "<effectiveTime>");
	cda_ts(b, "low", e->start);
	if (e->end[0])
		cda_ts(b, "high", e->end);
	sb_puts(b, "</effectiveTime><location><healthCareFacility>"
		   "<serviceProviderOrganization>");
	cda_id(b, AGB_OID, e->provider);
	sb_puts(b, "</serviceProviderOrganization></healthCareFacility>"
		   "</location></encompassingEncounter></componentOf>\n"
		   "<component><structuredBody><component><section>"
		   "<title>Beloop</title><text>Synthetisch testdocument: geen "
		   "echte pati\xc3\xabnt.</text></section></component>"
		   "</structuredBody></component>\n</ClinicalDocument>\n");
}

/* ---------------------------------------------------------------- FHIR */

/* Rewrite a resource line for the FHIR output: no meta.versionId, and
 * (when set) meta.lastUpdated = lu, serviceProvider = that AGB code (what
 * v2 MSH-4 and the CDA serviceProviderOrganization say). */
static int fhir_rewrite(struct sbuf *b, const char *line, int64_t lu,
			const char *provider)
{
	json_t *res = parse_line(line, strlen(line));
	json_t *meta;
	char *text;

	if (!res)
		return -1;
	meta = json_object_get(res, "meta");
	if (!json_is_object(meta) && lu != IZA_TIME_NONE) {
		meta = json_object();
		json_object_set_new(res, "meta", meta);
	}
	if (json_is_object(meta)) {
		json_object_del(meta, "versionId");
		if (lu != IZA_TIME_NONE) {
			char t[21];

			format_utc(lu, t);
			json_object_set_new(meta, "lastUpdated",
					    json_string(t));
		}
	}
	if (provider)
		json_object_set_new(res, "serviceProvider",
				    json_pack("{s:{s:s,s:s}}", "identifier",
					      "system", AGB_SYSTEM, "value",
					      provider));
	text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(res);
	if (!text)
		return -1;
	sb_puts(b, text);
	sb_putc(b, '\n');
	free(text);
	return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fputs("usage: izaconv --source AGB --out DIR [--region ZKnn] "
	      "[--truncate-last] [--quiet]\n"
	      "               Patient.ndjson Encounter.ndjson\n"
	      "Rewrites one source's FHIR R4 NDJSON export as the same "
	      "encounters in HL7 v2\n(DIR/adt.xml: XML encoding; DIR/adt.hl7: "
	      "ER7) and CDA R2 (DIR/cda.xml), and\nwrites the converted FHIR "
	      "records (DIR/Patient.ndjson, DIR/Encounter.ndjson).\nOnly what "
	      "all formats carry is converted; the rest is counted on "
	      "stderr.\n--truncate-last ends the ER7 file with a cut-off "
	      "message.\n",
	      f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i, files = 0;

	memset(o, 0, sizeof(*o));
	o->region = "ZK02";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--truncate-last") == 0) {
			o->truncate_last = true;
		} else if (strcmp(a, "--quiet") == 0) {
			o->quiet = true;
		} else if (strcmp(a, "--source") == 0 ||
			   strcmp(a, "--out") == 0 ||
			   strcmp(a, "--region") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "izaconv: %s needs a value\n",
					a);
				return -1;
			}
			if (a[2] == 's')
				o->source = argv[++i];
			else if (a[2] == 'o')
				o->out = argv[++i];
			else
				o->region = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "izaconv: unknown option '%s'\n", a);
			return -1;
		} else if (files == 0) {
			o->patients = a;
			files++;
		} else if (files == 1) {
			o->encounters = a;
			files++;
		} else {
			fputs("izaconv: expected two files\n", stderr);
			return -1;
		}
	}
	if (!o->source || !o->out || files != 2) {
		usage(stderr);
		return -1;
	}
	if (strlen(o->source) == 0 || strlen(o->source) > 32 ||
	    !digits(o->source, strlen(o->source))) {
		fprintf(stderr, "izaconv: --source: expected an AGB code\n");
		return -1;
	}
	if (strlen(o->region) != 4 || strncmp(o->region, "ZK", 2) != 0 ||
	    !digits(o->region + 2, 2)) {
		fprintf(stderr, "izaconv: --region: expected ZKnn\n");
		return -1;
	}
	return 0;
}

/* One pass over the Encounter file; write = false only collects each
 * patient's latest message time. */
static int encounter_pass(const struct opts *o, struct patients *ps, bool write,
			  struct out *outs, long skipped[SK_COUNT],
			  long *converted, long *messages)
{
	struct iza_error err = {0};
	struct input *in = NULL;
	struct sbuf fb = {0}, xb = {0}, eb = {0}, cb = {0};
	unsigned long seg = 0;
	const char *line;
	size_t len;
	bool too_long;
	long lineno, nmsg = 0, ndoc = 0;
	int rc;

	if (input_open(o->encounters, &in, &err)) {
		fprintf(stderr, "izaconv: %s: %s\n", o->encounters, err.text);
		return -1;
	}
	while ((rc = input_getline(in, LINE_CAP, &line, &len, &too_long,
				   &lineno)) == 1) {
		struct enc e;
		enum skip why;
		json_t *res;

		if (len == 0 || (len == 1 && line[0] == '\r'))
			continue;
		res = too_long ? NULL : parse_line(line, len);
		why =
		    res ? read_encounter(res, o->source, ps, &e) : SK_MALFORMED;
		json_decref(res);
		if (why != SK_COUNT) {
			if (write)
				skipped[why]++;
			continue;
		}
		if (!write) {
			e.pat->used = true;
			if (e.pat->last_msg == IZA_TIME_NONE ||
			    e.lu_t > e.pat->last_msg)
				e.pat->last_msg = e.lu_t;
			continue;
		}
		++*converted;
		fb.len = xb.len = eb.len = cb.len = 0;
		{
			char *copy = strndup(line, len);

			if (!copy || fhir_rewrite(&fb, copy, IZA_TIME_NONE,
						  e.provider)) {
				free(copy);
				fprintf(stderr,
					"izaconv: %s:%ld: cannot rewrite\n",
					o->encounters, lineno);
				rc = -1;
				break;
			}
			free(copy);
		}
		/* the message that opened the visit, then the A03 */
		for (int k = 0; k < 2; k++) {
			struct msg g = {
			    .e = &e, .source = o->source, .region = o->region};

			if (k == 0) {
				if (!e.first_version || e.start_t >= e.lu_t)
					continue;
				g.trigger = e.v2class[0] == 'I' ? "A01" : "A04";
				g.structure = "ADT_A01";
				g.msh7 = e.start;
				g.end = "";
			} else {
				g.trigger = "A03";
				g.structure = "ADT_A03";
				g.msh7 = e.lu;
				g.end = e.end;
			}
			nmsg++;
			snprintf(g.control, sizeof(g.control), "IZC%s-%ld",
				 o->source, nmsg);
			er7_message(&eb, &g, nmsg, &seg);
			xml_message(&xb, &g, nmsg);
		}
		cda_document(&cb, &e, o->source, ++ndoc);
		out_write(&outs[1], &fb);
		out_write(&outs[2], &xb);
		out_write(&outs[3], &eb);
		out_write(&outs[4], &cb);
	}
	input_close(in);
	free(fb.p);
	free(xb.p);
	free(eb.p);
	free(cb.p);
	if (rc < 0) {
		fprintf(stderr, "izaconv: %s: read error\n", o->encounters);
		return -1;
	}
	*messages = nmsg;
	return 0;
}

/* mkdir -p: every missing directory of path, mode 0755. */
static int mkdir_p(const char *path)
{
	char buf[PATH_CAP];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		buf[i] = path[i];
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const names[5] = {"Patient.ndjson",
					     "Encounter.ndjson", "adt.xml",
					     "adt.hl7", "cda.xml"};
	struct opts o;
	struct patients ps = {0};
	struct out outs[5] = {{0}};
	long skipped[SK_COUNT] = {0}, bad_patients = 0, converted = 0;
	long messages = 0, patients_out = 0;
	struct sbuf b = {0};
	size_t i;
	int rc = 1;

	if (parse_args(argc, argv, &o))
		return 2;
	if (mkdir_p(o.out)) {
		fprintf(stderr, "izaconv: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	if (load_patients(&o, &ps, &bad_patients))
		goto out;
	if (encounter_pass(&o, &ps, false, NULL, skipped, &converted,
			   &messages))
		goto out;
	for (i = 0; i < 5; i++)
		if (out_open(&outs[i], o.out, names[i]))
			goto out;
	/* Patients, in file order, as of their last message. */
	for (i = 0; i < ps.n; i++) {
		struct patient *p = &ps.v[i];

		if (!p->used)
			continue;
		b.len = 0;
		if (fhir_rewrite(&b, p->line, p->last_msg, NULL)) {
			fprintf(stderr, "izaconv: %s:%ld: cannot rewrite\n",
				o.patients, p->line_no);
			goto out;
		}
		out_write(&outs[0], &b);
		patients_out++;
	}
	{
		static const char xml_head[] =
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<!-- SYNTHETIC TEST DATA written by izaconv: no real "
		    "patient -->\n";

		fputs(xml_head, outs[2].f);
		fputs("<ADTBatch xmlns=\"urn:hl7-org:v2xml\">\n", outs[2].f);
		fputs(xml_head, outs[4].f);
		fputs("<documents xmlns=\"urn:hl7-org:v3\">\n", outs[4].f);
		fprintf(outs[3].f,
			"FHS|^~\\&|IZACONV|%s\rBHS|^~\\&|IZACONV|%s\r",
			o.source, o.source);
	}
	if (encounter_pass(&o, &ps, true, outs, skipped, &converted, &messages))
		goto out;
	fputs("</ADTBatch>\n", outs[2].f);
	fputs("</documents>\n", outs[4].f);
	fprintf(outs[3].f, "BTS|%ld\rFTS|1\r", messages);
	if (o.truncate_last)
		fprintf(outs[3].f,
			"MSH|^~\\&|IZACONV|%s|IZAGW|%s|20250101120000+0100||"
			"ADT^A04^ADT_A01|IZC%s-cut|P|2.5\rPID|1||cut-off^^^%s"
			"^PI\rPV1|1|E|||||||||||||||",
			o.source, o.region, o.source, o.source);
	rc = 0;
out:
	for (i = 0; i < 5; i++)
		if (out_close(&outs[i]))
			rc = 1;
	if (rc == 0 && !o.quiet) {
		fprintf(stderr,
			"izaconv: %ld encounter records converted (%ld "
			"HL7 v2 messages, %ld CDA documents), %ld patients\n",
			converted, messages, converted, patients_out);
		for (i = 0; i < SK_COUNT; i++)
			if (skipped[i])
				fprintf(stderr, "  skipped %8ld  %s\n",
					skipped[i], skip_name[i]);
		if (bad_patients)
			fprintf(stderr,
				"  skipped %8ld  Patient lines that "
				"are not a Patient\n",
				bad_patients);
	}
	for (i = 0; i < ps.n; i++) {
		free(ps.v[i].id);
		free(ps.v[i].line);
	}
	free(ps.v);
	free(ps.slot);
	free(b.p);
	return rc;
}
