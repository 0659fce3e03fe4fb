#!/bin/sh
# CheckTraining: the provider job completed.
printf '%s\n' '{"provider_job_id":"local-0123456789abcdef01234567","status":"Completed","done":true,"output_model":"tenants/acme/customization/jobs/ftjob-0123456789abcdef01234567/output/model.bin"}'
