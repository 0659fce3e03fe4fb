#!/bin/sh
# Prepare: read tenant, knowledge base and document name from the S3 key of the event.
printf '%s' "$1" | jq -c '.detail.object.key as $key | ($key | split("/")) as $p
  | {tenant: $p[1], knowledge_base: $p[3], name: $p[4], key: $key,
     document_id: "doc_example", action: "upsert", unchanged: false}'
