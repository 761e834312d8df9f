#!/usr/bin/env bash
# Load benchmark of the request service on loopback: stored requests per second and p99
# latency at 16 and 64 connections, and the same for /healthz. Needs wrk (Debian: wrk).
#   cargo build --release && bash benches/requests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$root"' EXIT
cp -r site.toml content themes "$root/"
MENTORSITE_SECRET="benchmark key of at least thirty-two bytes" MENTORSITE_RATE_PER_MINUTE=100000000 \
  ./target/release/mentorsite endpoint --root "$root" --port 18080 >/dev/null 2>"$root/log" &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
for c in 16 64; do
  echo "POST /requests, $c connections, 2 threads, 10 s:"
  wrk -t2 -c"$c" -d10s -s benches/requests.lua http://127.0.0.1:18080 | tail -1
done
for c in 16 64; do
  echo "GET /healthz, $c connections:"
  wrk -t2 -c"$c" -d10s --latency http://127.0.0.1:18080/healthz | grep -E "Requests/sec|99%"
done
stored=$(./target/release/mentorsite requests list --root "$root" | tail -1)
echo "in the database afterwards: $stored"
