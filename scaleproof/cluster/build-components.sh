#!/usr/bin/env bash
# Builds the pinned upstream components of the local cluster with `go` from the Go module proxy.
# Each component gets its own wrapper module (minimal version selection would otherwise mix
# dependency versions between them). Output binaries go to $OUT; a component whose binary is
# already there, built from the same pin, is skipped, so a warm run takes seconds.
# Usage: build-components.sh OUT_DIR WORK_DIR [component...]
set -euo pipefail
OUT=${1:?out dir}; WORK=${2:?work dir}; shift 2
COMPONENTS=${*:-"kubernetes etcd metrics-server coredns weaviate prometheus"}
K8S_VERSION=${K8S_VERSION:-1.35.4}
ETCD_VERSION=${ETCD_VERSION:-3.6.14}
METRICS_SERVER_VERSION=${METRICS_SERVER_VERSION:-0.8.0}
COREDNS_VERSION=${COREDNS_VERSION:-1.14.7}
WEAVIATE_VERSION=${WEAVIATE_VERSION:-1.39.0}
# Prometheus 3.16.0 is Go module version v0.316.0; PROMETHEUS_UI=0 builds the API-only binary
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-0.316.0}
PROMETHEUS_UI=${PROMETHEUS_UI:-1}
PNPM_VERSION=${PNPM_VERSION:-12.4.2}
# Packages of upstream's web/ui/pnpm-lock.yaml that the npm registry reachable here does not serve,
# each replaced by the closest version it does serve (pnpm `overrides`): code-highlight 9.7.2 is
# missing (the registry stops at 9.6.2); it only highlights PromQL in the UI's explain view.
PROMETHEUS_UI_OVERRIDES=${PROMETHEUS_UI_OVERRIDES:-"@mantine/code-highlight=9.6.2"}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$OUT" "$WORK"
HERE=$(cd "$(dirname "$0")" && pwd)

step() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# stamp NAME PIN -> returns 0 when OUT already holds NAME built from PIN
fresh() { [ -f "$OUT/.$1.pin" ] && [ "$(cat "$OUT/.$1.pin")" = "$2" ]; }
stamp() { echo "$2" > "$OUT/.$1.pin"; }

build_kubernetes() {
  local pin="k8s-$K8S_VERSION"
  if fresh kubernetes "$pin"; then step "kubernetes v$K8S_VERSION: cached"; return; fi
  local w="$WORK/kubernetes-$K8S_VERSION" minor stg kmod ld cmds c p
  minor=$(echo "$K8S_VERSION" | cut -d. -f2); stg="v0.${K8S_VERSION#1.}"
  mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/k8s-build >/dev/null 2>&1
  go mod edit -go=1.25.0 -godebug=default=go1.25
  step "kubernetes v$K8S_VERSION: resolving modules (staging modules pinned to $stg)"
  kmod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | python3 -c 'import sys,json;print(json.load(sys.stdin)["GoMod"])')
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$kmod"); do
    go mod edit -replace="$m=$m@$stg"
  done
  cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
  # shellcheck disable=SC2046
  go get -tool $(for c in $cmds; do printf 'k8s.io/kubernetes/cmd/%s@v%s ' "$c" "$K8S_VERSION"; done)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
  done
  for c in $cmds; do
    step "kubernetes v$K8S_VERSION: compiling $c"
    go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$ld" -o "$OUT/$c" "k8s.io/kubernetes/cmd/$c"
  done
  stamp kubernetes "$pin"
}

build_etcd() {
  local pin="etcd-$ETCD_VERSION"
  if fresh etcd "$pin"; then step "etcd v$ETCD_VERSION: cached"; return; fi
  local w="$WORK/etcd-$ETCD_VERSION"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/etcd-build >/dev/null 2>&1
  step "etcd v$ETCD_VERSION: resolving modules"
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@v$ETCD_VERSION"
  step "etcd v$ETCD_VERSION: compiling etcd, etcdctl"
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcdctl" go.etcd.io/etcd/etcdctl/v3
  stamp etcd "$pin"
}

build_metrics_server() {
  local pin="metrics-server-$METRICS_SERVER_VERSION"
  if fresh metrics-server "$pin"; then step "metrics-server v$METRICS_SERVER_VERSION: cached"; return; fi
  local w="$WORK/metrics-server-$METRICS_SERVER_VERSION"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/metrics-server-build >/dev/null 2>&1
  step "metrics-server v$METRICS_SERVER_VERSION: resolving modules"
  go get -tool "sigs.k8s.io/metrics-server/cmd/metrics-server@v$METRICS_SERVER_VERSION"
  step "metrics-server v$METRICS_SERVER_VERSION: compiling"
  go build -trimpath -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=v$METRICS_SERVER_VERSION" \
    -o "$OUT/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
  stamp metrics-server "$pin"
}

build_coredns() {
  # CoreDNS with only the plugins a local cluster needs (no cloud-provider plugins): the upstream
  # way of choosing plugins is a main package that imports them and sets dnsserver.Directives.
  local pin="coredns-$COREDNS_VERSION"
  if fresh coredns "$pin"; then step "coredns v$COREDNS_VERSION: cached"; return; fi
  local w="$WORK/coredns-$COREDNS_VERSION"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/coredns-build >/dev/null 2>&1
  cp "$HERE/coredns_main.go.txt" main.go
  step "coredns v$COREDNS_VERSION: resolving modules"
  go get "github.com/coredns/coredns@v$COREDNS_VERSION"
  go mod tidy >/dev/null
  step "coredns v$COREDNS_VERSION: compiling"
  go build -trimpath -ldflags "-s -w" -o "$OUT/coredns" .
  stamp coredns "$pin"
}

build_weaviate() {
  local pin="weaviate-$WEAVIATE_VERSION"
  if fresh weaviate "$pin"; then step "weaviate v$WEAVIATE_VERSION: cached"; return; fi
  local w="$WORK/weaviate-$WEAVIATE_VERSION"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/weaviate-build >/dev/null 2>&1
  step "weaviate v$WEAVIATE_VERSION: resolving modules"
  go get -tool "github.com/weaviate/weaviate/cmd/weaviate-server@v$WEAVIATE_VERSION"
  step "weaviate v$WEAVIATE_VERSION: compiling"
  go build -trimpath -ldflags "-s -w" -o "$OUT/weaviate-server" github.com/weaviate/weaviate/cmd/weaviate-server
  stamp weaviate "$pin"
}

# Prometheus is built inside a writable copy of its own module (its go.sum pins every dependency):
# the web UI assets must sit in web/ui/static beside a generated embed.go for the `builtinassets`
# tag, which a read-only module cache cannot hold. Service discovery is cut down with upstream's
# plugin tags to Kubernetes (+ file and http, always in): no cloud SDKs to compile.
PROMETHEUS_TAGS="remove_all_sd,enable_kubernetes_sd"

prometheus_ui() {
  # web/ui/mantine-ui built with pnpm (from npm, pinned) against upstream's pnpm-lock.yaml, then
  # gzipped + listed in embed.go exactly as upstream's scripts/compress_assets.sh does.
  # Cached: $w/ui.done holds the pin; the pnpm store is shared across versions.
  local w=$1 src=$2 t0
  if [ "$(cat "$w/ui.done" 2>/dev/null)" = "$PROMETHEUS_VERSION" ] && [ -f "$src/web/ui/embed.go" ]; then
    step "prometheus v$PROMETHEUS_VERSION: web UI cached"; return
  fi
  t0=$(date +%s)
  command -v npm >/dev/null || { echo "npm is missing: it builds Prometheus' web UI (or set PROMETHEUS_UI=0)" >&2; return 1; }
  local pnpm="$WORK/pnpm-$PNPM_VERSION/node_modules/.bin/pnpm"
  if [ ! -x "$pnpm" ]; then
    step "prometheus v$PROMETHEUS_VERSION: installing pnpm $PNPM_VERSION from npm"
    npm install --silent --no-audit --no-fund --prefix "$WORK/pnpm-$PNPM_VERSION" -E "pnpm@$PNPM_VERSION"
  fi
  cd "$src/web/ui"
  if [ -n "$PROMETHEUS_UI_OVERRIDES" ] && ! grep -q '^overrides:' pnpm-workspace.yaml; then
    step "prometheus v$PROMETHEUS_VERSION: web UI: overriding $PROMETHEUS_UI_OVERRIDES (not served by the registry)"
    echo "overrides:" >> pnpm-workspace.yaml
    for o in $PROMETHEUS_UI_OVERRIDES; do printf '  "%s": "%s"\n' "${o%=*}" "${o##*=}" >> pnpm-workspace.yaml; done
    # re-lock only the overridden entries; the age check cannot judge a version the registry lacks
    "$pnpm" install --lockfile-only --config.minimum-release-age=0 --reporter=append-only --store-dir "$WORK/pnpm-store"
  fi
  step "prometheus v$PROMETHEUS_VERSION: web UI: pnpm install (frozen lockfile, upstream's supply-chain policy)"
  "$pnpm" install --frozen-lockfile --reporter=append-only --store-dir "$WORK/pnpm-store"
  step "prometheus v$PROMETHEUS_VERSION: web UI: building lezer-promql, codemirror-promql, mantine-ui"
  PATH="$(dirname "$pnpm"):$PATH" CI="" bash build_ui.sh --mantine-ui
  cp embed.go.tmpl embed.go
  find static -type f -name '*.gz' -delete
  find static -type f ! -name '*.gz' -exec gzip -fkn {} +
  find static -type f -name '*.gz' -print0 | sort -z | xargs -0 echo //go:embed >> embed.go
  echo var EmbedFS embed.FS >> embed.go
  echo "$PROMETHEUS_VERSION" > "$w/ui.done"
  step "prometheus v$PROMETHEUS_VERSION: web UI built in $(( $(date +%s) - t0 )) s"
}

build_prometheus() {
  local ui_pin=api-only
  [ "$PROMETHEUS_UI" = 1 ] && ui_pin=ui
  local pin="prometheus-$PROMETHEUS_VERSION"
  if fresh prometheus "$pin" && [ "$(cat "$OUT/.prometheus.ui" 2>/dev/null)" = "$ui_pin" ]; then
    step "prometheus v$PROMETHEUS_VERSION: cached"; return
  fi
  local w="$WORK/prometheus-$PROMETHEUS_VERSION" mod src tags="$PROMETHEUS_TAGS" ld t0 version
  src="$w/src"; mkdir -p "$w"
  if [ ! -f "$w/src.done" ]; then
    step "prometheus v$PROMETHEUS_VERSION: downloading the module"
    mod=$(go mod download -json "github.com/prometheus/prometheus@v$PROMETHEUS_VERSION" | python3 -c 'import sys,json;print(json.load(sys.stdin)["Dir"])')
    rm -rf "$src"; cp -r "$mod" "$src"; chmod -R u+w "$src"
    touch "$w/src.done"
  fi
  version=$(cat "$src/VERSION")
  if [ "$PROMETHEUS_UI" = 1 ]; then
    # a failed UI build must not leave the cluster without Prometheus: fall back to the API-only
    # binary, say so, and record it in .prometheus.ui (the next build with PROMETHEUS_UI=1 retries)
    set +e; (set -e; prometheus_ui "$w" "$src"); local rc=$?; set -e
    if [ "$rc" = 0 ]; then
      tags="$tags,builtinassets"
    else
      step "prometheus v$PROMETHEUS_VERSION: web UI build FAILED (exit $rc, see the build log); building the API-only binary"
      ui_pin="api-only (web UI build failed)"
    fi
  fi
  cd "$src"
  ld="-s -w"
  for kv in "Version=$version" "Revision=v$PROMETHEUS_VERSION" "Branch=HEAD" "BuildUser=scaleproof" "BuildDate=20260101-00:00:00"; do
    ld="$ld -X github.com/prometheus/common/version.$kv"
  done
  t0=$(date +%s)
  step "prometheus v$PROMETHEUS_VERSION ($version): resolving modules"
  GOWORK=off go mod download
  for c in prometheus promtool; do
    step "prometheus v$PROMETHEUS_VERSION ($version): compiling $c (tags $tags)"
    GOWORK=off go build -trimpath -tags "$tags" -ldflags "$ld" -o "$OUT/$c" "./cmd/$c"
  done
  step "prometheus v$PROMETHEUS_VERSION ($version): compiled in $(( $(date +%s) - t0 )) s"
  echo "$ui_pin" > "$OUT/.prometheus.ui"
  stamp prometheus "$pin"
}

# --- agnhost: Kubernetes' own e2e test server, the "application nobody here wrote" of the e2e tests.
# Not a cluster component (never in the default list): built only when asked for by name, from
# test/images/agnhost of the pinned k8s.io/kubernetes module, in its own wrapper module with the same
# staging replace lines as build_kubernetes. The version is upstream's test/images/agnhost/VERSION,
# set the way its Makefile does (-X main.Version), so `agnhost --version` names it.
build_agnhost() {
  local pin="agnhost-k8s-$K8S_VERSION"
  if fresh agnhost "$pin"; then step "agnhost (k8s v$K8S_VERSION): cached"; return; fi
  local w="$WORK/agnhost-$K8S_VERSION" stg kmod kdir ver m
  stg="v0.${K8S_VERSION#1.}"
  mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init local/agnhost-build >/dev/null 2>&1
  go mod edit -go=1.25.0 -godebug=default=go1.25
  step "agnhost (k8s v$K8S_VERSION): resolving modules (staging modules pinned to $stg)"
  read -r kmod kdir < <(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" \
    | python3 -c 'import sys,json;d=json.load(sys.stdin);print(d["GoMod"],d["Dir"])')
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$kmod"); do
    go mod edit -replace="$m=$m@$stg"
  done
  go get -tool "k8s.io/kubernetes/test/images/agnhost@v$K8S_VERSION"
  ver=$(cat "$kdir/test/images/agnhost/VERSION")
  step "agnhost $ver (k8s v$K8S_VERSION): compiling"
  go build -trimpath -ldflags "-s -w -X main.Version=$ver" -o "$OUT/agnhost" k8s.io/kubernetes/test/images/agnhost
  stamp agnhost "$pin"
}

for c in $COMPONENTS; do
  case "$c" in
    kubernetes) build_kubernetes ;;
    etcd) build_etcd ;;
    metrics-server) build_metrics_server ;;
    coredns) build_coredns ;;
    weaviate) build_weaviate ;;
    prometheus) build_prometheus ;;
    agnhost) build_agnhost ;;
    *) echo "unknown component: $c" >&2; exit 2 ;;
  esac
done
step "all requested components are in $OUT"
