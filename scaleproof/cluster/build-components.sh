#!/usr/bin/env bash
# Builds the pinned upstream components of the local cluster with `go` from the Go module proxy.
# Each component gets its own wrapper module (minimal version selection would otherwise mix
# dependency versions between them). Output binaries go to $OUT; a component whose binary is
# already there, built from the same pin, is skipped, so a warm run takes seconds.
#
# Each component is two steps: resolve (network: module downloads, the web UI's packages) and
# compile (CPU). On a cold machine the resolves run one after another in a background job while the
# compiles run in the foreground, each compile waiting for its own resolve, so downloads overlap
# compilation instead of adding to it. The Go module and build caches take concurrent `go` commands.
# Components are built in a fixed order (quick resolve first, then the largest compile).
# Usage: build-components.sh OUT_DIR WORK_DIR [component...]
set -euo pipefail
OUT=${1:?out dir}; WORK=${2:?work dir}; shift 2
REQUESTED=${*:-"kubernetes etcd metrics-server coredns weaviate prometheus"}
BUILD_ORDER="etcd kubernetes coredns metrics-server prometheus weaviate agnhost"
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

# fresh NAME -> 0 when OUT already holds NAME built from its current pin
fresh() { [ -f "$OUT/.$1.pin" ] && [ "$(cat "$OUT/.$1.pin")" = "$(pin "$1")" ]; }
stamp() { pin "$1" > "$OUT/.$1.pin"; }
pin() {
  case "$1" in
    kubernetes) echo "k8s-$K8S_VERSION" ;;
    etcd) echo "etcd-$ETCD_VERSION" ;;
    metrics-server) echo "metrics-server-$METRICS_SERVER_VERSION" ;;
    coredns) echo "coredns-$COREDNS_VERSION" ;;
    weaviate) echo "weaviate-$WEAVIATE_VERSION" ;;
    prometheus) echo "prometheus-$PROMETHEUS_VERSION" ;;
    agnhost) echo "agnhost-k8s-$K8S_VERSION" ;;
    *) return 1 ;;
  esac
}

# go_wrapper DIR MODULE: cd into a wrapper module of its own (created once)
go_wrapper() { mkdir -p "$1"; cd "$1"; [ -f go.mod ] || go mod init "$2" >/dev/null 2>&1; }

# pin_staging: replace every k8s.io staging module of k8s.io/kubernetes by its tagged v0.X.Y release
# (the kubernetes module points them at ./staging, which a module download does not have); prints
# the module's directory
pin_staging() {
  local stg="v0.${K8S_VERSION#1.}" kmod kdir m
  go mod edit -go=1.25.0 -godebug=default=go1.25
  read -r kmod kdir < <(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" \
    | python3 -c 'import sys,json;d=json.load(sys.stdin);print(d["GoMod"],d["Dir"])')
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$kmod"); do
    go mod edit -replace="$m=$m@$stg"
  done
  echo "$kdir"
}

# --- kubernetes: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl
K8S_CMDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
resolve_kubernetes() {
  go_wrapper "$WORK/kubernetes-$K8S_VERSION" local/k8s-build
  step "kubernetes v$K8S_VERSION: resolving modules (staging modules pinned to v0.${K8S_VERSION#1.})"
  pin_staging >/dev/null
  # shellcheck disable=SC2046
  go get -tool $(for c in $K8S_CMDS; do printf 'k8s.io/kubernetes/cmd/%s@v%s ' "$c" "$K8S_VERSION"; done)
}
compile_kubernetes() {
  local minor ld c p
  cd "$WORK/kubernetes-$K8S_VERSION"
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
  done
  for c in $K8S_CMDS; do
    step "kubernetes v$K8S_VERSION: compiling $c"
    go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$ld" -o "$OUT/$c" "k8s.io/kubernetes/cmd/$c"
  done
}

# --- etcd
resolve_etcd() {
  go_wrapper "$WORK/etcd-$ETCD_VERSION" local/etcd-build
  step "etcd v$ETCD_VERSION: resolving modules"
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@v$ETCD_VERSION"
}
compile_etcd() {
  cd "$WORK/etcd-$ETCD_VERSION"
  step "etcd v$ETCD_VERSION: compiling etcd, etcdctl"
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcdctl" go.etcd.io/etcd/etcdctl/v3
}

# --- metrics-server
resolve_metrics-server() {
  go_wrapper "$WORK/metrics-server-$METRICS_SERVER_VERSION" local/metrics-server-build
  step "metrics-server v$METRICS_SERVER_VERSION: resolving modules"
  go get -tool "sigs.k8s.io/metrics-server/cmd/metrics-server@v$METRICS_SERVER_VERSION"
}
compile_metrics-server() {
  cd "$WORK/metrics-server-$METRICS_SERVER_VERSION"
  step "metrics-server v$METRICS_SERVER_VERSION: compiling"
  go build -trimpath -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=v$METRICS_SERVER_VERSION" \
    -o "$OUT/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
}

# --- CoreDNS with only the plugins a local cluster needs (no cloud-provider plugins): the upstream
# way of choosing plugins is a main package that imports them and sets dnsserver.Directives.
resolve_coredns() {
  go_wrapper "$WORK/coredns-$COREDNS_VERSION" local/coredns-build
  cp "$HERE/coredns_main.go.txt" main.go
  step "coredns v$COREDNS_VERSION: resolving modules"
  go get "github.com/coredns/coredns@v$COREDNS_VERSION"
  go mod tidy >/dev/null
}
compile_coredns() {
  cd "$WORK/coredns-$COREDNS_VERSION"
  step "coredns v$COREDNS_VERSION: compiling"
  go build -trimpath -ldflags "-s -w" -o "$OUT/coredns" .
}

# --- Weaviate
resolve_weaviate() {
  go_wrapper "$WORK/weaviate-$WEAVIATE_VERSION" local/weaviate-build
  step "weaviate v$WEAVIATE_VERSION: resolving modules"
  go get -tool "github.com/weaviate/weaviate/cmd/weaviate-server@v$WEAVIATE_VERSION"
}
compile_weaviate() {
  cd "$WORK/weaviate-$WEAVIATE_VERSION"
  step "weaviate v$WEAVIATE_VERSION: compiling"
  go build -trimpath -ldflags "-s -w" -o "$OUT/weaviate-server" github.com/weaviate/weaviate/cmd/weaviate-server
}

# --- Prometheus is built inside a writable copy of its own module (its go.sum pins every dependency):
# the web UI assets must sit in web/ui/static beside a generated embed.go for the `builtinassets`
# tag, which a read-only module cache cannot hold. Service discovery is cut down with upstream's
# plugin tags to Kubernetes (+ file and http, always in): no cloud SDKs to compile.
PROMETHEUS_TAGS="remove_all_sd,enable_kubernetes_sd"
PROM_W="$WORK/prometheus-$PROMETHEUS_VERSION"
PROM_SRC="$PROM_W/src"
ui_cached() { [ "$(cat "$PROM_W/ui.done" 2>/dev/null)" = "$PROMETHEUS_VERSION" ] && [ -f "$PROM_SRC/web/ui/embed.go" ]; }

prometheus_ui_packages() {
  # network half of the web UI: pnpm (from npm, pinned) and upstream's pnpm-lock.yaml installed;
  # the pnpm store is shared across versions
  command -v npm >/dev/null || { echo "npm is missing: it builds Prometheus' web UI (or set PROMETHEUS_UI=0)" >&2; return 1; }
  local pnpm="$WORK/pnpm-$PNPM_VERSION/node_modules/.bin/pnpm"
  if [ ! -x "$pnpm" ]; then
    step "prometheus v$PROMETHEUS_VERSION: installing pnpm $PNPM_VERSION from npm"
    npm install --silent --no-audit --no-fund --prefix "$WORK/pnpm-$PNPM_VERSION" -E "pnpm@$PNPM_VERSION"
  fi
  cd "$PROM_SRC/web/ui"
  if [ -n "$PROMETHEUS_UI_OVERRIDES" ] && ! grep -q '^overrides:' pnpm-workspace.yaml; then
    step "prometheus v$PROMETHEUS_VERSION: web UI: overriding $PROMETHEUS_UI_OVERRIDES (not served by the registry)"
    echo "overrides:" >> pnpm-workspace.yaml
    for o in $PROMETHEUS_UI_OVERRIDES; do printf '  "%s": "%s"\n' "${o%=*}" "${o##*=}" >> pnpm-workspace.yaml; done
    # re-lock only the overridden entries; the age check cannot judge a version the registry lacks
    "$pnpm" install --lockfile-only --config.minimum-release-age=0 --reporter=append-only --store-dir "$WORK/pnpm-store"
  fi
  step "prometheus v$PROMETHEUS_VERSION: web UI: pnpm install (frozen lockfile, upstream's supply-chain policy)"
  "$pnpm" install --frozen-lockfile --reporter=append-only --store-dir "$WORK/pnpm-store"
  touch "$PROM_W/ui.packages"
}

prometheus_ui() {
  # CPU half: lezer-promql, codemirror-promql and mantine-ui built with upstream's build_ui.sh, then
  # gzipped + listed in embed.go exactly as upstream's scripts/compress_assets.sh does.
  # Cached: $PROM_W/ui.done holds the pin.
  local t0 pnpm="$WORK/pnpm-$PNPM_VERSION/node_modules/.bin/pnpm"
  if ui_cached; then step "prometheus v$PROMETHEUS_VERSION: web UI cached"; return; fi
  [ -f "$PROM_W/ui.packages" ] || { echo "the web UI's packages were not installed (see above)" >&2; return 1; }
  t0=$(date +%s)
  cd "$PROM_SRC/web/ui"
  step "prometheus v$PROMETHEUS_VERSION: web UI: building lezer-promql, codemirror-promql, mantine-ui"
  PATH="$(dirname "$pnpm"):$PATH" CI="" bash build_ui.sh --mantine-ui
  cp embed.go.tmpl embed.go
  find static -type f -name '*.gz' -delete
  find static -type f ! -name '*.gz' -exec gzip -fkn {} +
  find static -type f -name '*.gz' -print0 | sort -z | xargs -0 echo //go:embed >> embed.go
  echo var EmbedFS embed.FS >> embed.go
  echo "$PROMETHEUS_VERSION" > "$PROM_W/ui.done"
  step "prometheus v$PROMETHEUS_VERSION: web UI built in $(( $(date +%s) - t0 )) s"
}

resolve_prometheus() {
  local mod rc
  mkdir -p "$PROM_W"
  if [ ! -f "$PROM_W/src.done" ]; then
    step "prometheus v$PROMETHEUS_VERSION: downloading the module"
    mod=$(go mod download -json "github.com/prometheus/prometheus@v$PROMETHEUS_VERSION" | python3 -c 'import sys,json;print(json.load(sys.stdin)["Dir"])')
    rm -rf "$PROM_SRC"; cp -r "$mod" "$PROM_SRC"; chmod -R u+w "$PROM_SRC"
    touch "$PROM_W/src.done"
  fi
  cd "$PROM_SRC"
  step "prometheus v$PROMETHEUS_VERSION: resolving modules"
  GOWORK=off go mod download
  if [ "$PROMETHEUS_UI" = 1 ] && ! ui_cached; then
    # a failure here is judged by compile_prometheus (API-only fallback), not fatal to the resolve
    rm -f "$PROM_W/ui.packages"
    set +e; (set -e; prometheus_ui_packages); rc=$?; set -e
    [ "$rc" = 0 ] || step "prometheus v$PROMETHEUS_VERSION: web UI packages FAILED (exit $rc, see the build log)"
  fi
}

compile_prometheus() {
  local tags="$PROMETHEUS_TAGS" ui_pin=api-only ld t0 version kv c rc
  [ "$PROMETHEUS_UI" = 1 ] && ui_pin=ui
  version=$(cat "$PROM_SRC/VERSION")
  if [ "$PROMETHEUS_UI" = 1 ]; then
    # a failed UI build must not leave the cluster without Prometheus: fall back to the API-only
    # binary, say so, and record it in .prometheus.ui (the next build with PROMETHEUS_UI=1 retries)
    set +e; (set -e; prometheus_ui); rc=$?; set -e
    if [ "$rc" = 0 ]; then
      tags="$tags,builtinassets"
    else
      step "prometheus v$PROMETHEUS_VERSION: web UI build FAILED (exit $rc, see the build log); building the API-only binary"
      ui_pin="api-only (web UI build failed)"
    fi
  fi
  cd "$PROM_SRC"
  ld="-s -w"
  for kv in "Version=$version" "Revision=v$PROMETHEUS_VERSION" "Branch=HEAD" "BuildUser=scaleproof" "BuildDate=20260101-00:00:00"; do
    ld="$ld -X github.com/prometheus/common/version.$kv"
  done
  t0=$(date +%s)
  for c in prometheus promtool; do
    step "prometheus v$PROMETHEUS_VERSION ($version): compiling $c (tags $tags)"
    GOWORK=off go build -trimpath -tags "$tags" -ldflags "$ld" -o "$OUT/$c" "./cmd/$c"
  done
  step "prometheus v$PROMETHEUS_VERSION ($version): compiled in $(( $(date +%s) - t0 )) s"
  echo "$ui_pin" > "$OUT/.prometheus.ui"
}
prometheus_fresh() {
  local ui_pin=api-only
  [ "$PROMETHEUS_UI" = 1 ] && ui_pin=ui
  fresh prometheus && [ "$(cat "$OUT/.prometheus.ui" 2>/dev/null)" = "$ui_pin" ]
}

# --- agnhost: Kubernetes' own e2e test server, the "application nobody here wrote" of the e2e tests.
# Not a cluster component (never in the default list): built only when asked for by name, from
# test/images/agnhost of the pinned k8s.io/kubernetes module, in its own wrapper module with the same
# staging replace lines as kubernetes. The version is upstream's test/images/agnhost/VERSION, set the
# way its Makefile does (-X main.Version), so `agnhost --version` names it.
resolve_agnhost() {
  local kdir
  go_wrapper "$WORK/agnhost-$K8S_VERSION" local/agnhost-build
  step "agnhost (k8s v$K8S_VERSION): resolving modules (staging modules pinned to v0.${K8S_VERSION#1.})"
  kdir=$(pin_staging)
  go get -tool "k8s.io/kubernetes/test/images/agnhost@v$K8S_VERSION"
  cp "$kdir/test/images/agnhost/VERSION" .agnhost-version
}
compile_agnhost() {
  local ver
  cd "$WORK/agnhost-$K8S_VERSION"
  ver=$(cat .agnhost-version)
  step "agnhost $ver (k8s v$K8S_VERSION): compiling"
  go build -trimpath -ldflags "-s -w -X main.Version=$ver" -o "$OUT/agnhost" k8s.io/kubernetes/test/images/agnhost
}

is_fresh() { if [ "$1" = prometheus ]; then prometheus_fresh; else fresh "$1"; fi; }

# --- the plan: requested components in BUILD_ORDER, unknown names refused, cached ones skipped
for c in $REQUESTED; do
  case " $BUILD_ORDER " in *" $c "*) ;; *) echo "unknown component: $c" >&2; exit 2 ;; esac
done
TODO=()
for c in $BUILD_ORDER; do
  case " $REQUESTED " in *" $c "*) ;; *) continue ;; esac
  if is_fresh "$c"; then step "$c: cached ($(pin "$c"))"; else TODO+=("$c"); fi
done

if [ ${#TODO[@]} -gt 0 ]; then
  MARKS="$WORK/.resolve"
  rm -rf "$MARKS"; mkdir -p "$MARKS"
  # the resolves, one after another in the background; each leaves ok or failed behind
  (
    for c in "${TODO[@]}"; do
      # errexit stays on inside the subshell only when it is not tested by if/||
      set +e; (set -e; "resolve_$c"); rc=$?; set -e
      if [ "$rc" = 0 ]; then touch "$MARKS/$c.ok"; else touch "$MARKS/$c.failed"; fi
    done
  ) &
  RESOLVER=$!
  trap 'kill "$RESOLVER" 2>/dev/null || true' EXIT
  for c in "${TODO[@]}"; do
    while [ ! -e "$MARKS/$c.ok" ] && [ ! -e "$MARKS/$c.failed" ]; do
      kill -0 "$RESOLVER" 2>/dev/null || [ -e "$MARKS/$c.ok" ] || [ -e "$MARKS/$c.failed" ] \
        || { echo "the module resolver stopped before $c" >&2; exit 1; }
      sleep 1
    done
    [ -e "$MARKS/$c.ok" ] || { echo "resolving $c failed (see above)" >&2; exit 1; }
    ( "compile_$c" )
    stamp "$c"
  done
  wait "$RESOLVER"
  trap - EXIT
fi
step "all requested components are in $OUT"
