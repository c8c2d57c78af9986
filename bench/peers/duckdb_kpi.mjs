// duckdb_kpi.mjs - the ER KPIs (er-visits, er-patients) computed by DuckDB
// straight from the NDJSON export, as a peer for bench/run.sh.
//
// usage: node duckdb_kpi.mjs --export DIR --hospital-agb AGB --gp-agb AGB
//                            [--mappings DIR] [--region ZK02] [--period 2025]
//                            [--threads N] [--scan-only 1]
// Prints one JSON line: {"er_visits":N,"er_patients":N,"threads":N,...}.
// --scan-only 1: instead, the reading baseline the figures are
// stated against: every file read with the same columns, the Encounter
// lines of class EMER and all lines counted (no validation, dedup, join or
// time zone); prints {"scan_lines":N,"emer_lines":N,...}.
//
// The same rules as the gateway (mappings/fhir-r4.json, mappings/kpis.json,
// docs/demo-data.md), written independently in SQL:
//  - Encounter lines that the gateway would quarantine never count and never
//    replace another version: malformed JSON, no subject, unknown status or
//    class code, period.start that is not a valid instant;
//  - dedup on (source, id), the latest meta.lastUpdated wins (then the
//    highest versionId);
//  - counted statuses finished / in-progress / arrived / triaged / onleave;
//  - an ER visit is class EMER (zib ContactType SEH maps to EMER) or has EMER
//    in classHistory;
//  - the period is that of the Europe/Amsterdam local time of period.start;
//  - only residents: the referenced Patient (same source) has a home postcode
//    whose PC4 lies in the region (mappings/regions tables);
//  - a person is the valid BSN (11-test) if the record has one, else
//    (source, local Patient id).
// Every file is read with read_ndjson and an explicit column list (no schema
// sniffing), ignore_errors=true so malformed lines become NULL rows.
import { DuckDBInstance } from '@duckdb/node-api';
import path from 'node:path';

function parseArgs(argv) {
	const a = { mappings: 'mappings', region: 'ZK02', period: '2025', threads: '1', 'scan-only': '0' };
	for (let i = 0; i < argv.length; i++) {
		const m = /^--([a-z-]+)$/.exec(argv[i]);
		if (!m || i + 1 >= argv.length) {
			console.error(`duckdb_kpi: bad argument ${argv[i]}`);
			process.exit(2);
		}
		a[m[1]] = argv[++i];
	}
	for (const k of ['export', 'hospital-agb', 'gp-agb'])
		if (!a[k]) {
			console.error(`duckdb_kpi: --${k} is required`);
			process.exit(2);
		}
	return a;
}

// [start, end) of the period as local (Europe/Amsterdam) timestamps
function periodBounds(p) {
	let m;
	const pad = (n) => String(n).padStart(2, '0');
	if ((m = /^(\d{4})$/.exec(p)))
		return [`${m[1]}-01-01`, `${+m[1] + 1}-01-01`];
	if ((m = /^(\d{4})-Q([1-4])$/.exec(p))) {
		const y = +m[1], q = +m[2];
		const end = q === 4 ? `${y + 1}-01-01` : `${y}-${pad(q * 3 + 1)}-01`;
		return [`${y}-${pad(q * 3 - 2)}-01`, end];
	}
	if ((m = /^(\d{4})-(\d{2})$/.exec(p))) {
		const y = +m[1], mo = +m[2];
		const end = mo === 12 ? `${y + 1}-01-01` : `${y}-${pad(mo + 1)}-01`;
		return [`${y}-${pad(mo)}-01`, end];
	}
	console.error(`duckdb_kpi: bad --period ${p}`);
	process.exit(2);
}

const sq = (s) => `'${String(s).replaceAll("'", "''")}'`;

const a = parseArgs(process.argv.slice(2));
const threads = parseInt(a.threads, 10);
const [pStart, pEnd] = periodBounds(a.period);
const ex = path.resolve(a.export);
const regions = path.resolve(a.mappings, 'regions');
const files = {
	hp: path.join(ex, 'hospital', 'Patient.ndjson'),
	he: path.join(ex, 'hospital', 'Encounter.ndjson'),
	gp: path.join(ex, 'gp', 'Patient.ndjson'),
	ge: path.join(ex, 'gp', 'Encounter.ndjson'),
};

const ENC_COLS = `{
	resourceType: 'VARCHAR',
	id: 'VARCHAR',
	meta: 'STRUCT(versionId VARCHAR, lastUpdated VARCHAR)',
	status: 'VARCHAR',
	class: 'STRUCT(code VARCHAR)',
	classHistory: 'STRUCT(class STRUCT(code VARCHAR))[]',
	subject: 'STRUCT(reference VARCHAR)',
	period: 'STRUCT("start" VARCHAR)'
}`;
const PAT_COLS = `{
	resourceType: 'VARCHAR',
	id: 'VARCHAR',
	meta: 'STRUCT(versionId VARCHAR, lastUpdated VARCHAR)',
	identifier: 'STRUCT(system VARCHAR, value VARCHAR)[]',
	address: 'STRUCT(use VARCHAR, postalCode VARCHAR)[]'
}`;
const read = (f, cols) =>
	`read_ndjson(${sq(f)}, columns=${cols}, ignore_errors=true, maximum_object_size=16777216)`;
const union = (key, cols, agb) => `SELECT ${sq(agb)} AS source, * FROM ${read(files[key], cols)}`;

const STATUSES = `('planned','arrived','triaged','in-progress','onleave','finished','cancelled','entered-in-error','unknown')`;
const COUNTED = `('finished','in-progress','arrived','triaged','onleave')`;
const CLASSES = `('EMER','IMP','ACUTE','NONAC','SS','AMB','VR','HH','FLD','OBSENC','PRENC','SEH','Klinisch','Dagopname','Poliklinisch','Virtueel','Thuis')`;

const sql = `
WITH enc_raw AS (
	${union('he', ENC_COLS, a['hospital-agb'])}
	UNION ALL
	${union('ge', ENC_COLS, a['gp-agb'])}
),
enc_valid AS (
	SELECT source, id, status,
		class.code AS cls,
		list_transform(classHistory, h -> h.class.code) AS hist,
		regexp_replace(subject.reference, '^Patient/', '') AS pid,
		TRY_CAST(period.start AS TIMESTAMPTZ) AS start_ts,
		TRY_CAST(meta.lastUpdated AS TIMESTAMPTZ) AS lu,
		TRY_CAST(meta.versionId AS BIGINT) AS ver
	FROM enc_raw
	WHERE resourceType = 'Encounter' AND id IS NOT NULL
		AND subject.reference IS NOT NULL
		AND status IN ${STATUSES}
		AND class.code IN ${CLASSES}
		AND list_bool_and(list_transform(coalesce(classHistory, []), h -> h.class.code IN ${CLASSES})) IS NOT FALSE
		AND TRY_CAST(period.start AS TIMESTAMPTZ) IS NOT NULL
),
enc AS (
	SELECT * FROM enc_valid
	QUALIFY row_number() OVER (PARTITION BY source, id ORDER BY lu DESC NULLS LAST, ver DESC NULLS LAST) = 1
),
pat_raw AS (
	${union('hp', PAT_COLS, a['hospital-agb'])}
	UNION ALL
	${union('gp', PAT_COLS, a['gp-agb'])}
),
pat AS (
	SELECT source, id,
		list_filter(identifier, x -> x.system IN ('http://fhir.nl/fhir/NamingSystem/bsn', 'urn:oid:2.16.840.1.113883.2.4.6.3'))[1].value AS bsn,
		list_filter(address, x -> x.use = 'home' OR x.use IS NULL)[1].postalCode AS pc
	FROM pat_raw
	WHERE resourceType = 'Patient' AND id IS NOT NULL
	QUALIFY row_number() OVER (PARTITION BY source, id
		ORDER BY TRY_CAST(meta.lastUpdated AS TIMESTAMPTZ) DESC NULLS LAST, TRY_CAST(meta.versionId AS BIGINT) DESC NULLS LAST) = 1
),
pc4_region AS (
	SELECT p.pc4
	FROM read_csv(${sq(path.join(regions, 'pc4_gemeente.csv'))}, header=true,
		columns={pc4: 'VARCHAR', gemeente_code: 'VARCHAR', valid_from: 'DATE'}) p
	LEFT JOIN read_csv(${sq(path.join(regions, 'gemeente_merges.csv'))}, header=true,
		columns={old_code: 'VARCHAR', new_code: 'VARCHAR', effective: 'DATE'}) m
		ON m.old_code = p.gemeente_code
	JOIN read_csv(${sq(path.join(regions, 'gemeente_region.csv'))}, header=true,
		columns={gemeente_code: 'VARCHAR', zorgkantoorregio_code: 'VARCHAR', valid_from: 'DATE'}) g
		ON g.gemeente_code = coalesce(m.new_code, p.gemeente_code)
	WHERE g.zorgkantoorregio_code = ${sq(a.region)}
),
er AS (
	SELECT CASE WHEN regexp_full_match(p.bsn, '[0-9]{9}') AND p.bsn <> '000000000'
			AND (list_sum(list_transform(range(8), i -> (9 - i) * CAST(substr(p.bsn, i + 1, 1) AS INTEGER)))
			     - CAST(substr(p.bsn, 9, 1) AS INTEGER)) % 11 = 0
		THEN 'bsn:' || p.bsn ELSE e.source || '/' || p.id END AS person
	FROM enc e
	JOIN pat p ON p.source = e.source AND p.id = e.pid
	WHERE e.status IN ${COUNTED}
		AND (e.cls IN ('EMER', 'SEH') OR list_has_any(e.hist, ['EMER', 'SEH']))
		AND timezone('Europe/Amsterdam', e.start_ts) >= TIMESTAMP ${sq(pStart)}
		AND timezone('Europe/Amsterdam', e.start_ts) < TIMESTAMP ${sq(pEnd)}
		AND regexp_full_match(trim(p.pc), '[1-9][0-9]{3} ?([A-Za-z]{2})?')
		AND substr(trim(p.pc), 1, 4) IN (SELECT pc4 FROM pc4_region)
)
SELECT count(*) AS er_visits, count(DISTINCT person) AS er_patients FROM er`;

const scanSql = `
SELECT sum(n) AS scan_lines, sum(e) AS emer_lines FROM (
	SELECT count(*) AS n, count(*) FILTER (WHERE class.code = 'EMER') AS e
	FROM (${union('he', ENC_COLS, a['hospital-agb'])} UNION ALL ${union('ge', ENC_COLS, a['gp-agb'])})
	UNION ALL
	SELECT count(*), 0
	FROM (${union('hp', PAT_COLS, a['hospital-agb'])} UNION ALL ${union('gp', PAT_COLS, a['gp-agb'])}))`;
const scanOnly = a['scan-only'] === '1';

const t0 = process.hrtime.bigint();
const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await inst.connect();
await con.run(`SET threads = ${threads}`);
await con.run(`SET preserve_insertion_order = false`);
const reader = await con.runAndReadAll(scanOnly ? scanSql : sql);
const row = reader.getRowObjects()[0];
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const version = (await con.runAndReadAll('SELECT version() AS v')).getRowObjects()[0].v;
console.log(JSON.stringify({
	...(scanOnly
		? { scan_lines: Number(row.scan_lines), emer_lines: Number(row.emer_lines) }
		: { er_visits: Number(row.er_visits), er_patients: Number(row.er_patients) }),
	threads,
	period: a.period,
	seconds: Math.round(secs * 1000) / 1000,
	duckdb: version,
}));
