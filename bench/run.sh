#!/usr/bin/env bash
# Load benchmark (issue 11): Concord's tracked redirect against a bare actix-web 302 in the same run, the conversion
# API, and a signed-in /portal page, with 10,000 partners and 1,000,000 clicks in the database. Prints a table and
# whether each target is met; exits 1 when one is not.
#
#   bench/run.sh                                   # SQLite (a fresh file in a temporary directory)
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bench/run.sh   # PostgreSQL (a fresh concord_bench database)
#
# BENCH_DURATION (10s), BENCH_CONNECTIONS (64) and BENCH_THREADS (2) tune wrk. Every endpoint is loaded with
# BENCH_CONNECTIONS, which saturates both cores (wrk shares them), so its p99 there is mostly queueing: 64 requests in
# flight at 3,000 pages/s wait 21 ms on average by Little's law. /portal's latency target is therefore checked on a
# second run with BENCH_LATENCY_CONNECTIONS (8) signed-in users loading the dashboard back to back.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
latency_connections=${BENCH_LATENCY_CONNECTIONS:-8}

if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
echo "building release binaries..."
# One build for both (the feature only adds the bare server), so the two binaries share one compile.
cargo build --release --quiet --features bench --bin concord --bin bare_redirect
concord=target/release/concord
bare=target/release/bare_redirect

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
bare_port=$(free_port)

if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  backend=PostgreSQL
  psql "$DATABASE_URL" -q -c "DROP DATABASE IF EXISTS concord_bench WITH (FORCE)" -c "CREATE DATABASE concord_bench"
  database_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/concord_bench").geturl())' "$DATABASE_URL")
  sql() { psql "$database_url" -qAtX "$@"; }
  sql_file() { sql -f "$1" >/dev/null; }
  seed=bench/seed-postgres.sql
else
  backend=SQLite
  database_url="sqlite://$work/bench.db"
  sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print(*r, sep="|") for r in c.execute(sys.argv[3])]' "$work/bench.db" "$@"; }
  sql_file() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.commit()' "$work/bench.db" "$1"; }
  seed=bench/seed-sqlite.sql
fi
export DATABASE_URL="$database_url" CONCORD_JOBS=off RUST_LOG=warn CONCORD_DATA_DIR="$work/data" \
  CONCORD_BIND="127.0.0.1:$port" CONCORD_BASE_URL="http://127.0.0.1:$port"
base="http://127.0.0.1:$port"
wait_for() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 did not answer" >&2; exit 1; }

echo "loading the demo program and seeding 10,000 partners and 1,000,000 clicks ($backend)..."
"$concord" serve --demo >"$work/demo.log" 2>&1 &
demo_pid=$!
wait_for "$base/healthz"
kill "$demo_pid"; wait "$demo_pid" 2>/dev/null || true
password=$(grep 'affiliate@demo.concord.test' "$work/demo.log" | awk '{print $NF}')
seed_started=$(date +%s)
sql_file "$seed"
count() { if [[ $backend == SQLite ]]; then sql x "$1"; else sql -c "$1"; fi; }
echo "seeded in $(( $(date +%s) - seed_started )) s: $(count 'SELECT count(*) FROM partner_orgs') orgs, $(count 'SELECT count(*) FROM clicks') clicks"
clicks_stored() { count 'SELECT count(*) FROM clicks'; }
code=$(count "SELECT code FROM links ORDER BY id DESC LIMIT 1")
export BENCH_API_KEY=$("$concord" api-key create --name bench 2>/dev/null)

"$concord" serve >"$work/serve.log" 2>&1 &
concord_pid=$!; pids+=("$concord_pid")
"$bare" "127.0.0.1:$bare_port" >/dev/null 2>&1 &
pids+=("$!")
wait_for "$base/healthz"
wait_for "http://127.0.0.1:$bare_port/r/x"

# A signed-in affiliate session for /portal.
jar="$work/cookies"
token=$(curl -s -c "$jar" "$base/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf_token=$token" \
  --data-urlencode "email=affiliate@demo.concord.test" --data-urlencode "password=$password" "$base/login"
session=$(awk '$6 == "concord_session" {print $7}' "$jar")
[[ -n "$session" ]] || { echo "could not sign in as the demo affiliate" >&2; exit 1; }
[[ $(curl -s -o /dev/null -w '%{http_code}' -b "concord_session=$session" "$base/portal") == 200 ]] \
  || { echo "/portal did not answer 200 for the demo affiliate" >&2; exit 1; }

# load NAME URL [wrk args...]: runs wrk and sets NAME_rps, NAME_p50, NAME_p99, NAME_ok (2xx/3xx answers).
load() {
  local name=$1 url=$2 script=$work/$1.lua
  shift 2
  cat "${LUA:-/dev/null}" bench/report.lua >"$script"
  local line
  line=$(wrk -t"$threads" -c"${CONNECTIONS:-$connections}" -d"$duration" -s "$script" "$@" "$url" | grep '^RESULT')
  local requests errors socket seconds p50 p99
  eval "$(echo "$line" | sed 's/^RESULT //; s/\([a-z0-9_]*\)=/local_\1=/g')"
  requests=$local_requests errors=$local_errors_status socket=$local_errors_socket seconds=$local_seconds
  printf -v "${name}_rps" '%.0f' "$(echo "$requests / $seconds" | bc -l)"
  printf -v "${name}_p50" '%.2f' "$local_p50_ms"
  printf -v "${name}_p99" '%.2f' "$local_p99_ms"
  printf -v "${name}_ok" '%d' $(( requests - errors ))
  printf -v "${name}_errors" '%d' $(( errors + socket ))
}

echo "loading (wrk -t$threads -c$connections -d$duration per run; /portal also with -c$latency_connections)..."
load bare "http://127.0.0.1:$bare_port/r/$code"
before=$(clicks_stored)
load tracked "$base/r/$code"
sleep 2
after=$(clicks_stored)
LUA=bench/conversions.lua load conversions "$base/api/v1/conversions"
load portal "$base/portal" -H "Cookie: concord_session=$session"
CONNECTIONS=$latency_connections load portal_latency "$base/portal" -H "Cookie: concord_session=$session"
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$concord_pid/status")
stored=$(( after - before ))

ratio=$(echo "$tracked_rps / $bare_rps" | bc -l)
failed=0
check() {
  local result=met
  if [[ $2 != 1 ]]; then result=MISSED; failed=1; fi
  printf '  %-46s %s\n' "$1" "$result"
}
lt() { [[ $(echo "$1 < $2" | bc -l) == 1 ]] && echo 1 || echo 0; }
ge() { [[ $(echo "$1 >= $2" | bc -l) == 1 ]] && echo 1 || echo 0; }

echo
echo "Concord load benchmark on $backend: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %10s %10s %10s\n' "endpoint" "requests/s" "p50 ms" "p99 ms" "errors"
printf '%-34s %12s %10s %10s %10s\n' "bare actix-web 302" "$bare_rps" "$bare_p50" "$bare_p99" "$bare_errors"
printf '%-34s %12s %10s %10s %10s\n' "tracked redirect /r/{code}" "$tracked_rps" "$tracked_p50" "$tracked_p99" "$tracked_errors"
printf '%-34s %12s %10s %10s %10s\n' "POST /api/v1/conversions" "$conversions_rps" "$conversions_p50" "$conversions_p99" "$conversions_errors"
printf '%-34s %12s %10s %10s %10s\n' "GET /portal (signed in)" "$portal_rps" "$portal_p50" "$portal_p99" "$portal_errors"
printf '%-34s %12s %10s %10s %10s\n' "GET /portal, $latency_connections connections" "$portal_latency_rps" "$portal_latency_p50" "$portal_latency_p99" "$portal_latency_errors"
echo
printf 'tracked / bare requests/s: %.2f\n' "$ratio"
echo "clicks stored during the redirect run: $stored; 302s wrk received: $tracked_ok (in flight at the end: at most $connections)"
echo "resident set of concord after the runs: $(( rss_kb / 1024 )) MB"
echo
echo "targets:"
check "tracked redirect >= 0.5x bare requests/s" "$(ge "$ratio" 0.5)"
check "tracked redirect p99 < 10 ms" "$(lt "$tracked_p99" 10)"
if [[ $backend == SQLite ]]; then
  check "conversions >= 5,000/s on SQLite" "$(ge "$conversions_rps" 5000)"
fi
check "/portal p99 < 10 ms ($latency_connections connections)" "$(lt "$portal_latency_p99" 10)"
check "every 302 received is a stored click" "$(( stored >= tracked_ok && stored <= tracked_ok + connections ))"
check "resident set < 150 MB" "$(( rss_kb < 150 * 1024 ))"
exit $failed
