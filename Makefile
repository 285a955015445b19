# tscni — build, test and demo entry points. Every target installs what it
# needs, so `sudo make test` and `sudo make demo` work on a fresh Debian 12.

SHELL := /bin/bash
PREFIX ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
DESTDIR ?=

# Debian packages the project runs against (TESTING.md).
DEB_PACKAGES := iproute2 nftables iputils-ping iperf3 tcpdump bird2 etcd-server \
	etcd-client containernetworking-plugins golang-go golang-github-appc-cni-dev \
	g++ make python3
NODE_STAMP := node_modules/.package-lock.json

.PHONY: all deps debs build test test-unit test-integration test-conformance demo bench install clean typecheck

all: build

debs:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: debs $(NODE_STAMP)

build: $(NODE_STAMP)
	node scripts/build.mjs

typecheck: $(NODE_STAMP)
	npx tsc --noEmit -p .

test: deps build typecheck test-unit test-integration test-conformance
	@leftover=$$(ip netns list | grep -c '^tscni-' || true); \
	if [ "$$leftover" != "0" ]; then echo "test namespaces left behind:"; ip netns list | grep '^tscni-'; exit 1; fi

test-unit: $(NODE_STAMP)
	npx vitest run --project unit

test-integration: build
	npx vitest run --project integration

test-conformance: build
	npx vitest run --project conformance

demo: deps build
	node dist/bin/tscni demo --mode bridge

bench: deps build
	node bench/run.mjs

clean:
	rm -rf dist lib/native/build
