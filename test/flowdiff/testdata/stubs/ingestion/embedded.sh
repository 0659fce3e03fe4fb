#!/bin/sh
# Embed: vectors stored in the blob store.
printf '%s\n' '{"tenant":"acme","knowledge_base":"docs","document_id":"doc_5c1f0e9b2a7d4e38","name":"report.pdf","key":"tenants/acme/kb/docs/report.pdf","action":"upsert","content_hash":"sha256:7f83b165","unchanged":false,"sections_key":"ingest/acme/docs/doc_5c1f0e9b2a7d4e38/sections.json","chunks_key":"ingest/acme/docs/doc_5c1f0e9b2a7d4e38/chunks.json","vectors_key":"ingest/acme/docs/doc_5c1f0e9b2a7d4e38/vectors.bin","sections":14,"chunks":57}'
