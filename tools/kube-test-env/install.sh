#!/usr/bin/env bash
# install.sh: make sure a kube-apiserver and an etcd binary are available for
# the test environment, building them from the Go module proxy when needed.
#
#   tools/kube-test-env/install.sh
#
# Idempotent and safe to run concurrently (a lock file serialises installs):
# when the binaries are already cached it only checks that they run.
#
# Progress goes to stderr. On success stdout gets KEY=VALUE lines, the same
# that are saved in $KTE_INSTALL_ENV (see lib.sh):
#   KUBE_TEST_ENV_APISERVER_BIN  path of kube-apiserver
#   KUBE_TEST_ENV_ETCD_BIN       path of etcd
#   KUBE_TEST_ENV_KUBE_VERSION   Kubernetes version of kube-apiserver
#   KUBE_TEST_ENV_ETCD_VERSION   version of that etcd
#
# Environment:
#   KUBE_TEST_ENV_CACHE_DIR     cache root (default ~/.cache/istio-rs/kube-test-env)
#   KUBE_TEST_ENV_ETCD_BIN      use this etcd instead of finding/building one
#   KUBE_TEST_ENV_BUILD_JOBS    parallel Go build jobs (default 2)
#   GOTOOLCHAIN, GOPROXY, ...   passed to the go command as usual
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

build_jobs="${KUBE_TEST_ENV_BUILD_JOBS:-2}"

# Background command started by run_with_heartbeat, killed if we are interrupted.
bg_pid=""
cleanup() {
  if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then
    kill "$bg_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_with_heartbeat LOG DESC CMD...: run CMD (output appended to LOG) and
# print a line every 30 s so that CI logs show we are still alive. On failure
# print the end of LOG and return CMD's status.
run_with_heartbeat() {
  local logf="$1" desc="$2" start=$SECONDS last=$SECONDS rc=0
  shift 2
  log "$desc ..."
  "$@" >>"$logf" 2>&1 &
  bg_pid=$!
  while kill -0 "$bg_pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS - last >= 30 )); then
      last=$SECONDS
      log "  ... still $desc ($(( SECONDS - start ))s)"
    fi
  done
  wait "$bg_pid" || rc=$?
  bg_pid=""
  if (( rc != 0 )); then
    log "$desc failed (exit $rc); last lines of $logf:"
    tail -n 40 "$logf" >&2
    return "$rc"
  fi
  log "$desc done ($(( SECONDS - start ))s)"
}

# build_progress LOG TOTAL: read `go build -v` output (one package per line as
# it gets compiled), keep all of it in LOG and print a progress line now and
# then.
build_progress() {
  local logf="$1" total="$2" n=0 start=$SECONDS last=$SECONDS line
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$logf"
    n=$(( n + 1 ))
    if (( SECONDS - last >= 20 )); then
      last=$SECONDS
      log "  compiled $n of at most $total packages ($(( SECONDS - start ))s), at $line"
    fi
  done
  log "  compiled $n packages ($(( SECONDS - start ))s)"
}

# go_build_in_wrapper NAME DIR PKG VERSION OUT LDFLAGS: in the wrapper module
# DIR (go.mod already written), resolve PKG@VERSION's dependencies, then build
# PKG into OUT. Logs go to DIR/build.log.
go_build_in_wrapper() {
  local name="$1" dir="$2" pkg="$3" version="$4" out="$5" ldflags="$6" total
  local logf="$dir/build.log"
  : >"$logf"
  # `go get PKG@VERSION` adds the requirements and go.sum lines for exactly
  # what this package needs (unlike `go mod tidy`, which would also fetch
  # modules needed only on other platforms). The explicit version matters:
  # without it go get would upgrade to the latest release.
  run_with_heartbeat "$logf" "resolving and downloading $name modules" \
    go -C "$dir" get "$pkg@$version"
  total=$(go -C "$dir" list -mod=mod -deps "$pkg" | wc -l)
  log "building $name ($total packages in its import graph; $build_jobs jobs, nice 10) ..."
  local start=$SECONDS
  GOMAXPROCS="$build_jobs" nice -n 10 \
    go -C "$dir" build -mod=mod -p "$build_jobs" -v -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg" 2>&1 |
    build_progress "$logf" "$total" || {
      log "building $name failed; last lines of $logf:"
      tail -n 40 "$logf" >&2
      rm -f "$out.tmp"
      return 1
    }
  mv -f "$out.tmp" "$out"
  log "built $name in $(( SECONDS - start ))s: $out"
}

# Environment for every go command below: module mode, no workspace, no cgo
# (static binaries), and no GOFLAGS from the caller that could change the
# build (-mod=vendor, ...). Unless the caller chose a GOTOOLCHAIN, use
# "auto": an installed Go that is new enough is used as is, an older one
# fetches the Go release that go.mod asks for from the Go module proxy
# (module golang.org/toolchain) instead of failing.
go_env() {
  export GO111MODULE=on GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false
  export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
}

# --- kube-apiserver ---------------------------------------------------------

apiserver_ok() {
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qx "Kubernetes $KTE_KUBE_VERSION"
}

build_apiserver() {
  local out="$KTE_KUBE_DIR/kube-apiserver" dir="$KTE_KUBE_DIR/build"
  local staging_version="v0.${KTE_KUBE_VERSION#v1.}" # v1.34.4 -> v0.34.4
  local kube_mod minor mod started=$SECONDS

  command -v go >/dev/null || die "go is not installed (needed to build kube-apiserver)"
  go_env
  log "no cached kube-apiserver $KTE_KUBE_VERSION; building it from the Go module proxy with $(go version)"
  log "this takes many minutes the first time; later runs use $out"
  rm -rf "$dir"
  mkdir -p "$dir"

  # Fetch k8s.io/kubernetes's go.mod to learn its staging modules. Run it in
  # the still empty dir so that no surrounding go.mod is involved.
  kube_mod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KTE_KUBE_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$kube_mod" ] || die "could not download the go.mod of k8s.io/kubernetes@$KTE_KUBE_VERSION"

  # k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) as
  # v0.0.0 and replaces them by ./staging/src/...; replaces of a dependency
  # are ignored, so our wrapper replaces them by their published versions.
  local staging=()
  while IFS= read -r mod; do
    if grep -Eq "^[[:space:]]*${mod//./\\.} v0\.0\.0\$" "$kube_mod"; then
      staging+=("$mod")
    fi
  done < <(awk '/=>[[:space:]]*\.\/staging\// { print ($1 == "replace") ? $2 : $1 }' "$kube_mod")
  (( ${#staging[@]} > 0 )) || die "found no staging modules in $kube_mod"
  log "k8s.io/kubernetes@$KTE_KUBE_VERSION has ${#staging[@]} staging modules; pinning them to $staging_version"

  {
    echo "// Generated by tools/kube-test-env/install.sh to build kube-apiserver; do not edit."
    echo "module istio-rs.test/kube-test-env/kube-apiserver"
    echo
    # Same language version and GODEBUG defaults as upstream's own build.
    grep -m1 '^go ' "$kube_mod"
    grep '^godebug [^(]' "$kube_mod" || true
    echo
    echo "require k8s.io/kubernetes $KTE_KUBE_VERSION"
    echo
    echo "replace ("
    for mod in "${staging[@]}"; do
      printf '\t%s => %s %s\n' "$mod" "$mod" "$staging_version"
    done
    echo ")"
  } >"$dir/go.mod"

  # Version stamps, as Kubernetes' hack/lib/version.sh sets them, so that
  # --version and /version report the release rather than v0.0.0-master.
  minor="${KTE_KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w" pkg build_date
  build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KTE_KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$build_date"
  done

  go_build_in_wrapper kube-apiserver "$dir" k8s.io/kubernetes/cmd/kube-apiserver "$KTE_KUBE_VERSION" "$out" "$ldflags"
  apiserver_ok "$out" || die "the freshly built $out does not report Kubernetes $KTE_KUBE_VERSION"
  {
    echo "kube-apiserver $KTE_KUBE_VERSION"
    echo "built: $build_date with $(go version)"
    echo "seconds (download + build): $(( SECONDS - started ))"
  } >"$KTE_KUBE_DIR/build-info.txt"
  log "kube-apiserver $KTE_KUBE_VERSION ready after $(( SECONDS - started ))s (download + build)"
}

# --- etcd ---------------------------------------------------------------------

# etcd_ok BIN: BIN runs and is at least the minimum version.
etcd_ok() {
  local v
  [ -n "$1" ] && [ -x "$1" ] || return 1
  v="$(etcd_version "$1")"
  [ -n "$v" ] && version_ge "$v" "$KTE_ETCD_MIN_VERSION"
}

# Candidate version of Debian's etcd-server package ("3.4.23"), or nothing.
apt_etcd_candidate() {
  command -v apt-cache >/dev/null || return 0
  local v
  v="$(apt-cache policy etcd-server 2>/dev/null | awk '/Candidate:/ { print $2 }')"
  if { [ -z "$v" ] || [ "$v" = "(none)" ]; } && [ "$(id -u)" = 0 ]; then
    # Package lists never fetched on this machine: fetch them once.
    apt-get update -qq >/dev/null 2>&1 || true
    v="$(apt-cache policy etcd-server 2>/dev/null | awk '/Candidate:/ { print $2 }')"
  fi
  [ "$v" = "(none)" ] && return 0
  v="${v#*:}"       # drop an epoch
  printf '%s\n' "${v%%[-+~]*}" # drop the Debian revision
}

build_etcd() {
  local out="$KTE_ETCD_DIR/etcd" dir="$KTE_ETCD_DIR/build" started=$SECONDS
  command -v go >/dev/null || die "go is not installed (needed to build etcd)"
  go_env
  log "building etcd $KTE_ETCD_VERSION from the Go module proxy with $(go version)"
  rm -rf "$dir"
  mkdir -p "$dir"
  # go.etcd.io/etcd/server/v3 is etcd's main package, but its go.mod has
  # replace directives, so `go install ...@version` refuses it: build it from
  # a wrapper module instead, as for kube-apiserver.
  {
    echo "// Generated by tools/kube-test-env/install.sh to build etcd; do not edit."
    echo "module istio-rs.test/kube-test-env/etcd"
    echo
    echo "go 1.23.0"
    echo
    echo "require go.etcd.io/etcd/server/v3 $KTE_ETCD_VERSION"
  } >"$dir/go.mod"
  go_build_in_wrapper etcd "$dir" go.etcd.io/etcd/server/v3 "$KTE_ETCD_VERSION" "$out" "-s -w"
  etcd_ok "$out" || die "the freshly built $out does not run or is too old"
  log "etcd $KTE_ETCD_VERSION ready after $(( SECONDS - started ))s"
}

# Pick an etcd: explicit override, then a system one that is new enough, then
# our cached build, then Debian's package if its version is supported, and
# finally a build from source. Sets etcd_bin.
select_etcd() {
  local cand
  if [ -n "${KUBE_TEST_ENV_ETCD_BIN:-}" ]; then
    etcd_ok "$KUBE_TEST_ENV_ETCD_BIN" ||
      die "KUBE_TEST_ENV_ETCD_BIN=$KUBE_TEST_ENV_ETCD_BIN does not run or is older than $KTE_ETCD_MIN_VERSION"
    etcd_bin="$KUBE_TEST_ENV_ETCD_BIN"
    return
  fi
  for cand in "$(command -v etcd || true)" "$KTE_ETCD_DIR/etcd"; do
    if etcd_ok "$cand"; then etcd_bin="$cand"; return; fi
  done
  if [ -n "$(command -v etcd || true)" ]; then
    log "system etcd $(etcd_version "$(command -v etcd)") is older than $KTE_ETCD_MIN_VERSION; not using it"
  fi

  cand="$(apt_etcd_candidate)"
  if [ -n "$cand" ] && version_ge "$cand" "$KTE_ETCD_MIN_VERSION" && [ "$(id -u)" = 0 ]; then
    log "installing Debian's etcd-server $cand"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >&2
    if etcd_ok /usr/bin/etcd; then etcd_bin=/usr/bin/etcd; return; fi
    log "Debian's etcd did not work; building etcd instead"
  elif [ -n "$cand" ]; then
    log "Debian's etcd-server is $cand, older than the $KTE_ETCD_MIN_VERSION that kube-apiserver $KTE_KUBE_VERSION needs; building etcd $KTE_ETCD_VERSION instead"
  else
    log "no etcd-server package available; building etcd $KTE_ETCD_VERSION"
  fi
  mkdir -p "$KTE_ETCD_DIR"
  build_etcd
  built=1
  etcd_bin="$KTE_ETCD_DIR/etcd"
}

# --- main -----------------------------------------------------------------------

mkdir -p "$KTE_KUBE_DIR"
# Several test processes may call us at once: one installs, the others wait.
exec 9>"$KTE_CACHE_DIR/.install.lock"
if ! flock -n 9; then
  log "another install.sh is running; waiting for it to finish"
  flock 9
fi

total_start=$SECONDS
built=0 # set when this run built something
if [ -n "${KUBE_TEST_ENV_APISERVER_BIN:-}" ]; then
  apiserver_ok "$KUBE_TEST_ENV_APISERVER_BIN" ||
    die "KUBE_TEST_ENV_APISERVER_BIN=$KUBE_TEST_ENV_APISERVER_BIN does not report Kubernetes $KTE_KUBE_VERSION"
  apiserver_bin="$KUBE_TEST_ENV_APISERVER_BIN"
else
  apiserver_bin="$KTE_KUBE_DIR/kube-apiserver"
  if ! apiserver_ok "$apiserver_bin"; then
    [ -e "$apiserver_bin" ] && log "cached $apiserver_bin does not run or has the wrong version; rebuilding"
    build_apiserver
    built=1
  fi
fi

etcd_bin=""
select_etcd
etcd_ver="$(etcd_version "$etcd_bin")"

# Write the result atomically: start.sh reads this file.
cat >"$KTE_INSTALL_ENV.tmp" <<EOF
KUBE_TEST_ENV_APISERVER_BIN=$apiserver_bin
KUBE_TEST_ENV_ETCD_BIN=$etcd_bin
KUBE_TEST_ENV_KUBE_VERSION=$KTE_KUBE_VERSION
KUBE_TEST_ENV_ETCD_VERSION=$etcd_ver
EOF
mv -f "$KTE_INSTALL_ENV.tmp" "$KTE_INSTALL_ENV"

if (( built )); then
  log "kube-apiserver $KTE_KUBE_VERSION: $apiserver_bin"
  log "etcd $etcd_ver: $etcd_bin"
  log "install.sh finished in $(( SECONDS - total_start ))s"
else
  log "cached: kube-apiserver $KTE_KUBE_VERSION ($apiserver_bin), etcd $etcd_ver ($etcd_bin)"
fi
cat "$KTE_INSTALL_ENV"
