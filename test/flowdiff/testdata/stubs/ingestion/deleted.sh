#!/bin/sh
# DeleteDocument: the document and its chunks are gone.
printf '%s\n' '{"document_id":"doc_5c1f0e9b2a7d4e38","status":"deleted"}'
