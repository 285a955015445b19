#!/bin/bash
# Builds the libcni conformance driver into test/conformance/driver/cnidriver,
# only when it is missing or older than its source. Offline: Debian's
# golang-github-appc-cni-dev provides libcni under /usr/share/gocode, so the
# build runs in GOPATH mode with no module downloads.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/driver/main.go
out=$here/driver/cnidriver
libcni=/usr/share/gocode/src/github.com/containernetworking/cni/libcni

if [[ -x $out && $out -nt $src && $out -nt $0 ]]; then exit 0; fi
command -v go >/dev/null || { echo "go not found: install golang-go" >&2; exit 1; }
[[ -d $libcni ]] || { echo "$libcni missing: install golang-github-appc-cni-dev" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tscni-driver-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Built beside the target under a temp name, then renamed (same filesystem,
# so atomic): a concurrent test run sees the old binary or the complete new one.
tmp_out="$out.tmp.$$"
trap 'rm -rf "$work" "$tmp_out"' EXIT
cd "$here/driver"
GO111MODULE=off GOPATH="/usr/share/gocode:$work/gopath" GOPROXY=off GOFLAGS= \
  GOCACHE="${GOCACHE:-$work/cache}" CGO_ENABLED=0 \
  go build -trimpath -o "$tmp_out" .
mv -f "$tmp_out" "$out"
