#!/bin/sh
# Chunk: the sections became 5 chunks.
printf '%s' "$1" | jq -c '. + {chunks: 5, chunks_key: "work/\(.tenant)/\(.knowledge_base)/\(.document_id)/chunks.json"}'
