"""``make run`` until the HTTP service exists: enrol a demo gallery, identify a few probes.

Demo data is a folder-per-subject directory: ``$MOBILEID_DEMO_DATA`` when set, else
``../shared/data/faces/lfw-dev`` when present, else LFW (deep-funneled) downloaded from its
official source into a cache and checked against its published MD5. Demo records carry the
subject's name and the data source only: nothing is invented about real people.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

from mobileid import NOTICE
from mobileid.cli import render
from mobileid.cli.progress import ProgressLine
from mobileid.config import Settings
from mobileid.errors import MobileIdError
from mobileid.service.caller import console_caller
from mobileid.service.context import open_context
from mobileid.service.enrol import IMAGE_SUFFIXES, enrol_directory
from mobileid.service.identify import identify_face, require_reason
from mobileid.service.purpose import TRAINING

LFW_URL = "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"
LFW_MD5 = "68331da3eb755a505a502b5aacb3c201"  # as published for lfw-deepfunneled.tgz
DEMO_SUBJECTS = 60  # enough to make a search meaningful, quick to enrol on 2 cores


def demo_root(environ: dict[str, str] | None = None, cache: Path | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("MOBILEID_DEMO_DATA"):
        return Path(env["MOBILEID_DEMO_DATA"])
    shared = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "faces" / "lfw-dev"
    if shared.is_dir():
        return shared.resolve()
    return download_lfw(cache or Path.home() / ".cache" / "mobileid")


def download_lfw(cache: Path, url: str = LFW_URL, md5: str = LFW_MD5) -> Path:
    """Download and unpack LFW once; refuse an archive whose checksum is not the published one."""
    target = cache / "lfw-deepfunneled"
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / "lfw-deepfunneled.tgz"
    if not archive.exists():
        print(f"downloading {url} ...", file=sys.stderr)
        part = archive.with_suffix(".part")
        urllib.request.urlretrieve(url, part)
        part.replace(archive)
    digest = hashlib.md5(archive.read_bytes(), usedforsecurity=False).hexdigest()
    if digest != md5:
        archive.unlink()
        raise MobileIdError(f"LFW archive: expected MD5 {md5}, got {digest}; deleted, try again")
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    return target


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


def main() -> int:
    settings = Settings.from_env()
    try:
        root = demo_root()
        gallery_dir, probes = pick_demo(root, DEMO_SUBJECTS, settings.data_dir)
        ctx = open_context(settings, progress=ProgressLine("index"))
        print(f"enrolling {DEMO_SUBJECTS} subjects from {root} into gallery 'demo' ...")
        # The demo runs on the training range: its gallery is never reached by live searches.
        report = enrol_directory(
            ctx,
            console_caller(),
            gallery_dir,
            gallery="demo",
            source=f"demo:{root.name}",
            training=True,
            progress=ProgressLine("enrol"),
        )
        reason = require_reason(ctx, console_caller(), TRAINING, "DEMO-0001", None)
        render.enrol_report(report, as_json=False)
        for probe in probes:
            print(f"\n=== probe {probe.parent.name}/{probe.name}")
            try:
                result = identify_face(
                    ctx,
                    console_caller(),
                    probe.read_bytes(),
                    reason=reason,
                    galleries=["demo"],
                    top=5,
                )
            except MobileIdError as exc:
                print(f"refused: {exc.message}")
                continue
            render.identify_result(result, as_json=False)
    except MobileIdError as exc:
        print(f"mobileid: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    print(f"\n{NOTICE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
