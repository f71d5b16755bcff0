"""A worker process of the CPU-bound stages: ``python -m mobileid.service.stage_worker IN OUT``.

Started by the HTTP service (:mod:`mobileid.api.workers`) with two inherited pipe ends: it
reads the face parameters and capture limits first, loads the face and finger pipelines once,
says ``ready``, then answers one stage request at a time until told to stop or until the
service goes away. It is a fresh interpreter (not a fork of the server, whose threads and
database connections must not be copied) and imports neither the server nor its caller's
main module, so it starts the same way under any front end.
"""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection
from typing import Any

from mobileid.errors import MobileIdError


def serve(inbox: Connection, outbox: Connection) -> None:
    """A worker's life: load the pipelines, say so, then run stages until told to stop."""
    from mobileid.face.pipeline import load_face_pipeline
    from mobileid.finger.pipeline import load_finger_pipeline
    from mobileid.service.stages import embed_face_bytes, extract_prints

    face, limits = inbox.recv()
    face_pipe = load_face_pipeline(face)
    finger_pipe = load_finger_pipeline(limits=limits)
    outbox.send(("ready", os.getpid()))
    while True:
        try:
            message = inbox.recv()
        except EOFError:  # the service has gone
            return
        if message is None:
            return
        kind, args = message
        try:
            if kind == "face":
                answer: tuple[str, Any] = ("ok", embed_face_bytes(face_pipe, limits, *args))
            else:
                answer = ("ok", extract_prints(finger_pipe, *args))
        except MobileIdError as exc:  # a refusal (no face, corrupt image...) for the caller
            answer = ("error", exc)
        except Exception as exc:  # a fault: the service answers 500, as it would in process
            answer = ("fault", f"{type(exc).__name__}: {exc}")
        try:
            outbox.send(answer)
        except Exception as exc:  # an answer that does not pickle is a fault too
            outbox.send(("fault", f"{kind}: the answer could not be sent back: {exc}"))


if __name__ == "__main__":
    serve(
        Connection(int(sys.argv[1]), writable=False),
        Connection(int(sys.argv[2]), readable=False),
    )
