"""DB4_B (or another FVC set) as a sensor imitation gives it, enrolled with prints of unclear
orientation read sharpened (``ExtractParams.tophat_certainty_below``) and without: EER over
all cross-finger impostors on fingers 101-105 (where the cut was chosen), 106-110 and all.

The set is enrolled once without; for each cut only the prints the gate sends to the
sharpened reading (``extract.reads_sharpened``) are enrolled again, the others keep their
template (the same minutiae by construction: the gate not firing, the reading is as before).
``--gates`` names how the certainty is counted: ``net`` over the blocks with contrast net of
the sensor's noise (the default), ``plain`` over every block with contrast (the first gate).

    nice -n 10 .venv/bin/python bench/finger_sharpened.py \
        --root ../shared/data/fingerprints/FVC2002/DB4_B --sensor wet --cuts 0.3
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from mobileid.errors import InputError
from mobileid.eval.finger_sensors import imitate_bytes
from mobileid.eval.fingers import Enrolled, PrintFile, enrol_root, evaluate, list_fvc_root
from mobileid.finger.extract import reads_sharpened
from mobileid.finger.params import ExtractParams
from mobileid.finger.pipeline import FingerPipeline, load_finger_pipeline

GROUPS = {"101-105": range(101, 106), "106-110": range(106, 111), "all": range(101, 111)}


def _report(label: str, enrolled: list[Enrolled], pipe: FingerPipeline) -> None:
    for group, fingers in GROUPS.items():
        m = evaluate([e for e in enrolled if e.file.finger in fingers], pipe).metrics
        print(
            f"{label} {group}: EER {100 * m['eer_all']:.2f}% "
            f"FMR1000 {100 * m['fmr1000']:.1f}% FTE {100 * m['fte_rate']:.2f}%",
            flush=True,
        )


def _gated(files: list[PrintFile], pipe: FingerPipeline, sensor: str | None) -> set[Path]:
    """The prints ``pipe`` reads sharpened first."""
    out = set()
    for f in files:
        data = f.path.read_bytes()
        try:
            pixels = pipe.load_image(imitate_bytes(data, sensor) if sensor else data).pixels
        except InputError:
            continue  # refused before extraction, as without
        if reads_sharpened(pixels, pipe.extractor.params):
            out.add(f.path)
    return out


def _with_cut(
    base: list[Enrolled], pipe: FingerPipeline, sensor: str | None
) -> tuple[list[Enrolled], int, int]:
    """``base`` with the gated prints enrolled again by ``pipe``; how many, how many changed."""
    gated = _gated([e.file for e in base], pipe, sensor)
    again = {
        e.file.path: e
        for e in enrol_root([e.file for e in base if e.file.path in gated], pipe, sensor=sensor)
    }
    out, changed = [], 0
    for e in base:
        if e.file.path in again:
            new = again[e.file.path]
            old_m = e.template.minutiae if e.template else None
            new_m = new.template.minutiae if new.template else None
            changed += old_m is None or new_m is None or not np.array_equal(old_m, new_m)
            out.append(new)
        elif e.template is not None:
            out.append(replace(e, template=replace(e.template, pipeline_id=pipe.pipeline_id)))
        else:
            out.append(e)
    return out, len(gated), changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--sensor", default=None)
    ap.add_argument("--cuts", default="0.3", help="certainty cuts, comma-separated")
    ap.add_argument("--gates", default="net", help="net, plain or both: net,plain")
    args = ap.parse_args()
    files = list_fvc_root(args.root)
    off = load_finger_pipeline(replace(ExtractParams(), tophat_certainty_below=0.0))
    base = enrol_root(files, off, sensor=args.sensor)
    _report("off", base, off)
    for gate in args.gates.split(","):
        if gate not in ("net", "plain"):
            raise SystemExit(f"--gates: expected net or plain, got {gate!r}")
        for cut in (float(c) for c in args.cuts.split(",")):
            params = replace(
                ExtractParams(), tophat_certainty_below=cut, tophat_net_of_noise=gate == "net"
            )
            pipe = load_finger_pipeline(params)
            enrolled, read, changed = _with_cut(base, pipe, args.sensor)
            label = f"cut {cut:g} {gate} ({read} read sharpened, {changed} templates changed)"
            _report(label, enrolled, pipe)


if __name__ == "__main__":
    main()
