/*
 * https.c - the HTTPS plumbing both services share (contract in https.h).
 */
#include "https.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "input.h"

#include <gnutls/gnutls.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

bool tls_peer_get(struct MHD_Connection *c, struct tls_peer *out,
		  const char **why)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	const gnutls_datum_t *peers;
	unsigned int n = 0, status = 0, mdlen = 0, i;
	unsigned char md[EVP_MAX_MD_SIZE];
	const unsigned char *p;
	X509_NAME *name;
	X509 *x;
	int idx;

	memset(out, 0, sizeof(*out));
	if (!s || !(peers = gnutls_certificate_get_peers(s, &n)) || n == 0) {
		*why = "a client certificate is required";
		return false;
	}
	if (gnutls_certificate_verify_peers2(s, &status) != 0 || status) {
		*why = "the client certificate is not trusted (or expired)";
		return false;
	}
	p = peers[0].data;
	x = d2i_X509(NULL, &p, (long)peers[0].size);
	if (!x || X509_digest(x, EVP_sha256(), md, &mdlen) != 1) {
		X509_free(x);
		*why = "unreadable client certificate";
		return false;
	}
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
	name = X509_get_subject_name(x);
	X509_NAME_oneline(name, out->subject, (int)sizeof(out->subject));
	idx = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
	if (idx >= 0) {
		const ASN1_STRING *v =
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
		int len = ASN1_STRING_length(v);

		if (len > 0 && (size_t)len < sizeof(out->serial))
			memcpy(out->serial, ASN1_STRING_get0_data(v),
			       (size_t)len);
	}
	X509_free(x);
	return true;
}

static char *read_pem(const char *path)
{
	struct input *f = NULL;
	struct iza_error err = {0};
	char *buf = NULL;
	size_t len = 0;

	if (!path || input_open(path, &f, &err) != 0)
		return NULL;
	if (input_slurp(f, 1u << 20, &buf, &len, &err) != 0)
		buf = NULL;
	input_close(f);
	return buf;
}

void https_stop(struct https_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	free(s->cert);
	free(s->key);
	free(s->ca);
	memset(s, 0, sizeof(*s));
}

int https_start(const struct https_config *c, struct https_server *s,
		struct iza_error *err)
{
	const char *files[3] = {c->cert_pem, c->key_pem, c->ca_pem};
	const char *what[3] = {"the server certificate", "its key",
			       "the client CA"};
	char **texts[3] = {&s->cert, &s->key, &s->ca};
	const union MHD_DaemonInfo *di;
	struct sockaddr_in sa;
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 3; i++)
		if (!(*texts[i] = read_pem(files[i])))
			return iza_error_set(err, -IZA_ECONFIG, files[i], 0,
					     "tls", "cannot read %s (PEM)",
					     what[i]);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)c->port);
	if (inet_pton(AF_INET, c->bind ? c->bind : "127.0.0.1", &sa.sin_addr) !=
	    1)
		return iza_error_set(err, -IZA_ECONFIG, NULL, 0, "bind",
				     "\"%s\" is not an IPv4 address", c->bind);
	s->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG |
		c->flags,
	    0, NULL, NULL, c->handler, c->cls, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_HTTPS_MEM_CERT, s->cert,
	    MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_HTTPS_MEM_TRUST, s->ca,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_NOTIFY_COMPLETED, c->completed, c->cls,
	    MHD_OPTION_CONNECTION_TIMEOUT, c->timeout,
	    MHD_OPTION_CONNECTION_LIMIT,
	    c->max_connections ? c->max_connections : 64u, MHD_OPTION_END);
	if (!s->d)
		return iza_error_set(err, -IZA_EIO, NULL, 0, "serve",
				     "cannot listen on %s:%d (port in use, or "
				     "the TLS material refused)",
				     c->bind ? c->bind : "127.0.0.1", c->port);
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : c->port;
	return 0;
}

enum MHD_Result https_send(struct MHD_Connection *c, unsigned int status,
			   const char *ctype, char *t, size_t len,
			   const char *location)
{
	const char *const h[] = {"Content-Location", location, NULL};

	return https_send_headers(c, status, ctype, t, len,
				  location ? h : NULL);
}

enum MHD_Result https_send_headers(struct MHD_Connection *c,
				   unsigned int status, const char *ctype,
				   char *t, size_t len,
				   const char *const *headers)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (!t)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, t, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(t);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	for (; headers && headers[0] && headers[1]; headers += 2)
		MHD_add_response_header(r, headers[0], headers[1]);
	/* nothing served needs anything from elsewhere: say so */
	MHD_add_response_header(
	    r, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; "
	    "img-src 'self'; frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

json_t *https_outcome_json(const char *code, const char *why)
{
	return json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "resourceType",
			 "OperationOutcome", "issue", "severity", "error",
			 "code", code, "diagnostics", why);
}

enum MHD_Result https_outcome(struct MHD_Connection *c, unsigned int status,
			      const char *code, const char *why)
{
	json_t *o = https_outcome_json(code, why);
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return https_send(c, status, "application/fhir+json", t,
			  t ? strlen(t) : 0, NULL);
}
