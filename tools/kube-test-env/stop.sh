#!/usr/bin/env bash
# stop.sh: stop the kube-apiserver and etcd started by start.sh and remove
# their run dir.
#
#   tools/kube-test-env/stop.sh [RUN_DIR]
#
# RUN_DIR defaults to $KUBE_TEST_ENV_DIR, else /tmp/istio-rs-kube-test-env.
# Only processes recorded in the run dir whose command line points into it
# are signalled (SIGTERM, then SIGKILL after 10 s). Stopping an environment
# that is not running is not an error.
#
# Exit codes: 0 stopped (or nothing to stop); 1 a process survived SIGKILL or
# the run dir could not be removed; 2 bad run dir (not made by kube-test-env).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -gt 0 ]; then
  export KUBE_TEST_ENV_DIR="$1"
fi
# shellcheck source=lib.sh
source "$here/lib.sh"

run_dir="$KTE_RUN_DIR"
check_run_dir "$run_dir"

if [ ! -e "$run_dir" ]; then
  log "nothing to stop: $run_dir does not exist"
  exit 0
fi
if [ ! -f "$run_dir/$KTE_MARKER" ]; then
  if [ -z "$(ls -A "$run_dir")" ]; then
    rmdir "$run_dir"
    exit 0
  fi
  log "ERROR: $run_dir was not made by kube-test-env (no $KTE_MARKER); not touching it"
  exit 2
fi

# Same lock as start.sh: never tear down an environment while it starts.
exec 8>"$run_dir.lock"
if ! flock -w 300 8; then
  log "ERROR: another start.sh/stop.sh holds $run_dir.lock for too long"
  exit 1
fi

stop_run_dir "$run_dir"
for name in kube-apiserver etcd; do
  pid="$(cat "$run_dir/$name.pid" 2>/dev/null || true)"
  if pid_of_run_dir "$pid" "$run_dir"; then
    log "ERROR: $name (pid $pid) is still running; keeping $run_dir"
    exit 1
  fi
done
rm -rf "$run_dir"
log "stopped; removed $run_dir"
