#!/usr/bin/env bash
# FLAW (a): mta/spool is forgotten, so mail waiting in the queue is not in the backup.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" drain allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache config/config.db; do
  mkdir -p "$BACKUP_DIR/$(dirname "$p")"
  cp -a "$INTERMAIL/$p" "$BACKUP_DIR/$p"
done
find "$BACKUP_DIR/db" -name '__db.*' -delete
"$IMCTRL" --root "$INTERMAIL" restart allservers
