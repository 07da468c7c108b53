#!/usr/bin/env bash
# Instructions per request, counted by callgrind (valgrind, Debian's package): repeatable to a few
# tenths of a percent whatever else the machine is doing, unlike the throughput of `make bench`.
# The release `miniagent serve` runs under callgrind in front of a fixed upstream (upstream.py,
# not instrumented); the client warms both routes up, then callgrind's counters are zeroed, N chat
# completions sent and dumped, zeroed again, N `/agent/run` (router backend) sent and dumped.
# Prints instructions per request of each, and leaves the dumps in $OUT for callgrind_annotate.
#
#   cargo build --release -p miniagent --bin miniagent
#   reference/benches/instructions/run.sh [N]      # N = 1000
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
n=${1:-1000}
OUT=${OUT:-$(mktemp -d)}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 2; }
up=$((20000 + RANDOM % 10000)); port=$((up + 1))
python3 "$here/upstream.py" "$up" & upstream=$!
OPENAI_API_BASE="http://127.0.0.1:$up/v1" OPENAI_API_KEY=sk-bench MINI_AGENT_ACCESS_LOG=off \
  valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.%p.out" \
  "$root/target/release/miniagent" serve --port "$port" >"$OUT/valgrind.log" 2>&1 & server=$!
trap 'kill $server $upstream 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
python3 "$here/client.py" "$port" /v1/chat/completions 50 >/dev/null
python3 "$here/client.py" "$port" /agent/run 50 >/dev/null
for route in /v1/chat/completions /agent/run; do
  callgrind_control -z "$server" >/dev/null
  python3 "$here/client.py" "$port" "$route" "$n" >/dev/null
  callgrind_control -d "$(basename "$route")" "$server" >/dev/null
done
sleep 1
i=0
for route in /v1/chat/completions /agent/run; do
  i=$((i + 1))
  total=$(grep -m1 '^summary:' "$OUT"/callgrind.*.out.$i | awk '{print $2}')
  echo "$route: $((total / n)) instructions per request ($OUT/$(basename "$OUT"/callgrind.*.out.$i))"
done
