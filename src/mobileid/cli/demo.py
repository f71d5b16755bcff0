"""``make run``: the phone app and its service on the embedded default, with a demo gallery.

At every start the demo gallery is enrolled (images already enrolled are skipped) on the
training range, synthetic record sources are generated once, and at the first start one demo
operator per role is created, whose password and TOTP secret (an otpauth URI and a QR code)
are printed once and never stored in clear. Then ``mobileid serve`` runs in the foreground.

Demo data is a folder-per-subject directory: ``$MOBILEID_DEMO_DATA`` when set, else
``../shared/data/faces/lfw-dev`` when present. Nothing is downloaded: without either, the
service starts with an empty demo gallery and says how to fill it. Demo records carry the
subject's name and the data source only: nothing is invented about real people.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mobileid.cli import render
from mobileid.cli.demo_operators import create_demo_operators, print_accounts
from mobileid.cli.main import main as cli_main
from mobileid.cli.progress import ProgressLine
from mobileid.config import Settings
from mobileid.errors import MobileIdError
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import IMAGE_SUFFIXES, enrol_directory

DEMO_SUBJECTS = 60  # enough to make a search meaningful, quick to enrol on 2 cores
DEMO_GALLERY = "demo"
DEFAULT_PORT = 8000


def demo_root(environ: dict[str, str] | None = None, shared: Path | None = None) -> Path | None:
    """The demo's face photos, or None when there are none here (no download: the project
    fetches nothing at run time beyond its packages)."""
    env = os.environ if environ is None else environ
    if env.get("MOBILEID_DEMO_DATA"):
        return Path(env["MOBILEID_DEMO_DATA"])
    if shared is None:
        repo = Path(__file__).resolve().parents[3]
        shared = repo / ".." / "shared" / "data" / "faces" / "lfw-dev"
    return shared.resolve() if shared.is_dir() else None


NO_DEMO_DATA = (
    "no demo photos: set MOBILEID_DEMO_DATA to a folder-per-subject directory of face photos "
    "(or enrol later with `mobileid enrol`); the demo gallery starts empty"
)


def pick_demo(root: Path, n: int, workdir: Path) -> tuple[Path, list[Path]]:
    """A gallery folder of symlinks (first image of ``n`` identities with >= 2 images) and
    probes: the second image of three of them, and one person who is not enrolled."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    images = {
        f: sorted(x for x in f.iterdir() if x.suffix.lower() in IMAGE_SUFFIXES) for f in folders
    }
    multi = [f for f in folders if len(images[f]) >= 2][:n]
    single = [f for f in folders if len(images[f]) == 1]
    gallery = workdir / "demo-gallery"
    for f in multi:
        (gallery / f.name).mkdir(parents=True, exist_ok=True)
        link = gallery / f.name / images[f][0].name
        if not link.exists():
            link.symlink_to(images[f][0].resolve())
    probes = [images[f][1] for f in multi[:: max(1, len(multi) // 3)][:3]]
    probes += [images[single[0]][0]] if single else []
    return gallery, probes


def enrol_demo(settings: Settings, root: Path) -> None:
    """The demo gallery on the training range: live searches never reach it."""
    gallery_dir, _ = pick_demo(root, DEMO_SUBJECTS, settings.data_dir)
    ctx = open_context(settings, progress=ProgressLine("index"))
    print(f"enrolling {DEMO_SUBJECTS} subjects from {root} into gallery {DEMO_GALLERY!r} ...")
    report = enrol_directory(
        ctx,
        console_caller(),
        gallery_dir,
        gallery=DEMO_GALLERY,
        source=f"demo:{root.name}",
        training=True,
        progress=ProgressLine("enrol"),
    )
    render.enrol_report(report, as_json=False)


def synthetic_sources(settings: Settings) -> None:
    """Synthetic record sources for the super query, generated once (fixed seed)."""
    from mobileid.records.registry import SourceRegistry

    if SourceRegistry(settings.data_dir / "records").entries():
        return
    out = settings.data_dir / "synthetic-records"
    argv = ["records", "generate", "--out", str(out), "--count", "200", "--load"]
    code = cli_main([*argv, "--data-dir", str(settings.data_dir)])
    if code != 0:
        raise MobileIdError(f"generating synthetic record sources failed (exit {code})")


def main() -> int:
    from dataclasses import replace

    from mobileid.api.serve import serve

    # Searches that name no gallery reach the demo gallery (the demo has no live gallery).
    settings = replace(Settings.from_env(), default_gallery=DEMO_GALLERY)
    host = os.environ.get("MOBILEID_HOST", "127.0.0.1")
    raw_port = os.environ.get("MOBILEID_PORT", str(DEFAULT_PORT))
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        print(
            f"mobileid: error: MOBILEID_PORT: expected 1..65535, got {raw_port!r}", file=sys.stderr
        )
        return 2
    port = int(raw_port)
    try:
        root = demo_root()
        if root is None:
            print(f"mobileid: {NO_DEMO_DATA}", file=sys.stderr)
        else:
            enrol_demo(settings, root)
        synthetic_sources(settings)
        accounts = create_demo_operators(settings, galleries=[DEMO_GALLERY])
    except MobileIdError as exc:
        print(f"mobileid: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    print_accounts(accounts, sys.stdout)
    print(f"\nthe phone app: http://{host}:{port}/  (Ctrl-C stops the service)")
    print("log in as demo-officer with the purpose 'training' (the demo gallery is for practice)")
    print("from a phone on this network: see README, 'From a phone on the same network'")
    sys.stdout.flush()
    serve(settings, host=host, port=port, tls=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
