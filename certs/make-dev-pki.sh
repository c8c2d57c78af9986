#!/usr/bin/env bash
# make-dev-pki.sh - a DEVELOPMENT / TEST-ONLY public key infrastructure for
# the IZA gateway and the plan-monitoring database, made with the openssl
# command line.  Never use these keys or certificates outside tests and
# local development; no production key is ever committed (certs/README.md).
#
#   certs/make-dev-pki.sh OUT_DIR [--region ZK02]... [--provider AGB]...
#                         [--insurer UZOVI]... [--days N] [--expired NAME]
#
# Writes into OUT_DIR (created, mode 0700; keys mode 0600):
#   NAME-chain.pem for every leaf:      the leaf followed by the CA
#   ca.key / ca.pem                    the test CA (EC P-256, self-signed)
#   monitor.key / monitor.pem          izamon's server certificate
#                                      (CN=izamon.test, SAN localhost, 127.0.0.1)
#   intake.key / intake.pem            izagw serve's server certificate
#                                      (CN=izagw.test, SAN localhost, 127.0.0.1)
#   region-ZKnn.key / .pem / -chain.pem   a region gateway: O=IZA region
#                                      gateway, CN=ZKnn, serialNumber=ZKnn
#   provider-AGB.key / .pem            a care provider: CN=AGB AGB,
#                                      serialNumber=AGB-AGB
#   insurer-UZOVI.key / .pem           an insurer: CN=UZOVI UZOVI,
#                                      serialNumber=UZOVI-UZOVI
#   other-ca.key / other-ca.pem        a second CA nobody trusts (tests)
#   region-ZKnn-other.key / .pem       a region certificate from other-ca
# --expired NAME makes NAME's certificate already expired (e.g. region-ZK02).
# Defaults: --region ZK02 --provider 06010713 --insurer 3311, 30 days.
set -euo pipefail

usage() {
	sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}
[ $# -ge 1 ] || usage
out=$1
shift
regions=() providers=() insurers=() expired=() days=30
while [ $# -gt 0 ]; do
	case $1 in
	--region) regions+=("$2"); shift 2 ;;
	--provider) providers+=("$2"); shift 2 ;;
	--insurer) insurers+=("$2"); shift 2 ;;
	--days) days=$2; shift 2 ;;
	--expired) expired+=("$2"); shift 2 ;;
	-h | --help) usage ;;
	*) echo "make-dev-pki: unknown option $1" >&2; exit 2 ;;
	esac
done
[ ${#regions[@]} -gt 0 ] || regions=(ZK02)
[ ${#providers[@]} -gt 0 ] || providers=(06010713)
[ ${#insurers[@]} -gt 0 ] || insurers=(3311)
for r in "${regions[@]}"; do
	[[ $r =~ ^ZK[0-9][0-9]$ ]] || { echo "make-dev-pki: region $r is not ZKnn" >&2; exit 2; }
done
for a in "${providers[@]}"; do
	[[ $a =~ ^[0-9]{8}$ ]] || { echo "make-dev-pki: AGB $a is not 8 digits" >&2; exit 2; }
done
for u in "${insurers[@]}"; do
	[[ $u =~ ^[0-9]{4}$ ]] || { echo "make-dev-pki: UZOVI $u is not 4 digits" >&2; exit 2; }
done

mkdir -p "$out"
chmod 700 "$out"
cd "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

ca() { # ca NAME CN
	key "$1"
	openssl req -new -x509 -key "$1.key" -out "$1.pem" -days "$((days + 1))" -sha256 \
		-subj "/O=IZA TEST ONLY/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

is_expired() {
	local e
	for e in "${expired[@]}"; do [ "$e" = "$1" ] && return 0; done
	return 1
}

leaf() { # leaf NAME CA SUBJECT EXT-FILE
	local name=$1 issuer=$2 subj=$3 ext=$4
	key "$name"
	openssl req -new -key "$name.key" -out "$tmp/$name.csr" -subj "$subj" 2>/dev/null
	if is_expired "$name"; then
		# valid from 3 days ago to yesterday
		openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
			-CAcreateserial -CAserial "$tmp/$issuer.srl" -out "$name.pem" -sha256 \
			-not_before "$(date -u -d '3 days ago' +%Y%m%d%H%M%SZ)" \
			-not_after "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)" \
			-extfile "$ext" 2>/dev/null ||
			openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
				-CAcreateserial -CAserial "$tmp/$issuer.srl" -out "$name.pem" -sha256 \
				-days -1 -extfile "$ext" 2>/dev/null
	else
		openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
			-CAcreateserial -CAserial "$tmp/$issuer.srl" -out "$name.pem" -sha256 \
			-days "$days" -extfile "$ext" 2>/dev/null
	fi
	cat "$name.pem" "$issuer.pem" >"$name-chain.pem"
}

printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$tmp/client.ext"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:izamon.test,DNS:localhost,IP:127.0.0.1\n' >"$tmp/server.ext"

ca ca "IZA development CA (TEST ONLY)"
ca other-ca "Untrusted CA (TEST ONLY)"
leaf monitor ca "/O=IZA TEST ONLY/OU=plan monitoring/CN=izamon.test" "$tmp/server.ext"
sed 's/izamon.test/izagw.test/' "$tmp/server.ext" >"$tmp/intake.ext"
leaf intake ca "/O=IZA TEST ONLY/OU=region gateway intake/CN=izagw.test" "$tmp/intake.ext"
for r in "${regions[@]}"; do
	leaf "region-$r" ca "/O=IZA TEST ONLY/OU=region gateway/CN=$r/serialNumber=$r" "$tmp/client.ext"
done
leaf "region-${regions[0]}-other" other-ca "/O=IZA TEST ONLY/OU=region gateway/CN=${regions[0]}/serialNumber=${regions[0]}" "$tmp/client.ext"
for a in "${providers[@]}"; do
	leaf "provider-$a" ca "/O=IZA TEST ONLY/OU=care provider/CN=AGB $a/serialNumber=AGB-$a" "$tmp/client.ext"
done
for u in "${insurers[@]}"; do
	leaf "insurer-$u" ca "/O=IZA TEST ONLY/OU=insurer/CN=UZOVI $u/serialNumber=UZOVI-$u" "$tmp/client.ext"
done
cat >README.txt <<TXT
TEST-ONLY certificates and keys made by certs/make-dev-pki.sh on $(date -u +%Y-%m-%d).
They are for tests and local development only. Do not use them anywhere else,
and do not commit them.
TXT
echo "make-dev-pki: test-only PKI in $out" >&2
