#!/bin/sh
# Collect: the round of tool calls is in the conversation.
printf '%s\n' '{"tenant":"acme","run_id":"run_1","round":1}'
