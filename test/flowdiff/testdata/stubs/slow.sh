#!/bin/sh
# Takes longer than the 1-second TimeoutSeconds of the states that call it.
sleep 2
printf '"late"\n'
