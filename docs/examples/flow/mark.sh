#!/bin/sh
# MarkDocument: the document record after indexing.
printf '%s' "$1" | jq -c '{document_id, status: "indexed", chunks}'
