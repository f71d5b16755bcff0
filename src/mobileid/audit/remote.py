"""Remote witnesses: each witnessed head is also sent off the machine.

A local witness file only helps while the attacker cannot write where it lives; a copy on
another machine survives even a root compromise of this one. ``MOBILEID_AUDIT_WITNESS_URL``
chooses one:

* ``https://...`` or ``http://...``: each head is POSTed as one JSON object (the witness line);
  any 2xx answer acknowledges it;
* ``syslog+tcp://HOST:PORT`` or ``syslog+tls://HOST:PORT``: each head is one RFC 5424 message
  (facility auth, severity notice, app ``mobileid-audit``) framed by octet counting (RFC 6587),
  its MSG the witness line.

A remote that is down never stops the service: heads it has not acknowledged are resent, in
order, after the next signed head (the last acknowledged sequence is kept in
``remote-ack.json`` beside the witness file), and ``audit verify`` reports how far behind it is.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from mobileid.audit.witness import FileWitness, WitnessHead
from mobileid.errors import InvalidArgument

log = logging.getLogger("mobileid.audit")

TIMEOUT_S = 5.0
_SCHEMES = ("http", "https", "syslog+tcp", "syslog+tls")


@dataclass(frozen=True)
class RemoteWitness:
    """Where heads are sent; ``url`` as configured."""

    url: str

    @classmethod
    def parse(cls, url: str) -> RemoteWitness:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise InvalidArgument(
                f"MOBILEID_AUDIT_WITNESS_URL: expected one of {', '.join(_SCHEMES)} with a host, "
                f"got {url!r}",
                field="MOBILEID_AUDIT_WITNESS_URL",
            )
        if parts.scheme.startswith("syslog") and parts.port is None:
            raise InvalidArgument(
                f"MOBILEID_AUDIT_WITNESS_URL: expected a port for syslog, got {url!r}",
                field="MOBILEID_AUDIT_WITNESS_URL",
            )
        return cls(url)

    def send(self, heads: Sequence[WitnessHead]) -> None:
        """Deliver ``heads`` in order; raises OSError when the remote does not take them."""
        scheme = urlsplit(self.url).scheme
        if scheme.startswith("syslog"):
            self._syslog(heads, tls=scheme == "syslog+tls")
        else:
            for head in heads:
                self._post(head)

    def _post(self, head: WitnessHead) -> None:
        request = urllib.request.Request(
            self.url,
            data=head.line().rstrip(b"\n"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            if not 200 <= answer.status < 300:
                raise OSError(f"remote witness answered {answer.status}")

    def _syslog(self, heads: Sequence[WitnessHead], *, tls: bool) -> None:
        parts = urlsplit(self.url)
        host, port = str(parts.hostname), int(parts.port or 0)
        with socket.create_connection((host, port), timeout=TIMEOUT_S) as raw:
            sock: socket.socket = raw
            if tls:
                sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
            sock.sendall(b"".join(_syslog_frame(h) for h in heads))
            if tls:
                sock.close()


def _syslog_frame(head: WitnessHead) -> bytes:
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    hostname = socket.gethostname() or "-"
    # <PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID SD MSG; PRI 37 = facility auth (4) * 8 + notice.
    msg = f"<37>1 {stamp} {hostname} mobileid-audit {os.getpid()} head - ".encode()
    msg += head.line().rstrip(b"\n")
    return str(len(msg)).encode() + b" " + msg


class RemotePublisher:
    """Sends witnessed heads to a remote witness, remembering what it acknowledged."""

    def __init__(self, remote: RemoteWitness, witness: FileWitness) -> None:
        self.remote = remote
        self.witness = witness
        self.state = witness.folder / "remote-ack.json"

    def acknowledged(self) -> int:
        try:
            data = json.loads(self.state.read_text(encoding="utf-8"))
            return int(data.get(self.remote.url, 0))
        except (OSError, ValueError, TypeError, AttributeError):
            return 0

    def publish(self, new: Sequence[WitnessHead]) -> None:
        """Send ``new`` heads and any earlier ones the remote has not acknowledged. Called
        with the witness lock held, so publishers never interleave."""
        acked = self.acknowledged()
        backlog: Iterable[WitnessHead] = ()
        if new and acked < new[0].first_sequence - 1:
            backlog = (
                h
                for h in self.witness.heads()
                if isinstance(h, WitnessHead) and acked < h.sequence < new[0].sequence
            )
        pending = [*backlog, *new]
        if not pending:
            return
        try:
            self.remote.send(pending)
        except (OSError, ssl.SSLError) as exc:
            log.warning(
                "remote audit witness %s did not take %d head(s) (will resend): %s",
                self.remote.url,
                len(pending),
                exc,
            )
            return
        self._save(pending[-1].sequence)

    def _save(self, sequence: int) -> None:
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps({self.remote.url: sequence}), encoding="utf-8")
        os.replace(tmp, self.state)


def open_remote(url: str | None, witness: FileWitness) -> RemotePublisher | None:
    return RemotePublisher(RemoteWitness.parse(url), witness) if url else None


def remote_state_path(folder: Path) -> Path:
    return folder / "remote-ack.json"
