#!/bin/sh
# Prepare for an Object Deleted event: a delete job.
printf '%s\n' '{"tenant":"acme","knowledge_base":"docs","document_id":"doc_5c1f0e9b2a7d4e38","name":"report.pdf","key":"tenants/acme/kb/docs/report.pdf","action":"delete","unchanged":false}'
