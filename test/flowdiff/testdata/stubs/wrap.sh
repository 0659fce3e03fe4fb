#!/bin/sh
# Returns {"handled": <input>, "by": "wrap"}.
printf '{"handled":%s,"by":"wrap"}\n' "$1"
