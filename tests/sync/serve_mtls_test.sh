#!/usr/bin/env bash
# `liaison serve` with `[tls] client_ca` (mTLS for partner servers, docs/sync.md), end to end with
# real certificates made here by the openssl CLI: a client certificate signed by the configured
# CA completes the handshake; no certificate, or a self-signed one, does not; client_ca without
# a server certificate is a configuration error.
# Usage: serve_mtls_test.sh path/to/liaison
set -euo pipefail
liaison=$1
dir=$(mktemp -d)
server_pid=
trap '[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $dir/serve.log ]] && cat "$dir/serve.log" >&2; exit 1; }
export LIAISON_ADMIN_PASSWORD=pw-for-mtls-test

ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $*"; }
# The server's own certificate (self-signed; clients trust it directly) for 127.0.0.1.
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/server.key" -out "$dir/server.pem"
# The partners' CA, and a partner server's client certificate it signs.
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=partner-ca \
  -addext basicConstraints=critical,CA:TRUE -keyout "$dir/ca.key" -out "$dir/ca.pem"
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=cert-x-sync \
  -keyout "$dir/client.key" -out "$dir/client.csr"
printf 'extendedKeyUsage=clientAuth\n' >"$dir/client.ext"
ossl x509 -req -in "$dir/client.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 1 -extfile "$dir/client.ext" -out "$dir/client.pem"
# A certificate the CA never signed.
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=cert-x-sync \
  -keyout "$dir/rogue.key" -out "$dir/rogue.pem"

# client_ca alone is refused: mTLS is an option of TLS.
cat >"$dir/bad.toml" <<EOF
data_dir = "$dir/data"
[tls]
client_ca = "$dir/ca.pem"
EOF
rc=0
"$liaison" serve --config "$dir/bad.toml" --listen 127.0.0.1:0 2>"$dir/bad.log" || rc=$?
[[ $rc == 2 ]] || fail "client_ca without cert: exit $rc, expected 2"
grep -q "client_ca" "$dir/bad.log" || fail "client_ca error names no key: $(cat "$dir/bad.log")"

cat >"$dir/liaison.toml" <<EOF
data_dir = "$dir/data"
[tls]
cert = "$dir/server.pem"
key = "$dir/server.key"
client_ca = "$dir/ca.pem"
EOF
"$liaison" serve --config "$dir/liaison.toml" --listen 127.0.0.1:0 --port-file "$dir/port" \
  2>"$dir/serve.log" &
server_pid=$!
for _ in $(seq 300); do [[ -s $dir/port ]] && break; sleep 0.1; done
[[ -s $dir/port ]] || fail "server did not start"
url="https://127.0.0.1:$(cat "$dir/port")/taxii2/"
code() {  # curl options... -> the HTTP status, or 000 when the handshake failed
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$dir/server.pem" \
    -u "admin:$LIAISON_ADMIN_PASSWORD" -H 'Accept: application/taxii+json;version=2.1' "$@" \
    "$url" || true
}
[[ $(code --cert "$dir/client.pem" --key "$dir/client.key") == 200 ]] ||
  fail "CA-signed client certificate refused"
[[ $(code) == 000 ]] || fail "no client certificate was accepted"
[[ $(code --cert "$dir/rogue.pem" --key "$dir/rogue.key") == 000 ]] ||
  fail "a client certificate the CA did not sign was accepted"

# --- A partner identified by its client certificate -------------------------------------------
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
# A second certificate the CA signs, which no partner declares.
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=stranger \
  -keyout "$dir/other.key" -out "$dir/other.csr"
ossl x509 -req -in "$dir/other.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 1 -extfile "$dir/client.ext" -out "$dir/other.pem"
print=$(openssl x509 -in "$dir/client.pem" -noout -fingerprint -sha256 | cut -d= -f2)
[[ -n $print ]] || fail "no fingerprint"
config=(--config "$dir/liaison.toml")
"$liaison" partner add cert-x "${config[@]}" --user cert-x-sync --client-cert-user cert-x-sync \
  --client-cert "sha256:$print" --tlp clear >/dev/null 2>&1 || fail "partner add cert-x"
"$liaison" partner add cert-y "${config[@]}" --user cert-y-analyst >/dev/null 2>&1 ||
  fail "partner add cert-y"
# The same certificate for a second partner is refused, and the file is left as it was.
rc=0
"$liaison" partner add cert-z "${config[@]}" --user z --client-cert-user z \
  --client-cert "sha256:$print" >/dev/null 2>"$dir/z.log" || rc=$?
[[ $rc != 0 ]] && grep -q "already acts for" "$dir/z.log" || fail "a certificate claimed twice"
want=$(tr -d : <<<"$print" | tr 'A-F' 'a-f')
"$liaison" partner show cert-x "${config[@]}" | grep -q "client_certs: sha256:$want" ||
  fail "partner show does not name the certificate"
echo "cert-x-sync-pw" | "$liaison" user add cert-x-sync --password-stdin "${config[@]}" \
  >/dev/null 2>&1 || fail "user add"
echo "cert-y-pw" | "$liaison" user add cert-y-analyst --password-stdin "${config[@]}" \
  >/dev/null 2>&1 || fail "user add"
collection=$("$liaison" collection list "${config[@]}" 2>/dev/null |
  grep -o -E '[0-9a-f]{8}-[0-9a-f-]{27}' | head -1)
[[ -n $collection ]] || fail "no collection"
"$liaison" user grant cert-x-sync "$collection" --read "${config[@]}" >/dev/null 2>&1 ||
  fail "user grant"
indicator() {  # indicator ID_TAIL MARKING
  printf '{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%s",' "$1"
  printf '"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",'
  printf '"pattern":"[ipv4-addr:value = %s]","pattern_type":"stix",' "'10.0.0.1'"
  printf '"valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["%s"]}\n' "$2"
}
{
  indicator 000000000001 marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487 # TLP:CLEAR
  indicator 000000000002 marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421 # TLP:AMBER
} >"$dir/two.ndjson"
"$liaison" import "$dir/two.ndjson" --collection "$collection" "${config[@]}" >/dev/null 2>&1 ||
  fail "import"
rm -f "$dir/port"
"$liaison" serve "${config[@]}" --listen 127.0.0.1:0 --port-file "$dir/port" 2>"$dir/serve.log" &
server_pid=$!
for _ in $(seq 300); do [[ -s $dir/port ]] && break; sleep 0.1; done
[[ -s $dir/port ]] || fail "server did not start with the partner"
objects="https://127.0.0.1:$(cat "$dir/port")/api/collections/$collection/objects/"
get() {  # curl options... -> the body, then the HTTP status on a line of its own
  curl -s -w '\n%{http_code}' --max-time 10 --cacert "$dir/server.pem" \
    -H 'Accept: application/taxii+json;version=2.1' "$@" "$objects" || true
}
out=$(get --cert "$dir/client.pem" --key "$dir/client.key")
[[ $(tail -1 <<<"$out") == 200 ]] || fail "the partner's certificate alone was refused: $out"
grep -q 000000000001 <<<"$out" || fail "the partner did not get its TLP:CLEAR indicator: $out"
if grep -q 000000000002 <<<"$out"; then fail "the partner got a TLP:AMBER indicator: $out"; fi
out=$(get --cert "$dir/other.pem" --key "$dir/other.key")
[[ $(tail -1 <<<"$out") == 401 ]] || fail "a certificate no partner declares authenticated: $out"
# Credentials take precedence over the certificate (the admin's here: it sees both).
out=$(get --cert "$dir/client.pem" --key "$dir/client.key" -u "admin:$LIAISON_ADMIN_PASSWORD")
grep -q 000000000002 <<<"$out" || fail "Basic credentials over a partner's certificate: $out"
# Another partner's credentials over cert-x's certificate: refused.
out=$(get --cert "$dir/client.pem" --key "$dir/client.key" -u "cert-y-analyst:cert-y-pw")
[[ $(tail -1 <<<"$out") == 401 ]] || fail "cert-y's user over cert-x's certificate: $out"
echo "PASS"
