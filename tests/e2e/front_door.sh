#!/usr/bin/env bash
# The digital front door's KPIs on the hand-made fixture tests/data/front-door
# (see its README), every value worked out on paper:
#   in the region in 2025-Q1: front-door triages t1 t2 t3 t4 t5 t7 (t6 lives
#   in Deventer, t8 is quarantined for its unknown disposition code), practice
#   triages gt1 (U4) gt2 (U5) gt3 (U1), an e-consult ge1.
#   frontdoor-nonacute-share = U4/U5 front-door triages (t1 t2 t4 t5) / all
#     U4/U5 triages (those + gt1 gt2) = 4/6
#   frontdoor-selfcare-share = self-care (t1 t4) / front-door triages = 2/6
#   frontdoor-er-referral-share = ER (t3; t7's ambulance is not) / 6 = 1/6
#   digital-contact-share = message (ge1) / GP contacts (gt1 phone, gt2 gt3
#     in person, ge1) = 1/4: a front-door triage is no GP contact
#   frontdoor-load = 6 triages, per hour of the week (below)
source "$(dirname "$0")/lib.bash"
fx="$IZA_SOURCE_DIR/tests/data/front-door"
d="$E2E_TMP/gw"
gw_new "$d" '{"k": 1, "test_mode": true, "provider_rule": false}'
set +e
gw "$d" ingest --source 01099999 "$fx/frontdoor-Patient.ndjson" "$fx/frontdoor-Encounter.ndjson" >"$E2E_TMP/fd.out" 2>&1
rc=$?
gw "$d" ingest --source 01012345 "$fx/gp-Patient.ndjson" "$fx/gp-Encounter.ndjson" >"$E2E_TMP/gp.out" 2>&1
rc_gp=$?
set -e
expect_eq "front-door ingest: one record quarantined" 5 "$rc"
expect_eq "  as an unknown code" 1 "$(awk '/^ingest .*frontdoor-Encounter/{t=1} t && $1 == "unknown_code" {print $2; exit}' "$E2E_TMP/fd.out")"
expect_eq "GP ingest clean" 0 "$rc_gp"
gw "$d" kpis --period 2025-Q1 --format json >"$E2E_TMP/k.json"
val() { jq -r --arg id "$1" '.kpis[] | select(.id == $id) | "\(.numerator)/\(.denominator) \(.value)"' "$E2E_TMP/k.json"; }
expect_eq "frontdoor-nonacute-share" "4/6 0.666667" "$(val frontdoor-nonacute-share)"
expect_eq "frontdoor-selfcare-share" "2/6 0.333333" "$(val frontdoor-selfcare-share)"
expect_eq "frontdoor-er-referral-share" "1/6 0.166667" "$(val frontdoor-er-referral-share)"
expect_eq "digital-contact-share without the front door's triages" "1/4 0.25" "$(val digital-contact-share)"
# the load profile: t1 Mon 19:10, t2 Tue 08:05, t3 Sat 23:40, t4 Sun 10:00,
# t5 Mon 12:30, t7 Thu 02:15 (Amsterdam, CET); 168 hours listed; the 162
# empty hours are zero cells and suppressed, and since those alone would
# hold no person the union rule suppresses one more (mon-12, the first
# stratum with a person in stratum order fri, mon, sat, sun, thu, tue, wed)
load() { jq -r "$1" "$E2E_TMP/k.json"; }
expect_eq "frontdoor-load total" 6 "$(load '.kpis[] | select(.id == "frontdoor-load") | .value')"
expect_eq "  168 hours of the week listed" 168 "$(load '[.kpis[] | select(.id == "frontdoor-load") | .strata[]] | length')"
expect_eq "  released hours" "mon-19=1 sat-23=1 sun-10=1 thu-02=1 tue-08=1" "$(load '[.kpis[] | select(.id == "frontdoor-load") | .strata[] | select(.suppressed | not) | "\(.stratum)=\(.value)"] | join(" ")')"
expect_eq "  suppressed hours" 163 "$(load '[.kpis[] | select(.id == "frontdoor-load") | .strata[] | select(.suppressed)] | length')"
gw "$d" kpis --period 2025-Q1 >"$E2E_TMP/table.txt"
expect_eq "the table leaves the 168 hours out" 0 "$(grep -c hour_of_week "$E2E_TMP/table.txt" || true)"
sqlite3 "$d/izagw-data/events.db" "SELECT type || ':' || count(*) FROM events WHERE live = 1 GROUP BY type ORDER BY type" >"$E2E_TMP/types"
expect_eq "events by type" "econsult:1 frontdoor_triage:7 gp_contact:4 triage:3" "$(tr '\n' ' ' <"$E2E_TMP/types" | sed 's/ $//')"
expect_eq "urgency and disposition stored" "U5 self_care" "$(sqlite3 "$d/izagw-data/events.db" "SELECT 'U' || urgency || ' ' || disposition FROM events WHERE source_id = 't1'")"
finish
