#!/usr/bin/env bash
# izagen end to end: determinism, well-formed lines, exactly the declared bad
# lines, the BSN 11-test, and truth.json recomputed independently with jq from
# the written files (exact for a tiny run, model checks for a larger one).
#
# env: IZAGEN (path to the binary), IZA_SOURCE_DIR (repository root).
set -euo pipefail

: "${IZAGEN:?set IZAGEN to the izagen binary}"
: "${IZA_SOURCE_DIR:?set IZA_SOURCE_DIR to the repository root}"
MAP="$IZA_SOURCE_DIR/mappings"
REGION=ZK02

T=$(mktemp -d "${TMPDIR:-/tmp}/izagen-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

gen() { # dir seed patients [extra flags]
	local dir=$1 seed=$2 n=$3
	shift 3
	"$IZAGEN" --out "$dir" --mappings "$MAP" --region "$REGION" \
		--seed "$seed" --patients "$n" --quiet "$@"
}

# --- flags --------------------------------------------------------------
if "$IZAGEN" --out "$T/x" --patients abc 2>"$T/err"; then
	fail "--patients abc accepted"
fi
grep -q -- '--patients' "$T/err" || fail "bad --patients: unclear message"
if "$IZAGEN" --out "$T/x" --from 2025-02-30 2>"$T/err"; then
	fail "--from 2025-02-30 accepted"
fi
if "$IZAGEN" --patients 10 2>/dev/null; then fail "missing --out accepted"; fi
ok "bad flags rejected"

# --- determinism --------------------------------------------------------
gen "$T/a" 7 300 --bad 7
gen "$T/b" 7 300 --bad 7
gen "$T/c" 8 300 --bad 7
diff -r "$T/a" "$T/b" >/dev/null || fail "same seed, different bytes"
if cmp -s "$T/a/gp/Encounter.ndjson" "$T/c/gp/Encounter.ndjson"; then
	fail "different seeds, same GP encounters"
fi
ok "deterministic for a seed, different for another"

# --- every line parses, except exactly the declared bad lines ------------
check_files() { # dir nbad
	local d=$1 nbad=$2 src f bad n
	for src in hospital gp; do
		for f in Patient Encounter; do
			[ -s "$d/$src/$f.ndjson" ] || fail "$src/$f.ndjson empty"
		done
		n=$(jq ".sources.$src.bad | length" "$d/truth.json")
		[ "$n" -eq "$nbad" ] || fail "$src: truth lists $n bad lines, want $nbad"
		jq -r ".sources.$src.bad[] | \"\(.line) \(.kind)\"" \
			"$d/truth.json" >"$T/bad.$src"
		# Patient files have no bad lines at all.
		n=$(wc -l <"$d/$src/Patient.ndjson")
		[ "$(jq -c . "$d/$src/Patient.ndjson" | wc -l)" -eq "$n" ] ||
			fail "$src/Patient.ndjson: not one JSON object per line"
		# Encounter files: all lines but the declared ones parse and are
		# sound; each declared line has the declared defect.
		awk 'NR==FNR { bad[$1] = 1; next } !(FNR in bad)' \
			"$T/bad.$src" "$d/$src/Encounter.ndjson" >"$T/good.$src"
		n=$(wc -l <"$T/good.$src")
		[ "$(jq -c . "$T/good.$src" | wc -l)" -eq "$n" ] ||
			fail "$src: an undeclared Encounter line does not parse"
		iconv -f UTF-8 -t UTF-8 "$T/good.$src" >/dev/null 2>&1 ||
			fail "$src: invalid UTF-8 outside the declared lines"
		bad=$(jq -c 'select(.subject.reference == null
			or (.class.code | IN("EMER","IMP","SS","AMB","VR","HH",
			"SEH","Klinisch","Dagopname","Poliklinisch","Virtueel",
			"Thuis") | not)
			or (.period.start | test("-02-3[01]T")))' \
			"$T/good.$src" | wc -l)
		[ "$bad" -eq 0 ] || fail "$src: $bad undeclared defective lines"
		while read -r line kind; do
			sed -n "${line}p" "$d/$src/Encounter.ndjson" >"$T/line"
			case $kind in
			truncated_json)
				if jq . "$T/line" >/dev/null 2>&1; then
					fail "$src:$line parses but is declared truncated"
				fi ;;
			missing_subject)
				[ "$(jq '.subject == null' "$T/line")" = true ] ||
					fail "$src:$line has a subject" ;;
			unknown_class)
				[ "$(jq -r .class.code "$T/line")" = XYZ ] ||
					fail "$src:$line class is not XYZ" ;;
			impossible_date)
				jq -r .period.start "$T/line" | grep -q -- '-02-30T' ||
					fail "$src:$line has no impossible date" ;;
			invalid_utf8)
				if iconv -f UTF-8 -t UTF-8 "$T/line" >/dev/null 2>&1; then
					fail "$src:$line is valid UTF-8"
				fi ;;
			*) fail "$src:$line unknown bad kind $kind" ;;
			esac
		done <"$T/bad.$src"
	done
}
check_files "$T/a" 7
ok "all lines parse except exactly the declared bad lines"

# --- BSN 11-test, computed here with awk -----------------------------------
gen "$T/m" 11 4000 --bad 3
check_files "$T/m" 3
for src in hospital gp; do
	jq -r '.identifier[]? | select(.system ==
		"http://fhir.nl/fhir/NamingSystem/bsn") | .value' \
		"$T/m/$src/Patient.ndjson" >"$T/bsn.$src"
	read -r total valid < <(awk '
		{ n++ }
		length($0) == 9 && /^[0-9]+$/ && $0 != "000000000" {
			s = 0
			for (i = 1; i <= 8; i++) s += (10 - i) * substr($0, i, 1)
			s -= substr($0, 9, 1)
			if (s % 11 == 0) v++
		}
		END { print n + 0, v + 0 }' "$T/bsn.$src")
	records=$(wc -l <"$T/m/$src/Patient.ndjson")
	# ~94% valid, ~3% invalid, ~3% without BSN (per record).
	awk -v r="$records" -v t="$total" -v v="$valid" 'BEGIN {
		if (v / r < 0.90 || v / r > 0.975) exit 1
		if ((t - v) / r < 0.01 || (t - v) / r > 0.06) exit 1
		if ((r - t) / r < 0.01 || (r - t) / r > 0.06) exit 1 }' ||
		fail "$src: BSN mix off: $records records, $total BSNs, $valid valid"
done
# The same person has the same valid BSN at both sources, different ids.
both=$(sort -u "$T/bsn.hospital" | comm -12 - <(sort -u "$T/bsn.gp") | wc -l)
[ "$both" -gt 1000 ] || fail "only $both BSNs shared by hospital and GP"
if jq -r .id "$T/m/hospital/Patient.ndjson" "$T/m/gp/Patient.ndjson" |
	sort | uniq -d | grep -q .; then
	fail "a local Patient id is used twice"
fi
ok "BSN 11-test and mix ($valid of $records GP records valid)"

# --- truth recomputed independently ----------------------------------------
# Region PC4s from the reference tables (merges applied; 2024 tables).
region_pc4s() {
	awk -F, -v R="$REGION" '
		FNR == 1 { next }
		FILENAME ~ /gemeente_region/ { reg[$1] = $2; next }
		FILENAME ~ /gemeente_merges/ { merged[$1] = $2; next }
		FILENAME ~ /pc4_gemeente/ { gm[$1] = $2; next }
		END {
			for (p in gm) {
				g = gm[p]
				for (k = 0; k < 10 && (g in merged); k++) g = merged[g]
				if (reg[g] == R) print p
			}
		}' "$MAP/regions/gemeente_region.csv" \
		"$MAP/regions/gemeente_merges.csv" "$MAP/regions/pc4_gemeente.csv" |
		sort -n | jq -R . | jq -s .
}
region_pc4s >"$T/pc4s.json"
[ "$(jq length "$T/pc4s.json")" -gt 10 ] || fail "no PC4s for $REGION"

cat >"$T/truth.jq" <<'EOF'
def elf: test("^[0-9]{9}$") and . != "000000000" and
	((split("") | map(tonumber)) as $d
	 | ([range(0; 8)] | map($d[.] * (9 - .)) | add) - $d[8]) % 11 == 0;
def pc4: (.address // [] | map(select(.use == "home" or .use == null))
	| .[0].postalCode // "") | if test("^[0-9]{4}") then .[0:4] else null end;
def patients($src): map({key: .id, value: {
	src: $src, id: .id, pc4: pc4,
	bsn: ([.identifier[]? | select(.system ==
		"http://fhir.nl/fhir/NamingSystem/bsn") | .value] | .[0])}})
	| from_entries;
def cls: {"SEH":"EMER","Klinisch":"IMP","Dagopname":"SS","Poliklinisch":"AMB",
	"Virtueel":"VR","Thuis":"HH"} as $z | ($z[.] // .);
def final: group_by(.id) | map(max_by(.meta.versionId | tonumber));
def counted: .status | IN("finished","in-progress","arrived","triaged","onleave");
def channel: ([.type[]?.coding[]? | .code] ) as $c
	| if ($c | index("message")) then "message"
	  elif ($c | index("448337001")) then "video"
	  elif ($c | index("185317003")) then "phone"
	  elif (.class.code | cls) == "HH" then "home"
	  elif (.class.code | cls) == "VR" then "video"
	  else "in_person" end;
def rows($pats; $src):
	final | map(select(counted)) | map(. as $e
	| ($pats[.subject.reference | ltrimstr("Patient/")]) as $p
	| select($p != null and ($p.pc4 as $x | $region | index($x)))
	| (.class.code | cls) as $k
	| {month: .period.start[0:7],
	   person: (if ($p.bsn // "" | elf) then "bsn:" + $p.bsn
		    else $src + ":" + $p.id end),
	   er: ($k == "EMER" or ([.classHistory[]?.class.code | cls] | index("EMER") != null)),
	   adm: ($k == "IMP"), day: ($k == "SS"),
	   contact: ($k | IN("AMB","VR","HH")), src: $src,
	   digital: (channel | IN("video","message"))});
def agg($key): group_by(.[$key]) | map({key: .[0][$key], value: {
	er_visits: map(select(.er)) | length,
	er_patients: map(select(.er) | .person) | unique | length,
	gp_contacts_total: map(select(.contact)) | length,
	gp_contacts_digital: map(select(.contact and .digital)) | length,
	admissions: map(select(.adm)) | length,
	day_admissions: map(select(.day)) | length,
	outpatient_contacts: map(select(.contact and .src == "hospital")) | length
	}}) | from_entries;
(($hp | patients("hospital")) as $hpat | ($gpp | patients("gp")) as $gpat
 | ($he | rows($hpat; "hospital")) + ($ge | rows($gpat; "gp")))
| map(. + {quarter: (.month[0:4] + "-Q" + (((.month[5:7] | tonumber) + 2) / 3
	| floor | tostring)), year: .month[0:4]})
| {months: agg("month"), quarters: agg("quarter"), years: agg("year")}
EOF

recompute() { # dir -> computed.json
	local d=$1
	jq -c . "$T/good.hospital" >/dev/null
	jq -n --argjson region "$(cat "$T/pc4s.json")" \
		--slurpfile hp "$d/hospital/Patient.ndjson" \
		--slurpfile gpp "$d/gp/Patient.ndjson" \
		--slurpfile he "$T/good.hospital" \
		--slurpfile ge "$T/good.gp" \
		-f "$T/truth.jq" >"$T/computed.json"
}

check_files "$T/a" 7 # leaves the good lines of run a in $T/good.*
recompute "$T/a"
for part in months quarters years; do
	# Periods without any counted event are absent from the jq result.
	if ! jq -e --arg p "$part" --slurpfile c "$T/computed.json" '
		.[$p] | to_entries | all(.key as $k | .value as $v
		| ($c[0][$p][$k] // {er_visits: 0, er_patients: 0,
			gp_contacts_total: 0, gp_contacts_digital: 0,
			admissions: 0, day_admissions: 0,
			outpatient_contacts: 0}) == $v)' \
		"$T/a/truth.json" >/dev/null; then
		jq --arg p "$part" '.[$p]' "$T/a/truth.json" >"$T/t.json"
		jq --arg p "$part" '.[$p]' "$T/computed.json" >"$T/c.json"
		diff "$T/t.json" "$T/c.json" | head -40 >&2 || true
		fail "truth.json $part differ from the jq recomputation"
	fi
done
er=$(jq '[.months[].er_visits] | add' "$T/a/truth.json")
[ "$er" -gt 0 ] || fail "tiny run has no ER visits at all"
ok "truth.json equals the jq recomputation (300 patients, $er ER visits)"

# --- the model, on the 4000-patient run -------------------------------------
check_files "$T/m" 3
jq -r 'select(.class.code == "EMER" or .class.code == "SEH"
	or ([.classHistory[]?.class.code] | index("EMER") or index("SEH")))
	| .period.start[0:7]' "$T/good.hospital" | sort | uniq -c |
	awk '{ print $2, $1 }' >"$T/emer.raw"
jq -r '.months | to_entries[] | "\(.key) \(.value.er_visits)"' \
	"$T/m/truth.json" | sort >"$T/emer.truth"
join "$T/emer.raw" "$T/emer.truth" | awk '
	{ n++; if ($3 > $2 || $3 < 0.7 * $2) { print; bad = 1 } }
	END { exit bad || n < 24 }' ||
	fail "EMER lines per month do not roughly match truth er_visits"
jq -e '.months as $m
	| ($m["2024-01"].gp_contacts_digital / $m["2024-01"].gp_contacts_total) < 0.13
	and ($m["2025-12"].gp_contacts_digital / $m["2025-12"].gp_contacts_total) > 0.18
	and ($m["2024-01"].gp_contacts_total + $m["2024-02"].gp_contacts_total)
	  > 1.15 * ($m["2024-07"].gp_contacts_total + $m["2024-08"].gp_contacts_total)
	and (.quarters["2024-Q1"].er_patients
	  <= ([$m["2024-01"], $m["2024-02"], $m["2024-03"]] | map(.er_patients) | add))
	and (.sources.hospital.corrections > 0 and .sources.gp.duplicates > 0)' \
	"$T/m/truth.json" >/dev/null ||
	fail "model: digital growth, winter peak or quarter distinctness off"
ok "EMER lines per month match truth; digital share grows; winter peak"
# --- optional: the gateway reproduces truth.json ----------------------------
# Only when ctest passes IZAGW; test mode with k = 1 so no cell is suppressed.
if [ -n "${IZAGW:-}" ] && [ -x "$IZAGW" ]; then
	G="$T/gw"
	mkdir -p "$G"
	echo '{"k": 1, "test_mode": true, "provider_rule": false}' >"$G/config.json"
	gwr() { (cd "$G" && "$IZAGW" --config config.json "$@"); }
	gwr init --region "$REGION" >/dev/null
	# exit 5: ingest finished with quarantined (the declared bad) lines
	gwr ingest --source 06010713 "$T/m/hospital/Patient.ndjson" \
		"$T/m/hospital/Encounter.ndjson" >/dev/null || [ $? -eq 5 ] ||
		fail "izagw ingest (hospital) failed"
	gwr ingest --source 01058123 "$T/m/gp/Patient.ndjson" \
		"$T/m/gp/Encounter.ndjson" >/dev/null || [ $? -eq 5 ] ||
		fail "izagw ingest (gp) failed"
	n=0
	for p in $(jq -r '(.months, .quarters, .years) | keys[]' "$T/m/truth.json"); do
		gwr kpis --period "$p" --format json >"$T/k.json"
		got=$(jq -c '[(.kpis[] | select(.id == "er-visits") | .numerator),
			(.kpis[] | select(.id == "er-patients") | .value),
			(.kpis[] | select(.id == "digital-contact-share")
				| .denominator, .numerator)]' "$T/k.json")
		want=$(jq -c --arg p "$p" '(.months[$p] // .quarters[$p] // .years[$p])
			| [.er_visits, .er_patients, .gp_contacts_total,
			   .gp_contacts_digital]' "$T/m/truth.json")
		[ "$got" = "$want" ] ||
			fail "izagw kpis $p: got $got, truth.json says $want"
		n=$((n + 1))
	done
	ok "izagw reproduces truth.json for $n periods (4000 persons)"
fi
echo "izagen e2e: all checks passed"
