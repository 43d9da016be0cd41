# shellcheck shell=bash
# shellcheck disable=SC2034  # variables here are used by the scripts that source this file
# Shared settings and helpers for the kube-test-env scripts.
# Sourced by install.sh, start.sh, stop.sh and smoke.sh; not meant to be run.

# --- Pinned versions -------------------------------------------------------
# Kubernetes release whose kube-apiserver we build from the Go module proxy.
# The staging modules (k8s.io/api, k8s.io/apiserver, ...) are published as
# v0.<minor>.<patch> of the same release.
KTE_KUBE_VERSION="v1.34.4"
# etcd release to build when the system has no etcd >= KTE_ETCD_MIN_VERSION.
# v3.6.4 is the etcd that Kubernetes v1.34 is released and tested with.
KTE_ETCD_VERSION="v3.6.4"
# Oldest etcd we accept from the system (Debian 12's etcd-server is 3.4).
KTE_ETCD_MIN_VERSION="3.5.0"

# --- Locations -------------------------------------------------------------
# Build cache (binaries, generated wrapper modules, build logs).
KTE_CACHE_DIR="${KUBE_TEST_ENV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-rs/kube-test-env}"
KTE_KUBE_DIR="$KTE_CACHE_DIR/$KTE_KUBE_VERSION"
KTE_ETCD_DIR="$KTE_CACHE_DIR/etcd-$KTE_ETCD_VERSION"
# Written by install.sh: which kube-apiserver and etcd binaries to use.
KTE_INSTALL_ENV="$KTE_KUBE_DIR/install.env"
# Run directory of one test environment (certs, etcd data, logs, env file).
KTE_RUN_DIR="${KUBE_TEST_ENV_DIR:-/tmp/istio-rs-kube-test-env}"
while [[ "$KTE_RUN_DIR" == ?*/ ]]; do KTE_RUN_DIR="${KTE_RUN_DIR%/}"; done

# --- Logging ---------------------------------------------------------------
# All progress goes to stderr so that stdout stays free for callers.
kte_script="$(basename "${BASH_SOURCE[1]:-$0}" .sh)"
log() { printf '[kube-test-env %s] %s\n' "$kte_script" "$*" >&2; }
die() { printf '[kube-test-env %s] ERROR: %s\n' "$kte_script" "$*" >&2; exit 1; }

# version_ge A B: true when dotted version A >= B (leading "v" ignored).
version_ge() {
  local a="${1#v}" b="${2#v}"
  [ "$(printf '%s\n%s\n' "$a" "$b" | sort -V | head -n1)" = "$b" ]
}

# etcd_version BIN: print the etcd version ("3.6.4") reported by BIN, or
# nothing if BIN does not run.
etcd_version() {
  "$1" --version 2>/dev/null | sed -n 's/^etcd Version: *//p' | head -n1
}

# --- Run directories and their processes --------------------------------------
# Every run dir we create holds this marker file; we never delete or reuse a
# directory without it (protection against KUBE_TEST_ENV_DIR=$HOME mistakes).
KTE_MARKER=".kube-test-env"

# check_run_dir DIR: refuse run dirs that would break the KEY=VALUE env file
# (no quoting there) or that are obviously wrong. Exits 2.
check_run_dir() {
  case "$1" in
    /) ;;
    /*) if [[ "$1" =~ ^/[A-Za-z0-9._/+-]+$ ]]; then return 0; fi ;;
  esac
  printf '[kube-test-env %s] ERROR: KUBE_TEST_ENV_DIR=%s must be an absolute path other than / made of [A-Za-z0-9._/+-]\n' \
    "$kte_script" "$1" >&2
  exit 2
}

# pid_alive PID: PID exists and is not a zombie.
pid_alive() {
  local state
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  state="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)"
  [ -n "$state" ] && [ "$state" != Z ]
}

# pid_of_run_dir PID DIR: PID is alive and its command line mentions DIR, so
# it is one of our processes and not an unrelated one that reused the pid.
pid_of_run_dir() {
  pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2/"
}

# stop_pid NAME PID DIR: stop PID (SIGTERM, then SIGKILL after 10 s) if it
# belongs to run dir DIR.
stop_pid() {
  local name="$1" pid="$2" dir="$3" i
  pid_of_run_dir "$pid" "$dir" || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  log "WARNING: $name (pid $pid) is still alive"
}

# stop_run_dir DIR: stop every process recorded in DIR (watchdog first, then
# kube-apiserver, then etcd). Leaves the directory itself alone.
stop_run_dir() {
  local dir="$1" name pid
  for name in watchdog kube-apiserver etcd; do
    [ -f "$dir/$name.pid" ] || continue
    pid="$(cat "$dir/$name.pid" 2>/dev/null || true)"
    # Never kill ourselves (stop.sh may run as the watchdog).
    [ "$pid" = "$$" ] && continue
    stop_pid "$name" "$pid" "$dir"
  done
}
