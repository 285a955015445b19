# tscni — build, test and demo entry points. Every target installs what it
# needs, so `sudo make test` and `sudo make demo` work on a fresh Debian 12.

SHELL := /bin/bash
PREFIX ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
DESTDIR ?=

# Debian packages the project runs against (TESTING.md); frr is the tests'
# top-of-rack router, whose daemons must not start on the machine (below).
DEB_PACKAGES := iproute2 nftables iputils-ping iperf3 tcpdump bird2 etcd-server \
	etcd-client containernetworking-plugins iptables golang-go golang-github-appc-cni-dev \
	g++ make python3 openssl frr
# The runtime layer (test/runtime) also runs the programs that run CNI plugins.
# podman's CNI backend needs nothing more than containernetworking-plugins
# (Debian's container-network-stack; netavark is only recommended).
RUNTIME_DEB_PACKAGES := containerd runc podman busybox-static containernetworking-plugins
NODE_STAMP := node_modules/.package-lock.json

.PHONY: all deps debs build test test-unit test-integration test-conformance demo bench install uninstall install-conf clean typecheck

all: build

# Installing bird2, etcd-server or frr must not start their daemons on the
# machine: policy-rc.d refuses every start for as long as apt runs.
debs:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	missing=$$(echo $$missing); [ -z "$$missing" ] && exit 0; \
	echo "installing Debian packages: $$missing"; \
	policy=; [ -e /usr/sbin/policy-rc.d ] || { policy=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' > $$policy; chmod 755 $$policy; }; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; rc=$$?; \
	[ -n "$$policy" ] && rm -f $$policy; \
	exit $$rc

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: debs $(NODE_STAMP)

build: $(NODE_STAMP)
	node scripts/build.mjs

typecheck: $(NODE_STAMP)
	npx tsc --noEmit -p .

test: deps build typecheck test-unit test-integration test-conformance test-runtime
	@leftover=$$(ip netns list | grep -c '^tscni-' || true); \
	if [ "$$leftover" != "0" ]; then echo "test namespaces left behind:"; ip netns list | grep '^tscni-'; exit 1; fi

test-unit: $(NODE_STAMP)
	npx vitest run --project unit

test-integration: build
	npx vitest run --project integration

test-conformance: build
	npx vitest run --project conformance

# Installing containerd and podman must not start their daemons on the machine
# (policy-rc.d, for as long as apt runs), nor leave podman's sample network in
# /etc/cni/net.d, where any runtime on the machine would pick it up.
.PHONY: runtime-debs test-runtime
runtime-debs:
	@missing=$$(for p in $(RUNTIME_DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	missing=$$(echo $$missing); [ -z "$$missing" ] && exit 0; \
	echo "installing Debian packages for the runtime tests: $$missing"; \
	made=$$(for d in /etc/cni /etc/cni/net.d; do [ -e $$d ] || echo $$d; done); \
	policy=; [ -e /usr/sbin/policy-rc.d ] || { policy=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' > $$policy; chmod 755 $$policy; }; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; rc=$$?; \
	[ -n "$$policy" ] && rm -f $$policy; \
	case " $$missing " in *" podman "*) rm -f /etc/cni/net.d/87-podman-bridge.conflist;; esac; \
	for d in $$(echo $$made | tr ' ' '\n' | sort -r); do rmdir $$d 2>/dev/null; done; \
	exit $$rc

test-runtime: runtime-debs build
	npx vitest run --project runtime

# Every mode that is built; a mode or an overlay backend this build does not
# have yet says so and exits 3, which skips it.
demo: deps build
	dist/bin/tscni demo --mode bridge
	dist/bin/tscni demo --mode overlay --backend vxlan
	@for m in "overlay --backend host-gw" "overlay --backend udp" routed; do dist/bin/tscni demo --mode $$m; rc=$$?; \
		if [ $$rc = 3 ]; then echo "$$m: skipped, not built yet"; elif [ $$rc != 0 ]; then exit $$rc; fi; done

bench: deps build
	node bench/run.mjs

# --- installing on a node -------------------------------------------------
# make build makes one self-contained executable, dist/bin/tscni, and the
# plugins as hard links to it (scripts/build.mjs): it needs nothing else on the
# node, no Node.js and no support directory. make install puts the plugins,
# and nothing else, into CNI_BIN_DIR as one file with one hard link per plugin
# name, and the tscni CLI into $(PREFIX)/bin (a hard link to the same file
# when both are on one file system, a copy otherwise). Files are replaced by
# rename: a runtime running the old plugin never reads a half-written one. No
# conflist is installed or overwritten: install-conf copies one example, on
# request.
CNI_CONF_DIR ?= /etc/cni/net.d
PLUGINS := $(sort $(notdir $(patsubst %/main.ts,%,$(wildcard plugins/*/main.ts))))
PROGRAMS := tscni $(if $(wildcard agent/main.ts),tscni-agent)
# Every tscni executable says this in its usage line; a file without it is not ours.
TSCNI_MARKER := tscni multi-call executable

install:
	@test -x dist/bin/tscni || { echo "dist/bin is not built: run 'make build' first" >&2; exit 1; }
	@grep -qF '$(TSCNI_MARKER)' dist/bin/tscni || { echo "dist/bin/tscni is not a tscni executable: run 'make build'" >&2; exit 1; }
	@case "$(CNI_BIN_DIR):$(PREFIX)" in /*:/*) ;; *) echo "CNI_BIN_DIR and PREFIX must be absolute paths" >&2; exit 1;; esac
	install -d -m 0755 "$(DESTDIR)$(CNI_BIN_DIR)" "$(DESTDIR)$(PREFIX)/bin"
	@set -e; bin="$(DESTDIR)$(CNI_BIN_DIR)"; staged="$$bin/.tscni-new.$$$$"; \
	install -m 0755 dist/bin/tscni "$$staged"; \
	trap 'rm -f "$$staged" "$$bin"/*.tscni-new' EXIT; \
	for p in $(PLUGINS); do \
		ln -f "$$staged" "$$bin/$$p.tscni-new" && mv -f "$$bin/$$p.tscni-new" "$$bin/$$p" && echo "installed $$bin/$$p"; \
	done; \
	for p in $(PROGRAMS); do \
		dst="$(DESTDIR)$(PREFIX)/bin/$$p"; \
		ln -f "$$staged" "$$dst.tscni-new" 2>/dev/null || install -m 0755 dist/bin/tscni "$$dst.tscni-new"; \
		mv -f "$$dst.tscni-new" "$$dst" && echo "installed $$dst"; \
	done

# Removes only what install put there: a file without our marker (say, the
# reference bridge installed after ours) stays, and so do conflists.
uninstall:
	@for f in $(foreach p,$(PLUGINS),"$(DESTDIR)$(CNI_BIN_DIR)/$(p)") $(foreach p,$(PROGRAMS),"$(DESTDIR)$(PREFIX)/bin/$(p)"); do \
		if [ -f "$$f" ] && grep -qF '$(TSCNI_MARKER)' "$$f"; then rm -f "$$f" && echo "removed $$f"; fi; \
	done

# make install-conf NET=bridge: conf-examples/<nn>-bridge.conflist into
# CNI_CONF_DIR, refusing to replace a file that is already there.
install-conf:
	@[ -n "$(NET)" ] || { echo "which one? make install-conf NET=<name>, one of:" $$(ls conf-examples | sed -n 's/^[0-9]*-\(.*\)\.conflist$$/\1/p') >&2; exit 1; }
	@src=$$(ls conf-examples/*-$(NET).conflist 2>/dev/null); \
	[ -n "$$src" ] && [ $$(echo "$$src" | wc -l) = 1 ] || { echo "no single conf-examples/*-$(NET).conflist" >&2; exit 1; }; \
	dst="$(DESTDIR)$(CNI_CONF_DIR)/$$(basename $$src)"; \
	if [ -e "$$dst" ]; then echo "$$dst exists: not overwritten (remove it first to replace it)" >&2; exit 1; fi; \
	install -d -m 0755 "$(DESTDIR)$(CNI_CONF_DIR)" && install -m 0644 "$$src" "$$dst" && echo "installed $$dst"

clean:
	rm -rf dist lib/native/build
