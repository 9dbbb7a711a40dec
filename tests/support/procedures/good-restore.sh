#!/usr/bin/env bash
# A correct custom restore: stop, replace exactly the backed-up paths, restart.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  rm -rf "${INTERMAIL:?}/$p"
  mkdir -p "$INTERMAIL/$(dirname "$p")"
  cp -a "$BACKUP_DIR/$p" "$INTERMAIL/$p"
done
"$IMCTRL" --root "$INTERMAIL" start allservers
