#!/usr/bin/env bash
# `make deps`: the system packages the tests use (Debian). Installs what is missing when it can
# (root, or sudo without a password); otherwise says exactly what to install and exits 0 — the
# tests whose prerequisite is still missing are then reported as *ignored* with the reason.
#
# The list, with what needs it:
#   python3 python3-venv      local tools, the real MCP servers and clients (venvs: make py-venvs)
#   gcc g++ nodejs default-jdk-headless rustc   exec-RPC's languages
#   bubblewrap util-linux     the tool sandbox (bwrap; prlimit, unshare, nsenter)
#   slirp4netns iproute2      MINI_AGENT_TOOL_NETWORK=1 (the tools' uplink, the host's routes closed)
#   redis-server              shared rate limits and router state
#   nginx                     the scale suite's balancer, the yardstick of make bench
#   chromium                  the HTML report's test
#   ca-certificates           the image's CA bundle
set -euo pipefail

missing=()
need() { # need <package> <test…>: the package when none of the tests passes
  local package=$1; shift
  for t in "$@"; do eval "$t" >/dev/null 2>&1 && return 0; done
  missing+=("$package")
}
need python3 'command -v python3'
need python3-venv 'python3 -m venv --help'
need gcc 'command -v gcc'
need g++ 'command -v g++'
need nodejs 'command -v node'
need default-jdk-headless 'command -v javac'
need rustc '[ -x /usr/bin/rustc ]'
need bubblewrap 'command -v bwrap'
need util-linux 'command -v prlimit && command -v unshare && command -v nsenter'
need slirp4netns 'command -v slirp4netns'
need iproute2 'command -v ip' '[ -x /usr/sbin/ip ]' '[ -x /sbin/ip ]'
need redis-server 'command -v redis-server'
need nginx 'command -v nginx' '[ -x /usr/sbin/nginx ]'
need chromium 'command -v chromium' 'command -v chromium-browser'
need ca-certificates '[ -f /etc/ssl/certs/ca-certificates.crt ]'

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: every system package the tests use is installed"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "deps: missing ${missing[*]} — install them with:"
  echo "  sudo apt-get install -y ${missing[*]}"
  echo "deps: until then, the tests that need them are reported as ignored, with the reason"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: missing ${missing[*]}, and this is not a Debian system (no apt-get): install their equivalents"
  exit 0
fi
echo "deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
