/*
 * input.h - a buffered reader over a file or stdin that hashes (SHA-256) and
 * counts every byte it hands out, and splits lines with a hard cap on line
 * length.  Memory use is bounded by the line cap whatever the input size.
 */
#ifndef IZA_INPUT_H
#define IZA_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iza_error.h"

struct input;

/* path "-" is standard input. name (copied) is used in errors. */
int input_open(const char *path, struct input **out, struct iza_error *err);
void input_close(struct input *in); /* accepts NULL */
const char *input_name(const struct input *in);

/*
 * Next line (without the newline; a trailing '\r' is kept for the JSON
 * parser to treat as whitespace).  Returns 1 with line and len set (valid until
 * the next call), 0 at end of input, or -IZA_EIO.  A line longer than max bytes
 * is skipped entirely (never buffered) and reported with *too_long = true and
 * *len = 0.  *lineno is the 1-based number of the returned line.
 */
int input_getline(struct input *in, size_t max, const char **line, size_t *len,
		  bool *too_long, long *lineno);

/* Read the whole remaining input into a heap buffer (caller frees) of at
 * most max bytes; more is -IZA_ETOOBIG. */
int input_slurp(struct input *in, size_t max, char **buf, size_t *len,
		struct iza_error *err);

/* Read up to n bytes from the current position into buf (for parsers that
 * pull bytes, e.g. libxml2's xmlReaderForIO).  The bytes are hashed and
 * counted like every other byte handed out.  Returns the number of bytes
 * copied (> 0), 0 at end of input, or -IZA_EIO / -IZA_ENOMEM. */
ssize_t input_read(struct input *in, void *buf, size_t n);

/* Peek at up to n bytes from the current position without consuming. */
size_t input_peek(struct input *in, const char **head, size_t n);

uint64_t input_bytes(const struct input *in);
/* Size of the underlying file when it is a regular file, else -1 (pipes,
 * terminals, stdin from a pipe). */
int64_t input_file_size(const struct input *in);
/* SHA-256 of all bytes consumed so far, lowercase hex. */
void input_sha256_hex(struct input *in, char out[65]);

#endif
