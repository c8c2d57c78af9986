#!/usr/bin/env bash
# build-region-tables.sh - regenerate mappings/regions/*.csv (the tables that
# gateway/refdata.c loads) from the CBS-derived source tables.
#
# usage: tools/build-region-tables.sh [SOURCE_DIR [OUT_DIR]]
#   SOURCE_DIR  default: ../shared/data/regions (next to the repository)
#   OUT_DIR     default: mappings/regions
#
# Only bash, awk (POSIX; mawk is enough) and sort.  The output is
# deterministic: running it twice gives the same bytes.  See
# mappings/regions/README.md for provenance, licences and the production
# rebuild from CBS's own pc6huisnr file.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$root/../shared/data/regions}
out=${2:-$root/mappings/regions}
valid_from=2024-01-01 # gemeente-indeling and zorgkantoorregio-indeling 2024
pop_year=2024         # CBS population on 1 January 2024

die() {
	echo "build-region-tables: $*" >&2
	exit 1
}

[ -d "$src" ] || die "source directory not found: $src"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# CSV field splitting with RFC 4180 quotes, shared by every awk program;
# q() quotes a field on output when it needs it.
csv_awk='
function csvsplit(line, f,    n, i, c, q, cur, len) {
	sub(/\r$/, "", line)
	n = 0; cur = ""; q = 0; len = length(line)
	for (i = 1; i <= len; i++) {
		c = substr(line, i, 1)
		if (q) {
			if (c == "\"") {
				if (substr(line, i + 1, 1) == "\"") { cur = cur "\""; i++ }
				else q = 0
			} else cur = cur c
		} else if (c == "\"") q = 1
		else if (c == ",") { f[++n] = cur; cur = "" }
		else cur = cur c
	}
	f[++n] = cur
	return n
}
function q(s) {
	if (s ~ /[",]/) { gsub(/"/, "\"\"", s); return "\"" s "\"" }
	return s
}
function need_header(expect) {
	sub(/\r$/, "", $0)
	if ($0 != expect) {
		print FILENAME ": unexpected header (source format changed?)" > "/dev/stderr"
		print "  got:    " $0 > "/dev/stderr"
		print "  wanted: " expect > "/dev/stderr"
		bad = 1; exit 1
	}
}
'

need() { [ -r "$src/$1" ] || die "missing source file: $src/$1"; }
need pc4_gemeente_zorgkantoorregio_2024.csv
need gemeente_zorgkantoorregio_2024.csv
need gemeente_2019_naar_2024.csv
need zorgkantoorregios_2024.csv
need agb_zorgverlenersoort_prefix.csv

# pc4_gemeente.csv: the main municipality of every PC4 in use (2024).
awk -v vf="$valid_from" "$csv_awk"'
NR == 1 { need_header("pc4,gemeente_code,gemeente_naam,zorgkantoorregio_code,zorgkantoorregio_naam,n_adressen_2024,aandeel_hoofdgemeente,n_gemeenten,overige_gemeenten"); next }
{ csvsplit($0, f); print f[1] "," f[2] "," vf }
' "$src/pc4_gemeente_zorgkantoorregio_2024.csv" | sort -t, -k1,1n >"$tmp/body"
{ echo "pc4,gemeente_code,valid_from"; cat "$tmp/body"; } >"$tmp/pc4_gemeente.csv"

# gemeente_region.csv: municipality -> zorgkantoorregio (2024).
awk -v vf="$valid_from" "$csv_awk"'
NR == 1 { need_header("gemeente_code,gemeente_naam,zorgkantoorregio_code,zorgkantoorregio_naam"); next }
{ csvsplit($0, f); print f[1] "," f[3] "," vf }
' "$src/gemeente_zorgkantoorregio_2024.csv" | sort -t, -k1,1 >"$tmp/body"
{ echo "gemeente_code,zorgkantoorregio_code,valid_from"; cat "$tmp/body"; } >"$tmp/gemeente_region.csv"

# gemeente_merges.csv: only real mergers ("herindeling") whose old code
# disappeared.  The source lists, per indeling of 1 January van_jaar, where
# each old municipality's addresses are in 2024; the last van_jaar in which
# the old code still existed + 1 gives the first 1 January without it.
# Rows of a split (Haaren 2021) are ordered by address count, largest first.
awk "$csv_awk"'
NR == 1 { need_header("van_jaar,gemeente_code_oud,gemeente_naam_oud_2019,gemeente_code_2024,gemeente_naam_2024,n_adressen_in_van_jaar,opmerking"); next }
{
	csvsplit($0, f)
	if (f[7] != "herindeling" || f[2] == f[4])
		next
	k = f[2] "," f[4]
	if (!(k in last) || f[1] + 0 > last[k]) { last[k] = f[1] + 0; addr[k] = f[6] + 0 }
}
END {
	if (bad) exit 1
	for (k in last) {
		split(k, p, ",")
		print p[1] "," addr[k] "," p[2] "," (last[k] + 1) "-01-01"
	}
}
' "$src/gemeente_2019_naar_2024.csv" | sort -t, -k1,1 -k2,2nr -k3,3 |
	awk -F, '{ print $1 "," $3 "," $4 }' >"$tmp/body"
{ echo "old_code,new_code,effective"; cat "$tmp/body"; } >"$tmp/gemeente_merges.csv"

# regions.csv and population.csv from the 31 zorgkantoorregio's.
awk -v dir="$tmp" -v year="$pop_year" "$csv_awk"'
NR == 1 { need_header("zorgkantoorregio_code,zorgkantoorregio_naam,n_gemeenten,inwoners_1jan2024,n_pc4,gemeente_codes"); next }
{
	csvsplit($0, f)
	print f[1] "," q(f[2]) > (dir "/regions.body")
	print f[1] "," year "," f[4] > (dir "/population.body")
}
' "$src/zorgkantoorregios_2024.csv"
{ echo "zorgkantoorregio_code,name"; sort -t, -k1,1 "$tmp/regions.body"; } >"$tmp/regions.csv"
{ echo "zorgkantoorregio_code,year,inhabitants"; sort -t, -k1,1 -k2,2n "$tmp/population.body"; } >"$tmp/population.csv"

# agb_sector.csv: first two digits of an AGB code -> our sector vocabulary.
# The policy (which zorgverlenersoort counts as which sector) is argued in
# mappings/regions/README.md; everything not listed is "overig".
awk "$csv_awk"'
BEGIN {
	n = split("01 21 37", a, " "); for (i = 1; i <= n; i++) s[a[i]] = "huisartsenzorg"
	n = split("03 06 22", a, " "); for (i = 1; i <= n; i++) s[a[i]] = "msz"
	n = split("25 54 72 79 94", a, " "); for (i = 1; i <= n; i++) s[a[i]] = "ggz"
	n = split("75 91 92", a, " "); for (i = 1; i <= n; i++) s[a[i]] = "wijkverpleging"
	n = split("41 42 43 45 46 47 49 60 61 66 73", a, " "); for (i = 1; i <= n; i++) s[a[i]] = "vvt"
	s["86"] = "sociaal_domein"
}
NR == 1 { need_header("zorgverlenersoort_code2,label_from_xx00,source_code4,n_subcodes"); next }
{
	csvsplit($0, f)
	sector = (f[1] in s) ? s[f[1]] : "overig"
	print f[1] "," sector "," q(f[2])
}
' "$src/agb_zorgverlenersoort_prefix.csv" | sort -t, -k1,1 >"$tmp/body"
{ echo "agb_prefix,sector,label"; cat "$tmp/body"; } >"$tmp/agb_sector.csv"

# Sanity checks against the figures the source README states.
rows() { echo $(($(wc -l <"$tmp/$1") - 1)); }
[ "$(rows pc4_gemeente.csv)" -eq 4072 ] || die "pc4_gemeente.csv: expected 4072 rows"
[ "$(rows gemeente_region.csv)" -eq 342 ] || die "gemeente_region.csv: expected 342 rows"
[ "$(rows regions.csv)" -eq 31 ] || die "regions.csv: expected 31 rows"
[ "$(rows agb_sector.csv)" -eq 83 ] || die "agb_sector.csv: expected 83 rows"
total=$(awk -F, 'NR > 1 { s += $3 } END { printf "%d", s }' "$tmp/population.csv")
[ "$total" -eq 17942942 ] || die "population.csv: total $total, expected 17942942"
awk -F, 'FNR == 1 { next } NR == FNR { gm[$1] = 1; next }
	!($2 in gm) { print "pc4 " $1 ": municipality " $2 " has no region" > "/dev/stderr"; bad = 1 }
	END { exit bad }' "$tmp/gemeente_region.csv" "$tmp/pc4_gemeente.csv" ||
	die "pc4_gemeente.csv and gemeente_region.csv disagree"

for f in pc4_gemeente gemeente_region gemeente_merges regions population agb_sector; do
	mv "$tmp/$f.csv" "$out/$f.csv"
done
echo "build-region-tables: wrote $out/{pc4_gemeente,gemeente_region,gemeente_merges,regions,population,agb_sector}.csv"
