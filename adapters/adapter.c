#include "adapter.h"

#include "cda.h"
#include "hl7v2.h"

#include <string.h>

const struct adapter *const adapter_registry[] = {
    &adapter_fhir_ndjson, &adapter_fhir_bundle, &adapter_cda,
    &adapter_hl7v2_xml,	  &adapter_hl7v2_er7,	NULL,
};

const struct adapter *adapter_find(const char *name)
{
	size_t i;

	for (i = 0; adapter_registry[i]; i++)
		if (strcmp(adapter_registry[i]->name, name) == 0)
			return adapter_registry[i];
	return NULL;
}

const struct adapter *adapter_detect(const char *head, size_t len)
{
	const struct adapter *best = NULL;
	int best_score = 0;
	size_t i;

	for (i = 0; adapter_registry[i]; i++) {
		int s = adapter_registry[i]->sniff(head, len);

		if (s > best_score) {
			best_score = s;
			best = adapter_registry[i];
		}
	}
	return best;
}
