#!/bin/sh
# Extract, failing: the document cannot be read.
echo '{"errorType":"UnsupportedDocument","errorMessage":"the file is not a PDF, although its name says so"}'
exit 1
