#!/usr/bin/env bash
# Its restore: stop, replace the paths from the archive, new UIDVALIDITY, start.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
for p in msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  rm -rf "${INTERMAIL:?}/$p"
done
tar -C "$INTERMAIL" -xzf "$BACKUP_DIR/backup.tar.gz"
"$IMBOXMAINT" --root "$INTERMAIL" newuidvalidity
"$IMCTRL" --root "$INTERMAIL" start allservers
