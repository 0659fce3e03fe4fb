#!/bin/sh
# PublishEvent: the events emitted.
printf '%s\n' '{"status":"succeeded","events":["Evaluation Completed"]}'
