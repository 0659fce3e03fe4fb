#!/bin/sh
# Fails with Flaky on its first two calls, then succeeds. The call counter lives in
# $FLOWDIFF_TMP, a fresh directory per run.
f="$FLOWDIFF_TMP/flaky-count"
c=$(cat "$f" 2>/dev/null || echo 0)
c=$((c + 1))
echo "$c" > "$f"
if [ "$c" -le 2 ]; then
  printf '{"errorType":"Flaky","errorMessage":"attempt %s"}\n' "$c"
  exit 1
fi
printf '{"attempts":%s}\n' "$c"
