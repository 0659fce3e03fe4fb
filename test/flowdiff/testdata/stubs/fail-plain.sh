#!/bin/sh
# Fails without an error payload: the task fails with States.TaskFailed.
echo "disk full" >&2
exit 3
