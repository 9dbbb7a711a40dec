#!/usr/bin/env bash
# FLAW (d), restore side: restores everything it has (no config.db).
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool; do
  rm -rf "${INTERMAIL:?}/$p"; mkdir -p "$INTERMAIL/$(dirname "$p")"; cp -a "$BACKUP_DIR/$p" "$INTERMAIL/$p"
done
"$IMBOXMAINT" --root "$INTERMAIL" newuidvalidity
"$IMCTRL" --root "$INTERMAIL" start allservers
