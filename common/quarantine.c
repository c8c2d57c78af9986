#include "quarantine.h"

static const char *const names[] = {
#define IZA_X_(name, text) text,
    QUARANTINE_REASONS(IZA_X_)
#undef IZA_X_
};

const char *quarantine_reason_name(enum quarantine_reason r)
{
	return (unsigned)r < QR_COUNT_ ? names[r] : "unknown";
}
