"""The README's route table names the routes the service has, with their methods: all of
them, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import Deployment

README = Path(__file__).resolve().parents[2] / "README.md"
API = "/api/v1"


def _readme_routes(text: str) -> set[tuple[str, str]]:
    """(METHOD, path) for each route in the table's first column; a path written without a
    method takes the one before it (``POST /searches/face`, `/searches/fingers```). Query
    strings are dropped and path parameters written ``{}``."""
    routes: set[tuple[str, str]] = set()
    for row in re.findall(r"^\| (`(?:GET|POST|PUT|PATCH|DELETE) [^|]*)\|", text, re.M):
        method = ""
        for span in re.findall(r"`([^`]+)`", row):
            words = span.split()
            if words[0] in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                method, words = words[0], words[1:]
            path = re.sub(r"\{[^}]*\}", "{}", words[0].split("?")[0])
            routes.add((method, path))
    return routes


def test_readme_routes_are_the_services(deployment: Deployment) -> None:
    spec = deployment.client.app.openapi()  # type: ignore[attr-defined]
    served = {
        (method.upper(), re.sub(r"\{[^}]*\}", "{}", path.removeprefix(API)))
        for path, ops in spec["paths"].items()
        for method in ops
    }
    named = _readme_routes(README.read_text(encoding="utf-8"))
    assert len(named) >= 15 and ("POST", "/searches/fingers") in named
    assert (named - served, served - named) == (set(), set())


def test_the_table_reading_inherits_methods_and_drops_queries() -> None:
    row = "| `GET /a/{id}`, `/b?x=1` {body} | what | who |\n| `POST /c` | w | w |"
    assert _readme_routes(row) == {("GET", "/a/{}"), ("GET", "/b"), ("POST", "/c")}
