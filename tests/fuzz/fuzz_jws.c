/*
 * fuzz_jws.c - libFuzzer harness for common/jws.c (jws_verify).
 *
 * Input: a JWS string, a newline, then the payload bytes.  The CA is a
 * fixed test-only certificate whose key was thrown away, so the chain
 * check always fails for real signatures: the harness covers the parsing
 * of the form, the base64 parts, the protected header (JSON), the claims
 * and the x5c certificates (DER), and the chain check.  Nothing may crash,
 * leak or trip a sanitizer, and nothing may verify.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB7jCCAZOgAwIBAgIUBQD+Wf5KnNvSnJT1w0Z/tdWbHy4wCgYIKoZIzj0EAwIw\n"
    "SzEWMBQGA1UECgwNSVpBIFRFU1QgT05MWTExMC8GA1UEAwwoZnV6eiBoYXJuZXNz\n"
    "IENBIChURVNUIE9OTFksIG5vIGtleSBrZXB0KTAgFw0yNjEyMDIwNzIwMTZaGA8y\n"
    "MTI2MTEwODA3MjAxNlowSzEWMBQGA1UECgwNSVpBIFRFU1QgT05MWTExMC8GA1UE\n"
    "AwwoZnV6eiBoYXJuZXNzIENBIChURVNUIE9OTFksIG5vIGtleSBrZXB0KTBZMBMG\n"
    "ByqGSM49AgEGCCqGSM49AwEHA0IABDIFbKLTzOV8Qb2ETMYY/OfPmXjzBBHjHTEJ\n"
    "wnGtGNyur45q3xG3Or3mDFj5RyPkWR4leiv+CEk0QnXvikFT8uyjUzBRMB0GA1Ud\n"
    "DgQWBBR7qMSKsVmHazWHykm9Eu0I3+4lyDAfBgNVHSMEGDAWgBR7qMSKsVmHazWH\n"
    "ykm9Eu0I3+4lyDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDK\n"
    "RupgGfSNI729/arQVeKF/8htULag9ONxPHSUlo5hIgIhAOsKs31YxFayES+9cQ/s\n"
    "ZfCyZLV0Y7f8X4FK8Q0CdJE2\n"
    "-----END CERTIFICATE-----\n";

static const char *ca_file(void)
{
	static char path[64];
	int fd;

	if (path[0])
		return path;
	snprintf(path, sizeof(path), "/tmp/iza-fuzz-jws-ca-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, ca_pem, sizeof(ca_pem) - 1) !=
			  (ssize_t)(sizeof(ca_pem) - 1))
		abort();
	close(fd);
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t jlen = nl ? (size_t)(nl - data) : size;
	char *jws = malloc(jlen + 1);
	struct jws_claims cl;
	struct iza_error err;
	int rc;

	if (!jws)
		return 0;
	memcpy(jws, data, jlen);
	jws[jlen] = '\0';
	memset(&err, 0, sizeof(err));
	rc = jws_verify(jws, nl ? nl + 1 : data, nl ? size - jlen - 1 : 0,
			ca_file(), 0, &cl, NULL, &err);
	if (rc == 0)
		abort(); /* nothing can chain to a CA whose key is gone */
	free(jws);
	return 0;
}
