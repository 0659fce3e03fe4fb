#!/bin/sh
# PrepareEvaluation: suites for the candidate and its base model.
printf '%s\n' '{"targets":[{"role":"candidate","model":"ft:local-tune:acme:squad:01234567","suite_id":"ft-01234567-candidate"},{"role":"base","model":"local-tune","suite_id":"ft-01234567-base"}],"count":2}'
