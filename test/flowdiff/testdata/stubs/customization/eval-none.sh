#!/bin/sh
# PrepareEvaluation: nothing held out, no evaluation.
printf '%s\n' '{"targets":[],"count":0}'
