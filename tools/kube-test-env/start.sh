#!/usr/bin/env bash
# start.sh: start a throw-away etcd + kube-apiserver on 127.0.0.1 for tests.
#
#   tools/kube-test-env/start.sh
#
# Runs install.sh first (fast once the binaries are cached), generates fresh
# certificates and keys, starts etcd and kube-apiserver in the background,
# waits until the API server is ready, then writes
#   $KUBE_TEST_ENV_DIR/kubeconfig   admin kubeconfig (client certificate)
#   $KUBE_TEST_ENV_DIR/env          KEY=VALUE lines, see README.md
# and prints the env file on stdout. Progress and errors go to stderr.
#
# If the run dir already holds a healthy environment it is reused as is; if it
# holds a dead one (a "stale" run dir), that one is cleaned up first.
#
# Exit codes: 0 running (started or reused); 1 failed to start (logs are
# printed, no process is left behind); 2 bad configuration; 3 install.sh
# failed.
#
# Environment (all optional):
#   KUBE_TEST_ENV_DIR               run dir (default /tmp/istio-rs-kube-test-env)
#   KUBE_TEST_ENV_APISERVER_PORT    fixed ports instead of random free ones
#   KUBE_TEST_ENV_ETCD_PORT
#   KUBE_TEST_ENV_ETCD_PEER_PORT
#   KUBE_TEST_ENV_START_TIMEOUT     seconds to wait for readiness (default 120)
#   KUBE_TEST_ENV_WATCH_PID         stop the environment when this pid exits
#                                   (e.g. the test process that started it)
#   KUBE_TEST_ENV_APISERVER_ARGS    extra kube-apiserver flags (space separated)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

run_dir="$KTE_RUN_DIR"
check_run_dir "$run_dir"
timeout="${KUBE_TEST_ENV_START_TIMEOUT:-120}"
[[ "$timeout" =~ ^[0-9]+$ ]] || { log "ERROR: KUBE_TEST_ENV_START_TIMEOUT must be a number of seconds"; exit 2; }

# Fixed cluster settings.
service_cidr="10.0.0.0/24"
sa_issuer="https://kubernetes.default.svc.cluster.local"
admin_user="istio-rs-admin"
pki="$run_dir/pki"

for tool in openssl curl flock; do
  command -v "$tool" >/dev/null || { log "ERROR: $tool is not installed"; exit 2; }
done

# --- Helpers --------------------------------------------------------------------

# Ports in use on this machine (any TCP socket, IPv4 or IPv6), one decimal
# number per line, read from /proc so that no extra tool is needed.
used_ports() {
  awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r hex; do echo $(( 16#$hex )); done | sort -un
}

# pick_port VAR: set VAR to the port from KUBE_TEST_ENV_<VAR> if given (it
# must be free), else to a random free port in 10000-31999 (below Linux's
# ephemeral range) not already picked for another component.
picked=" "
pick_port() {
  local var="$1" fixed_var="KUBE_TEST_ENV_$1" p i used
  used="$(used_ports)"
  if [ -n "${!fixed_var:-}" ]; then
    p="${!fixed_var}"
    if ! [[ "$p" =~ ^[0-9]+$ ]] || (( p < 1 || p > 65535 )); then
      log "ERROR: $fixed_var=$p is not a port"
      exit 2
    fi
    if grep -qx "$p" <<<"$used"; then log "ERROR: $fixed_var=$p is already in use"; exit 2; fi
  else
    for ((i = 0; i < 200; i++)); do
      p=$(( 10000 + (RANDOM * 32768 + RANDOM) % 22000 ))
      [[ "$picked" == *" $p "* ]] && continue
      grep -qx "$p" <<<"$used" || break
    done
  fi
  picked+="$p "
  printf -v "$var" '%s' "$p"
}

# Any fixed port means a port clash cannot be solved by trying again.
ports_fixed() {
  [ -n "${KUBE_TEST_ENV_APISERVER_PORT:-}${KUBE_TEST_ENV_ETCD_PORT:-}${KUBE_TEST_ENV_ETCD_PEER_PORT:-}" ]
}

show_log() {
  log "---- last lines of $1 ----"
  tail -n "${2:-40}" "$1" >&2 || true
  log "---- end of $1 ----"
}

curl_api() { # curl_api PATH [curl args...]: authenticated request to the API server
  local path="$1"
  shift
  curl -sS --max-time 5 --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$@" \
    "https://127.0.0.1:$APISERVER_PORT$path"
}

# healthy DIR: DIR's env file exists, its processes are alive, /readyz is ok.
healthy() {
  local dir="$1" env_file="$1/env" server tok ca
  [ -f "$env_file" ] || return 1
  pid_of_run_dir "$(sed -n 's/^KUBE_TEST_ENV_ETCD_PID=//p' "$env_file")" "$dir" || return 1
  pid_of_run_dir "$(sed -n 's/^KUBE_TEST_ENV_APISERVER_PID=//p' "$env_file")" "$dir" || return 1
  server="$(sed -n 's/^KUBE_TEST_ENV_SERVER=//p' "$env_file")"
  tok="$(sed -n 's/^KUBE_TEST_ENV_TOKEN=//p' "$env_file")"
  ca="$(sed -n 's/^KUBE_TEST_ENV_CA_FILE=//p' "$env_file")"
  [ "$(curl -sS --max-time 5 --cacert "$ca" -H "Authorization: Bearer $tok" "$server/readyz" 2>/dev/null)" = ok ]
}

# --- PKI ------------------------------------------------------------------------

# Generate a CA, the API server's serving certificate, an admin client
# certificate (group system:masters), an admin bearer token and the service
# account signing key pair. Everything is new for every start.
generate_pki() {
  mkdir -p "$pki"
  chmod 700 "$pki"
  cat >"$pki/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1, IP:10.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
  serial() { echo "0x$(openssl rand -hex 15)"; }

  newkey "$pki/ca.key"
  openssl req -config "$pki/openssl.cnf" -new -x509 -key "$pki/ca.key" -days 365 \
    -subj "/CN=istio-rs-kube-test-env-ca" -extensions ca_ext -set_serial "$(serial)" -out "$pki/ca.crt"

  # sign NAME SUBJECT EXTENSIONS: key + certificate signed by the CA.
  sign() {
    newkey "$pki/$1.key"
    openssl req -config "$pki/openssl.cnf" -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "$(serial)" \
      -days 365 -extfile "$pki/openssl.cnf" -extensions "$3" -out "$pki/$1.crt" 2>/dev/null
    rm -f "$pki/$1.csr"
  }
  sign apiserver "/CN=kube-apiserver" server_ext
  sign admin "/O=system:masters/CN=$admin_user" client_ext

  # Service account tokens (TokenRequest) are signed with sa.key and
  # verified (TokenReview, authentication) with sa.pub.
  newkey "$pki/sa.key"
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

  # Static bearer token for the same admin identity: token,user,uid,"groups".
  token="$(openssl rand -hex 32)"
  printf '%s,%s,%s,"system:masters"\n' "$token" "$admin_user" "$admin_user" >"$pki/tokens.csv"
}

# --- Processes --------------------------------------------------------------------

etcd_pid=""
apiserver_pid=""
started_ok=0

# On any failure: stop what we started so that nothing is left running. The
# run dir stays, with its logs, and is cleaned up by the next start.sh or by
# stop.sh.
on_exit() {
  local rc=$?
  if (( started_ok == 0 )); then
    [ -n "$apiserver_pid" ] && stop_pid kube-apiserver "$apiserver_pid" "$run_dir"
    [ -n "$etcd_pid" ] && stop_pid etcd "$etcd_pid" "$run_dir"
    (( rc == 0 )) && rc=1
    log "start failed (exit $rc); no process left running; logs kept in $run_dir"
  fi
  exit "$rc"
}

# wait_for NAME PID LOG SECONDS CHECK...: poll CHECK until it succeeds; fail if
# PID dies or SECONDS pass. Returns 2 when the log shows a port clash.
wait_for() {
  local name="$1" pid="$2" logf="$3" secs="$4" deadline
  shift 4
  deadline=$(( SECONDS + secs ))
  # CHECK must be quiet itself: redirecting it here would also redirect the
  # EXIT trap's messages if a signal arrives while CHECK runs.
  while ! "$@"; do
    if ! pid_alive "$pid"; then
      if grep -q 'address already in use' "$logf"; then
        log "$name could not bind its port (taken meanwhile)"
        return 2
      fi
      log "ERROR: $name exited before it was ready"
      show_log "$logf"
      return 1
    fi
    if (( SECONDS >= deadline )); then
      log "ERROR: $name not ready after ${secs}s"
      show_log "$logf"
      return 1
    fi
    sleep 0.2
  done
}

# Readiness checks; quiet, see wait_for.
etcd_healthy() { curl -s --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_ready() { [ "$(curl_api /readyz 2>/dev/null)" = ok ]; }
# The default namespace is created by a controller shortly after /readyz.
default_ns_exists() { curl_api /api/v1/namespaces/default -f -o /dev/null 2>/dev/null; }

start_etcd() {
  mkdir -p "$run_dir/etcd"
  chmod 700 "$run_dir/etcd"
  local peer="http://127.0.0.1:$ETCD_PEER_PORT" client="http://127.0.0.1:$ETCD_PORT"
  # stdin/stdout/stderr are redirected so that a caller reading our output
  # (e.g. Rust's Command::output) is not kept waiting by the daemons, and the
  # lock on fd 8 is closed so that they do not hold it forever.
  "$etcd_bin" \
    --name=kube-test-env \
    --data-dir="$run_dir/etcd" \
    --listen-client-urls="$client" --advertise-client-urls="$client" \
    --listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" \
    --initial-cluster="kube-test-env=$peer" --initial-cluster-state=new \
    --unsafe-no-fsync=true \
    --log-level=warn \
    </dev/null >"$run_dir/etcd.log" 2>&1 8>&- &
  etcd_pid=$!
  echo "$etcd_pid" >"$run_dir/etcd.pid"
}

start_apiserver() {
  local extra=()
  # Word splitting is intended: a simple space-separated list of flags.
  # shellcheck disable=SC2206
  [ -n "${KUBE_TEST_ENV_APISERVER_ARGS:-}" ] && extra=($KUBE_TEST_ENV_APISERVER_ARGS)
  "$apiserver_bin" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$APISERVER_PORT" \
    --cert-dir="$pki" \
    --tls-cert-file="$pki/apiserver.crt" \
    --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --token-auth-file="$pki/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer="$sa_issuer" \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$service_cidr" \
    --disable-admission-plugins=ServiceAccount \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --profiling=false \
    "${extra[@]}" \
    </dev/null >"$run_dir/kube-apiserver.log" 2>&1 8>&- &
  apiserver_pid=$!
  echo "$apiserver_pid" >"$run_dir/kube-apiserver.pid"
}

write_kubeconfig() {
  local ca cert key
  ca="$(base64 -w0 <"$pki/ca.crt")"
  cert="$(base64 -w0 <"$pki/admin.crt")"
  key="$(base64 -w0 <"$pki/admin.key")"
  cat >"$run_dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kube-test-env
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $ca
users:
- name: $admin_user
  user:
    client-certificate-data: $cert
    client-key-data: $key
- name: $admin_user-token
  user:
    token: $token
contexts:
- name: kube-test-env
  context:
    cluster: kube-test-env
    user: $admin_user
- name: kube-test-env-token
  context:
    cluster: kube-test-env
    user: $admin_user-token
current-context: kube-test-env
EOF
  chmod 600 "$run_dir/kubeconfig"
}

write_env() {
  # Plain KEY=VALUE lines: no quoting is needed (check_run_dir) and the file is
  # both sourceable by sh and trivial to parse. Written atomically, last: its
  # presence means the environment is ready.
  cat >"$run_dir/env.tmp" <<EOF
KUBECONFIG=$run_dir/kubeconfig
KUBE_TEST_ENV_DIR=$run_dir
KUBE_TEST_ENV_SERVER=https://127.0.0.1:$APISERVER_PORT
KUBE_TEST_ENV_TOKEN=$token
KUBE_TEST_ENV_USER=$admin_user
KUBE_TEST_ENV_CA_FILE=$pki/ca.crt
KUBE_TEST_ENV_CLIENT_CERT_FILE=$pki/admin.crt
KUBE_TEST_ENV_CLIENT_KEY_FILE=$pki/admin.key
KUBE_TEST_ENV_SA_ISSUER=$sa_issuer
KUBE_TEST_ENV_SA_PUBLIC_KEY_FILE=$pki/sa.pub
KUBE_TEST_ENV_SA_SIGNING_KEY_FILE=$pki/sa.key
KUBE_TEST_ENV_SERVICE_CIDR=$service_cidr
KUBE_TEST_ENV_APISERVER_PORT=$APISERVER_PORT
KUBE_TEST_ENV_APISERVER_PID=$apiserver_pid
KUBE_TEST_ENV_APISERVER_LOG=$run_dir/kube-apiserver.log
KUBE_TEST_ENV_ETCD_URL=http://127.0.0.1:$ETCD_PORT
KUBE_TEST_ENV_ETCD_PORT=$ETCD_PORT
KUBE_TEST_ENV_ETCD_PEER_PORT=$ETCD_PEER_PORT
KUBE_TEST_ENV_ETCD_PID=$etcd_pid
KUBE_TEST_ENV_ETCD_LOG=$run_dir/etcd.log
KUBE_TEST_ENV_KUBE_VERSION=$KUBE_TEST_ENV_KUBE_VERSION
KUBE_TEST_ENV_ETCD_VERSION=$KUBE_TEST_ENV_ETCD_VERSION
EOF
  chmod 600 "$run_dir/env.tmp"
  mv -f "$run_dir/env.tmp" "$run_dir/env"
}

# Stop the environment when KUBE_TEST_ENV_WATCH_PID exits, so that a test run
# that dies (panic=abort, Ctrl-C, SIGKILL) does not leave servers behind.
start_watchdog() {
  local watch="${KUBE_TEST_ENV_WATCH_PID:-}"
  [ -n "$watch" ] || return 0
  if ! [[ "$watch" =~ ^[0-9]+$ ]] || ! pid_alive "$watch"; then
    log "WARNING: KUBE_TEST_ENV_WATCH_PID=$watch is not a running process; no watchdog"
    return 0
  fi
  # The run dir is passed as an argument so that stop_run_dir recognises
  # the watchdog as ours.
  # shellcheck disable=SC2016 # $1.. are expanded by the inner bash
  KUBE_TEST_ENV_DIR="$run_dir" setsid bash -c \
    'while kill -0 "$2" 2>/dev/null; do sleep 1; done; exec "$1" "$3"' \
    kube-test-env-watchdog "$here/stop.sh" "$watch" "$run_dir/" \
    </dev/null >>"$run_dir/watchdog.log" 2>&1 8>&- &
  echo $! >"$run_dir/watchdog.pid"
  log "watchdog (pid $!) stops the environment when pid $watch exits"
}

# --- Main -------------------------------------------------------------------------

t0=$SECONDS
mkdir -p "$(dirname "$run_dir")"
# Install (or check) the binaries first: this has its own lock and may take
# many minutes on a cold cache.
"$here/install.sh" >/dev/null || { log "ERROR: install.sh failed"; exit 3; }
# shellcheck source=/dev/null
source "$KTE_INSTALL_ENV"
apiserver_bin="$KUBE_TEST_ENV_APISERVER_BIN"
etcd_bin="$KUBE_TEST_ENV_ETCD_BIN"

# One start/stop at a time per run dir; the wait is bounded by the time a
# start can take.
exec 8>"$run_dir.lock"
if ! flock -w $(( timeout + 120 )) 8; then
  log "ERROR: another start.sh/stop.sh holds $run_dir.lock for too long"
  exit 1
fi

if [ -e "$run_dir" ]; then
  if healthy "$run_dir"; then
    log "reusing the healthy environment in $run_dir"
    cat "$run_dir/env"
    exit 0
  fi
  if [ ! -f "$run_dir/$KTE_MARKER" ] && [ -n "$(ls -A "$run_dir")" ]; then
    log "ERROR: $run_dir exists, is not empty and was not made by kube-test-env; refusing to touch it"
    exit 2
  fi
  if [ -f "$run_dir/$KTE_MARKER" ]; then
    log "found a stale environment in $run_dir (not running or not ready); cleaning it up"
    stop_run_dir "$run_dir"
    rm -rf "$run_dir"
  fi
fi


trap on_exit EXIT
# Make INT/TERM run the EXIT trap too, so an interrupted start cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$run_dir"
touch "$run_dir/$KTE_MARKER"
t_start=$SECONDS
generate_pki
log "generated certificates and keys in $pki"

# Random ports can be taken by someone else between our check and the bind;
# in that case start again with new ports.
for attempt in 1 2 3 4 5; do
  picked=" "
  pick_port ETCD_PORT
  pick_port ETCD_PEER_PORT
  pick_port APISERVER_PORT
  rc=0
  start_etcd
  log "started etcd $KUBE_TEST_ENV_ETCD_VERSION (pid $etcd_pid) on 127.0.0.1:$ETCD_PORT"
  wait_for etcd "$etcd_pid" "$run_dir/etcd.log" 30 etcd_healthy || rc=$?
  if (( rc == 0 )); then
    start_apiserver
    log "started kube-apiserver $KUBE_TEST_ENV_KUBE_VERSION (pid $apiserver_pid) on https://127.0.0.1:$APISERVER_PORT; waiting up to ${timeout}s for /readyz"
    wait_for kube-apiserver "$apiserver_pid" "$run_dir/kube-apiserver.log" "$timeout" apiserver_ready || rc=$?
  fi
  if (( rc == 0 )); then
    wait_for kube-apiserver "$apiserver_pid" "$run_dir/kube-apiserver.log" 30 default_ns_exists || rc=$?
  fi
  (( rc == 0 )) && break
  # Failed: stop whatever runs before retrying or giving up.
  [ -n "$apiserver_pid" ] && stop_pid kube-apiserver "$apiserver_pid" "$run_dir"
  [ -n "$etcd_pid" ] && stop_pid etcd "$etcd_pid" "$run_dir"
  apiserver_pid="" etcd_pid=""
  if (( rc == 2 )) && ! ports_fixed && (( attempt < 5 )); then
    log "retrying with other ports"
    rm -rf "$run_dir/etcd"
    continue
  fi
  exit 1
done

write_kubeconfig
write_env
start_watchdog
started_ok=1
log "kube-apiserver ready at https://127.0.0.1:$APISERVER_PORT after $(( SECONDS - t_start ))s (total $(( SECONDS - t0 ))s with install check)"
log "env file: $run_dir/env; kubeconfig: $run_dir/kubeconfig"
cat "$run_dir/env"
