#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (one at a time, FUZZPARALLEL
# workers) and prints a summary line per target: executions, new inputs, result.
# `make test` already runs every target's seed corpus (f.Add and testdata/fuzz).
set -uo pipefail
FUZZTIME=${FUZZTIME:-2m}
FUZZPARALLEL=${FUZZPARALLEL:-1}
GO=${GO:-go}
cd "$(dirname "$0")/.."
summary=()
failed=0
for pkg in $(grep -rl --include='*_test.go' '^func Fuzz' shared functions cdk 2>/dev/null | xargs -n1 dirname | sort -u); do
  for fn in $(grep -h '^func Fuzz' "$pkg"/*_test.go | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    echo "== $pkg $fn ($FUZZTIME)"
    log=$(mktemp)
    if $GO test "./$pkg" -run '^$' -fuzz "^$fn\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 10s -parallel "$FUZZPARALLEL" >"$log" 2>&1; then
      result=ok
    else
      result=FAILED
      failed=1
      tail -30 "$log"
    fi
    last=$(grep -E '^fuzz: elapsed' "$log" | tail -1)
    summary+=("$(printf '%-32s %-22s %-6s %s' "$pkg" "$fn" "$result" "${last#fuzz: }")")
    rm -f "$log"
  done
done
echo
echo "fuzz summary (FUZZTIME=$FUZZTIME per target, $FUZZPARALLEL worker(s)):"
printf '%s\n' "${summary[@]}"
exit $failed
