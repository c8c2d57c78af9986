/*
 * replay.c - quarantined records gathered for a new batch (replay.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"

/* The format a record of `format` is replayed in, or NULL. */
static const char *replay_format(const char *format)
{
	if (strcmp(format, "fhir-ndjson") == 0 ||
	    strcmp(format, "fhir-bundle") == 0)
		return "fhir-ndjson"; /* a line, or one resource of a Bundle */
	if (strcmp(format, "hl7v2-er7") == 0)
		return "hl7v2-er7";
	return NULL;
}

static int put_record(FILE *f, const char *fmt, const char *text, size_t n)
{
	bool er7 = strcmp(fmt, "hl7v2-er7") == 0;

	if (fwrite(text, 1, n, f) != n)
		return -1;
	/* one NDJSON line; an ER7 message ends with a segment terminator */
	if (er7 && n && (text[n - 1] == '\r' || text[n - 1] == '\n'))
		return 0;
	return fputc(er7 ? '\r' : '\n', f) == EOF ? -1 : 0;
}

int replay_collect(const char *qfile, const char *spool, struct replay_set *out,
		   struct iza_error *err)
{
	FILE *in, *sp = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int fd, rc = 0;

	out->quarantined = out->with_text = out->without_text = 0;
	out->format[0] = '\0';
	in = fopen(qfile, "r");
	if (!in)
		return iza_error_set(
		    err, errno == ENOENT ? -IZA_ENOTFOUND : -IZA_EIO, qfile, 0,
		    NULL, "cannot open the quarantine file: %s",
		    strerror(errno));
	fd = open(spool, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(sp = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		fclose(in);
		return iza_error_set(err, -IZA_EIO, spool, 0, NULL,
				     "cannot write the replay spool: %s",
				     strerror(errno));
	}
	while (rc == 0 && (n = getline(&line, &cap, in)) > 0) {
		json_t *o = json_loadb(line, (size_t)n, 0, NULL);
		const char *src, *fmt, *rfmt, *text;

		lineno++;
		if (!json_is_object(o)) {
			json_decref(o);
			rc =
			    iza_error_set(err, -IZA_EPARSE, qfile, lineno, NULL,
					  "not a quarantine record (JSON "
					  "object)");
			break;
		}
		out->quarantined++;
		src = json_string_value(json_object_get(o, "source"));
		fmt = json_string_value(json_object_get(o, "format"));
		text = json_string_value(json_object_get(o, "record"));
		if (src && src[0] && out->source[0] &&
		    strcmp(src, out->source) != 0)
			rc = iza_error_set(err, -IZA_EINVALID, qfile, lineno,
					   "source",
					   "a record of source %.32s in a "
					   "replay for %s",
					   src, out->source);
		else if (src && src[0] && !out->source[0])
			snprintf(out->source, sizeof(out->source), "%s", src);
		rfmt = fmt ? replay_format(fmt) : NULL;
		if (rc == 0 && (!rfmt || !text)) {
			out->without_text++;
		} else if (rc == 0 && out->format[0] &&
			   strcmp(out->format, rfmt) != 0) {
			rc = iza_error_set(err, -IZA_EINVALID, qfile, lineno,
					   "format",
					   "records of %s and %s in one batch",
					   out->format, rfmt);
		} else if (rc == 0) {
			snprintf(out->format, sizeof(out->format), "%s", rfmt);
			if (put_record(sp, rfmt, text,
				       json_string_length(
					   json_object_get(o, "record"))) != 0)
				rc =
				    iza_error_set(err, -IZA_EIO, spool, 0, NULL,
						  "cannot write the replay "
						  "spool");
			out->with_text++;
		}
		json_decref(o);
	}
	free(line);
	if (rc == 0 && ferror(in))
		rc = iza_error_set(err, -IZA_EIO, qfile, 0, NULL,
				   "cannot read the quarantine file");
	fclose(in);
	if (fclose(sp) != 0 && rc == 0)
		rc = iza_error_set(err, -IZA_EIO, spool, 0, NULL,
				   "cannot write the replay spool");
	return rc;
}

int replay_done(const char *qfile, struct iza_error *err)
{
	char to[4200];

	snprintf(to, sizeof(to), "%s.replayed", qfile);
	if (rename(qfile, to) != 0)
		return iza_error_set(err, -IZA_EIO, qfile, 0, NULL,
				     "cannot mark the file replayed: %s",
				     strerror(errno));
	return 0;
}
