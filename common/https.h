/*
 * https.h - the HTTPS plumbing izamon (mon_http.c) and izagw's intake
 * service (intake.c) share, on libmicrohttpd with GnuTLS:
 *
 *  - starting a daemon that listens on one IPv4 address with TLS 1.2/1.3,
 *    its certificate chain and key, and a CA every client must present a
 *    certificate of (https_start, https_stop);
 *  - the TLS client of a connection as the handler sees it: verified against
 *    that CA (so a missing or untrusted certificate is a reason the handler
 *    can answer with, not a failed handshake), its SHA-256 fingerprint (DER),
 *    subject and subject serialNumber, where the test PKI and UZI
 *    certificates carry the AGB, URA or region code (tls_peer_get);
 *  - answers: any heap text with security headers (https_send), and FHIR
 *    OperationOutcomes for errors (https_outcome).
 */
#ifndef IZA_HTTPS_H
#define IZA_HTTPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "iza_error.h"

struct tls_peer {
	char sha256[65];
	char subject[256];
	char serial[64]; /* subject serialNumber, "" when none */
};

/* true and *out for a verified client certificate; false with *why. */
bool tls_peer_get(struct MHD_Connection *c, struct tls_peer *out,
		  const char **why);

struct https_config {
	const char *bind; /* IPv4; NULL: 127.0.0.1 */
	int port;	  /* 0: any free port (https_server.port says which) */
	const char *cert_pem, *key_pem, *ca_pem; /* PEM files */
	unsigned int
	    flags; /* more MHD_USE_ flags, e.g. thread per connection */
	unsigned int timeout; /* idle seconds before a connection is closed */
	/* connections accepted at once (0: 64); more wait in the kernel's
	 * listen queue */
	unsigned int max_connections;
	MHD_AccessHandlerCallback handler;
	void *cls;
	MHD_RequestCompletedCallback completed; /* called with cls */
};

struct https_server {
	struct MHD_Daemon *d;
	char *cert, *key, *ca; /* the PEM texts, kept while d runs */
	int port;	       /* the port it listens on */
};

/* 0, or -IZA_ECONFIG naming the file that cannot be read or the bad
 * address, or -IZA_EIO when the daemon does not start.  *s is cleared first
 * and may be passed to https_stop in any case. */
int https_start(const struct https_config *c, struct https_server *s,
		struct iza_error *err);
void https_stop(struct https_server *s);

/* Queue len bytes of heap text t (taken over, also on failure) with a
 * content type, an optional Content-Location, and headers that forbid
 * loading anything else, sniffing and caching. */
enum MHD_Result https_send(struct MHD_Connection *c, unsigned int status,
			   const char *ctype, char *t, size_t len,
			   const char *location);
/* The same with more headers: name, value, ..., NULL (may be NULL). */
enum MHD_Result https_send_headers(struct MHD_Connection *c,
				   unsigned int status, const char *ctype,
				   char *t, size_t len,
				   const char *const *headers);
/* A FHIR OperationOutcome (new reference) and its answer. */
json_t *https_outcome_json(const char *code, const char *why);
enum MHD_Result https_outcome(struct MHD_Connection *c, unsigned int status,
			      const char *code, const char *why);

#endif
