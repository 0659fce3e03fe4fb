#!/bin/sh
# Extract: same content hash as the indexed version.
printf '%s\n' '{"tenant":"acme","knowledge_base":"docs","document_id":"doc_5c1f0e9b2a7d4e38","name":"report.pdf","key":"tenants/acme/kb/docs/report.pdf","action":"upsert","content_hash":"sha256:7f83b165","unchanged":true}'
