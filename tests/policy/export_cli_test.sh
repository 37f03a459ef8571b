#!/usr/bin/env bash
# `liaison export` end to end with the real binary: a partner's release policy applied to a file
# export, every exported page on the release log, nothing withheld in the file.
# Usage: export_cli_test.sh path/to/liaison
set -euo pipefail
liaison=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

green=marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da
red=marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed
cat >"$dir/liaison.toml" <<EOF
data_dir = "$dir/data"
[[partner]]
name = "cert-x"
groups = ["cert-x"]
tlp = ["clear", "green"]
unmarked = "withhold"
deny_labels = ["military"]
EOF
"$liaison" collection add --config "$dir/liaison.toml" --id intel --title intel >/dev/null 2>&1 \
  || fail "collection add"
ind() {  # uuid marking labels
  printf '{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[domain-name:value = '"'"'x.example'"'"']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["%s"],"labels":[%s]}\n' "$1" "$2" "$3"
}
{
  ind 11111111-1111-4111-8111-111111111111 "$green" '"cybercrime"'
  ind 22222222-2222-4222-8222-222222222222 "$red" '"cybercrime"'
  ind 33333333-3333-4333-8333-333333333333 "$green" '"military"'
  ind 44444444-4444-4444-8444-444444444444 "$green" '"terrorism"'
} >"$dir/in.ndjson"
"$liaison" import --config "$dir/liaison.toml" --collection intel "$dir/in.ndjson" >/dev/null 2>&1 \
  || fail "import"

"$liaison" export --config "$dir/liaison.toml" --partner cert-x --collection intel \
  --out "$dir/out.ndjson" 2>"$dir/export.log" || { cat "$dir/export.log" >&2; fail "export"; }
grep -q "exported 2 objects" "$dir/export.log" || fail "summary: $(cat "$dir/export.log")"
[[ $(wc -l <"$dir/out.ndjson") == 2 ]] || fail "expected 2 lines: $(cat "$dir/out.ndjson")"
grep -q 11111111-1111-4111-8111-111111111111 "$dir/out.ndjson" || fail "green indicator missing"
grep -q 44444444-4444-4444-8444-444444444444 "$dir/out.ndjson" || fail "second green indicator missing"
grep -q 22222222 "$dir/out.ndjson" && fail "a TLP:RED object was exported"
grep -q 33333333 "$dir/out.ndjson" && fail "a denied label was exported"
[[ $(stat -c %a "$dir/out.ndjson") == 600 ]] || fail "export file is not private"

# A bundle validates as STIX 2.1.
"$liaison" export --config "$dir/liaison.toml" --partner cert-x --collection intel \
  --format bundle --out "$dir/out.json" 2>/dev/null || fail "bundle export"
"$liaison" validate "$dir/out.json" >/dev/null || fail "the exported bundle does not validate"

# Both exports are on the release log, naming exactly what left; the log verifies.
"$liaison" audit show --config "$dir/liaison.toml" --partner cert-x --json >"$dir/log.json" \
  || fail "audit show"
[[ $(grep -o 'export' "$dir/log.json" | wc -l) -ge 2 ]] || fail "exports not logged: $(cat "$dir/log.json")"
grep -q 11111111-1111-4111-8111-111111111111 "$dir/log.json" || fail "released id not logged"
grep -q 22222222 "$dir/log.json" && fail "a withheld id is on the release log"
"$liaison" audit verify --config "$dir/liaison.toml" >/dev/null || fail "the release log does not verify"

# Errors: unknown partner (1), bad format (1); no output file is left behind.
set +e
"$liaison" export --config "$dir/liaison.toml" --partner nobody --collection intel \
  --out "$dir/none.ndjson" 2>"$dir/err.log"
rc=$?
set -e
[[ $rc == 1 ]] || fail "unknown partner: exit $rc"
grep -q "no partner named nobody" "$dir/err.log" || fail "unknown partner message: $(cat "$dir/err.log")"
[[ ! -e "$dir/none.ndjson" && ! -e "$dir/none.ndjson.partial" ]] || fail "a file was left behind"
set +e
"$liaison" export --config "$dir/liaison.toml" --partner cert-x --collection intel --format xml \
  --out "$dir/none.ndjson" 2>/dev/null
rc=$?
set -e
[[ $rc == 1 ]] || fail "bad format: exit $rc"
echo "export cli end-to-end: ok"
