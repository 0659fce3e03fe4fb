#!/bin/sh
# Validate: a local-tune job, polled every second.
printf '%s\n' '{"provider":"local","poll_seconds":1}'
