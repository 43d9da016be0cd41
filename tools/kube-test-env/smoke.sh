#!/usr/bin/env bash
# smoke.sh: check a running kube-test-env end to end, with curl and jq only.
#
#   tools/kube-test-env/start.sh >/dev/null && tools/kube-test-env/smoke.sh
#
# Reads $KUBE_TEST_ENV_DIR/env (written by start.sh) and, in a fresh
# namespace: checks /version and both admin credentials, creates a
# ServiceAccount, requests a token for it (audience istio-ca), reviews that
# token (TokenReview), creates a CRD and an object of it, creates a Secret and
# watches it. Cleans up what it created, including the namespace.
#
# Prints one PASS line per check and ends with "smoke: N passed, M failed".
# Exit codes: 0 all passed; 1 a check failed (the failing response is
# printed); 2 no running environment / missing tool.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

env_file="$KTE_RUN_DIR/env"
if [ ! -f "$env_file" ]; then
  log "ERROR: no environment: $env_file does not exist (run start.sh first)"
  exit 2
fi
# shellcheck source=/dev/null
source "$env_file"

if ! command -v jq >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing jq"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null 2>&1; } || true
  fi
  command -v jq >/dev/null || { log "ERROR: jq is required (apt-get install jq)"; exit 2; }
fi

passed=0
ns="kte-smoke-$(date +%s)-$RANDOM"
suffix="s$RANDOM$RANDOM"
crd_group="$suffix.smoke.istio-rs.test"
crd_name="widgets.$crd_group"
tmp="$(mktemp -d)"
namespace_created=0
crd_created=0

pass() { passed=$(( passed + 1 )); echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  if [ -s "$tmp/body" ]; then
    echo "---- last response (HTTP ${code:-?}) ----"
    head -c 4000 "$tmp/body"
    echo
    echo "----"
  fi
  echo "smoke: $passed passed, 1 failed"
  exit 1
}

# api METHOD PATH [BODY [CONTENT-TYPE]]: request with the admin bearer token;
# the response body goes to $tmp/body, the HTTP status to $code.
code=""
api() {
  local method="$1" path="$2" body="${3:-}" ctype="${4:-application/json}"
  local args=(-sS --max-time 20 -o "$tmp/body" -w '%{http_code}' -X "$method"
    --cacert "$KUBE_TEST_ENV_CA_FILE" -H "Authorization: Bearer $KUBE_TEST_ENV_TOKEN")
  if [ -n "$body" ]; then
    args+=(-H "Content-Type: $ctype" --data-binary "$body")
  fi
  code="$(curl "${args[@]}" "$KUBE_TEST_ENV_SERVER$path")" || code="curl-error"
}

# expect CODE... : the last response had one of these HTTP codes.
expect() {
  local c
  for c in "$@"; do [ "$code" = "$c" ] && return 0; done
  fail "expected HTTP $* but got $code"
}

# jqb FILTER: run jq on the last response body.
jqb() { jq -r "$@" "$tmp/body"; }

# Best-effort removal of what we created, also after a failure. Namespaces
# are normally emptied and finalized by kube-controller-manager, which the
# test environment does not run: we delete our objects and then remove the
# "kubernetes" finalizer ourselves.
cleanup() {
  set +e
  if (( crd_created )); then
    api DELETE "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$crd_name"
  fi
  if (( namespace_created )); then
    api DELETE "/api/v1/namespaces/$ns/secrets/smoke-secret"
    api DELETE "/api/v1/namespaces/$ns/serviceaccounts/smoke-sa"
    api DELETE "/api/v1/namespaces/$ns"
    api PUT "/api/v1/namespaces/$ns/finalize" \
      "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"},\"spec\":{\"finalizers\":[]}}"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "smoke test against $KUBE_TEST_ENV_SERVER (run dir $KUBE_TEST_ENV_DIR), namespace $ns"

# --- server and credentials -----------------------------------------------------
api GET /version
expect 200
[ "$(jqb .gitVersion)" = "$KUBE_TEST_ENV_KUBE_VERSION" ] || fail "/version reports $(jqb .gitVersion), expected $KUBE_TEST_ENV_KUBE_VERSION"
pass "/version is $KUBE_TEST_ENV_KUBE_VERSION"

# is_admin: the last SelfSubjectReview shows the admin user in system:masters.
is_admin() {
  [ "$(jqb .status.userInfo.username)" = "$KUBE_TEST_ENV_USER" ] &&
    jqb '.status.userInfo.groups[]' | grep -qx system:masters
}
ssr='{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
api POST /apis/authentication.k8s.io/v1/selfsubjectreviews "$ssr"
expect 201
is_admin || fail "bearer token is not $KUBE_TEST_ENV_USER in system:masters"
pass "bearer token authenticates as $KUBE_TEST_ENV_USER (system:masters)"

# Same check with the client certificate from the env file / kubeconfig.
code="$(curl -sS --max-time 20 -o "$tmp/body" -w '%{http_code}' -X POST \
  --cacert "$KUBE_TEST_ENV_CA_FILE" --cert "$KUBE_TEST_ENV_CLIENT_CERT_FILE" --key "$KUBE_TEST_ENV_CLIENT_KEY_FILE" \
  -H 'Content-Type: application/json' --data-binary "$ssr" \
  "$KUBE_TEST_ENV_SERVER/apis/authentication.k8s.io/v1/selfsubjectreviews")" || code=curl-error
expect 201
is_admin || fail "client certificate is not $KUBE_TEST_ENV_USER in system:masters"
pass "client certificate authenticates as $KUBE_TEST_ENV_USER (system:masters)"

# --- namespace, service account, TokenRequest, TokenReview -----------------------
api POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}"
expect 201
namespace_created=1
pass "created namespace $ns"

api POST "/api/v1/namespaces/$ns/serviceaccounts" \
  '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"smoke-sa"}}'
expect 201
pass "created ServiceAccount $ns/smoke-sa"

api POST "/api/v1/namespaces/$ns/serviceaccounts/smoke-sa/token" \
  '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["istio-ca"],"expirationSeconds":3600}}'
expect 201
sa_token="$(jqb .status.token)"
if [ -z "$sa_token" ] || [ "$sa_token" = null ]; then fail "TokenRequest returned no token"; fi
# Decode the JWT payload (base64url, unpadded) to check issuer and audience.
payload="$(cut -d. -f2 <<<"$sa_token" | tr '_-' '/+')"
while (( ${#payload} % 4 )); do payload+="="; done
claims="$(base64 -d <<<"$payload")" || fail "the token is not a JWT"
[ "$(jq -r .iss <<<"$claims")" = "$KUBE_TEST_ENV_SA_ISSUER" ] ||
  fail "token issuer is $(jq -r .iss <<<"$claims"), expected $KUBE_TEST_ENV_SA_ISSUER"
[ "$(jq -c .aud <<<"$claims")" = '["istio-ca"]' ] || fail "token audience is $(jq -c .aud <<<"$claims")"
pass "TokenRequest gave a JWT for audience istio-ca issued by $KUBE_TEST_ENV_SA_ISSUER"

want_user="system:serviceaccount:$ns:smoke-sa"
api POST /apis/authentication.k8s.io/v1/tokenreviews \
  "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$sa_token\",\"audiences\":[\"istio-ca\"]}}"
expect 201
[ "$(jqb .status.authenticated)" = true ] || fail "TokenReview (audience istio-ca): not authenticated: $(jqb .status.error)"
[ "$(jqb .status.user.username)" = "$want_user" ] || fail "TokenReview username is $(jqb .status.user.username), expected $want_user"
jqb '.status.audiences[]' | grep -qx istio-ca || fail "TokenReview audiences lack istio-ca"
pass "TokenReview (audience istio-ca): authenticated as $want_user"

# The same token must not be accepted for the API server's own audience.
api POST /apis/authentication.k8s.io/v1/tokenreviews \
  "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$sa_token\"}}"
expect 201
[ "$(jqb .status.authenticated)" != true ] || fail "TokenReview accepted an istio-ca token for the API server audience"
pass "TokenReview (API server audience): rejected, as it should"

# --- CRD and a custom object -----------------------------------------------------------
crd=$(cat <<EOF
{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
 "metadata":{"name":"$crd_name"},
 "spec":{"group":"$crd_group","scope":"Namespaced",
  "names":{"plural":"widgets","singular":"widget","kind":"Widget","listKind":"WidgetList"},
  "versions":[{"name":"v1","served":true,"storage":true,
   "schema":{"openAPIV3Schema":{"type":"object","properties":{
     "spec":{"type":"object","properties":{"color":{"type":"string"},"size":{"type":"integer"}}}}}}}]}}
EOF
)
api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$crd"
expect 201
crd_created=1
established=""
for _ in $(seq 1 100); do
  api GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$crd_name"
  established="$(jqb '.status.conditions[]? | select(.type=="Established") | .status')"
  [ "$established" = True ] && break
  sleep 0.2
done
[ "$established" = True ] || fail "CRD $crd_name not Established after 20s"
pass "created CRD $crd_name (Established)"

widgets="/apis/$crd_group/v1/namespaces/$ns/widgets"
widget='{"apiVersion":"'"$crd_group"'/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"color":"blue","size":3}}'
# The new resource's REST endpoint may need a moment after Established.
for _ in $(seq 1 50); do
  api POST "$widgets" "$widget"
  [ "$code" = 404 ] || break
  sleep 0.2
done
expect 201
api GET "$widgets/w1"
expect 200
[ "$(jqb .spec.color)/$(jqb .spec.size)" = blue/3 ] || fail "read back Widget w1 with spec $(jqb -c .spec)"
api GET "$widgets"
expect 200
[ "$(jqb '.items | length')" = 1 ] || fail "listing widgets gave $(jqb '.items | length') items"
pass "created, read and listed Widget $ns/w1"

# --- Secret and watch -------------------------------------------------------------------
secrets="/api/v1/namespaces/$ns/secrets"
api POST "$secrets" \
  '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"smoke-secret"},"type":"Opaque","data":{"password":"aHVudGVyMg=="}}'
expect 201
created_rv="$(jqb .metadata.resourceVersion)"
api GET "$secrets/smoke-secret"
expect 200
[ "$(jqb .data.password | base64 -d)" = hunter2 ] || fail "Secret data read back wrong"
pass "created and read Secret $ns/smoke-secret"

api PATCH "$secrets/smoke-secret" '{"metadata":{"labels":{"smoke":"patched"}}}' application/merge-patch+json
expect 200

# A watch without resourceVersion starts with the current state (ADDED); one
# from the creation's resourceVersion replays the later change (MODIFIED).
# timeoutSeconds=2 makes the server end each watch.
t0=$SECONDS
api GET "$secrets?watch=1&timeoutSeconds=2&fieldSelector=metadata.name%3Dsmoke-secret"
expect 200
[ "$(jq -rs 'map(select(.type=="ADDED" and .object.metadata.name=="smoke-secret")) | length' "$tmp/body")" = 1 ] ||
  fail "watch did not start with ADDED smoke-secret"
api GET "$secrets?watch=1&timeoutSeconds=2&resourceVersion=$created_rv&fieldSelector=metadata.name%3Dsmoke-secret"
expect 200
[ "$(jq -rs 'map(select(.type=="MODIFIED" and .object.metadata.labels.smoke=="patched")) | length' "$tmp/body")" = 1 ] ||
  fail "watch from resourceVersion $created_rv did not show the MODIFIED Secret"
(( SECONDS - t0 <= 10 )) || fail "watches with timeoutSeconds=2 took $(( SECONDS - t0 ))s"
pass "watched Secret $ns/smoke-secret (ADDED, then MODIFIED from resourceVersion $created_rv)"

# --- cleanup, checked ---------------------------------------------------------------------
api DELETE "$widgets/w1"
expect 200
api DELETE "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$crd_name"
expect 200
crd_created=0
api DELETE "$secrets/smoke-secret"
expect 200
api DELETE "/api/v1/namespaces/$ns/serviceaccounts/smoke-sa"
expect 200
api DELETE "/api/v1/namespaces/$ns"
expect 200
api PUT "/api/v1/namespaces/$ns/finalize" \
  "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"},\"spec\":{\"finalizers\":[]}}"
expect 200
for _ in $(seq 1 50); do
  api GET "/api/v1/namespaces/$ns"
  [ "$code" = 404 ] && break
  sleep 0.2
done
expect 404
namespace_created=0
pass "deleted everything, namespace $ns included"

echo "smoke: $passed passed, 0 failed"
