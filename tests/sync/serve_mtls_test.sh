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
echo "PASS"
