#!/usr/bin/env bash
# A correct chapter 13.4 backup into an archive: drain, tar.gz the mail system paths, restart.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" drain allservers
tar -C "$INTERMAIL" -czf "$BACKUP_DIR/backup.tar.gz" --exclude='__db.*' \
  msgfiles db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db
"$IMCTRL" --root "$INTERMAIL" start allservers
