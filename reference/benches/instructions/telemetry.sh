#!/usr/bin/env bash
# What seeing the server costs, in instructions per request (callgrind; see run.sh): the echo
# server (`serve --demo`, as benches/telemetry.rs drives it) with metrics off, with metrics on (the
# default), with every request's spans exported over OTLP to a local sink, and with one request in
# ten sampled. Every thread is counted — the OTLP batch exporter's included — so the figures are
# the whole CPU a request costs, repeatable on a loaded machine.
#
#   cargo build --release -p miniagent --bin miniagent
#   reference/benches/instructions/telemetry.sh [N]      # N = 2000; BIN=path/to/miniagent for another build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
n=${1:-2000}
OUT=${OUT:-$(mktemp -d)}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 2; }
sink=$((20000 + RANDOM % 10000))
python3 "$here/upstream.py" "$sink" empty & sinkpid=$!
body='{"model":"bench","messages":[{"role":"user","content":"hi"}]}'
server=
trap 'kill $server $sinkpid 2>/dev/null || true' EXIT
run() {
  local name=$1; shift
  local port=$((sink + 1 + RANDOM % 1000))
  env "$@" RUST_LOG=info MINI_AGENT_ACCESS_LOG=off \
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.%p.out" \
    "${BIN:-$root/target/release/miniagent}" serve --demo --port "$port" >"$OUT/$name.log" 2>&1 & server=$!
  for _ in $(seq 120); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
  python3 "$here/client.py" "$port" /v1/chat/completions 100 "$body" >/dev/null
  sleep 1
  callgrind_control -z "$server" >/dev/null
  python3 "$here/client.py" "$port" /v1/chat/completions "$n" "$body" >/dev/null
  # The batch exporter sends on its own schedule: give it the time to send what these made.
  sleep "${SETTLE:-6}"
  callgrind_control -d run "$server" >/dev/null
  kill "$server"; wait "$server" 2>/dev/null || true
  local total
  total=$(grep -m1 '^summary:' "$OUT"/"$name".*.out.1 | awk '{print $2}')
  printf '%-40s %8d instructions per request\n' "$name" $((total / n))
}
run metrics-off MINI_AGENT_METRICS=off
run metrics-on
run otlp-every OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink"
run otlp-1-in-10 OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink" \
  OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1
echo "dumps in $OUT"
