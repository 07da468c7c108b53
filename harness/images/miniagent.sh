#!/usr/bin/env bash
# Builds the project's image, miniagent:local, from our own release binaries — no registry is
# needed or used. FROM scratch with:
#   - miniagent and conformance (from $BIN_DIR, default target/release), and the shared libraries
#     they link;
#   - what the local tools run: Debian's python3 with its standard library, bubblewrap (the tool
#     sandbox), prlimit (util-linux, the limits), `true` and `echo`, with their libraries;
#   - Debian's CA bundle (/etc/ssl/certs/ca-certificates.crt);
#   - /etc/passwd and /etc/group naming nobody (65534, the user the image runs as), a /tmp, and the
#     mount points the sandbox covers with tmpfs (/root, /home, /run, /var/tmp).
# Usage: [BIN_DIR=target/debug] harness/images/miniagent.sh [root-dir]   (default target/image)
set -euo pipefail
root=${1:-target/image}
bin=${BIN_DIR:-target/release}
rm -rf "$root" && mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/workdir"
# The sandbox mounts fresh tmpfs over these: the mount points must exist in a read-only root.
mkdir -p "$root/root" "$root/home" "$root/run" "$root/var/tmp" "$root/proc" "$root/dev"
chmod 1777 "$root/tmp" "$root/var/tmp"

# shellcheck source=harness/images/rootfs.sh
. "$(dirname "$0")/rootfs.sh"

cp "$bin/miniagent" "$bin/conformance" "$root/bin/"
python=$(readlink -f /usr/bin/python3)
pylib=/usr/lib/$(basename "$python")
tools=("$python" /usr/bin/bwrap /usr/bin/prlimit /usr/bin/true /usr/bin/echo)
for t in "${tools[@]}"; do
  [ -x "$t" ] || { echo "images: $t is missing: apt-get install python3 bubblewrap util-linux" >&2; exit 1; }
done
copy "$python"
ln -s "$python" "$root/bin/python3"
copy /usr/bin/bwrap && ln -s /usr/bin/bwrap "$root/bin/bwrap"
copy /usr/bin/prlimit && ln -s /usr/bin/prlimit "$root/bin/prlimit"
# `true` (the sandbox's start-up probe) and `echo` (exec_shell's default allowlist), from coreutils.
copy /usr/bin/true && ln -s /usr/bin/true "$root/bin/true"
copy /usr/bin/echo && ln -s /usr/bin/echo "$root/bin/echo"
mkdir -p "$root/usr/lib"
cp -a "$pylib" "$root/usr/lib/"
rm -rf "$root$pylib/test" "$root$pylib/idlelib" "$root$pylib/tkinter" "$root$pylib/ensurepip"
find "$root$pylib" -name __pycache__ -prune -exec rm -rf {} +
for lib in $( (libs_of "$bin/miniagent" "$bin/conformance" "${tools[@]}"; \
               libs_of "$pylib"/lib-dynload/*.so) | sort -u); do
  copy "$lib"
done
# The CA bundle (Debian's ca-certificates): the OTLP exporter's HTTP client will not even be built
# without root certificates, plain-http endpoint or not — and HTTPS needs them anyway.
[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo "images: no CA bundle: apt-get install ca-certificates" >&2; exit 1; }
copy /etc/ssl/certs/ca-certificates.crt
printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/workdir:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
chown 65534:65534 "$root/workdir" 2>/dev/null || true
cat > "$root/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
ENV PATH=/bin:/usr/bin HOME=/workdir
WORKDIR /workdir
USER 65534
ENTRYPOINT []
DOCKERFILE
docker build -q -t miniagent:local "$root"
