"""The one error hierarchy of mobileid.

::

    MobileIdError
    ├── InputError (also ValueError): the caller sent something we cannot use
    │   ├── UnsupportedImage        not an image, or a format we do not read
    │   ├── CorruptImage            an image format we read, but the data is broken
    │   ├── ImageTooLarge           over the file-size, pixel-count or dimension limit
    │   ├── ImageTooSmall           too few pixels to hold a usable face
    │   ├── AnimatedImage           several frames; we identify from one still
    │   ├── NoFaceFound             decoded fine, but no face was detected
    │   ├── LowQualityCapture       a face, but too small, blurred, dark, bright or turned
    │   └── InvalidArgument         a bad option or field (not an image problem)
    ├── NotFound (also LookupError) a subject or gallery that does not exist
    ├── PipelineMismatch            two embeddings from different pipelines were compared
    ├── ServiceBusy                 every worker is busy and the queue is full: try again later
    │   └── WorkerLost              the worker process running this request's stages stopped
    ├── BackendUnavailable          a server we depend on (Milvus, a database) is down or slow
    └── CertificationRefused        the operator's training record falls short of the criteria

Every message names the field, what was expected and what came, so that a person in the field
or a script can act on it. Each class carries a stable ``code`` (for the API's problem+json
and for logs) and an ``exit_code`` used by the CLI.
"""

from __future__ import annotations


class MobileIdError(Exception):
    """Base of every error mobileid raises on purpose."""

    code = "mobileid_error"
    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InputError(MobileIdError, ValueError):
    """The input cannot be used; nothing was changed."""

    code = "invalid_input"
    exit_code = 2


class UnsupportedImage(InputError):
    code = "unsupported_image"
    exit_code = 3


class CorruptImage(InputError):
    code = "corrupt_image"
    exit_code = 3


class ImageTooLarge(InputError):
    code = "image_too_large"
    exit_code = 3


class ImageTooSmall(InputError):
    code = "image_too_small"
    exit_code = 3


class AnimatedImage(InputError):
    code = "animated_image"
    exit_code = 3


class NoFaceFound(InputError):
    code = "no_face_found"
    exit_code = 4


class LowQualityCapture(InputError):
    """A face was found but the capture is not good enough; ``reasons`` say what to do."""

    code = "low_quality_capture"
    exit_code = 4

    def __init__(self, message: str, *, reasons: tuple[str, ...] = (), field: str | None = None):
        super().__init__(message, field=field)
        self.reasons = reasons


class InvalidArgument(InputError):
    code = "invalid_argument"
    exit_code = 2


class NotFound(MobileIdError, LookupError):
    code = "not_found"
    exit_code = 5


class PipelineMismatch(MobileIdError):
    code = "pipeline_mismatch"
    exit_code = 6


class ServiceBusy(MobileIdError):
    """The service's bounded work queue is full; ``retry_after_s`` says when to try again."""

    code = "service_busy"
    exit_code = 11

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WorkerLost(ServiceBusy):
    """The worker process running a request's CPU-bound stages died or overran its time limit;
    it is replaced, nothing was stored, and the request may be sent again."""

    code = "worker_lost"


class BackendUnavailable(MobileIdError):
    """A backend server did not answer within its time limit; nothing was half-written."""

    code = "backend_unavailable"
    exit_code = 12

    def __init__(
        self, message: str, *, field: str | None = None, retry_after_s: int | None = None
    ) -> None:
        super().__init__(message, field=field)
        # Set while the backend's circuit breaker fails requests fast: when the next try comes.
        self.retry_after_s = retry_after_s


class CertificationRefused(MobileIdError):
    """A certification the operator's training record does not support (the figures are in
    the message and ``figures``); a supervisor may still certify with a stated exemption."""

    code = "certification_refused"
    exit_code = 13

    def __init__(self, message: str, *, figures: dict[str, object]) -> None:
        super().__init__(message, field="username")
        self.figures = figures
