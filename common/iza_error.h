/*
 * iza_error.h - error codes and rich error reports shared by every module.
 *
 * Fallible functions return 0 on success or a negative code -IZA_Exxx from the
 * one list below, which also generates the name and message tables.  Where the
 * caller needs to know *where* and *why*, the function also fills a
 * caller-provided struct iza_error: the file, the line or record number, the
 * field and a short text.  The text never contains a patient value: it names
 * positions, field names and codes of our own vocabulary only.
 */
#ifndef IZA_ERROR_H
#define IZA_ERROR_H

#include <stddef.h>

#define IZA_ERRNO_MAP(X)                                                       \
	X(OK, "success")                                                       \
	X(NOMEM, "out of memory")                                              \
	X(IO, "input/output error")                                            \
	X(PARSE, "malformed input")                                            \
	X(TOOBIG, "input exceeds a size limit")                                \
	X(TOODEEP, "nesting too deep")                                         \
	X(UTF8, "invalid UTF-8")                                               \
	X(TRUNCATED, "input ends too early")                                   \
	X(MISSING, "required field missing")                                   \
	X(INVALID, "invalid value")                                            \
	X(CODE, "unknown code")                                                \
	X(DATE, "impossible date")                                             \
	X(MAPPING, "invalid mapping")                                          \
	X(CONFIG, "invalid configuration")                                     \
	X(STORE, "event store error")                                          \
	X(EXISTS, "already exists")                                            \
	X(NOTFOUND, "not found")                                               \
	X(CRYPTO, "cryptographic failure")                                     \
	X(USAGE, "invalid usage")                                              \
	X(DENIED, "not permitted")

enum iza_errcode {
#define IZA_X_(name, msg) IZA_E##name,
	IZA_ERRNO_MAP(IZA_X_)
#undef IZA_X_
	    IZA_E_COUNT_
};

/* Short stable name ("PARSE") and human message for a code; accepts rc < 0. */
const char *iza_errname(int rc);
const char *iza_strerror(int rc);

#define IZA_ERR_FILE_MAX  256
#define IZA_ERR_FIELD_MAX 96
#define IZA_ERR_TEXT_MAX  256

struct iza_error {
	int code;		     /* negative IZA_Exxx, 0 when unset */
	char file[IZA_ERR_FILE_MAX]; /* file name, "" when not applicable */
	long line; /* line or record number (1-based), 0 unknown */
	char field[IZA_ERR_FIELD_MAX]; /* field, rule or path, "" unknown */
	char text[IZA_ERR_TEXT_MAX];   /* why; never a patient value */
};

/* Reset to "no error". Accepts NULL. */
void iza_error_clear(struct iza_error *err);

/*
 * Fill err (if not NULL) and return code (so callers can `return
 * iza_error_set(...)`).  file/field may be NULL.  text is printf-style.
 */
int iza_error_set(struct iza_error *err, int code, const char *file, long line,
		  const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Format as "file:line: field: text (NAME)" into buf; returns buf. */
char *iza_error_format(const struct iza_error *err, char *buf, size_t size);

#endif
