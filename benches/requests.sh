#!/usr/bin/env bash
# Load benchmark of the request service on loopback (wrk; Debian: apt install wrk): stored
# requests per second and p99 latency at 16 and 64 connections, on an empty database and on one
# already holding ROWS closed requests (with their mail), each round on a fresh copy.
#   cargo build --release && bash benches/requests.sh [ROWS=100000] [SECONDS=10] [ROUNDS=3]
# Prints every round, then the medians, and the machine's CPU pressure before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000} secs=${2:-10} rounds=${3:-3}
bin=./target/release/mentorsite port=18080 url=http://127.0.0.1:18080
work=$(mktemp -d) pid=
export MENTORSITE_SECRET="benchmark key of at least thirty-two bytes" MENTORSITE_RATE_PER_MINUTE=100000000
stop() { if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop; rm -rf "$work"' EXIT
start() {
  "$bin" endpoint --root "$1" --port "$port" >/dev/null 2>>"$1/log" & pid=$!
  for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && return; sleep 0.1; done
  echo "the endpoint did not start:" >&2; cat "$1/log" >&2; exit 1
}
fresh() { rm -rf "$work/site"; mkdir -p "$work/site"; cp -r site.toml content themes "$work/site/"; }
db=$work/site/data/requests.sqlite
count() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM requests").fetchone()[0])' "$db"; }
sent() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM outbox WHERE status = '"'sent'"'").fetchone()[0])' "$db"; }

echo "machine: $(nproc) cores; $(git rev-parse --short HEAD); cpu pressure: $(head -1 /proc/pressure/cpu)"
# The aged database: one request through the service, copied ROWS times, kept as a template.
fresh; start "$work/site"
curl -sf -o /dev/null -H 'Origin: https://mentors.example.org' \
  --data 'mentor=amara-okafor&name=Seed&email=seed%40example.net&message=Seed.&mode=video&consent=yes' "$url/requests"
sleep 1; stop
slugs=$(ls content/mentors | grep -v '^_' | sed 's/\.md$//' | paste -sd,)
python3 benches/prefill.py "$db" "$rows" amara-okafor "$slugs"
cp "$db" "$work/aged.sqlite"

results=$work/results
for round in $(seq "$rounds"); do
  for kind in empty aged; do
    fresh
    if [ "$kind" = aged ]; then mkdir -p "$(dirname "$db")"; cp "$work/aged.sqlite" "$db"; fi
    start "$work/site"
    mailed=$(sent)
    for c in 16 64; do
      before=$(count)
      line=$(wrk -t2 -c"$c" -d"${secs}s" -s benches/requests.lua "$url" -- "r$round$kind$c" | tail -1)
      # Stored means in the file: count the rows, not the answers.
      stored=$(( ($(count) - before) / secs ))
      echo "round $round, $kind database, $c connections: in the file $stored/s; wrk: $line"
      echo "$kind $c $stored $line" >>"$results"
    done
    # The outbox sends beside the posts; what it did not reach waits for it (nothing lost).
    echo "round $round, $kind database: the outbox sent $(( ($(sent) - mailed) / (2 * secs) )) mails/s meanwhile"
    stop
  done
done
echo "medians of $rounds rounds of $secs s (stored/s, p99 ms):"
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    w = line.split()
    rows.setdefault((w[0], int(w[1])), []).append((float(w[2]), float(w[9])))
for c in (16, 64):
    e, a = rows[("empty", c)], rows[("aged", c)]
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    print(f"  {c:2} connections: empty {med(e,0):6.0f}/s p99 {med(e,1):5.1f} ms | "
          f"aged {med(a,0):6.0f}/s p99 {med(a,1):5.1f} ms | aged/empty {med(a,0)/med(e,0):.2f}")
PY
echo "cpu pressure after: $(head -1 /proc/pressure/cpu)"
