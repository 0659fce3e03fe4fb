#!/bin/sh
# Embed: every chunk has a vector.
printf '%s' "$1" | jq -c '. + {vectors_key: "work/\(.tenant)/\(.knowledge_base)/\(.document_id)/vectors.bin"}'
