#!/usr/bin/env bash
# A correct custom restore: stop, replace exactly the backed-up paths, give every folder a new
# UIDVALIDITY (the step chapter 13 misses: README, "UIDs after a restore"), restart.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  rm -rf "${INTERMAIL:?}/$p"
  mkdir -p "$INTERMAIL/$(dirname "$p")"
  cp -a "$BACKUP_DIR/$p" "$INTERMAIL/$p"
done
"$IMBOXMAINT" --root "$INTERMAIL" newuidvalidity
"$IMCTRL" --root "$INTERMAIL" start allservers
