#!/bin/sh
# Prepare for an Object Created event: an upsert job.
printf '%s\n' '{"tenant":"acme","knowledge_base":"docs","document_id":"doc_5c1f0e9b2a7d4e38","name":"report.pdf","key":"tenants/acme/kb/docs/report.pdf","action":"upsert","unchanged":false}'
