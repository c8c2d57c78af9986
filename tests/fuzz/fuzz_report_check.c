/*
 * fuzz_report_check.c - libFuzzer harness for common/report_check.c, the
 * allow-list izamon will run on every received report: the input is parsed
 * as JSON (jansson) and, if it parses, checked.  Nothing may crash, leak or
 * trip a sanitizer, and a refusal must name a place.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *b = json_loadb((const char *)data, size,
			       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	struct iza_error err;

	memset(&err, 0, sizeof(err));
	if (b && report_check(b, &err) != 0 && !err.text[0])
		abort();
	json_decref(b);
	return 0;
}
