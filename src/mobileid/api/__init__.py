"""The HTTP service: a FastAPI app over the same use cases as the command line.

Only this package imports FastAPI. ``create_app(settings)`` builds an app (nothing is created
at import); ``mobileid serve`` runs it under uvicorn.
"""

from mobileid.api.app import create_app
from mobileid.api.options import ApiOptions

__all__ = ["ApiOptions", "create_app"]
