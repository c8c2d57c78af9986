#!/usr/bin/env python3
"""py_kpi.py - the ER KPIs (er-visits, er-patients) with Python's json module,
a peer for bench/run.sh.

usage: py_kpi.py --export DIR --hospital-agb AGB --gp-agb AGB
                 [--mappings DIR] [--region ZK02] [--period 2025]

Parses every line of the four NDJSON files with json.loads and applies the
same rules as the gateway and bench/peers/duckdb_kpi.mjs (see there): lines
the gateway would quarantine are skipped, dedup on (source, id) keeping the
latest meta.lastUpdated (then the highest versionId), counted statuses,
class EMER/SEH or EMER in classHistory, period by the Europe/Amsterdam local
time of period.start, residents only (PC4 of the home postcode in the
region), a person is the valid BSN else (source, local Patient id).
Prints one JSON line.  Standard library only.
"""
import argparse
import csv
import json
import os
import re
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

AMS = ZoneInfo("Europe/Amsterdam")
STATUSES = {"planned", "arrived", "triaged", "in-progress", "onleave",
            "finished", "cancelled", "entered-in-error", "unknown"}
COUNTED = {"finished", "in-progress", "arrived", "triaged", "onleave"}
CLASSES = {"EMER", "IMP", "ACUTE", "NONAC", "SS", "AMB", "VR", "HH", "FLD",
           "OBSENC", "PRENC", "SEH", "Klinisch", "Dagopname", "Poliklinisch",
           "Virtueel", "Thuis"}
ER = {"EMER", "SEH"}
BSN_SYSTEMS = {"http://fhir.nl/fhir/NamingSystem/bsn",
               "urn:oid:2.16.840.1.113883.2.4.6.3"}
PC_RE = re.compile(r"[1-9][0-9]{3} ?([A-Za-z]{2})?")


def instant(s):
    """A FHIR instant as an aware datetime, or None if it is not valid."""
    if not isinstance(s, str):
        return None
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        return None
    return d if d.tzinfo is not None else None


def newer(a, b):
    """Is version a = (lastUpdated, versionId) later than b?"""
    if a[0] != b[0]:
        da, db = instant(a[0]), instant(b[0])
        if da is not None and db is not None and da != db:
            return da > db
        if da is None or db is None:
            return da is not None
    try:
        return int(a[1] or 0) > int(b[1] or 0)
    except ValueError:
        return False


def bsn_ok(b):
    if not isinstance(b, str) or len(b) != 9 or not b.isdigit() or b == "000000000":
        return False
    s = sum((9 - i) * int(b[i]) for i in range(8)) - int(b[8])
    return s % 11 == 0


def period_bounds(p):
    m = re.fullmatch(r"(\d{4})(?:-Q([1-4])|-(\d{2}))?", p)
    if not m:
        sys.exit(f"py_kpi: bad --period {p}")
    y = int(m.group(1))
    if m.group(2):
        q = int(m.group(2))
        lo, hi = (y, 3 * q - 2), (y + 1, 1) if q == 4 else (y, 3 * q + 1)
    elif m.group(3):
        mo = int(m.group(3))
        lo, hi = (y, mo), (y + 1, 1) if mo == 12 else (y, mo + 1)
    else:
        lo, hi = (y, 1), (y + 1, 1)
    return (datetime(*lo, 1, tzinfo=AMS), datetime(*hi, 1, tzinfo=AMS))


def region_pc4s(regions, region):
    def rows(name):
        with open(os.path.join(regions, name), newline="") as f:
            return list(csv.DictReader(f))
    merges = {r["old_code"]: r["new_code"] for r in rows("gemeente_merges.csv")}
    in_region = {r["gemeente_code"] for r in rows("gemeente_region.csv")
                 if r["zorgkantoorregio_code"] == region}
    return {r["pc4"] for r in rows("pc4_gemeente.csv")
            if merges.get(r["gemeente_code"], r["gemeente_code"]) in in_region}


def lines(path):
    with open(path, "rb") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:  # malformed JSON, invalid UTF-8
                yield None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", required=True)
    ap.add_argument("--hospital-agb", required=True)
    ap.add_argument("--gp-agb", required=True)
    ap.add_argument("--mappings", default="mappings")
    ap.add_argument("--region", default="ZK02")
    ap.add_argument("--period", default="2025")
    a = ap.parse_args()
    lo, hi = period_bounds(a.period)
    pc4s = region_pc4s(os.path.join(a.mappings, "regions"), a.region)

    nlines = 0
    # (source, id) -> (lastUpdated, versionId, counted ER visit in the period:
    # patient id, else None)
    enc = {}
    # (source, id) -> (lastUpdated, versionId, resident, person)
    pat = {}
    for sub, agb in (("hospital", a.hospital_agb), ("gp", a.gp_agb)):
        for r in lines(os.path.join(a.export, sub, "Patient.ndjson")):
            nlines += 1
            if not isinstance(r, dict) or r.get("resourceType") != "Patient" or not r.get("id"):
                continue
            meta = r.get("meta") or {}
            bsn = next((i.get("value") for i in r.get("identifier") or []
                        if i.get("system") in BSN_SYSTEMS), None)
            pc = next((ad.get("postalCode") for ad in r.get("address") or []
                       if ad.get("use") in ("home", None)), None)
            pc = pc.strip() if isinstance(pc, str) else ""
            resident = bool(PC_RE.fullmatch(pc)) and pc[:4] in pc4s
            person = "bsn:" + bsn if bsn_ok(bsn) else f"{agb}/{r['id']}"
            v = (meta.get("lastUpdated"), meta.get("versionId"), resident, person)
            key = (agb, r["id"])
            old = pat.get(key)
            if old is None or newer(v, old):
                pat[key] = v
        for r in lines(os.path.join(a.export, sub, "Encounter.ndjson")):
            nlines += 1
            if not isinstance(r, dict) or r.get("resourceType") != "Encounter" or not r.get("id"):
                continue
            ref = (r.get("subject") or {}).get("reference")
            status = r.get("status")
            cls = (r.get("class") or {}).get("code")
            hist = [(h.get("class") or {}).get("code") for h in r.get("classHistory") or []]
            start = instant((r.get("period") or {}).get("start"))
            if (not ref or status not in STATUSES or cls not in CLASSES
                    or any(h not in CLASSES for h in hist) or start is None):
                continue  # the gateway quarantines it
            er = None
            if (status in COUNTED and (cls in ER or ER.intersection(hist))
                    and lo <= start < hi):
                er = ref[8:] if ref.startswith("Patient/") else ref
            meta = r.get("meta") or {}
            v = (meta.get("lastUpdated"), meta.get("versionId"), er)
            key = (agb, r["id"])
            old = enc.get(key)
            if old is None or newer(v, old):
                enc[key] = v

    visits = 0
    persons = set()
    for (agb, _), (_, _, pid) in enc.items():
        if pid is None:
            continue
        p = pat.get((agb, pid))
        if p is None or not p[2]:
            continue
        visits += 1
        persons.add(p[3])
    print(json.dumps({"er_visits": visits, "er_patients": len(persons),
                      "period": a.period, "lines": nlines,
                      "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
