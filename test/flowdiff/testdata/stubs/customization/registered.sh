#!/bin/sh
# RegisterModel: registered pending review.
printf '%s\n' '{"model":"ft:local-tune:acme:squad:01234567"}'
