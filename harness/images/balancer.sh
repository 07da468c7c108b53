#!/usr/bin/env bash
# Builds miniagent-balancer:local, the scale suite's nginx and Redis, from this host's Debian
# packages (nginx, redis-server) — no registry is needed or used. FROM scratch with:
#   - /usr/sbin/nginx and /usr/bin/redis-server, and the shared libraries they load;
#   - /etc/passwd and /etc/group naming root and nobody/nogroup (nginx's workers run as nobody);
#   - a writable /tmp (nginx's prefix: pid, temporary files, logs).
# Runs as root; the suite mounts nginx's config (harness/src/scale/nginx.rs) read-only.
# Usage: harness/images/balancer.sh [root-dir]   (default target/image-balancer)
set -euo pipefail
root=${1:-target/image-balancer}
rm -rf "$root" && mkdir -p "$root/bin" "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
# shellcheck source=harness/images/rootfs.sh
. "$(dirname "$0")/rootfs.sh"

nginx=$(command -v nginx || echo /usr/sbin/nginx)
redis=$(command -v redis-server || echo /usr/bin/redis-server)
for t in "$nginx" "$redis"; do
  [ -x "$t" ] || { echo "images: $t is missing: apt-get install nginx redis-server" >&2; exit 1; }
done
copy "$nginx" && ln -s "$nginx" "$root/bin/nginx"
copy "$redis" && ln -s "$redis" "$root/bin/redis-server"
for lib in $(libs_of "$nginx" "$redis" | sort -u); do
  copy "$lib"
done
printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
cat > "$root/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
ENV PATH=/bin:/usr/bin:/usr/sbin
WORKDIR /tmp
ENTRYPOINT []
DOCKERFILE
docker build -q -t miniagent-balancer:local "$root"
