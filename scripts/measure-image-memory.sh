#!/usr/bin/env bash
# Measures the memory of the Sluice image with N workers on Redis under 30 s of ghz load, in
# containers (podman, cgroup v1 as on this project's machines), for sizing the Kubernetes limits in
# deploy/k8s/deployment.yaml. The numbers it gave are in docs/containers.md.
#
#   bash scripts/measure-image-memory.sh 1 2 4              # workers to try, one run each
#   MEMORY=256m bash scripts/measure-image-memory.sh 2 3    # under a container memory limit
#
# Needs the image (`npm run image`, or sluice:dev from the compose test), the Redis image and ghz
# (scripts/setup.sh). Each call is spread over distinct tenants and keys, so counters keep growing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${IMAGE:-localhost/sluice:dev}"
net="sluice-memory-$$"
work="$(mktemp -d)"
cleanup() {
  podman rm -f -t 2 "$net-redis" "$net-sluice" >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/call.json" <<'EOF'
{"domain":"api","descriptors":[{"entries":[{"key":"tenant","value":"t-{{.RequestNumber}}"},{"key":"plan","value":"free"}]},{"entries":[{"key":"api_key","value":"k-{{.RequestNumber}}"}]}],"hits_addend":1}
EOF
ready="fetch('http://127.0.0.1:9102/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
mb() { echo $(($1 / 1048576)); }

podman network create "$net" >/dev/null
podman run -d --name "$net-redis" --network "$net" --network-alias redis docker.io/library/redis:7.4-alpine \
  redis-server --save "" --appendonly no >/dev/null
for workers in "$@"; do
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  id="$(podman run -d --name "$net-sluice" --network "$net" ${MEMORY:+--memory "$MEMORY" --memory-swap "$MEMORY"} \
    -p "127.0.0.1:$port:8081" "$image" serve --policy deploy/policies --grpc-addr 0.0.0.0:8081 \
    --admin-addr 0.0.0.0:9102 --redis-url redis://redis:6379 --workers "$workers")"
  until podman exec "$net-sluice" node -e "$ready" >/dev/null 2>&1; do sleep 0.5; done
  cgroup="/sys/fs/cgroup/memory/libpod_parent/libpod-$id"
  idle="$(awk '/^total_rss /{print $2}' "$cgroup/memory.stat")"
  "$root/.tools/bin/ghz" --insecure --proto "$root/proto/envoy/service/ratelimit/v3/rls.proto" \
    --import-paths "$root/proto" --call envoy.service.ratelimit.v3.RateLimitService.ShouldRateLimit \
    --data-file "$work/call.json" --concurrency 100 --connections 10 --duration 30s --duration-stop wait \
    "127.0.0.1:$port" >"$work/ghz.txt" 2>&1 || true
  printf 'workers=%s limit=%s idle_rss_mb=%s peak_mb=%s calls_per_s=%s oom_kills=%s\n' "$workers" \
    "${MEMORY:-none}" "$(mb "$idle")" "$(mb "$(cat "$cgroup/memory.max_usage_in_bytes")")" \
    "$(awk '/Requests\/sec/{print $2}' "$work/ghz.txt")" "$(awk '/oom_kill /{print $2}' "$cgroup/memory.oom_control")"
  podman rm -f -t 2 "$net-sluice" >/dev/null
done
