#!/bin/sh
# MarkDocument: the document record after indexing.
printf '%s\n' '{"document_id":"doc_5c1f0e9b2a7d4e38","status":"indexed","chunks":57}'
