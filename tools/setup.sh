#!/usr/bin/env bash
# Checks (and where possible installs) what building and testing need. Idempotent; run by the
# Makefile before builds so a fresh machine needs no manual step.
set -euo pipefail

need_rust="1.89.0"
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "setup: cargo is in ~/.cargo/bin but not on PATH; add it: export PATH=\$HOME/.cargo/bin:\$PATH" >&2
  else
    echo "setup: cargo not found: install Rust ${need_rust} or newer (https://rustup.rs)" >&2
  fi
  exit 1
fi
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need_rust" "$have" | sort -V | head -n1)" != "$need_rust" ]; then
  echo "setup: rustc ${have} is older than the required ${need_rust}" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${c}"; then
      echo "setup: installing rustup component ${c}"
      rustup component add "${c}"
    fi
  done
fi
