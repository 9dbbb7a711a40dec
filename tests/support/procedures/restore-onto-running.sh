#!/usr/bin/env bash
# Restores onto running servers: replaces the backed-up paths while every server keeps running,
# then `imctrl start allservers` (a no-op: they are up). imboxmaint refuses a live store, so it
# is left out as well. The servers keep serving what they had before the restore.
set -euo pipefail
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  rm -rf "${INTERMAIL:?}/$p"
  mkdir -p "$INTERMAIL/$(dirname "$p")"
  cp -a "$BACKUP_DIR/$p" "$INTERMAIL/$p"
done
"$IMCTRL" --root "$INTERMAIL" start allservers
