/*
 * fuzz_indicator.c - libFuzzer harness for monitor/indicator.c: a report
 * body as izamon stores it, read into indicators.  Nothing may crash, leak
 * or trip a sanitizer; every indicator either has a value or says why not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "indicator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct indicator *ind = NULL;
	struct iza_error err;
	int n = indicators_read((const char *)data, size, &ind, &err), i;

	for (i = 0; i < n; i++)
		if (!ind[i].kpi[0] || (!ind[i].has_value && !ind[i].absent[0]))
			abort();
	free(ind);
	return 0;
}
