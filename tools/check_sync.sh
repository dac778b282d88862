#!/bin/sh
# Fails when the exported library or the cleaned notebooks differ from what is committed:
# `smallfast/` must be what `nbdev-export` makes of `nbs/`, and `nbs/` must be what `nbdev-clean` leaves.
set -e
if ! git rev-parse --git-dir >/dev/null 2>&1; then echo "check_sync: not a git checkout, skipped"; exit 0; fi
nbdev-export
changed=$(git diff --name-only -- smallfast; git ls-files --others --exclude-standard -- smallfast)
if [ -n "$changed" ]; then
  echo "nbdev-export changed smallfast/: the library is out of step with nbs/. Run nbdev-export and commit:"
  echo "$changed"; exit 1
fi
nbdev-clean
changed=$(git diff --name-only -- nbs)
if [ -n "$changed" ]; then
  echo "nbdev-clean changed nbs/: run nbdev-clean and commit the cleaned notebooks:"
  echo "$changed"; exit 1
fi
python tools/make_readme.py --check
echo "check_sync: smallfast/, nbs/ and README.md are in step"
