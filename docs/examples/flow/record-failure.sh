#!/bin/sh
# RecordFailure: the document record keeps the reason.
printf '%s' "$1" | jq -c '{document_id, status: "failed", reason: .error.Cause}'
