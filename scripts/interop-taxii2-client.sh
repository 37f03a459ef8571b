#!/usr/bin/env bash
# Interoperability check: drives a local `liaison serve` with the OASIS TAXII 2.1 client
# (https://github.com/oasis-open/cti-taxii-client), used unmodified as a peer from a checkout
# given on the command line. Not run by CI (CI cannot download the client); docs/taxii.md records
# the last result.
#
#   scripts/interop-taxii2-client.sh /path/to/cti-taxii-client [path/to/liaison]
#
# Needs python3 with requests, six and pytz (Debian: python3-requests python3-six python3-tz).
# Exercises discovery, the API root, collections, add objects + status, get objects with
# filters, pagination with as_pages, get object, versions, manifest and delete. Exit status 0
# when every check passed.
set -euo pipefail
client_dir=${1:?usage: $0 CTI_TAXII_CLIENT_CHECKOUT [LIAISON_BINARY]}
client_dir=$(cd "$client_dir" && pwd)
cd "$(dirname "$0")/.."
liaison=${2:-build/release/src/app/liaison}
[[ -x "$liaison" ]] || { echo "no liaison binary at $liaison (build it first)" >&2; exit 3; }

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
LIAISON_ADMIN_PASSWORD=interop-pw "$liaison" serve --data "$work/data" --listen 127.0.0.1:0 \
  --port-file "$work/port" --seed examples/bundle.json 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || { cat "$work/server.log" >&2; exit 3; }
port=$(cat "$work/port")

PYTHONPATH="$client_dir" "${PYTHON:-/usr/bin/python3}" - "http://127.0.0.1:$port" <<'PY'
import sys, uuid, datetime
from taxii2client.v21 import Server, ApiRoot, Collection, as_pages

base = sys.argv[1]
auth = dict(user="admin", password="interop-pw")
failures = []

def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else "  " + str(detail)))
    if not cond:
        failures.append(name)

server = Server(base + "/taxii2/", **auth)
check("discovery: title", server.title == "liaison", server.title)
check("discovery: api_roots", len(server.api_roots) >= 1, server.api_roots)
root = server.default
check("discovery: default root", root is not None and root.url.endswith("/api/"), root and root.url)
check("api root: versions", "application/taxii+json;version=2.1" in root.versions, root.versions)
check("api root: max_content_length", root.max_content_length > 0, root.max_content_length)
cols = root.collections
check("collections: listed", len(cols) >= 1, cols)
col = cols[0]
check("collection: can_read/can_write", col.can_read and col.can_write)

seeded = col.get_objects()
check("get objects: seeded example data", len(seeded.get("objects", [])) > 0, seeded)

# Add 25 indicators, each in two versions, in one envelope.
ids = ["indicator--" + str(uuid.uuid4()) for _ in range(25)]
objs = []
for n, i in enumerate(ids):
    for mod in ("2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"):
        objs.append({"type": "indicator", "spec_version": "2.1", "id": i,
                     "created": "2024-01-01T00:00:00.000Z", "modified": mod,
                     "pattern": "[ipv4-addr:value = '192.0.2.%d']" % n, "pattern_type": "stix",
                     "valid_from": "2024-01-01T00:00:00Z"})
objs.append({"type": "indicator", "spec_version": "2.1", "id": "indicator--" + str(uuid.uuid4()),
             "created": "yesterday", "modified": "2024-01-01T00:00:00.000Z",
             "pattern": "[ipv4-addr:value = '192.0.2.99']", "pattern_type": "stix",
             "valid_from": "2024-01-01T00:00:00Z"})
status = col.add_objects({"objects": objs})
check("add objects: status complete", status.status == "complete", status.status)
check("add objects: 50 successes", status.success_count == 50, status.success_count)
check("add objects: 1 failure with message", status.failure_count == 1 and
      "message" in status.failures[0], status.failures)
again = root.get_status(status.id)
check("status: fetched again", again.id == status.id and again.success_count == 50)

got = col.get_objects(type="indicator", id=ids[:3])
check("get objects: match[id] + match[type]", len(got.get("objects", [])) == 3, got)
allv = col.get_objects(id=ids[0], version="all")
check("get objects: match[version]=all", len(allv.get("objects", [])) == 2, allv)
first = col.get_objects(id=ids[0], version="first")
check("get objects: match[version]=first",
      first["objects"][0]["modified"] == "2024-01-01T00:00:00.000Z", first)
headers = getattr(got, "headers", None) or {}

pages = list(as_pages(col.get_objects, per_request=10, type="indicator"))
total = sum(len(p.get("objects", [])) for p in pages)
check("as_pages: several pages", len(pages) >= 3, len(pages))
check("as_pages: every latest indicator once", total >= 25, total)
seen = [o["id"] for p in pages for o in p.get("objects", [])]
check("as_pages: no duplicates", len(seen) == len(set(seen)))

mpages = list(as_pages(col.get_manifest, per_request=7))
mtotal = sum(len(p.get("objects", [])) for p in mpages)
check("manifest: paged", len(mpages) >= 2 and mtotal >= 25, (len(mpages), mtotal))
rec = mpages[0]["objects"][0]
check("manifest: record fields", all(k in rec for k in ("id", "date_added", "version", "media_type")), rec)

obj = col.get_object(ids[1])
check("get object: latest", len(obj["objects"]) == 1 and
      obj["objects"][0]["modified"] == "2024-02-01T00:00:00.000Z", obj)
vers = col.object_versions(ids[1])
check("versions: both", len(vers.get("versions", [])) == 2, vers)

added_after = col.get_objects(added_after=datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc))
check("get objects: added_after in the future is empty", not added_after.get("objects"), added_after)

col.delete_object(ids[2], version="first")
vers = col.object_versions(ids[2])
check("delete: match[version]=first removes one", len(vers.get("versions", [])) == 1, vers)
col.delete_object(ids[2])
try:
    col.get_object(ids[2])
    check("delete: all versions gone (404)", False)
except Exception as e:
    check("delete: all versions gone (404)", "404" in str(e), e)

print("%d checks failed" % len(failures) if failures else "all checks passed")
sys.exit(1 if failures else 0)
PY
