/*
 * pseudo.c - keyed HMAC-SHA256 pseudonyms, the BSN 11-test and the region key
 * file (see pseudo.h).
 *
 * The HMAC context is keyed once in pseudo_new(); every call re-initialises
 * it with a NULL key, which makes OpenSSL restore the prepared inner/outer
 * pads instead of hashing the key again or allocating a new context (the
 * test suite's benchmark compares the variants: IZA_BENCH=1 test_pseudo).
 */
#include "pseudo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define KEY_HEX_LEN (2 * IZA_KEY_LEN)
#define LABEL_BSN   "bsn:v1:"
#define LABEL_SRC   "src:v1:"
#define LABEL_REF   "ref:v1:"

struct pseudo {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx; /* keyed; re-initialised per call */
};

static const char hexdigits[] = "0123456789abcdef";

void pseudo_free(struct pseudo *ps)
{
	if (!ps)
		return;
	EVP_MAC_CTX_free(ps->ctx); /* clears the key schedule */
	EVP_MAC_free(ps->mac);
	OPENSSL_cleanse(ps, sizeof(*ps));
	OPENSSL_free(ps);
}

static struct pseudo *pseudo_alloc(void)
{
	struct pseudo *ps = OPENSSL_zalloc(sizeof(*ps));

	if (!ps)
		return NULL;
	ps->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!ps->mac) {
		OPENSSL_free(ps);
		return NULL;
	}
	return ps;
}

int pseudo_new(const uint8_t key[IZA_KEY_LEN], struct pseudo **out)
{
	return pseudo_new_key(key, IZA_KEY_LEN, out);
}

int pseudo_new_key(const uint8_t *key, size_t len, struct pseudo **out)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	struct pseudo *ps;
	int rc = -IZA_ECRYPTO;

	if (!key || !out || len == 0 || len > IZA_KEY_MAX)
		return -IZA_EUSAGE;
	ps = pseudo_alloc();
	if (!ps)
		return -IZA_ECRYPTO;
	ps->ctx = EVP_MAC_CTX_new(ps->mac);
	if (!ps->ctx)
		goto out;
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ps->ctx, key, len, params))
		goto out;
	*out = ps;
	ps = NULL;
	rc = 0;
out:
	pseudo_free(ps);
	return rc;
}

int pseudo_clone(const struct pseudo *ps, struct pseudo **out)
{
	struct pseudo *cl;
	int rc = -IZA_ECRYPTO;

	if (!ps || !out)
		return -IZA_EUSAGE;
	cl = pseudo_alloc();
	if (!cl)
		return -IZA_ECRYPTO;
	cl->ctx = EVP_MAC_CTX_dup(ps->ctx);
	if (!cl->ctx)
		goto out;
	*out = cl;
	cl = NULL;
	rc = 0;
out:
	pseudo_free(cl);
	return rc;
}

int pseudo_hmac(struct pseudo *ps, const char *label, const char *data,
		size_t len, uint8_t out[IZA_HASH_LEN])
{
	size_t outlen = 0;

	if (!ps || !out || (!data && len > 0))
		return -IZA_EUSAGE;
	if (!EVP_MAC_init(ps->ctx, NULL, 0, NULL))
		return -IZA_ECRYPTO;
	if (label && label[0] &&
	    !EVP_MAC_update(ps->ctx, (const unsigned char *)label,
			    strlen(label)))
		return -IZA_ECRYPTO;
	if (len > 0 &&
	    !EVP_MAC_update(ps->ctx, (const unsigned char *)data, len))
		return -IZA_ECRYPTO;
	if (!EVP_MAC_final(ps->ctx, out, &outlen, IZA_HASH_LEN) ||
	    outlen != IZA_HASH_LEN)
		return -IZA_ECRYPTO;
	return 0;
}

bool bsn_normalise(const char *in, size_t len, char out[10])
{
	char d[9];
	size_t i, n = 0;
	int sum = 0, nonzero = 0;

	if (!in)
		return false;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c == ' ' || c == '.' || c == '-')
			continue;
		if (c < '0' || c > '9' || n == 9)
			return false;
		d[n++] = c;
	}
	if (n == 8) {
		memmove(d + 1, d, 8);
		d[0] = '0';
		n = 9;
	}
	if (n != 9)
		return false;
	for (i = 0; i < 9; i++) {
		int v = d[i] - '0';

		sum += i < 8 ? v * (int)(9 - i) : -v;
		nonzero |= v;
	}
	if (!nonzero || sum % 11 != 0)
		return false;
	memcpy(out, d, 9);
	out[9] = '\0';
	OPENSSL_cleanse(d, sizeof(d));
	return true;
}

/* "<prefix><source>|" into buf; the source must be non-empty, fit the
 * canonical field and not contain the separator. */
static int scoped_label(char *buf, size_t size, const char *prefix,
			const char *source)
{
	size_t sl, pl;

	if (!source || !source[0])
		return -IZA_EMISSING;
	sl = strnlen(source, IZA_SOURCE_MAX);
	if (sl >= IZA_SOURCE_MAX)
		return -IZA_ETOOBIG;
	if (memchr(source, '|', sl))
		return -IZA_EINVALID;
	pl = strlen(prefix);
	if (pl + sl + 2 > size)
		return -IZA_ETOOBIG;
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, source, sl);
	buf[pl + sl] = '|';
	buf[pl + sl + 1] = '\0';
	return 0;
}

#define SCOPED_LABEL_MAX (sizeof(LABEL_SRC) + IZA_SOURCE_MAX + 1)

int pseudo_person(struct pseudo *ps, const char *bsn, size_t bsn_len,
		  const char *source, const char *local_id, size_t id_len,
		  uint8_t out[IZA_HASH_LEN], bool *used_bsn)
{
	char norm[10], label[SCOPED_LABEL_MAX];
	int rc;

	if (bsn && bsn_normalise(bsn, bsn_len, norm)) {
		rc = pseudo_hmac(ps, LABEL_BSN, norm, 9, out);
		OPENSSL_cleanse(norm, sizeof(norm));
		if (rc == 0 && used_bsn)
			*used_bsn = true;
		return rc;
	}
	if (!local_id || id_len == 0)
		return -IZA_EMISSING; /* no identifier: no person */
	rc = scoped_label(label, sizeof(label), LABEL_SRC, source);
	if (rc < 0)
		return rc;
	rc = pseudo_hmac(ps, label, local_id, id_len, out);
	if (rc == 0 && used_bsn)
		*used_bsn = false;
	return rc;
}

int pseudo_patient_key(struct pseudo *ps, const char *source,
		       const char *local_id, size_t id_len,
		       uint8_t out[IZA_HASH_LEN])
{
	char label[SCOPED_LABEL_MAX];
	int rc;

	if (!local_id || id_len == 0)
		return -IZA_EMISSING;
	rc = scoped_label(label, sizeof(label), LABEL_REF, source);
	if (rc < 0)
		return rc;
	return pseudo_hmac(ps, label, local_id, id_len, out);
}

void hash_hex(const uint8_t h[IZA_HASH_LEN], char out[2 * IZA_HASH_LEN + 1])
{
	size_t i;

	for (i = 0; i < IZA_HASH_LEN; i++) {
		out[2 * i] = hexdigits[h[i] >> 4];
		out[2 * i + 1] = hexdigits[h[i] & 0xf];
	}
	out[2 * IZA_HASH_LEN] = '\0';
}

/* ---- key file ---- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Make the new directory entry durable too; file systems that cannot sync
 * a directory (EINVAL) are not an error. */
static int sync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd, rc = 0;

	if (!slash) {
		dir[0] = '.';
		n = 1;
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return -1;
		memcpy(dir, path, n);
	}
	dir[n] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

int key_generate(const char *path, struct iza_error *err)
{
	uint8_t key[IZA_KEY_LEN];
	char text[KEY_HEX_LEN + 1];
	int fd = -1, rc, e;
	size_t i;

	if (!path || !path[0])
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "key",
				     "no key file path given");
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return iza_error_set(err, -IZA_ETOOBIG, NULL, 0, "key",
				     "key file path too long");
	if (RAND_bytes(key, sizeof(key)) != 1) {
		rc = iza_error_set(err, -IZA_ECRYPTO, path, 0, "key",
				   "random generator failed");
		goto out;
	}
	for (i = 0; i < IZA_KEY_LEN; i++) {
		text[2 * i] = hexdigits[key[i] >> 4];
		text[2 * i + 1] = hexdigits[key[i] & 0xf];
	}
	text[KEY_HEX_LEN] = '\n';
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		e = errno;
		if (e == EEXIST)
			rc = iza_error_set(err, -IZA_EEXISTS, path, 0, "key",
					   "key file already exists; refusing "
					   "to overwrite it");
		else
			rc = iza_error_set(err, -IZA_EIO, path, 0, "key",
					   "cannot create key file: %s",
					   strerror(e));
		goto out;
	}
	if (write_all(fd, text, sizeof(text)) < 0 || fsync(fd) < 0) {
		e = errno;
		rc = iza_error_set(err, -IZA_EIO, path, 0, "key",
				   "cannot write key file: %s", strerror(e));
		goto out_unlink;
	}
	e = close(fd);
	fd = -1;
	if (e < 0) {
		e = errno;
		rc = iza_error_set(err, -IZA_EIO, path, 0, "key",
				   "cannot write key file: %s", strerror(e));
		goto out_unlink;
	}
	if (sync_parent_dir(path) < 0) {
		e = errno;
		rc = iza_error_set(err, -IZA_EIO, path, 0, "key",
				   "cannot sync the key file's directory: %s",
				   strerror(e));
		goto out;
	}
	rc = 0;
	goto out;
out_unlink:
	unlink(path);
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
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

int key_load(const char *path, uint8_t key[IZA_KEY_LEN], struct iza_error *err)
{
	char text[KEY_HEX_LEN + 4];
	uint8_t k[IZA_KEY_LEN];
	struct stat st;
	size_t n = 0, i;
	int fd, rc, e;

	if (!path || !path[0] || !key)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "key",
				     "no key file path given");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		return iza_error_set(
		    err, e == ENOENT ? -IZA_ENOTFOUND : -IZA_EIO, path, 0,
		    "key", "cannot open key file: %s", strerror(e));
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		rc = iza_error_set(err, -IZA_EIO, path, 0, "key",
				   "cannot stat key file: %s", strerror(e));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = iza_error_set(err, -IZA_EINVALID, path, 0, "key",
				   "key file is not a regular file");
		goto out;
	}
	if (st.st_mode & 077) {
		rc = iza_error_set(err, -IZA_EINVALID, path, 0, "key",
				   "key file is accessible to group or others "
				   "(mode %04o); it must be 0600 or stricter "
				   "(chmod 600)",
				   (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (n < sizeof(text)) {
		ssize_t r = read(fd, text + n, sizeof(text) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			rc = iza_error_set(err, -IZA_EIO, path, 0, "key",
					   "cannot read key file: %s",
					   strerror(e));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == KEY_HEX_LEN + 1 && text[KEY_HEX_LEN] == '\n')
		n--;
	if (n != KEY_HEX_LEN) {
		rc = iza_error_set(err, -IZA_EINVALID, path, 0, "key",
				   "key file must hold exactly %d hex "
				   "characters and a newline",
				   KEY_HEX_LEN);
		goto out;
	}
	for (i = 0; i < IZA_KEY_LEN; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			rc = iza_error_set(err, -IZA_EINVALID, path, 1, "key",
					   "not a hex character at column %zu",
					   hi < 0 ? 2 * i + 1 : 2 * i + 2);
			goto out;
		}
		k[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, k, IZA_KEY_LEN);
	rc = 0;
out:
	close(fd);
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}
