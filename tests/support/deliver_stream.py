"""A child process for crash tests: deliver (and expunge) through the store API, durably,
printing `ack <msgid> <mailbox>/<folder>/<uid>...` only after each call returned.

Usage: python -m tests.support.deliver_stream ROOT SEED
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from harness.layout import Layout
from harness.store.directory import Directory
from harness.store.messagestore import MessageStore, Target
from harness.store.records import Flag


def main(root: str, seed: int) -> None:
    layout = Layout(Path(root))
    rng = random.Random(seed)
    with Directory(layout) as directory:
        mailboxes = [a.mailbox for a in directory.accounts() if a.status.value == "active"]
    store = MessageStore(layout, durable=True)
    out = sys.stdout
    for n in range(100_000):
        if n % 7 == 6:
            mailbox = rng.choice(mailboxes)
            rows = list(store.rows(mailbox, "INBOX"))
            if rows:
                victim = rng.choice(rows)
                out.write(f"intent {victim.key}\n")
                out.flush()
                store.set_flags(victim.key, victim.flags | {Flag.DELETED})
                removed = store.expunge(mailbox, "INBOX", uids=[victim.key.uid])
                out.write(f"expunged {' '.join(str(r.key) for r in removed)}\n")
                out.flush()
            continue
        targets = [Target(m) for m in rng.sample(mailboxes, rng.choice((1, 1, 1, 2, 3)))]
        body = (
            f"Message-ID: <crash-{seed}-{n}@example.com>\nSubject: crash test {n}\n\n"
            + "x" * rng.randrange(100, 20_000)
            + "\n"
        ).encode()
        delivered = store.deliver(body, targets)
        out.write(f"ack {delivered.msgid} {' '.join(str(k) for k in delivered.rows)}\n")
        out.flush()
        if n % 50 == 49:
            store.purge()
            store.checkpoint()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
