#!/bin/sh
# AwaitApproval: the admin approved the model.
printf '%s\n' '{"decision":"approve","reviewer":"alice","comment":"beats the base"}'
