#include "iza_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {
#define IZA_X_(name, msg) #name,
    IZA_ERRNO_MAP(IZA_X_)
#undef IZA_X_
};

static const char *const messages[] = {
#define IZA_X_(name, msg) msg,
    IZA_ERRNO_MAP(IZA_X_)
#undef IZA_X_
};

static int index_of(int rc)
{
	int i = rc < 0 ? -rc : rc;
	return i < IZA_E_COUNT_ ? i : -1;
}

const char *iza_errname(int rc)
{
	int i = index_of(rc);
	return i < 0 ? "UNKNOWN" : names[i];
}

const char *iza_strerror(int rc)
{
	int i = index_of(rc);
	return i < 0 ? "unknown error" : messages[i];
}

void iza_error_clear(struct iza_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static void copy_str(char *dst, size_t size, const char *src)
{
	if (!src)
		src = "";
	if (src == dst)
		return; /* iza_error_set(err, ..., err->file, ...) */
	memmove(dst, src, strnlen(src, size - 1));
	dst[strnlen(src, size - 1)] = '\0';
}

int iza_error_set(struct iza_error *err, int code, const char *file, long line,
		  const char *field, const char *fmt, ...)
{
	char text[IZA_ERR_TEXT_MAX];
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	copy_str(err->file, sizeof(err->file), file);
	err->line = line;
	copy_str(err->field, sizeof(err->field), field);
	/* format into a local buffer first: the arguments may point into
	 * err itself (rewrapping err->text) */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memcpy(err->text, text, sizeof(text));
	return code;
}

char *iza_error_format(const struct iza_error *err, char *buf, size_t size)
{
	char where[IZA_ERR_FILE_MAX + 32] = "";
	size_t n = 0;

	if (err->file[0] && err->line > 0)
		snprintf(where, sizeof(where), "%s:%ld: ", err->file,
			 err->line);
	else if (err->file[0])
		snprintf(where, sizeof(where), "%s: ", err->file);
	else if (err->line > 0)
		snprintf(where, sizeof(where), "record %ld: ", err->line);
	n = (size_t)snprintf(buf, size, "%s%s%s%s (%s)", where, err->field,
			     err->field[0] ? ": " : "",
			     err->text[0] ? err->text : iza_strerror(err->code),
			     iza_errname(err->code));
	(void)n;
	return buf;
}
