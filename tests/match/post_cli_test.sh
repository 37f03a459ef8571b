#!/usr/bin/env bash
# `liaison match --post` end to end with the real binaries: sightings found in a log are posted
# into a collection of a running `liaison serve` and read back over TAXII.
# Usage: post_cli_test.sh path/to/liaison
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
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }

printf 'data_dir = "%s/data"\n' "$dir" >"$dir/liaison.toml"
LIAISON_ADMIN_PASSWORD=admin-pw "$liaison" serve --config "$dir/liaison.toml" --listen 127.0.0.1:0 \
  2>"$dir/serve.log" &
pid=$!
root=
for _ in $(seq 1 200); do
  root=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*/taxii2/\).*|\1|p' "$dir/serve.log" | head -1)
  [[ -n "$root" ]] && break
  sleep 0.05
done
[[ -n "$root" ]] || { cat "$dir/serve.log" >&2; fail "the server did not start"; }
accept='Accept: application/taxii+json;version=2.1'
api=$(curl -sf -u admin:admin-pw -H "$accept" "$root" | sed -n 's|.*"default":"\([^"]*\)".*|\1|p')
[[ -n "$api" ]] || fail "no default API root"
collection=$(curl -sf -u admin:admin-pw -H "$accept" "${api}collections/" \
  | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
[[ -n "$collection" ]] || fail "no collection"
url="${api}collections/$collection/"

printf 'ipv4-addr 198.51.100.7\ndomain-name evil.example\n' >"$dir/list.txt"
{
  printf '{"ts":1700000000.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1234,"id.resp_h":"198.51.100.7","id.resp_p":80,"proto":"tcp"}\n'
  printf '{"ts":1700000100.0,"uid":"C2","id.orig_h":"10.0.0.2","id.orig_p":1235,"id.resp_h":"198.51.100.7","id.resp_p":80,"proto":"tcp"}\n'
  printf '{"ts":1700000200.0,"uid":"C3","id.orig_h":"10.0.0.3","id.orig_p":1236,"id.resp_h":"192.0.2.1","id.resp_p":80,"proto":"tcp"}\n'
} >"$dir/conn.log"

LIAISON_USER=admin LIAISON_PASSWORD=admin-pw "$liaison" match --indicators "$dir/list.txt" \
  --format zeek-json --post "$url" --quiet -o "$dir/sightings.ndjson" "$dir/conn.log" \
  2>"$dir/match.log" || { cat "$dir/match.log" >&2; fail "match --post failed"; }
grep -q "posted 1 sightings" "$dir/match.log" || fail "summary: $(cat "$dir/match.log")"
sighting=$(grep -o '"id":"sighting--[^"]*"' "$dir/sightings.ndjson" | head -1 | cut -d'"' -f4)
[[ -n "$sighting" ]] || fail "no sighting written"
got=$(curl -gsf -u admin:admin-pw -H "$accept" "${url}objects/?match[type]=sighting")
grep -q "$sighting" <<<"$got" || fail "the posted sighting is not in the collection: $got"
grep -q '"count":2' <<<"$got" || fail "the sighting does not count both events: $got"

# A peer that refuses: wrong credentials give exit 3, and the sightings are still written.
set +e
LIAISON_USER=admin LIAISON_PASSWORD=wrong "$liaison" match --indicators "$dir/list.txt" \
  --format zeek-json --post "$url" --quiet -o "$dir/again.ndjson" "$dir/conn.log" 2>"$dir/bad.log"
rc=$?
set -e
[[ $rc == 3 ]] || fail "refused post: exit $rc ($(cat "$dir/bad.log"))"
grep -q sighting-- "$dir/again.ndjson" || fail "sightings lost when the post failed"
# An unknown peer name is reported as such.
set +e
"$liaison" match --indicators "$dir/list.txt" --format zeek-json --post nobody --quiet \
  "$dir/conn.log" >/dev/null 2>"$dir/peer.log"
rc=$?
set -e
[[ $rc == 1 ]] || fail "unknown peer: exit $rc"
grep -q 'no \[\[peer\]\] named "nobody"' "$dir/peer.log" || fail "unknown peer: $(cat "$dir/peer.log")"
echo "match --post end-to-end: ok"
