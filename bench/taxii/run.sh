#!/usr/bin/env bash
# TAXII server benchmark (issue #3; figures in docs/BENCHMARKS.md and docs/taxii.md).
#
#   bash bench/taxii/run.sh [OBJECTS]        # OBJECTS defaults to 1000000
#
# 1. GET .../objects/?limit=100 from a collection of OBJECTS objects with wrk on loopback, next to
#    nginx serving the very same response bytes as a static file, same wrk settings, same run,
#    in GET_ROUNDS interleaved rounds (the median of the per-round ratios).
#    Bar: liaison >= 50 % of nginx's requests/s.
# 2. p50 latency of the same GET at OBJECTS objects and at 1,000 objects. Bar: <= 1.5x.
# 3. POST envelopes of 100 objects (taxii_load post) next to a bare SQLite insert of the same
#    rows, 100 per transaction, same durability (taxii_load bare). Bar: >= 50 %. Measured by
#    bench/taxii/post.sh in interleaved rounds (bare, post, bare, post, ...): the median of the
#    per-round ratios, with every round's figures on stderr (POST_ROUNDS, POST_ROUND_ENVELOPES).
#
# Stores are loaded through the store's bulk path (taxii_load fill), not over HTTP. Installs wrk
# and nginx-light from Debian when missing (root needed then). Settings: WRK_THREADS (2),
# WRK_CONNECTIONS (16), WRK_SECONDS (10), GET_ROUNDS (3), POST_ROUNDS (7), POST_ROUND_ENVELOPES (1000),
# POST_CONNECTIONS (16), POST_FEW_CONNECTIONS (4), WORK
# (a scratch directory, default /tmp/liaison-taxii-bench; the 1M store takes ~1 GB).
set -euo pipefail
cd "$(dirname "$0")/../.."
objects=${1:-1000000}
threads=${WRK_THREADS:-2}
connections=${WRK_CONNECTIONS:-16}
seconds=${WRK_SECONDS:-10}
post_connections=${POST_CONNECTIONS:-16}
work=${WORK:-/tmp/liaison-taxii-bench}

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null && [[ ! -x /usr/sbin/nginx || $tool != nginx ]]; then
    echo "bench: installing wrk and nginx-light from Debian" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk nginx-light >&2
    break
  fi
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cmake --preset release >/dev/null
cmake --build build/release --target liaison taxii_load -j2 >&2
liaison=build/release/src/app/liaison
load=build/release/bench/taxii/taxii_load
mkdir -p "$work"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

fill() {  # fill DIR COUNT -> collection id (reuses a store already filled)
  if [[ ! -s "$1/collection" ]]; then
    rm -rf "$1"; mkdir -p "$1"
    "$load" fill "$1" "$2" >"$1/collection"
  fi
  cat "$1/collection"
}

serve() {  # serve DIR: starts a server (not in a subshell: its pid must reach cleanup)
  rm -f "$1/port"
  LIAISON_ADMIN_PASSWORD=bench-pw "$liaison" serve --data "$1" --listen 127.0.0.1:0 \
    --port-file "$1/port" >"$1/server.out" 2>"$1/server.log" &
  pids+=($!)
  for _ in $(seq 1 300); do [[ -s "$1/port" ]] && break; sleep 0.1; done
}

auth="Authorization: Basic $(printf 'admin:bench-pw' | base64)"
accept='Accept: application/taxii+json;version=2.1'

wrk_run() {  # wrk_run URL -> "requests/s p50_ms"
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -H "$auth" -H "$accept" "$1")
  echo "$out" >&2
  local rps p50
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  echo "$rps $p50"
}

big=$work/store-$objects
small=$work/store-1000
big_collection=$(fill "$big" "$objects")
small_collection=$(fill "$small" 1000)
serve "$big"
serve "$small"
big_port=$(cat "$big/port")
small_port=$(cat "$small/port")
path="/api/collections/$big_collection/objects/?limit=100"
small_path="/api/collections/$small_collection/objects/?limit=100"

# nginx: the same response bytes as a static file.
mkdir -p "$work/nginx/root"
curl -sf -H "$auth" -H "$accept" "http://127.0.0.1:$big_port$path" >"$work/nginx/root/objects.json"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { }
  default_type application/taxii+json;
  server {
    listen 127.0.0.1:6599;
    root $work/nginx/root;
    location / { try_files /objects.json =404; }
  }
}
NGINX
"$nginx_bin" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
sleep 0.5

# Warm the small server's login cache as the nginx copy above warmed the big one's: with a
# cold cache, all of wrk's connections wait for Argon2id at once (0 requests in a short run).
curl -sf -o /dev/null -H "$auth" -H "$accept" "http://127.0.0.1:$small_port$small_path"
# GET_ROUNDS rounds of (liaison at OBJECTS, nginx, liaison at 1,000), one right after the other:
# this machine's GET rate swings by half between runs a minute apart (9.8k-15.3k req/s for the
# same binary and store, session 7), so each ratio is taken within a round and the report gives
# the median of the per-round ratios beside the median rates.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
big_rates=() big_p50s=() nginx_rates=() nginx_p50s=() small_rates=() small_p50s=()
get_ratios=() p50_ratios=()
for ((round = 1; round <= ${GET_ROUNDS:-3}; ++round)); do
  echo "== round $round: GET objects limit=100, $objects objects (liaison)" >&2
  read -r rps p50 < <(wrk_run "http://127.0.0.1:$big_port$path")
  big_rates+=("$rps") big_p50s+=("$p50")
  echo "== round $round: the same bytes from nginx" >&2
  read -r n_rps n_p50 < <(wrk_run "http://127.0.0.1:6599$path")
  nginx_rates+=("$n_rps") nginx_p50s+=("$n_p50")
  echo "== round $round: GET objects limit=100, 1000 objects (liaison)" >&2
  read -r s_rps s_p50 < <(wrk_run "http://127.0.0.1:$small_port$small_path")
  small_rates+=("$s_rps") small_p50s+=("$s_p50")
  get_ratios+=("$(awk -v a="$rps" -v b="$n_rps" 'BEGIN {printf "%.3f", a / b}')")
  p50_ratios+=("$(awk -v a="$p50" -v b="$s_p50" 'BEGIN {printf "%.3f", a / b}')")
  echo "round $round: liaison $rps req/s (p50 $p50 ms), nginx $n_rps, 1k $s_rps (p50 $s_p50 ms)" >&2
done
liaison_rps=$(median "${big_rates[@]}") liaison_p50=$(median "${big_p50s[@]}")
nginx_rps=$(median "${nginx_rates[@]}") nginx_p50=$(median "${nginx_p50s[@]}")
small_rps=$(median "${small_rates[@]}") small_p50=$(median "${small_p50s[@]}")
get_ratio=$(median "${get_ratios[@]}") p50_ratio=$(median "${p50_ratios[@]}")

echo "== POST envelopes of 100 objects, interleaved with the bare insert (post.sh)" >&2
# The GET servers and nginx stop first, so the POST rounds get the machine as the bare insert does.
cleanup
pids=()
# A fresh store and new objects on every run (post.sh).
read -r post_rate bare_rate post_ratio ratio_min ratio_max schema_rate schema_ratio few_rate \
  few_ratio < <(bash bench/taxii/post.sh "$work/post")

bytes=$(stat -c %s "$work/nginx/root/objects.json")
cat <<REPORT
response: $bytes bytes (100 objects); wrk -t$threads -c$connections -d${seconds}s --latency
GET liaison ($objects objects):  $liaison_rps req/s, p50 $liaison_p50 ms (medians of ${GET_ROUNDS:-3} rounds)
GET nginx (static, same bytes): $nginx_rps req/s, p50 $nginx_p50 ms
GET liaison (1000 objects):     $small_rps req/s, p50 $small_p50 ms
GET ratio liaison/nginx:        $get_ratio (bar >= 0.50; median of per-round ratios ${get_ratios[*]})
p50 ratio 1M/1k:                $p50_ratio (bar <= 1.50; per round ${p50_ratios[*]})
POST objects/s ($post_connections connections, median of rounds): $post_rate
bare SQLite rows/s (100/transaction, median of rounds):  $bare_rate
POST ratio (median of per-round ratios): $post_ratio, rounds $ratio_min-$ratio_max (bar >= 0.50)
same rows into liaison's schema, plain SQL (median of rounds): $schema_rate rows/s
POST ratio to that (median of per-round ratios): $schema_ratio
POST objects/s over ${POST_FEW_CONNECTIONS:-4} connections (median of rounds): $few_rate, ratio to bare $few_ratio
load average: $(cut -d' ' -f1-3 /proc/loadavg)
REPORT
