"""EER / FMR1000 (all cross-finger impostors) of the current matcher on sensor imitations,
fingers 101-105 (where matcher changes are chosen), 106-110 and all, the templates taken from
the evaluation's cache under ``--extracted-under`` (the pipeline id they were extracted with;
default: the current one), so a matcher change is measured without extracting again.

    nice -n 10 .venv/bin/python bench/finger_small_compare.py \
        --sets DB4_B:small,DB1_B:small,DB4_B:,DB1_B:,DB4_B:capacitive,DB4_B:dry,DB4_B:crop300
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mobileid.config import Settings
from mobileid.eval.fingers import TemplateCache, enrol_root, evaluate, list_fvc_root
from mobileid.finger.pipeline import load_finger_pipeline
from mobileid.service.deployment_key import deployment_key

FVC = Path("../shared/data/fingerprints/FVC2002")
GROUPS = {"101-105": range(101, 106), "106-110": range(106, 111), "all": range(101, 111)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", required=True, help="DB:sensor,... (empty sensor: as captured)")
    ap.add_argument("--extracted-under", default=None, metavar="PIPELINE_ID")
    args = ap.parse_args()
    pipe = load_finger_pipeline()
    s = Settings()
    cache = TemplateCache(s.cache_dir, args.extracted_under or pipe.pipeline_id, deployment_key(s))
    print(f"matcher: {pipe.pipeline_id.rsplit('+', 1)[-1]}")
    for item in args.sets.split(","):
        db, sensor = item.split(":")
        enrolled = enrol_root(list_fvc_root(FVC / db), pipe, cache, sensor=sensor or None)
        if any(e.extract_ms is not None for e in enrolled):
            print(f"  ({sum(e.extract_ms is not None for e in enrolled)} extracted now)")
        cells = []
        for label, fingers in GROUPS.items():
            part = [e for e in enrolled if e.file.finger in fingers]
            m = evaluate(part, pipe).metrics
            cells.append(f"{label} {100 * m['eer_all']:5.2f} / {100 * m['fmr1000']:5.1f}")
            if m["fte_rate"]:
                cells[-1] += f" FTE {100 * m['fte_rate']:.1f}"
        print(f"{db} {sensor or 'as captured':<11} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
