#!/bin/sh
# Fails with a named error, as a Lambda function's error payload names it.
printf '{"errorType":"InvalidDocument","errorMessage":"document is empty"}\n'
exit 1
