/*
 * mon_metrics.c - GET /metrics (contract in mon_metrics.h).
 */
#include "mon_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void metric(FILE *f, const char *name, const char *type,
		   const char *help, int64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRId64 "\n", name, help,
		name, type, name, v);
}

char *mon_metrics_text(struct mon_store *s, struct iza_error *err)
{
	struct mon_stats st;
	char *buf = NULL;
	size_t size = 0, i;
	FILE *f;

	if (s->ops->stats(s->impl, &st, err))
		return NULL;
	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	fputs("# HELP izamon_reports_stored Reports stored, per region.\n"
	      "# TYPE izamon_reports_stored gauge\n",
	      f);
	for (i = 0; i < st.nregions; i++)
		fprintf(f, "izamon_reports_stored{region=\"%s\"} %" PRId64 "\n",
			st.by_region[i].region, st.by_region[i].reports);
	metric(f, "izamon_reports_refused_total", "counter",
	       "Reports refused (POST /reports answered 4xx or 5xx).",
	       st.refused);
	metric(f, "izamon_last_report_received_timestamp_seconds", "gauge",
	       "When the last report was stored (0: none yet).",
	       st.last_received);
	metric(f, "izamon_regions_enrolled", "gauge", "Regions enrolled.",
	       st.regions);
	metric(f, "izamon_insurers_enrolled", "gauge", "Insurers enrolled.",
	       st.insurers);
	metric(f, "izamon_plans", "gauge", "Plans loaded.", st.plans);
	metric(f, "izamon_distribution_keys", "gauge",
	       "Years with a distribution key.", st.keys);
	fputs("# HELP izamon_decisions Milestone decisions recorded, per "
	      "status.\n# TYPE izamon_decisions gauge\n",
	      f);
	for (i = 0; i < st.nstatus; i++)
		fprintf(f, "izamon_decisions{status=\"%s\"} %" PRId64 "\n",
			st.by_status[i].status, st.by_status[i].n);
	metric(f, "izamon_notices", "gauge", "Payment notices issued.",
	       st.notices);
	metric(f, "izamon_notices_amount_cents", "gauge",
	       "The sum of all payment notices, in euro cents.",
	       st.notice_cents);
	metric(f, "izamon_audit_entries", "gauge", "Entries in the audit log.",
	       st.audit_entries);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
