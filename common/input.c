#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INPUT_CHUNK (1 << 20)

struct input {
	int fd;
	char *name;
	EVP_MD_CTX *md;
	uint64_t bytes;
	char *buf;
	size_t cap, start, end; /* unconsumed data is buf[start..end) */
	size_t hashed;		/* bytes of buf[0..hashed) already hashed */
	bool eof;
	long lineno;
};

int input_open(const char *path, struct input **out, struct iza_error *err)
{
	struct input *in = calloc(1, sizeof(*in));

	if (!in)
		return iza_error_set(err, -IZA_ENOMEM, path, 0, NULL,
				     "out of memory");
	in->fd = strcmp(path, "-") == 0 ? STDIN_FILENO
					: open(path, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0) {
		int e = errno;

		free(in);
		return iza_error_set(err, -IZA_EIO, path, 0, NULL,
				     "cannot open: %s", strerror(e));
	}
	in->name = strdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
	in->md = EVP_MD_CTX_new();
	in->cap = INPUT_CHUNK;
	in->buf = malloc(in->cap);
	if (!in->name || !in->md || !in->buf ||
	    EVP_DigestInit_ex(in->md, EVP_sha256(), NULL) != 1) {
		input_close(in);
		return iza_error_set(err, -IZA_ENOMEM, path, 0, NULL,
				     "out of memory");
	}
	*out = in;
	return 0;
}

void input_close(struct input *in)
{
	if (!in)
		return;
	if (in->fd > STDIN_FILENO)
		close(in->fd);
	EVP_MD_CTX_free(in->md);
	free(in->buf);
	free(in->name);
	free(in);
}

const char *input_name(const struct input *in)
{
	return in->name;
}

/* Hash what has been read into the buffer but not hashed yet. */
static void hash_pending(struct input *in)
{
	if (in->end > in->hashed) {
		EVP_DigestUpdate(in->md, in->buf + in->hashed,
				 in->end - in->hashed);
		in->bytes += in->end - in->hashed;
		in->hashed = in->end;
	}
}

/* Move unconsumed data to the front and read more; grows the buffer to at
 * least want bytes. Returns bytes read, 0 at EOF, -IZA_EIO. */
static ssize_t fill(struct input *in, size_t want)
{
	ssize_t r;

	hash_pending(in);
	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
		in->hashed = in->end;
	}
	if (want > in->cap) {
		char *nb = realloc(in->buf, want);

		if (!nb)
			return -IZA_ENOMEM;
		in->buf = nb;
		in->cap = want;
	}
	if (in->end == in->cap)
		return -IZA_ETOOBIG;
	do {
		r = read(in->fd, in->buf + in->end, in->cap - in->end);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -IZA_EIO;
	if (r == 0)
		in->eof = true;
	in->end += (size_t)r;
	hash_pending(in);
	return r;
}

int input_getline(struct input *in, size_t max, const char **line, size_t *len,
		  bool *too_long, long *lineno)
{
	size_t scanned = 0;

	*too_long = false;
	for (;;) {
		char *nl = memchr(in->buf + in->start + scanned, '\n',
				  in->end - in->start - scanned);
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - (in->buf + in->start));

			*line = in->buf + in->start;
			*len = n;
			in->start += n + 1;
			*lineno = ++in->lineno;
			if (n > max) {
				*too_long = true;
				*len = 0;
			}
			return 1;
		}
		scanned = in->end - in->start;
		if (in->eof) {
			if (scanned == 0)
				return 0;
			*line = in->buf + in->start;
			*len = scanned;
			in->start = in->end;
			*lineno = ++in->lineno;
			if (scanned > max) {
				*too_long = true;
				*len = 0;
			}
			return 1;
		}
		if (scanned > max) {
			/* discard the over-long line up to its newline */
			for (;;) {
				in->start = in->end;
				r = fill(in, in->cap);
				if (r < 0)
					return -IZA_EIO;
				nl = memchr(in->buf + in->start, '\n',
					    in->end - in->start);
				if (nl) {
					in->start = (size_t)(nl - in->buf) + 1;
					break;
				}
				if (in->eof) {
					in->start = in->end;
					break;
				}
			}
			*line = in->buf;
			*len = 0;
			*too_long = true;
			*lineno = ++in->lineno;
			return 1;
		}
		r = fill(in, in->end - in->start + INPUT_CHUNK > in->cap
				 ? (in->end - in->start) + INPUT_CHUNK
				 : in->cap);
		if (r < 0 && r != -IZA_ETOOBIG)
			return -IZA_EIO;
		/* after fill, start is 0; keep scanned */
	}
}

size_t input_peek(struct input *in, const char **head, size_t n)
{
	while (!in->eof && in->end - in->start < n) {
		ssize_t r = fill(in, in->cap);

		if (r <= 0)
			break;
	}
	*head = in->buf + in->start;
	return in->end - in->start < n ? in->end - in->start : n;
}

ssize_t input_read(struct input *in, void *buf, size_t n)
{
	size_t have;

	if (n == 0)
		return 0;
	if (in->start == in->end) {
		ssize_t r;

		if (in->eof)
			return 0;
		r = fill(in, in->cap);
		if (r < 0)
			return r == -IZA_ENOMEM ? -IZA_ENOMEM : -IZA_EIO;
		if (in->start == in->end)
			return 0;
	}
	have = in->end - in->start;
	if (have > n)
		have = n;
	memcpy(buf, in->buf + in->start, have);
	in->start += have;
	return (ssize_t)have;
}

int input_slurp(struct input *in, size_t max, char **buf, size_t *len,
		struct iza_error *err)
{
	size_t have;
	char *out;

	while (!in->eof) {
		ssize_t r;

		if (in->end - in->start > max)
			break;
		r = fill(in, in->end - in->start + INPUT_CHUNK > in->cap
				 ? in->end - in->start + INPUT_CHUNK
				 : in->cap);
		if (r < 0)
			return iza_error_set(err, (int)r, in->name, 0, NULL,
					     "read error");
	}
	have = in->end - in->start;
	if (have > max)
		return iza_error_set(err, -IZA_ETOOBIG, in->name, 0, NULL,
				     "document larger than the %zu MiB limit",
				     max >> 20);
	out = malloc(have + 1);
	if (!out)
		return iza_error_set(err, -IZA_ENOMEM, in->name, 0, NULL,
				     "out of memory");
	memcpy(out, in->buf + in->start, have);
	out[have] = '\0';
	in->start = in->end;
	*buf = out;
	*len = have;
	return 0;
}

uint64_t input_bytes(const struct input *in)
{
	return in->bytes;
}

int64_t input_file_size(const struct input *in)
{
	struct stat sb;

	if (fstat(in->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return -1;
	return (int64_t)sb.st_size;
}

void input_sha256_hex(struct input *in, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	EVP_MD_CTX *copy = EVP_MD_CTX_new();

	out[0] = '\0';
	if (!copy)
		return;
	hash_pending(in);
	if (EVP_MD_CTX_copy_ex(copy, in->md) == 1 &&
	    EVP_DigestFinal_ex(copy, md, &n) == 1)
		for (i = 0; i < n && i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(copy);
}
