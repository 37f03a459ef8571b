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
[[psi.partners]]
group = "cert-x"
lists = ["watch-email"]
min_set_size = 3
max_runs = 5
cooldown_s = 3600
EOF
mkdir -p "$dir/results"
echo "bob-password" | "$liaison" user add bob --group cert-x --password-stdin --config "$dir/liaison.toml" >/dev/null 2>&1

LIAISON_ADMIN_PASSWORD=admin-pw "$liaison" serve --config "$dir/liaison.toml" --listen 127.0.0.1:0 2>"$dir/serve.log" &
pid=$!
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/taxii2/.*|\1|p' "$dir/serve.log")
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { cat "$dir/serve.log" >&2; fail "the server did not start"; }

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

# A second run falls in the cool-down: refused, exit 3, the reason shown.
set +e
LIAISON_PASSWORD=bob-password "$liaison" psi --peer "http://127.0.0.1:$port" --user bob \
  --list "$dir/client.txt" --kind email 2>"$dir/psi2.log" >/dev/null
rc=$?
set -e
[[ $rc == 3 ]] || fail "cool-down: exit $rc"
grep -q "cool-down" "$dir/psi2.log" || fail "cool-down message: $(cat "$dir/psi2.log")"
"$liaison" audit show --config "$dir/liaison.toml" --json >"$runs" || fail "audit show failed"
grep -Eq 'outcome\\?":\\?"refused: cool-down' "$runs" || fail "the refusal was not recorded"
"$liaison" audit verify --config "$dir/liaison.toml" >/dev/null || fail "the release log does not verify"

# A bad watch-list line: exit 1 with file and line.
printf 'alice@example.org\nnot-an-address\n' >"$dir/bad.txt"
set +e
LIAISON_PASSWORD=x "$liaison" psi --peer "http://127.0.0.1:$port" --user bob --list "$dir/bad.txt" \
  --kind email 2>"$dir/psi3.log"
rc=$?
set -e
[[ $rc == 1 ]] || fail "bad list: exit $rc"
grep -q "bad.txt:2: " "$dir/psi3.log" || fail "bad list message: $(cat "$dir/psi3.log")"
echo "psi cli end-to-end: ok"
