#!/bin/sh
# StartTraining: the provider job is running.
printf '%s\n' '{"provider_job_id":"local-0123456789abcdef01234567","status":"InProgress","done":false}'
