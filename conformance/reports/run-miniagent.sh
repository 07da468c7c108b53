#!/usr/bin/env bash
# The reference's runs of the compatibility matrix (`make matrix`): the real `miniagent` binary,
# started once per configuration with the feature table's environment (`conformance features`),
# and the real `conformance` binary run against it — every run's JSON report into runs/. Then
# `conformance matrix` writes README.md and cases.md from every implementation's runs.
#
# Each configuration is one instance, as an operator would start it; the suite's fakes listen on
# fixed loopback ports (18080…) so the instance can be pointed at them before the run. The
# binaries are the workspace's (`cargo build --bins` first); MCP_PYTHON is a Python with the `mcp`
# package (`make py-venvs` builds one).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/debug}
MCP_PYTHON=${MCP_PYTHON:-target/py-venvs/mcp-v2/bin/python}
OUT=conformance/reports/runs
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

KEY=sk-conformance-secret-7f3a9c
FAKE=127.0.0.1:18080 TOOLS=127.0.0.1:18081 RAW=127.0.0.1:18082 ANTHROPIC=127.0.0.1:18090
ROUTERS=127.0.0.1:18101,127.0.0.1:18102,127.0.0.1:18103
PORT=18788 RPC=18790

# start <env…> -- <args…>: a miniagent instance on $PORT, waited for until /healthz answers.
start() {
  local env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  env -i PATH="$PATH" HOME="$WORK" "${env[@]}" "$BIN/miniagent" "$@" >"$WORK/server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "miniagent did not start:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}
stop() {
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
  unset 'PIDS[-1]'
}
# run <name> <conformance run args…>: one run, its JSON to runs/miniagent.<name>.json.
run() {
  local name=$1
  shift
  echo "== miniagent.$name"
  "$BIN/conformance" run --base-url "http://127.0.0.1:$PORT" --format json --output "$OUT/miniagent.$name.json" \
    --provider-fake-addr "$FAKE" "$@" 2> >(grep -E '^(probe|required|error)' >&2) || true
  sed -n 's/^  "summary": "\(.*\)",$/   \1/p' "$OUT/miniagent.$name.json"
}

mkdir -p "$OUT"
rm -f "$OUT"/miniagent.*.json
"$BIN/conformance" keys-file "$WORK/keys.json" >/dev/null
PROVIDER=(OPENAI_API_BASE="http://$FAKE/v1" OPENAI_API_KEY="$KEY")
FAST=(MINI_AGENT_TOOL_TIMEOUT_SEC=2 MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC=2)

# Every case the demo configuration can hold (core and extended), features discovered by probing.
"$BIN/miniagent" exec-rpc --port "$RPC" >"$WORK/rpc.log" 2>&1 &
PIDS+=($!)
start "${PROVIDER[@]}" "${FAST[@]}" MINI_AGENT_STORE_TRACES=1 MINI_AGENT_STORE_PATH="$WORK/traces.jsonl" \
  NDSMOKE_SHORTCIRCUIT_CHUTES=1 MINI_AGENT_API_KEYS_FILE="$WORK/keys.json" \
  MINI_AGENT_TOOL_HTTP_HEADERS='{"X-Env-Header":"from-env","X-Override":"env"}' \
  MINI_AGENT_TOOL_HTTP_DEFAULT_BASE="http://$TOOLS" MINI_AGENT_HEADER_TIMEOUT_SEC=2 MINI_AGENT_BODY_TIMEOUT_SEC=2 \
  MINI_AGENT_TOOL_URL_ALLOW=127.0.0.0/8,169.254.169.254 -- serve --demo --port "$PORT"
mcp=()
[ -x "$MCP_PYTHON" ] && mcp=(--mcp-python "$MCP_PYTHON")
run extended --profile extended --tools-fake-addr "$TOOLS" --raw-tools-fake-addr "$RAW" \
  --keys-file "$WORK/keys.json" --trace-file "$WORK/traces.jsonl" --exec-rpc-url "http://127.0.0.1:$RPC" \
  --proptest-cases 4 "${mcp[@]}"
stop

# The cases that need an instance with no provider at all.
start -- serve --port "$PORT"
run no-provider --profile core --case 'errors.dummy.disabled_names_variable'
stop
start -- serve --port "$PORT"
run no-provider-shim --case 'shim.no_provider.guidance'
stop

# The OpenAI surface in proxy mode, and the two other /v1/responses settings.
PROXY=("${PROVIDER[@]}" MINI_AGENT_OPENAI_SHIM_MODE=proxy)
start "${PROXY[@]}" MINI_AGENT_PROVIDER_TIMEOUT_SEC=1 -- serve --port "$PORT"
run openai --profile openai
stop
start "${PROXY[@]}" MINI_AGENT_RESPONSES_HOSTED_TOOLS=reject -- serve --port "$PORT"
run openai-hosted-reject --profile openai --case 'openai.responses.hosted_tools_rejected'
stop
start "${PROXY[@]}" MINI_AGENT_RESPONSES_MODE=passthrough -- serve --port "$PORT"
run openai-passthrough --profile openai --case 'openai.responses.passthrough_*'
stop

# The router: one file, one instance per strategy.
"$BIN/conformance" router-files "$WORK/routers" --router-fake-addrs "$ROUTERS" >/dev/null
for file in router router-least-busy router-latency router-usage; do
  start "${PROXY[@]}" MINI_AGENT_CONFIG="$WORK/routers/$file.yaml" -- serve --port "$PORT"
  run "$file" --profile router --router-fake-addrs "$ROUTERS" --router-dir "$WORK/routers"
  stop
done

# The Anthropic surface and the anthropic/ provider.
start "${PROXY[@]}" ANTHROPIC_API_BASE="http://$ANTHROPIC" ANTHROPIC_API_KEY="$KEY" \
  MINI_AGENT_API_KEYS_FILE="$WORK/keys.json" -- serve --port "$PORT"
run anthropic --profile anthropic --anthropic-fake-addr "$ANTHROPIC" --keys-file "$WORK/keys.json"
stop

"$BIN/conformance" matrix conformance/reports
