#!/usr/bin/env bash
# Prints the build-info environment variables that pkg::version reads at compile time, as
# `export NAME=value` lines for the Makefile. Only release builds (`make build`) set them, so
# test builds are not invalidated by every commit.
set -euo pipefail
cd "$(dirname "$0")/.."

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if git diff --quiet HEAD -- 2>/dev/null; then status=Clean; else status=Modified; fi
tag=$(git describe --tags --always 2>/dev/null || echo unknown)
version=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)}

echo "export ISTIO_VERSION=${version}"
echo "export ISTIO_GIT_REVISION=${revision}"
echo "export ISTIO_BUILD_USER=${USER:-$(id -un)}"
echo "export ISTIO_BUILD_HOST=$(hostname 2>/dev/null || echo unknown)"
echo "export ISTIO_BUILD_HUB=${HUB:-docker.io/istio}"
echo "export ISTIO_BUILD_STATUS=${status}"
echo "export ISTIO_GIT_TAG=${tag}"
echo "export ISTIO_RUSTC_VERSION=\"$(rustc --version 2>/dev/null || echo unknown)\""
