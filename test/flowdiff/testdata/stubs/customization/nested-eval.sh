#!/bin/sh
# RunSuite: the evaluation state machine run as a nested execution (startExecution.sync:2).
printf '%s\n' '{"ExecutionArn":"arn:aws:states:us-east-1:123456789012:execution:plinth-evaluation:nested-1","Status":"SUCCEEDED","Output":{"run_id":"run-1","suite_id":"ft-01234567-candidate","status":"succeeded","metrics":{"f1":37.2,"exact_match":26.6}}}'
