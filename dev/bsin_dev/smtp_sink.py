"""Local SMTP server that keeps every message it receives as an ``.eml`` file.

The demo and the tests deliver reports over real SMTP to this sink instead of a mail
provider, so that what a partner would receive can be opened in any mail client.

    python -m bsin_dev.smtp_sink --outbox data/outbox --port 8025

Files are named ``<counter>_<country>_<YYYY-MM>.eml`` (country and month from the
``X-BSIN-Country`` / ``X-BSIN-Report-Month`` headers that ``bsin.reporting.report.build_message``
sets; ``message`` when absent). The counter continues after the files already in the
outbox, so a restarted sink never overwrites an earlier delivery.

For failure drills (tests, issue 6) the sink can misbehave on purpose: close the next N
connections before the greeting, answer the next N messages with an SMTP error code
(421, 451, 554, ...) instead of storing them, drop the connection after DATA without
answering (with or without storing the message first: the second is a lost reply), or
refuse one recipient address at RCPT TO (550, 450, ...). Faults are switched on a running sink through ``SinkHandle.faults`` or at
start-up through the command-line flags.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import re
import signal
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9-]+")
# Human-readable reason text per code, so a client log says what was simulated.
_REASONS = {
    421: "4.3.2 Service not available, closing transmission channel (simulated)",
    450: "4.2.1 Mailbox unavailable (simulated)",
    451: "4.3.0 Local error in processing, try again later (simulated)",
    452: "4.3.1 Insufficient system storage (simulated)",
    550: "5.1.1 Mailbox unavailable (simulated)",
    554: "5.7.1 Transaction failed: message rejected (simulated)",
}


@dataclass
class ReceivedMessage:
    """One message the sink accepted and stored."""

    path: Path
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Faults:
    """Switchable misbehaviour; each counter is consumed one event at a time (thread-safe)."""

    refuse: int = 0
    reply_code: int = 0
    reply_count: int = 0
    disconnect: int = 0
    lost_reply: int = 0
    reply_delay: float = 0.0
    refused_rcpt: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refuse_connections(self, n: int) -> None:
        """Close the next ``n`` connections before the SMTP greeting."""
        with self._lock:
            self.refuse = n

    def reply(self, code: int, n: int = 1) -> None:
        """Answer the next ``n`` messages with ``code`` at end of DATA and store nothing."""
        if not 400 <= code <= 599:
            raise ValueError(f"reply code {code} is not an SMTP error code: use 4xx or 5xx")
        with self._lock:
            self.reply_code, self.reply_count = code, n

    def disconnect_after_data(self, n: int = 1) -> None:
        """Drop the next ``n`` connections after receiving DATA, without reply or storage."""
        with self._lock:
            self.disconnect = n

    def lose_reply(self, n: int = 1) -> None:
        """Store the next ``n`` messages, then drop the connection before replying to DATA.

        The client cannot tell whether the message arrived: the case a retry duplicates.
        """
        with self._lock:
            self.lost_reply = n

    def delay_replies(self, seconds: float) -> None:
        """Wait ``seconds`` before answering each DATA (a slow server: overlapping sends)."""
        with self._lock:
            self.reply_delay = seconds

    def refuse_recipient(self, address: str, code: int = 550, n: int = 1_000_000) -> None:
        """Answer RCPT TO for ``address`` with ``code`` the next ``n`` times (others pass)."""
        if not 400 <= code <= 599:
            raise ValueError(f"reply code {code} is not an SMTP error code: use 4xx or 5xx")
        with self._lock:
            self.refused_rcpt[address.lower()] = (code, n)

    def clear(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self.refuse = self.reply_count = self.disconnect = self.reply_code = 0
            self.lost_reply = 0
            self.reply_delay = 0.0
            self.refused_rcpt.clear()

    def _take_rcpt(self, address: str) -> int:
        """The code to refuse ``address`` with, or 0 to accept it."""
        with self._lock:
            code, n = self.refused_rcpt.get(address.lower(), (0, 0))
            if n <= 0:
                return 0
            self.refused_rcpt[address.lower()] = (code, n - 1)
            return code

    def _take(self, name: str) -> bool:
        with self._lock:
            count_attr = "reply_count" if name == "reply" else name
            if getattr(self, count_attr) > 0:
                setattr(self, count_attr, getattr(self, count_attr) - 1)
                return True
            return False


class _Outbox:
    """aiosmtpd handler: store each message under a fresh counter."""

    def __init__(self, outbox: Path, faults: Faults) -> None:
        self.outbox = outbox
        self.faults = faults
        self.messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        outbox.mkdir(parents=True, exist_ok=True)
        existing = [int(p.name.split("_", 1)[0]) for p in outbox.glob("[0-9]*_*.eml")]
        self._counter = max(existing, default=0)

    async def handle_RCPT(self, server: SMTP, session, envelope, address, rcpt_options) -> str:  # noqa: N802 (aiosmtpd hook name)
        code = self.faults._take_rcpt(address)
        if code:
            log.warning("smtp sink: refusing recipient %s with %s (simulated fault)", address, code)
            return f"{code} {_REASONS.get(code, 'Recipient refused (simulated)')}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session, envelope) -> str:  # noqa: N802 (aiosmtpd hook name)
        if self.faults.reply_delay:
            await asyncio.sleep(self.faults.reply_delay)
        if self.faults._take("disconnect"):
            log.warning("smtp sink: dropping connection after DATA (simulated fault)")
            server.transport.abort()
            return "421 4.4.2 Connection dropped (simulated)"
        if self.faults._take("reply"):
            code = self.faults.reply_code
            log.warning("smtp sink: answering %s (simulated fault)", code)
            return f"{code} {_REASONS.get(code, 'Simulated failure')}"
        raw: bytes = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        country = _SAFE.sub("", str(msg.get("X-BSIN-Country", ""))) or "message"
        month = _SAFE.sub("", str(msg.get("X-BSIN-Report-Month", "")))
        with self._lock:
            self._counter += 1
            stem = f"{self._counter:04d}_{country}" + (f"_{month}" if month else "")
            path = self.outbox / f"{stem}.eml"
            tmp = path.with_suffix(".eml.part")
            tmp.write_bytes(raw)
            # Rename so a reader polling the outbox never sees half a file.
            tmp.replace(path)
            self.messages.append(
                ReceivedMessage(path, envelope.mail_from, list(envelope.rcpt_tos), msg)
            )
        log.info("smtp sink: stored %s for %s", path.name, ", ".join(envelope.rcpt_tos))
        if self.faults._take("lost_reply"):
            log.warning("smtp sink: stored %s, dropping the reply (simulated fault)", path.name)
            server.transport.abort()
            return "421 4.4.2 Connection dropped (simulated)"
        return "250 2.0.0 OK: queued as " + stem


class _Refuser(asyncio.Protocol):
    """Closes the connection at once: the client sees the server hang up before greeting."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()


class _Login:
    """aiosmtpd authenticator accepting one login and password (AUTH PLAIN/LOGIN)."""

    def __init__(self, login: str, password: str) -> None:
        self._expected = (login.encode(), password.encode())

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login,
                auth_data.password,
            )
            == self._expected
        )
        return AuthResult(success=ok, handled=False)


class SinkHandle:
    """A running sink in a background thread: ``port``, ``messages``, ``faults``, ``stop()``."""

    def __init__(
        self, outbox: Path, host: str, port: int, auth: tuple[str, str] | None = None
    ) -> None:
        self.outbox = Path(outbox)
        self.host = host
        self._auth = auth
        self.faults = Faults()
        self._handler = _Outbox(self.outbox, self.faults)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(port,), name="bsin-smtp-sink", daemon=True
        )
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise OSError(
                f"SMTP sink could not listen on {host}:{port}: {self._error}; "
                "choose another --port or stop the process that holds it"
            ) from self._error
        sock = self._server.sockets[0]
        self.port: int = sock.getsockname()[1]

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Messages stored so far, in arrival order."""
        return list(self._handler.messages)

    def _factory(self) -> asyncio.Protocol:
        if self.faults._take("refuse"):
            log.warning("smtp sink: refusing a connection (simulated fault)")
            return _Refuser()
        # A generous size limit: reports carry several PNG charts.
        if self._auth:
            # Plain-text AUTH on loopback, to test that a login's password is never logged.
            return SMTP(
                self._handler,
                data_size_limit=50 * 1024 * 1024,
                loop=self._loop,
                authenticator=_Login(*self._auth),
                auth_required=True,
                auth_require_tls=False,
            )
        return SMTP(self._handler, data_size_limit=50 * 1024 * 1024, loop=self._loop)

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                self._loop.create_server(self._factory, host=self.host, port=port)
            )
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def stop(self) -> None:
        """Stop listening and end the background thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def wait(self) -> None:
        """Block until the sink is stopped (used by the command line)."""
        self._thread.join()

    def __enter__(self) -> SinkHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sink(
    outbox: Path | str,
    port: int = 0,
    host: str = "127.0.0.1",
    auth: tuple[str, str] | None = None,
) -> SinkHandle:
    """Start a sink storing into ``outbox``; ``port=0`` picks a free port (see ``.port``).

    ``auth=(login, password)`` makes the sink require that SMTP login.
    """
    return SinkHandle(Path(outbox), host, port, auth)


def main(argv: list[str] | None = None) -> None:
    """Command line: run a sink until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outbox", type=Path, required=True, help="folder for the .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--refuse", type=int, default=0, help="close the first N connections")
    parser.add_argument("--reply-code", type=int, default=0, help="answer this 4xx/5xx code ...")
    parser.add_argument("--reply-count", type=int, default=1, help="... to the first N messages")
    parser.add_argument("--disconnect", type=int, default=0, help="drop N connections after DATA")
    parser.add_argument(
        "--lose-reply", type=int, default=0, help="store N messages, then drop the reply"
    )
    parser.add_argument(
        "--refuse-rcpt", action="append", default=[], help="answer RCPT TO for ADDRESS with 550"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sink = start_sink(args.outbox, args.port, args.host)
    sink.faults.refuse_connections(args.refuse)
    if args.reply_code:
        sink.faults.reply(args.reply_code, args.reply_count)
    sink.faults.disconnect_after_data(args.disconnect)
    sink.faults.lose_reply(args.lose_reply)
    for address in args.refuse_rcpt:
        sink.faults.refuse_recipient(address)
    log.info("smtp sink listening on %s:%s, storing into %s", args.host, sink.port, args.outbox)
    signal.signal(signal.SIGTERM, lambda *_: sink.stop())
    try:
        sink.wait()
    except KeyboardInterrupt:
        sink.stop()


if __name__ == "__main__":
    main()
