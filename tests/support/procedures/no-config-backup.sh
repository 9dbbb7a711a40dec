#!/usr/bin/env bash
# FLAW (d): config/config.db is forgotten.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" drain allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool; do
  mkdir -p "$BACKUP_DIR/$(dirname "$p")"
  cp -a "$INTERMAIL/$p" "$BACKUP_DIR/$p"
done
find "$BACKUP_DIR/db" -name '__db.*' -delete
"$IMCTRL" --root "$INTERMAIL" restart allservers
