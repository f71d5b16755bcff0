"""Reading a file a user named: only regular files, never more than a limit, never hanging.

A path given on the command line or found in an enrolment folder can be anything: a device
(``/dev/zero`` never ends, ``/dev/urandom`` neither), a FIFO (opening one blocks until a writer
comes), a directory, a socket, or a symlink to any of them. ``read_regular`` opens without
blocking, asks the *opened* file what it is (so a swap after a check cannot fool it), and reads
at most ``max_bytes + 1`` bytes, so that a file growing while it is read is still refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mobileid.errors import ImageTooLarge, InputError, InvalidArgument

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_regular(
    path: str | os.PathLike[str],
    max_bytes: int,
    *,
    field: str,
    too_large: type[InputError] = ImageTooLarge,
) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Raises ``InvalidArgument`` (naming ``field`` and the path) for a missing or unreadable
    path or anything but a regular file, and ``too_large`` for a file over the limit.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InvalidArgument(
            f"{field}: expected a readable file, got {str(p)!r} ({exc.strerror or exc})",
            field=field,
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        os.close(fd)
        if info.st_size > max_bytes and stat.S_ISREG(info.st_mode):
            raise too_large(
                f"{field}: expected at most {max_bytes:,} bytes, got {info.st_size:,} bytes "
                f"({str(p)!r})",
                field=field,
            )
        raise InvalidArgument(
            f"{field}: expected a regular file, got {str(p)!r} ({_kind(info.st_mode)})",
            field=field,
        )
    with os.fdopen(fd, "rb", buffering=0) as f:
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = f.read(min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > max_bytes:
        raise too_large(
            f"{field}: expected at most {max_bytes:,} bytes, got more ({str(p)!r})", field=field
        )
    return b"".join(chunks)
