#!/usr/bin/env bash
# Runs one Lambda function on one event locally, the way Lambda runs it:
#   test/tools/invoke.sh FN EVENT            (make invoke FN=gateway EVENT=events/apigw-models.json)
# Builds ./functions/FN for the host architecture (CGO off, -tags lambda.norpc, stripped),
# starts it under the AWS Lambda Runtime Interface Emulator on free loopback ports, POSTs
# the event, prints the response on stdout (the emulator's and the function's logs go to
# stderr), and stops the emulator. The exit status is 0 when the emulator answered 200.
#
# PLINTH_INVOKE_BOOTSTRAP names an already built bootstrap to run instead of building one.
#
# The function's environment is this shell's; unset AWS settings get harmless defaults
# (region, dummy credentials, AWS_ENDPOINT_URL pointing at a closed port) so nothing
# reaches a real AWS account by accident. Export real ones (and PLINTH_TABLE, …) to
# talk to AWS or to an emulator.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FN EVENT   e.g. $0 gateway events/apigw-models.json" >&2
  exit 2
fi
fn=$1
event=$2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ -f $root/functions/$fn/main.go ]] || { echo "invoke: no function functions/$fn" >&2; exit 2; }
[[ -f $event ]] || { echo "invoke: no event file $event" >&2; exit 2; }
event=$(cd "$(dirname "$event")" && pwd)/$(basename "$event")

rie_module=github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
tools_bin=${PLINTH_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/plinth-tools/bin}
rie=$(command -v aws-lambda-rie || true)
if [[ -z $rie ]]; then
  rie=$tools_bin/aws-lambda-rie
  if [[ ! -x $rie ]]; then
    echo "invoke: installing the Lambda Runtime Interface Emulator into $tools_bin" >&2
    GOBIN=$tools_bin CGO_ENABLED=0 go install "$rie_module"
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/plinth-invoke-XXXXXX")
rie_pid=
cleanup() {
  if [[ -n $rie_pid ]] && kill -0 "$rie_pid" 2>/dev/null; then
    kill -TERM "$rie_pid" 2>/dev/null || true
    wait "$rie_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -n ${PLINTH_INVOKE_BOOTSTRAP:-} ]]; then
  cp "$PLINTH_INVOKE_BOOTSTRAP" "$work/bootstrap"
else
  echo "invoke: building functions/$fn" >&2
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -tags lambda.norpc -ldflags='-s -w' -o "$work/bootstrap" "./functions/$fn")
fi

# free_port prints a loopback port nothing listens on, below Linux's ephemeral range
# (32768+), where outgoing connections would make it busy.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "invoke: no free port found" >&2
  return 1
}
export AWS_LAMBDA_FUNCTION_NAME=$fn AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024
export AWS_REGION=${AWS_REGION:-eu-west-1} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-eu-west-1}}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDPLINTHLOCAL} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-plinth-local-secret}
if [[ -z ${AWS_ENDPOINT_URL:-} ]]; then
  no_aws=1
  echo "invoke: AWS_ENDPOINT_URL is unset, so AWS calls (DynamoDB, S3, ...) go to a closed local port and fail at once:" >&2
  echo "invoke: a function that needs its table answers 503. Point AWS_ENDPOINT_URL and PLINTH_TABLE at DynamoDB or an emulator for real answers." >&2
fi
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:9} AWS_EC2_METADATA_DISABLED=true
export PLINTH_TABLE=${PLINTH_TABLE:-plinth}

# A port picked free may be taken before the emulator binds it: try a few times.
ready=
for attempt in 1 2 3; do
  api_port=$(free_port)
  runtime_port=$(free_port)
  while [[ $runtime_port == "$api_port" ]]; do runtime_port=$(free_port); done
  (cd "$work" && exec "$rie" --runtime-interface-emulator-address "127.0.0.1:$api_port" \
    --runtime-api-address "127.0.0.1:$runtime_port" "$work/bootstrap") >&2 &
  rie_pid=$!
  for _ in $(seq 1 500); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null; then ready=1; break; fi
    kill -0 "$rie_pid" 2>/dev/null || break
    sleep 0.01
  done
  [[ -n $ready ]] && break
  wait "$rie_pid" 2>/dev/null || true
done
[[ -n $ready ]] || { echo "invoke: the emulator did not start" >&2; exit 1; }

status=$(curl -sS -o "$work/response" -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' --data-binary "@$event" \
  "http://127.0.0.1:$api_port/2015-03-31/functions/function/invocations")
# A streaming response is a JSON prelude, eight NUL bytes, then the body: show it as
# prelude, newline, body.
tr -s '\000' '\n' <"$work/response"
echo
[[ $status == 200 ]] || { echo "invoke: the emulator answered $status" >&2; exit 1; }
if [[ -n ${no_aws:-} ]] && grep -q '"statusCode":503' "$work/response"; then
  echo "invoke: the function answered 503 because no AWS endpoint is set (see above)" >&2
fi
