#!/bin/sh
# ModelStep: the first step asks for two calls; after a round of
# tool calls (Collect marks it) the model answers.
case "$1" in
  *'"round"'*) printf '%s\n' '{"tenant":"acme","run_id":"run_1","next":"done"}' ;;
  *) printf '%s\n' '{"tenant":"acme","run_id":"run_1","next":"tools","calls":["call_0_0","call_0_1"]}' ;;
esac
