#!/bin/sh
# AwaitApproval: the admin rejected the model.
printf '%s\n' '{"decision":"reject","reviewer":"carol","comment":"too narrow"}'
