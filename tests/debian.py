"""Test setup helpers shared by the fixtures that start real components: a Debian package
installed the way a deployer installs it, and a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest


def apt_install(package: str) -> None:
    """``apt-get install`` the package (after an update), or fail the test saying which step
    did not work."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"could not install {package} ({' '.join(cmd)}): {done.stderr[-500:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
