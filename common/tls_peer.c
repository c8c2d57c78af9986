/*
 * tls_peer.c - the verified TLS client of a connection (contract in
 * tls_peer.h).
 */
#include "tls_peer.h"

#include <stdio.h>
#include <string.h>

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
