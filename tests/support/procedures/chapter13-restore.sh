#!/usr/bin/env bash
# Chapter 13's restore as the guide writes it: stop, replace the backed-up paths, start. It
# forgets the step a restore of db/mbox needs (imboxmaint newuidvalidity): each folder's UIDNEXT
# goes back under the same UIDVALIDITY, and new mail takes UIDs clients cached.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  rm -rf "${INTERMAIL:?}/$p"
  mkdir -p "$INTERMAIL/$(dirname "$p")"
  cp -a "$BACKUP_DIR/$p" "$INTERMAIL/$p"
done
"$IMCTRL" --root "$INTERMAIL" start allservers
