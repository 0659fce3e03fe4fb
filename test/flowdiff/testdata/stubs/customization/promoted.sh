#!/bin/sh
# Promote: the alias now names the model.
printf '%s\n' '{"alias":"acme/local-tune","model":"ft:local-tune:acme:squad:01234567","previous":""}'
