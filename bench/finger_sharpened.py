"""DB4_B (or another FVC set) as a sensor imitation gives it, enrolled with wet prints read
sharpened (``ExtractParams.tophat_certainty_below``) and without: EER over all cross-finger
impostors on fingers 101-105 (where the cut was chosen), 106-110 and all.

    nice -n 10 .venv/bin/python bench/finger_sharpened.py \
        --root ../shared/data/fingerprints/FVC2002/DB4_B --sensor wet --cuts 0,0.3
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from mobileid.eval.fingers import enrol_root, evaluate, list_fvc_root
from mobileid.finger.params import ExtractParams
from mobileid.finger.pipeline import load_finger_pipeline

GROUPS = {"101-105": range(101, 106), "106-110": range(106, 111), "all": range(101, 111)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--sensor", default=None)
    ap.add_argument("--cuts", default="0,0.3", help="certainty cuts, comma-separated (0: off)")
    args = ap.parse_args()
    files = list_fvc_root(args.root)
    for cut in (float(c) for c in args.cuts.split(",")):
        pipe = load_finger_pipeline(replace(ExtractParams(), tophat_certainty_below=cut))
        enrolled = enrol_root(files, pipe, sensor=args.sensor)
        for label, fingers in GROUPS.items():
            part = [e for e in enrolled if e.file.finger in fingers]
            m = evaluate(part, pipe).metrics
            print(
                f"cut {cut:g} {label}: EER {100 * m['eer_all']:.2f}% "
                f"FMR1000 {100 * m['fmr1000']:.1f}% FTE {100 * m['fte_rate']:.2f}%",
                flush=True,
            )


if __name__ == "__main__":
    main()
