#!/usr/bin/env bash
# End to end with the real binaries: `liaison serve` with a [psi] section on 127.0.0.1, and
# `liaison psi` as the partner's client. Usage: cli_test.sh path/to/liaison
set -euo pipefail
liaison=$1
dir=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The server's list and the client's: written differently, equal once normalised, except the
# local part's case outside gmail (RFC 5321: Carol and carol are different mailboxes).
printf '# server watch-list\nalice@Example.ORG\njodoe@gmail.com\ncarol@example.net\ndave@example.com\n' >"$dir/server.txt"
printf 'alice@example.org\nJ.O.Doe+news@googlemail.com\nmallory@example.org\nCarol@example.net\n' >"$dir/client.txt"
cat >"$dir/liaison.toml" <<EOF
data_dir = "$dir/data"
[psi]
results_dir = "$dir/results"
[[psi.lists]]
name = "watch-email"
kind = "email"
file = "$dir/server.txt"
[[psi.lists]]
name = "watch-domain"
kind = "domain"
file = "$dir/server-domains.txt"
[[psi.partners]]
group = "cert-x"
lists = ["watch-email"]
min_set_size = 3
max_runs = 5
cooldown_s = 3600
[[psi.partners]]
group = "cert-y"
lists = ["watch-domain"]
min_set_size = 2
EOF
printf 'evil.example\nBAD.example.net\nbenign.example.org\n' >"$dir/server-domains.txt"
mkdir -p "$dir/results"
echo "bob-password" | "$liaison" user add bob --group cert-x --password-stdin --config "$dir/liaison.toml" >/dev/null 2>&1
echo "yann-password" | "$liaison" user add yann --group cert-y --password-stdin --config "$dir/liaison.toml" >/dev/null 2>&1

start_server() {
  LIAISON_ADMIN_PASSWORD=admin-pw "$liaison" serve --config "$dir/liaison.toml" --listen 127.0.0.1:0 2>"$dir/serve.log" &
  pid=$!
  port=
  for _ in $(seq 1 200); do
    port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/taxii2/.*|\1|p' "$dir/serve.log")
    [[ -n "$port" ]] && break
    sleep 0.05
  done
  [[ -n "$port" ]] || { cat "$dir/serve.log" >&2; fail "the server did not start"; }
}
start_server

LIAISON_PASSWORD=bob-password "$liaison" psi --peer "http://127.0.0.1:$port" --user bob \
  --list "$dir/client.txt" --kind email --mode mutual --out "$dir/out.txt" --record "$dir/client-runs.jsonl" \
  2>"$dir/psi.log" || { cat "$dir/psi.log" >&2; fail "psi run failed"; }
expected=$'alice@example.org\njodoe@gmail.com'
got=$(sort "$dir/out.txt")
[[ "$got" == "$(sort <<<"$expected")" ]] || fail "intersection: got [$got]"
grep -q "2 of 4 items in common" "$dir/psi.log" || fail "summary: $(cat "$dir/psi.log")"
[[ $(stat -c %a "$dir/out.txt") == 600 ]] || fail "--out file is not private"

# The responder recorded the run in the release log (never an item) and kept its mutual result.
# The log's entries carry the record as JSON text, so quotes may come escaped.
runs="$dir/runs.txt"
"$liaison" audit show --config "$dir/liaison.toml" --json >"$runs" || fail "audit show failed"
grep -Eq 'outcome\\?":\\?"completed' "$runs" || fail "no completed record in $runs"
grep -Eq 'result_size\\?":2' "$runs" || fail "no result size in $runs"
grep -q '"psi"' "$runs" || fail "the record is not a psi entry"
grep -q 'example' "$runs" && fail "an item leaked into the run record"
grep -q '"outcome":"completed"' "$dir/client-runs.jsonl" || fail "no requester record"
ls "$dir/results"/psi-*.txt >/dev/null || fail "no responder result file"
grep -q 'alice@example.org' "$dir/results"/psi-*.txt || fail "responder result"

# expect_cool_down LOG WHAT: bob's next run is refused, exit 3, the cool-down named in LOG.
expect_cool_down() {
  local rc
  set +e
  LIAISON_PASSWORD=bob-password "$liaison" psi --peer "http://127.0.0.1:$port" --user bob \
    --list "$dir/client.txt" --kind email 2>"$1" >/dev/null
  rc=$?
  set -e
  [[ $rc == 3 ]] || fail "$2: exit $rc"
  grep -q "cool-down" "$1" || fail "$2: $(cat "$1")"
}
# A second run falls in the cool-down: refused, exit 3, the reason shown.
expect_cool_down "$dir/psi2.log" "cool-down"
"$liaison" audit show --config "$dir/liaison.toml" --json >"$runs" || fail "audit show failed"
grep -Eq 'outcome\\?":\\?"refused: cool-down' "$runs" || fail "the refusal was not recorded"
"$liaison" audit verify --config "$dir/liaison.toml" >/dev/null || fail "the release log does not verify"
# The partner's runs are counted in the store: a restarted server still holds the cool-down (as
# every node on one PostgreSQL database would).
kill "$pid"; wait "$pid" 2>/dev/null || true
start_server
expect_cool_down "$dir/psi4.log" "cool-down after a restart"

# A bad watch-list line: exit 1 with file and line.
printf 'alice@example.org\nnot-an-address\n' >"$dir/bad.txt"
set +e
LIAISON_PASSWORD=x "$liaison" psi --peer "http://127.0.0.1:$port" --user bob --list "$dir/bad.txt" \
  --kind email 2>"$dir/psi3.log"
rc=$?
set -e
[[ $rc == 1 ]] || fail "bad list: exit $rc"
grep -q "bad.txt:2: " "$dir/psi3.log" || fail "bad list message: $(cat "$dir/psi3.log")"
# The requester's own configuration: the partner as a [[peer]] (name, credentials), and a list
# drawn from the active indicators of one of its collections.
mkdir -p "$dir/req"
export YANN_PW=yann-password  # every command reading this configuration resolves password_env
cat >"$dir/req/liaison.toml" <<EOF
data_dir = "$dir/req/data"
[[peer]]
name = "hq"
url = "http://127.0.0.1:$port/taxii2/collections/0a3c8b2e-9f4d-4c61-8e7a-2b5d9c1f6e40/"
direction = "pull"
local_collection = "0a3c8b2e-9f4d-4c61-8e7a-2b5d9c1f6e40"
username = "yann"
password_env = "YANN_PW"
[[psi.lists]]
name = "intel-domains"
kind = "domain"
collection = "intel"
EOF
"$liaison" collection add --config "$dir/req/liaison.toml" --id intel --title intel >/dev/null 2>&1 \
  || fail "collection add"
ind() {  # id pattern [extra members]
  printf '{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"%s","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"%s}\n' "$1" "$2" "${3:-}"
}
{
  ind 4d1a7c52-0b3e-4f8a-9c6d-1e2f3a4b5c6d "[domain-name:value = 'EVIL.example']"
  ind 5e2b8d63-1c4f-4a9b-8d7e-2f3a4b5c6d7e "[domain-name:value IN ('bad.example.net', 'other.example')] OR [url:value = 'http://x.example/']"
  ind 6f3c9e74-2d5a-4bac-9e8f-3a4b5c6d7e8f "[domain-name:value = 'benign.example.org']" ',"revoked":true'
  ind 7a4d0f85-3e6b-4cbd-8f9a-4b5c6d7e8f9a "[domain-name:value = 'benign.example.org']" ',"valid_until":"2024-06-01T00:00:00Z"'
  ind 8b5e1a96-4f7c-4dce-9a0b-5c6d7e8f9a0b "[domain-name:value != 'benign.example.org']"
} >"$dir/req/intel.ndjson"
"$liaison" import --config "$dir/req/liaison.toml" --collection intel "$dir/req/intel.ndjson" \
  >/dev/null 2>&1 || fail "import"
"$liaison" psi --config "$dir/req/liaison.toml" --peer hq \
  --list intel-domains --mode one-sided --out "$dir/req/out.txt" 2>"$dir/req/psi.log" \
  || { cat "$dir/req/psi.log" >&2; fail "psi with a configured peer and list failed"; }
got=$(sort "$dir/req/out.txt")
[[ "$got" == $'bad.example.net\nevil.example' ]] || fail "collection list intersection: got [$got]"
grep -q "list intel-domains: 3 domain items from 5 indicators" "$dir/req/psi.log" \
  || fail "collection list summary: $(cat "$dir/req/psi.log")"
# The requester recorded its run in its own release log.
"$liaison" audit show --config "$dir/req/liaison.toml" --json >"$dir/req/runs.txt" || fail "audit show"
grep -Eq 'role\\?":\\?"requester' "$dir/req/runs.txt" || fail "no requester record in its release log"
grep -q 'evil' "$dir/req/runs.txt" && fail "an item leaked into the requester's record"
# An unknown peer name is a usage error.
set +e
"$liaison" psi --config "$dir/req/liaison.toml" --peer nobody --list intel-domains 2>"$dir/req/psi2.log"
rc=$?
set -e
[[ $rc == 2 ]] || fail "unknown peer: exit $rc"
grep -q 'no \[\[peer\]\] named "nobody"' "$dir/req/psi2.log" || fail "unknown peer: $(cat "$dir/req/psi2.log")"
echo "psi cli end-to-end: ok"
