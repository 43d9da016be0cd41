#!/usr/bin/env bash
# Installs what the istio-iptables network-namespace test needs: iptables (iptables, ip6tables,
# iptables-save, ...) and iproute2 (ip, ip netns). Idempotent: does nothing when both are there.
# Debian/Ubuntu only (apt-get); non-interactive; uses sudo only when not already root.
set -euo pipefail

missing=()
command -v iptables >/dev/null 2>&1 && command -v ip6tables-save >/dev/null 2>&1 || missing+=(iptables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps.sh: ${missing[*]} missing and apt-get not available; install them by hand" >&2
	exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-test-deps.sh: not root and no sudo; install ${missing[*]} by hand" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "install-test-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
