"""The README's command lines are commands the CLI has.

Every ``mobileid ...`` the README shows (its "Command line" block and the commands quoted in
its text) is walked down the real parser: each sub-command must exist, and each ``--option``
must be one that sub-command takes. Positional arguments and values are not checked: the
README writes them as placeholders.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from mobileid.cli.main import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_commands(text: str) -> list[str]:
    """The block's commands (continuation lines joined, trailing "(...)" notes dropped) and
    every inline code span that starts with ``mobileid``."""
    out: list[str] = []
    block = re.search(r"## Command line\s+```sh\n(.*?)```", text, re.S)
    assert block is not None, "README: expected a '## Command line' sh block"
    for line in block[1].splitlines():
        line = re.sub(r"\s{3,}\(.*\)\s*$", "", line)  # a note beside the command
        if line.startswith("mobileid "):
            out.append(line)
        elif line.strip() and out:
            out[-1] += " " + line.strip()
    out += re.findall(r"`(mobileid [^`]+)`", text)
    return out


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._option_string_actions)


def _check(command: str, root: argparse.ArgumentParser) -> list[str]:
    """What in ``command`` the parser does not have (empty: all of it is there)."""
    problems: list[str] = []
    tokens = [t.strip("[]()") for t in command.split()[1:]]
    current, siblings = [root], _children(root)
    for token in tokens:
        if not token or token in {"|", "..."}:
            continue
        if token.startswith("--"):
            flag = token.split("=")[0]
            problems += [f"{flag} (in {command!r})" for p in current if flag not in _options(p)]
            continue
        names = token.split("|")
        kids = _children(current[0])
        if kids:  # a sub-command is required here: this token names it (or alternatives)
            missing = [n for n in names if n not in kids]
            problems += [f"sub-command {n!r} (in {command!r})" for n in missing]
            found = [kids[n] for n in names if n in kids]
            if not found:  # lost: what follows cannot be placed
                return problems
            siblings, current = kids, found
        elif any(n in siblings for n in names):  # "... | show ...": another sub-command
            current = [siblings[n] for n in names if n in siblings]
    return problems


def test_readme_shows_commands() -> None:
    """The walk below has something to walk: the block and the text quote commands."""
    commands = _readme_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 40
    assert any(c.startswith("mobileid eval faces identify") for c in commands)


@pytest.mark.parametrize("command", _readme_commands(README.read_text(encoding="utf-8")))
def test_readme_command_exists(command: str) -> None:
    assert _check(command, build_parser()) == []


@pytest.mark.parametrize(
    ("command", "wrong"),
    [
        ("mobileid enrol faces DIR", "sub-command 'enrol'"),
        ("mobileid eval faces identify --root DIR --no-such-option", "--no-such-option"),
        ("mobileid audit verify [--witness FILE] | show ... [--tokn T]", "--tokn"),
        ("mobileid operators add|disable|grnt ... [--token T]", "sub-command 'grnt'"),
    ],
)
def test_a_wrong_command_is_caught(command: str, wrong: str) -> None:
    """The check itself fails on a misspelt sub-command or option, wherever it stands."""
    problems = _check(command, build_parser())
    assert problems and all(wrong in p for p in problems)


def test_readme_make_targets_exist() -> None:
    """Every ``make TARGET`` the README names is a target of the Makefile."""
    text = README.read_text(encoding="utf-8")
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_-]+):", makefile, re.M))
    spans = re.findall(r"`make ([^`]+)`", text) + re.findall(r"^make ([\w-]+)", text, re.M)
    named = {t for span in spans for t in span.split()}
    assert {"run", "test", "eval", "bench"} <= named
    assert named - targets == set()
