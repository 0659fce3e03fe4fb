#!/bin/sh
# Prices an order: {"total": 42} unless the input asks for an error.
case "$1" in
  *'"fail":"typed"'*) printf '{"errorType":"Busy","errorMessage":"pricing is busy"}\n'; exit 1 ;;
  *'"fail":"plain"'*) echo "pricing crashed" >&2; exit 4 ;;
  *'"fail":"garbage"'*) echo "not json"; exit 0 ;;
  *'"big"'*) printf '{"total":250}\n' ;;
  *) printf '{"total":42}\n' ;;
esac
