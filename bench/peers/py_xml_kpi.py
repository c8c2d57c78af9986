#!/usr/bin/env python3
"""py_xml_kpi.py - the ER KPIs (er-visits, er-patients) from HL7 v2 XML or
CDA R2 files with Python's xml.etree.ElementTree.iterparse, a peer for
bench/xml.sh.

usage: py_xml_kpi.py --format v2xml|cda [--mappings DIR] [--region ZK02]
                     [--period 2025] AGB=FILE...

Streams every file (element by element, clearing each message or document
once read, so memory stays bounded) and extracts what the gateway's mappings
read (mappings/hl7v2.json, mappings/cda.json):
  v2 XML: MSH-7 (message time), MSH-9.2 (trigger), PID-3 (local id: the first
          repetition whose assigning authority is not NLMINBIZA; BSN: the one
          that is), PID-11.5 (postcode), PV1-2.1 (class), PV1-19.1 (visit),
          PV1-44 (start); positional, by the number after the last '.' of an
          element's name, so the v2.5 and v2.7 shapes read alike;
  CDA:    effectiveTime (document time), recordTarget/patientRole/id (root
          2.16.840.1.113883.2.4.6.3 is the BSN, the first other id with an
          extension the local id), addr/postalCode, encompassingEncounter id,
          code (ActCode, or an ActCode translation), effectiveTime/low.
Then the gateway's rules: per (source, record id) and per (source, local
patient id) the latest message time wins; counted statuses (v2: the trigger's
status per mappings/hl7v2.json; CDA: finished); class E / EMER; the period of
the start's Europe/Amsterdam date; residents only (PC4 in the region); a
person is the valid BSN, else (source, local id).  Prints one JSON line.
Standard library only; shares its helpers with py_kpi.py.
"""
import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from py_kpi import AMS, PC_RE, bsn_ok, period_bounds, region_pc4s  # noqa: E402

V2 = "{urn:hl7-org:v2xml}"
V3 = "{urn:hl7-org:v3}"
BSN_OID = "2.16.840.1.113883.2.4.6.3"
ACTCODE = "2.16.840.1.113883.5.4"
MESSAGE = re.compile(r"[A-Z][A-Z0-9]{2}_[A-Z0-9]{3}$")
TS = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$")
# mappings/hl7v2.json trigger-status, counted ones only
COUNTED_TRIGGERS = {"A01", "A02", "A03", "A04", "A06", "A07", "A08", "A13"}


def ts(s):
    """An HL7 TS value as an aware datetime (no offset: Amsterdam), or None."""
    m = TS.match(s or "")
    if not m:
        return None
    y, mo, d, h, mi, se, off = m.groups()
    try:
        t = datetime(int(y), int(mo or 1), int(d or 1), int(h or 0),
                     int(mi or 0), int(se or 0))
    except ValueError:
        return None
    if off is None:
        return t.replace(tzinfo=AMS)
    sign = 1 if off[0] == "+" else -1
    return t.replace(tzinfo=timezone(sign * timedelta(hours=int(off[1:3]),
                                                      minutes=int(off[3:5]))))


def local(tag):
    return tag.rsplit("}", 1)[-1]


def pos(el, n):
    """Child element at position n (by the number after the last '.')."""
    suffix = "." + str(n)
    for c in el:
        if local(c.tag).endswith(suffix):
            return c
    return None


def value(el):
    """The value of a v2 element: its text, or its first component's."""
    while el is not None and len(el):
        el = pos(el, 1)
    return (el.text or "").strip() if el is not None else ""


def v2_field(msg, seg, field, comp=None):
    s = next((c for c in msg.iter() if local(c.tag) == seg), None)
    if s is None:
        return ""
    f = pos(s, field)
    if f is None:
        return ""
    if comp and len(f):
        return value(pos(f, comp))
    return value(f) if not comp or comp == 1 else ""


def elements(path):
    """Each completed element; the root forgets what was read before."""
    root = None
    for ev, el in ET.iterparse(path, events=("start", "end")):
        if root is None:
            root = el
        if ev == "end":
            yield el
            if el is not root and len(root) > 1:
                del root[:-1]


def v2_records(path):
    for el in elements(path):
        if not MESSAGE.match(local(el.tag)):
            continue
        pid = next((c for c in el.iter() if local(c.tag) == "PID"), None)
        local_id = bsn = ""
        if pid is not None:
            for rep in (c for c in pid if local(c.tag) == "PID.3"):
                auth = pos(rep, 4)
                a = value(auth) if auth is not None else ""
                v = value(pos(rep, 1)) if len(rep) else (rep.text or "")
                if a == "NLMINBIZA":
                    bsn = bsn or v
                elif v and not local_id:
                    local_id = v
        trig = v2_field(el, "MSH", 9, 2)
        yield {
            "time": ts(v2_field(el, "MSH", 7)),
            "patient": local_id, "bsn": bsn,
            "postcode": v2_field(el, "PID", 11, 5),
            "record": v2_field(el, "PV1", 19, 1),
            "counted": trig in COUNTED_TRIGGERS,
            "er": v2_field(el, "PV1", 2, 1) == "E",
            "start": ts(v2_field(el, "PV1", 44)),
        }
        el.clear()


def cda_records(path):
    for el in elements(path):
        if el.tag != V3 + "ClinicalDocument":
            continue
        role = el.find(V3 + "recordTarget/" + V3 + "patientRole")
        local_id = bsn = postcode = ""
        if role is not None:
            for i in role.findall(V3 + "id"):
                if i.get("root") == BSN_OID:
                    bsn = bsn or i.get("extension", "")
                elif i.get("extension") and not local_id:
                    local_id = i.get("extension")
            pc = role.find(V3 + "addr/" + V3 + "postalCode")
            postcode = (pc.text or "").strip() if pc is not None else ""
        enc = el.find(V3 + "componentOf/" + V3 + "encompassingEncounter")
        record = code = start = ""
        if enc is not None:
            i = enc.find(V3 + "id")
            record = i.get("extension", "") if i is not None else ""
            c = enc.find(V3 + "code")
            if c is not None:
                code = c.get("code") if c.get("codeSystem") == ACTCODE else next(
                    (t.get("code") for t in c.findall(V3 + "translation")
                     if t.get("codeSystem") == ACTCODE), "")
            lo = enc.find(V3 + "effectiveTime/" + V3 + "low")
            start = lo.get("value", "") if lo is not None else ""
        t = el.find(V3 + "effectiveTime")
        yield {
            "time": ts(t.get("value")) if t is not None else None,
            "patient": local_id, "bsn": bsn, "postcode": postcode,
            "record": record, "counted": True, "er": code == "EMER",
            "start": ts(start),
        }
        el.clear()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", choices=("v2xml", "cda"), required=True)
    ap.add_argument("--mappings", default="mappings")
    ap.add_argument("--region", default="ZK02")
    ap.add_argument("--period", default="2025")
    ap.add_argument("inputs", nargs="+", metavar="AGB=FILE")
    a = ap.parse_args()
    lo, hi = period_bounds(a.period)
    pc4s = region_pc4s(os.path.join(a.mappings, "regions"), a.region)
    reader = v2_records if a.format == "v2xml" else cda_records
    never = datetime.min.replace(tzinfo=timezone.utc)

    records = 0
    enc = {}  # (source, record) -> (time, ER visit in the period: patient id or None)
    pat = {}  # (source, patient) -> (time, resident, person)
    for arg in a.inputs:
        agb, path = arg.split("=", 1)
        for r in reader(path):
            records += 1
            if not r["patient"] or r["time"] is None:
                continue
            pc = r["postcode"]
            resident = bool(PC_RE.fullmatch(pc)) and pc[:4] in pc4s
            person = "bsn:" + r["bsn"] if bsn_ok(r["bsn"]) else f"{agb}/{r['patient']}"
            key = (agb, r["patient"])
            if key not in pat or r["time"] >= pat[key][0]:
                pat[key] = (r["time"], resident, person)
            if not r["record"] or r["start"] is None:
                continue
            er = None
            if r["counted"] and r["er"] and lo <= r["start"] < hi:
                er = r["patient"]
            key = (agb, r["record"])
            if key not in enc or r["time"] >= enc[key][0]:
                enc[key] = (r["time"] or never, er)

    visits = 0
    persons = set()
    for (agb, _), (_, pid) in enc.items():
        p = pat.get((agb, pid)) if pid else None
        if p is None or not p[1]:
            continue
        visits += 1
        persons.add(p[2])
    print(json.dumps({"er_visits": visits, "er_patients": len(persons),
                      "period": a.period, "records": records,
                      "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
