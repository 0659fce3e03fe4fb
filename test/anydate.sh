#!/usr/bin/env bash
# Runs the tests as if the wall clock read AT (default: five years from now), to find
# tests that pass only near the date they were written (a fixed date in the test and an
# expiry or window judged by time.Now in the code). It builds with an overlay of the
# standard library's time.Now that adds the offset; monotonic time is unchanged, so
# timeouts and sleeps behave. Only Go's clock moves: file times and external processes
# (a browser, a signer) keep the real date, so tests comparing with those are expected
# to fail here (fsblob's LastModified and cellblob's and sealedblob's over it, sigv4's Smithy signer, the
# browser tests).
#
#   test/anydate.sh                              # ./... five years ahead
#   AT=2028-02-29T23:57:00Z test/anydate.sh ./shared/usage/...   # across a leap day's midnight
set -euo pipefail
GO=${GO:-go}
cd "$(dirname "$0")/.."
at=${AT:-$(date -u -d '+5 years' +%Y-%m-%dT%H:%M:%SZ)}
offset=$(( $(date -u -d "$at" +%s) - $(date -u +%s) ))
goroot=$($GO env GOROOT)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed 's/^\tsec, nsec, mono := runtimeNow()$/&\n\tsec += anydateOffset/' "$goroot/src/time/time.go" >"$dir/time.go"
grep -q anydateOffset "$dir/time.go" || { echo "anydate: time.Now in $goroot/src/time/time.go has changed shape" >&2; exit 2; }
cat >"$dir/anydate.go" <<'GO'
package time

import "syscall"

var anydateOffset int64

func init() {
	v, _ := syscall.Getenv("ANYDATE_OFFSET_SEC")
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	for i := 0; i < len(v); i++ {
		anydateOffset = anydateOffset*10 + int64(v[i]-'0')
	}
	if neg {
		anydateOffset = -anydateOffset
	}
}
GO
printf '{"Replace":{"%s":"%s","%s":"%s"}}\n' "$goroot/src/time/time.go" "$dir/time.go" "$goroot/src/time/zz_anydate.go" "$dir/anydate.go" >"$dir/overlay.json"
echo "anydate: tests run as if it were $at (offset ${offset}s)"
[ $# -gt 0 ] || set -- ./...
ANYDATE_OFFSET_SEC=$offset $GO test -overlay "$dir/overlay.json" -count=1 -shuffle=on "$@"
