#!/bin/sh
# LoadDataset: the run and its batches of item indexes.
printf '%s\n' '{"suite_id":"qa","run_id":"run_01JDB7R9X4","trigger":"schedule","max_concurrency":2,"batches":[{"run_id":"run_01JDB7R9X4","from":0,"to":2},{"run_id":"run_01JDB7R9X4","from":2,"to":4},{"run_id":"run_01JDB7R9X4","from":4,"to":5}]}'
