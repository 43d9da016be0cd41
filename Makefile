# istio-rs: user entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
HUB ?= docker.io/istio
TAG ?= 1.4.10
export ISTIO_CONFORMANCE_DIR ?= $(abspath ../shared/conformance/istio-1.4.10)

# The packages whose binaries we ship (tools and test runners are not part of `make build`).
PRODUCT_PACKAGES := istioctl istio-pilot istio-iptables

.PHONY: help setup build test lint fmt conformance run bench bench-pilot fuzz e2e docker push clean

help: ## List the targets
	@grep -E '^[a-z0-9.]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: ## Check the toolchain (installs rustfmt/clippy if missing)
	@tools/setup.sh

build: setup ## Release build of every binary, stamped with build info
	@eval "$$(tools/report_build_info.sh)" && $(CARGO) build --release --locked --bins $(addprefix -p ,$(PRODUCT_PACKAGES))

test: setup ## Unit and integration tests of every crate (includes the Bazel/Cargo drift check)
	$(CARGO) test --workspace --locked

lint: setup ## rustfmt check and clippy with warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

conformance: setup ## Run the upstream Istio 1.4.10 test vectors (ISTIO_CONFORMANCE_DIR)
	$(CARGO) run --locked -p istio-conformance --bin conformance

run: build ## The main job: the local mesh (pilot on the bundled samples, no Kubernetes); Ctrl-C stops it
	target/release/istioctl validate -f samples/
	$(CARGO) build --release --locked -p hyperistio
	target/release/hyperistio $(RUN_ARGS)

bench: setup ## Benchmarks (criterion); results under target/criterion
	$(CARGO) bench --workspace --locked

# Whole-process pilot benchmark (README "Measured"): a mesh of BENCH_SERVICES ServiceEntries x
# BENCH_ENDPOINTS endpoints served from --configDir, BENCH_CLIENTS simulated sidecars over ADS v2.
BENCH_SERVICES ?= 1000
BENCH_ENDPOINTS ?= 10
BENCH_CLIENTS ?= 2000
bench-pilot: setup ## Load test: time to full config for BENCH_CLIENTS sidecars, pilot CPU and peak RSS
	$(CARGO) build --release --locked -p istio-pilot -p pilot-load
	@set -e; \
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null || true; \
	if [ "$$(ulimit -n)" != unlimited ] && [ "$$(ulimit -n)" -lt $$(($(BENCH_CLIENTS) + 1000)) ]; then \
		echo "bench-pilot: the open-file limit $$(ulimit -n) is too low for $(BENCH_CLIENTS) clients (raise ulimit -n)" >&2; exit 1; \
	fi; \
	$(CARGO) test --release --locked -p istio-pilot --test ads_server -- --ignored --nocapture scale_; \
	target/release/pilot-load gen-config --services $(BENCH_SERVICES) --endpoints $(BENCH_ENDPOINTS) --out out/bench-pilot/config; \
	target/release/pilot-load run -n $(BENCH_CLIENTS) --addr 127.0.0.1:15010 -- \
		target/release/pilot-discovery discovery --registries= --configDir out/bench-pilot/config \
		--meshConfig= --networksConfig= --secureGrpcAddr= --grpcAddr 127.0.0.1:15010 \
		--httpAddr 127.0.0.1:18080 --monitoringAddr 127.0.0.1:15014

FUZZ_SECONDS ?= 60
fuzz: ## Coverage-guided fuzzing of the config input path for FUZZ_SECONDS (needs cargo-fuzz)
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/yaml_to_config
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run yaml_to_config corpus/yaml_to_config ../samples/bookinfo -- -max_total_time=$(FUZZ_SECONDS)

E2E_DIR ?= $(CURDIR)/out/kube-test-env
e2e: setup ## Tests against a real etcd + kube-apiserver on loopback (built and cached on first use)
	tools/kube-test-env/install.sh
	tools/istio-iptables/install-test-deps.sh
	@set -e; export KUBE_TEST_ENV_DIR=$(E2E_DIR); \
	trap 'tools/kube-test-env/stop.sh >/dev/null 2>&1 || true' EXIT; \
	tools/kube-test-env/start.sh >/dev/null; \
	$(CARGO) test --workspace --locked -- --ignored --skip scale_

docker: ## Container images (issue 7: not available yet)
	@echo "make docker: image builds have not landed yet" >&2; exit 1

push: ## Push images as HUB/name:TAG (issue 7: not available yet)
	@echo "make push: image pushes have not landed yet" >&2; exit 1

clean: ## Remove build outputs
	$(CARGO) clean
	rm -rf out
