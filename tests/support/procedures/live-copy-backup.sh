#!/usr/bin/env bash
# FLAW (b): copies while traffic runs, without draining, on a slow medium (msgfiles first,
# the databases a second later, as a tape would).
set -euo pipefail
mkdir -p "$BACKUP_DIR/db" "$BACKUP_DIR/mta" "$BACKUP_DIR/config"
cp -a "$INTERMAIL/msgfiles" "$BACKUP_DIR/msgfiles"
sleep 1
for p in db/mbox db/msgid db/entry db/index db/dircache mta/spool config/config.db; do
  cp -a "$INTERMAIL/$p" "$BACKUP_DIR/$p"
done
find "$BACKUP_DIR/db" -name '__db.*' -delete
