#!/usr/bin/env bash
# FLAW (a), restore side: puts back what the backup has (no spool).
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache config/config.db; do
  rm -rf "${INTERMAIL:?}/$p"
  mkdir -p "$INTERMAIL/$(dirname "$p")"
  cp -a "$BACKUP_DIR/$p" "$INTERMAIL/$p"
done
rm -rf "${INTERMAIL:?}/mta/spool"
"$IMBOXMAINT" --root "$INTERMAIL" newuidvalidity
"$IMCTRL" --root "$INTERMAIL" start allservers
