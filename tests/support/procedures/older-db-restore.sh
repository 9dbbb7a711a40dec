#!/usr/bin/env bash
# FLAW (c): restores msgfiles from the latest backup but the databases from an older one.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
for p in msgfiles mta/spool config/config.db; do
  rm -rf "${INTERMAIL:?}/$p"; mkdir -p "$INTERMAIL/$(dirname "$p")"; cp -a "$BACKUP_DIR/$p" "$INTERMAIL/$p"
done
mkdir -p "$INTERMAIL/db"
for e in mbox msgid entry index dircache; do
  rm -rf "${INTERMAIL:?}/db/$e"; cp -a "$BACKUP_DIR/old/db/$e" "$INTERMAIL/db/$e"
done
"$IMBOXMAINT" --root "$INTERMAIL" newuidvalidity
"$IMCTRL" --root "$INTERMAIL" start allservers
