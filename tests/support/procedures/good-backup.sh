#!/usr/bin/env bash
# A correct custom chapter 13.4 backup: drain, copy the mail system paths, restart.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" drain allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  mkdir -p "$BACKUP_DIR/$(dirname "$p")"
  cp -a "$INTERMAIL/$p" "$BACKUP_DIR/$p"
done
find "$BACKUP_DIR/db" -name '__db.*' -delete
"$IMCTRL" --root "$INTERMAIL" restart allservers
