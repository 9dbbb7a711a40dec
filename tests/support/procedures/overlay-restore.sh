#!/usr/bin/env bash
# FLAW (e): copies the backup over the damaged tree without removing what the backup did not
# contain (newer message files, newer log files stay).
set -euo pipefail
"$IMCTRL" --root "$INTERMAIL" stop allservers
cp -a "$BACKUP_DIR/." "$INTERMAIL/"
"$IMBOXMAINT" --root "$INTERMAIL" newuidvalidity
"$IMCTRL" --root "$INTERMAIL" start allservers
