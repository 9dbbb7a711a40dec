#!/usr/bin/env bash
# FLAW (c) setup: keeps yesterday's databases beside today's full backup.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" drain allservers
mkdir -p "$BACKUP_DIR/old/db"
for e in mbox msgid entry index dircache; do cp -a "$INTERMAIL/db/$e" "$BACKUP_DIR/old/db/$e"; done
"$IMCTRL" --root "$INTERMAIL" restart allservers
sleep 2
"$IMCTRL" --root "$INTERMAIL" drain allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  mkdir -p "$BACKUP_DIR/$(dirname "$p")"
  cp -a "$INTERMAIL/$p" "$BACKUP_DIR/$p"
done
find "$BACKUP_DIR" -name '__db.*' -delete
"$IMCTRL" --root "$INTERMAIL" restart allservers
