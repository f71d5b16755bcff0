"""Copy the evaluation cache's templates (and refusals) from one pipeline id to the current
one, for a change of the matcher alone: the minutiae are the same, so ``make
calibrate-fingers`` need not extract every print again (about 1.5 s each on the 2-core
host). Only for a change that leaves extraction as it was.

    nice -n 10 .venv/bin/python bench/finger_cache_carry.py --from OLD_PIPELINE_ID \
        --sets DB1_B:,DB1_B:small,DB4_B:capacitive
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from mobileid.config import Settings
from mobileid.eval.finger_sensors import imitate_bytes
from mobileid.eval.fingers import TemplateCache, enrol_root, list_fvc_root
from mobileid.finger.pipeline import load_finger_pipeline
from mobileid.service.deployment_key import deployment_key

FVC = Path("../shared/data/fingerprints/FVC2002")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="old", required=True, metavar="PIPELINE_ID")
    ap.add_argument("--sets", required=True, help="DB:sensor,... (empty sensor: as captured)")
    args = ap.parse_args()
    pipe = load_finger_pipeline()
    s = Settings()
    old = TemplateCache(s.cache_dir, args.old, deployment_key(s))
    new = TemplateCache(s.cache_dir, pipe.pipeline_id, deployment_key(s))
    for item in args.sets.split(","):
        db, sensor = item.split(":")
        files = list_fvc_root(FVC / db)
        enrolled = enrol_root(files, pipe, old, sensor=sensor or None)
        for e in enrolled:
            data = e.file.path.read_bytes()
            data = imitate_bytes(data, sensor) if sensor else data
            sha = hashlib.sha256(data).hexdigest()
            new.put(sha, e.template if e.template is not None else e.error)
        fresh = sum(e.extract_ms is not None for e in enrolled)
        print(f"{db} {sensor or 'as captured'}: {len(enrolled)} carried ({fresh} extracted now)")


if __name__ == "__main__":
    main()
