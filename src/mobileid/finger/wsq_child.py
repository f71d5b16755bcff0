"""WSQ pixels decoded in a child process, so that a crash of the decoder refuses one print.

The ``wsq`` package wraps NBIS's C decoder, which trusts the file: damaged WSQ data makes it
abort or segfault (the property tests in tests/finger/test_properties.py found such files in
a few hundred tries). In the service's own process that crash would end every search in
flight; in a short-lived child it is one refused print. The child imports only the C module,
runs under a memory limit, and gets a time limit; a decode costs ~0.1 s more this way, small
beside minutiae extraction (~1.5 s per print).
"""

from __future__ import annotations

import struct
import subprocess
import sys

from mobileid.finger.errors import CorruptFingerprintImage

__all__ = ["decode_wsq_pixels"]

TIMEOUT_S = 20.0  # a 64 MP WSQ decodes in a few seconds; a decoder in a loop does not end
MEMORY_BYTES = 4 << 30  # the decoder's own working arrays for a 64 MP print stay well under

# Runs in the child: read WSQ bytes on stdin, write width, height (big-endian) and the pixels.
_CHILD = """
import resource, struct, sys
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
import _wsq
pixels, width, height, _ = _wsq.decompress(sys.stdin.buffer.read())
sys.stdout.buffer.write(struct.pack(">II", width, height) + bytes(pixels))
"""


def decode_wsq_pixels(data: bytes, width: int, height: int, field: str) -> bytes:
    """The ``width`` × ``height`` 8-bit pixels of WSQ ``data`` whose header said that size;
    ``CorruptFingerprintImage`` when the decoder fails, crashes, hangs or disagrees."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD.format(memory=MEMORY_BYTES)],
            input=data,
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CorruptFingerprintImage(
            f"{field}: expected WSQ data the decoder finishes within {TIMEOUT_S:g} s, "
            "got data it was still decoding",
            field=field,
        ) from None
    out = done.stdout
    if done.returncode != 0 or len(out) < 8:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
        raise CorruptFingerprintImage(
            f"{field}: expected complete WSQ data, got data the decoder rejects ({how})",
            field=field,
        )
    got = struct.unpack(">II", out[:8])
    if got != (width, height) or len(out) != 8 + width * height:
        raise CorruptFingerprintImage(
            f"{field}: expected {width}x{height} decoded WSQ pixels, "
            f"got {got[0]}x{got[1]} ({len(out) - 8} bytes)",
            field=field,
        )
    return out[8:]
