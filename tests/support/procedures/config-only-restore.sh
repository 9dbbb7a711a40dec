#!/usr/bin/env bash
# The smallest correct restore after damage to config.db: stop, put back config.db alone from
# the backup good-backup.sh took, start. Mail, accounts and flags since the backup are kept.
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
cp -a "$BACKUP_DIR/config/config.db" "$INTERMAIL/config/config.db"
"$IMCTRL" --root "$INTERMAIL" start allservers
