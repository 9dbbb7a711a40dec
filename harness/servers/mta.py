"""The MTA: SMTP (aiosmtpd) in front of the spool, and delivery workers behind it.

A message is acknowledged with `250` only once its queue file is durable (`Spool.enqueue`).
Workers resolve each recipient through dirserv and deliver once to the MSS for all of them (the
MSS stores one message file); the queue file is removed only after the MSS committed. While
the MSS or the directory is down, workers retry with exponential backoff and mail waits in the
spool. When dirserv cannot be reached at RCPT time the recipient is accepted and checked at
delivery (unknown ones are then dropped and logged as bounces). A permanent MSS refusal (the
directory names a mailbox the MSS lacks, or the message is invalid) bounces the recipients
concerned the same way; the others are delivered before the queue file goes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from harness.servers.backend import BackendUnavailable
from harness.servers.service import Service
from harness.servers.wire import WireClient, WireError
from harness.store.spool import QueuedMessage, Spool, SpoolDamage, read
from harness.topology import endpoint, setting

log = logging.getLogger("firedrill.mta")
WORKERS = 4
PERMANENT = frozenset({"notfound", "invalid"})
"""MSS refusals of a delivery that retrying cannot cure: the recipients concerned bounce."""


class _TrackedSMTP(SMTP):
    """aiosmtpd's SMTP protocol, registering its session task with the service for drains."""

    def __init__(self, service: MailTransferAgent, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._service = service

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        task = getattr(self, "_handler_coroutine", None)
        if task is not None:
            self._service.track(task, self)


class MailTransferAgent(Service):
    program = "mta"

    async def open(self) -> None:
        self.spool = Spool(self.layout.spool)
        self.spool.root.mkdir(parents=True, exist_ok=True)
        directory, store = endpoint(self.config, "dirserv"), endpoint(self.config, "mss")
        self.dirserv = WireClient(directory.address, directory.port, timeout=5)
        self.mss = WireClient(store.address, store.port, timeout=60)
        self.domains = set((setting(self.config, "mta", "localDomains", "example.com")).split())
        self.max_size = int(setting(self.config, "mta", "maxMessageSize", str(10 * 1024 * 1024)))
        self.max_rcpt = int(setting(self.config, "mta", "maxRecipients", "100"))
        self.retry_initial = float(setting(self.config, "mta", "retryInitialSeconds", "0.2"))
        self.retry_max = float(setting(self.config, "mta", "retryMaxSeconds", "5"))
        self.banner_host = setting(self.config, "mta", "bannerHost", self.endpoint.host)
        self._protocols: dict[asyncio.Task[None], _TrackedSMTP] = {}
        self._queue: asyncio.Queue[QueuedMessage | None] = asyncio.Queue()
        self._stopping = False
        for path in self.spool.paths():
            try:
                self._queue.put_nowait(read(path))
            except SpoolDamage as exc:
                log.error("spool file %s is damaged (%s): left for the operator", path.name, exc)
        self._workers = [asyncio.create_task(self._worker(n)) for n in range(WORKERS)]

    def track(self, task: asyncio.Task[None], protocol: _TrackedSMTP) -> None:
        self._sessions.add(task)
        self._protocols[task] = protocol

        def forget(done: asyncio.Task[None]) -> None:
            self._sessions.discard(done)
            self._protocols.pop(done, None)

        task.add_done_callback(forget)

    async def start_listening(self) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(
            lambda: _TrackedSMTP(
                self,
                self,
                hostname=self.banner_host,
                data_size_limit=self.max_size,
                enable_SMTPUTF8=True,
                decode_data=False,
                ident="InterMail lab MTA (firedrill)",
            ),
            self.endpoint.address,
            self.endpoint.port,
            reuse_address=True,
        )

    # -- SMTP hooks ----------------------------------------------------------------------------

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.max_rcpt:
            return "452 4.5.3 Too many recipients"
        domain = address.rpartition("@")[2].lower()
        if domain not in self.domains:
            return "550 5.7.1 Relaying denied: not a local domain"
        try:
            account = (await self.dirserv.call("lookup", address=address)).result
        except WireError:
            return "550 5.1.1 User unknown"
        except BackendUnavailable:
            log.warning("directory unavailable: accepting %s, checked at delivery", address)
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 Ok (directory unavailable, recipient checked at delivery)"
        if account["status"] != "active":
            return "550 5.2.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: bytes = envelope.original_content or b""
        body = content.replace(b"\r\n", b"\n")
        received = (
            f"Received: from {session.host_name or 'unknown'} "
            f"([{session.peer[0] if session.peer else 'unknown'}]) by {self.banner_host} "
            f"with SMTP; {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\n"
        )
        queued = await asyncio.to_thread(
            self.spool.enqueue,
            envelope.mail_from or "",
            envelope.rcpt_tos,
            received.encode() + body,
        )
        self._queue.put_nowait(queued)
        return f"250 2.0.0 Ok: queued as {queued.queue_id}"

    # -- delivery ------------------------------------------------------------------------------

    async def _worker(self, number: int) -> None:
        while not self._stopping:
            message = await self._queue.get()
            try:
                if message is None:  # the shutdown sentinel
                    return
                await self._deliver(message)
            finally:
                self._queue.task_done()

    async def _deliver(self, message: QueuedMessage) -> None:
        delay = self.retry_initial
        while True:
            try:
                targets = await self._resolve(message)
                delivered = await self._store(message, targets)
                await asyncio.to_thread(self.spool.remove, message)
                log.info("delivered %s to %d mailbox(es)", message.queue_id, delivered)
                return
            except (BackendUnavailable, WireError) as exc:
                if self._stopping:
                    return
                log.info(
                    "delivery of %s deferred (%s); retry in %.1fs", message.queue_id, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)

    async def _resolve(self, message: QueuedMessage) -> dict[str, list[str]]:
        """Mailbox -> the recipients it stands for; recipients without an account bounce."""
        targets: dict[str, list[str]] = {}
        for address in message.recipients:
            try:
                account = (await self.dirserv.call("lookup", address=address)).result
            except WireError as exc:
                if exc.code != "notfound":
                    raise
                log.warning("bounce: %s has no account (queued %s)", address, message.queue_id)
                continue
            targets.setdefault(account["mailbox"], []).append(address)
        return targets

    async def _store(self, message: QueuedMessage, targets: dict[str, list[str]]) -> int:
        """Deliver once to every target mailbox the MSS accepts; returns how many took it.

        A permanent refusal (`PERMANENT`) bounces the recipients of the mailboxes the MSS does
        not have, or every recipient when it refuses the message itself, and the rest is
        delivered; transient errors propagate (the caller retries).
        """
        targets = dict(targets)
        while targets:
            try:
                await self.mss.call("deliver", payload=message.body, mailboxes=list(targets))
                return len(targets)
            except WireError as exc:
                if exc.code not in PERMANENT:
                    raise
                refused = [m for m in targets if not await self._has_inbox(m)]
                for mailbox in refused or list(targets):
                    for address in targets.pop(mailbox):
                        log.warning(
                            "bounce: %s: mailbox %s refused by the MSS: %s (queued %s)",
                            address,
                            mailbox,
                            exc,
                            message.queue_id,
                        )
        return 0

    async def _has_inbox(self, mailbox: str) -> bool:
        try:
            folders = (await self.mss.call("folders", mailbox=mailbox)).result
        except WireError as exc:
            if exc.code != "notfound":
                raise
            return False
        return any(f["folder"] == "INBOX" for f in folders)

    # -- shutdown ------------------------------------------------------------------------------

    async def goodbye(self) -> None:
        for protocol in list(self._protocols.values()):
            transport = protocol.transport
            if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
                transport.write(b"421 4.3.2 Service shutting down\r\n")

    async def flush(self, how: str) -> None:
        """On drain, deliver what is queued for up to the drain timeout; the rest stays spooled."""
        if how == "drain" and not self._queue.empty():
            try:
                await asyncio.wait_for(self._queue.join(), self.drain_timeout)
            except TimeoutError:
                log.info("drain: %d message(s) stay in the spool", self._queue.qsize())
        self._stopping = True
        for _ in self._workers:
            self._queue.put_nowait(None)
        await asyncio.wait(self._workers, timeout=5)
        for worker in self._workers:
            worker.cancel()

    async def close(self) -> None:
        if hasattr(self, "dirserv"):
            await self.dirserv.close()
            await self.mss.close()
