/*
 * tls_peer.h - the TLS client of a libmicrohttpd connection (GnuTLS), as a
 * service that asks every client for a certificate sees it: verified against
 * the trusted CA given to the daemon (so a missing or untrusted certificate
 * is a reason the handler can answer with, not a failed handshake), its
 * SHA-256 fingerprint (DER), its subject, and the subject's serialNumber
 * (where the test PKI and UZI certificates carry the AGB or URA code).
 * Used by izamon (mon_http.c) and izagw's intake service (intake.c).
 */
#ifndef IZA_TLS_PEER_H
#define IZA_TLS_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct tls_peer {
	char sha256[65];
	char subject[256];
	char serial[64]; /* subject serialNumber, "" when none */
};

/* true and *out for a verified client certificate; false with *why. */
bool tls_peer_get(struct MHD_Connection *c, struct tls_peer *out,
		  const char **why);

#endif
