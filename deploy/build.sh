#!/bin/sh
# deploy/build.sh OUT — build the static boxoffice binary with version, commit
# and build date stamped in. The Dockerfile and .ci/run both call it, so the
# binary CI checks is the binary the image ships.
#
#   VERSION=1.2.3 COMMIT=$(git rev-parse HEAD) DATE=2026-11-22T22:00:00Z deploy/build.sh /tmp/boxoffice
#
# Unset VERSION/COMMIT/DATE default to dev / unknown / now (UTC).
set -eu
out=${1:?usage: deploy/build.sh OUT}
: "${VERSION:=dev}"
: "${COMMIT:=unknown}"
: "${DATE:=$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
	-o "$out" ./cmd/boxoffice
