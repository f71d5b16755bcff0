"""Which mated face searches miss rank 1 in the larger gallery, and what the images look like.

The searches of ``eval faces identify --splits 10 --seed 1 --cohort-norm 10,0.5,0
--distractors singletons`` (the choosing seed only), re-run here so that each miss can be
named: for every mated search whose mate is not the rank-1 candidate, the probe, its mate's
gallery image and the candidate ranked first, with each image's quality measures and how its
face was found (re-detected: HOG at no upsampling, upsampled once, the CNN fallback, or HOG's
weak boxes; how many faces the image holds). Writes ``failures.csv`` and contact sheets
(probe photo with every box, the chosen one red; the probe's, mate's and wrong candidate's
chips; the mate's photo) to OUT, and the misses per category of CATEGORIES.

CATEGORIES is what looking at the seed-1 sheets found, one cause per missed probe (the most
visible one; README "Accuracy", "Which mated searches miss"): a judgement, not a measurement,
kept here so that the counts can be redrawn from it.

    .venv/bin/python bench/face_failures.py ../shared/data/faces/lfw-dev OUT [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mobileid.capture.decode import decode_image
from mobileid.config import Settings
from mobileid.eval.cohort_eval import cohort_prepare
from mobileid.eval.faces import embed_root
from mobileid.eval.open_set import distractor_split, open_set_split
from mobileid.eval.splits import identity_splits, subset
from mobileid.face.align import align_face
from mobileid.face.cohort import SHIPPED
from mobileid.face.detect import cnn_pass, detect_faces, downscale, hog_pass
from mobileid.face.pipeline import load_face_pipeline

CATEGORIES = {
    "poor gallery image": "Adam_Scott_0002 Alvaro_Uribe_0029 Alvaro_Uribe_0030 Andy_Roddick_0007 "
    "Andy_Roddick_0008 Andy_Roddick_0010 Andy_Roddick_0011 Anna_Kournikova_0003 "
    "Anna_Kournikova_0004 Anna_Kournikova_0006 Anna_Kournikova_0007 Anna_Kournikova_0009 "
    "Anna_Kournikova_0011 Arnold_Schwarzenegger_0022 Courtney_Love_0002",
    "occlusion": "Alec_Baldwin_0003 Alvaro_Uribe_0018 Alvaro_Uribe_0035 Ariel_Sharon_0018 "
    "Arnaud_Clement_0002 Arnold_Schwarzenegger_0008 Arnold_Schwarzenegger_0029 Bill_Paxton_0002 "
    "Bono_0003 Britney_Spears_0008 Celine_Dion_0003 Celine_Dion_0008 Charles_Taylor_0005 "
    "Claudia_Pechstein_0003 Claudia_Pechstein_0005",
    "pose": "Abdullah_Gul_0016 Al_Gore_0008 Alastair_Campbell_0005 Bill_Gates_0004 "
    "Bill_Simon_0006 Bob_Huggins_0003 Costas_Simitis_0002 Colin_Montgomerie_0004 "
    "Bernard_Landry_0002 Bill_Clinton_0022",
    "blur / low resolution": "Abdoulaye_Wade_0003 Alejandro_Avila_0002 Bill_Clinton_0007 "
    "Bill_Clinton_0008",
    "expression / appearance / age": "Alejandro_Toledo_0031 Antonio_Banderas_0003 "
    "Antonio_Banderas_0004 Beth_Jones_0002 Bill_Clinton_0018 Bruce_Springsteen_0003 "
    "Carlos_Ruiz_0003 Christina_Aguilera_0002 Charles_Bronson_0002",
    "look-alike, no visible cause": "Alastair_Campbell_0004 Angela_Bassett_0003 "
    "Augusto_Roa_Bastos_0002 Carlos_Ortega_0003 Carolyn_Dawn_Johnson_0003 Celine_Dion_0006",
    "label noise": "Cristina_Fernandez_0002",
    "failed to enrol": "Christine_Todd_Whitman_0002",
}


def per_category(rows: list[dict]) -> dict[str, list[int]]:
    """Per category: missed probes, misses over the splits, probes CNN-found."""
    of = {name: c for c, names in CATEGORIES.items() for name in names.split()}
    out: dict[str, list[int]] = {}
    seen: set[str] = set()
    for r in rows:
        name = Path(r["probe_path"]).stem
        got = out.setdefault(of.get(name, "not categorised"), [0, 0, 0])
        got[1] += r["splits"]
        if name not in seen:
            seen.add(name)
            got[0] += 1
            got[2] += r["probe_pass"] == "cnn"
    return out


def misses(data, splits: int, seed: int) -> dict[tuple[int, int], dict]:
    """(probe image, wrong candidate image) -> what the miss looked like, over the splits."""
    out: dict[tuple[int, int], dict] = {}
    prepare = cohort_prepare(SHIPPED, "real")
    for in_dev in identity_splits(data.identity, splits, seed):
        dev_i, test_i = np.flatnonzero(in_dev), np.flatnonzero(~in_dev)
        _, test = prepare(subset(data, dev_i), subset(data, test_i))
        small_gallery, _, _ = open_set_split(test.identity)
        gallery, probes, mate, _ = distractor_split(test.identity)
        sim = test.search_scores(probes, gallery)
        for r in np.flatnonzero(mate >= 0):
            s = sim[r]
            m = int(mate[r])
            rank = int(np.sum(s >= s[m])) if np.isfinite(s[m]) else -1  # ties rank ahead
            if rank == 1:
                continue
            others = s.copy()
            others[m] = -np.inf
            top = int(np.argmax(others))
            key = (int(test_i[probes[r]]), int(test_i[gallery[top]]))
            row = out.setdefault(key, {"splits": 0})
            row.update(
                probe=key[0],
                mate=int(test_i[gallery[m]]),
                wrong=key[1],
                mate_score=float(s[m]),
                wrong_score=float(s[top]),
                rank=rank,
                wrong_single=bool(np.sum(test.identity == test.identity[gallery[top]]) == 1),
                small_miss=_small_miss(test, sim[r], gallery, small_gallery, m),
            )
            row["splits"] += 1
    return out


def _small_miss(test, s, gallery, small_gallery, m: int) -> bool:
    """Whether the mate misses rank 1 in the plain gallery too (same scores, fewer columns)."""
    keep = np.isin(gallery, small_gallery)
    return bool(np.sum(s[keep] >= s[m]) > 1)


def detection(path: str, pipeline) -> dict:
    """How the face of ``path`` is found today, pass by pass, and its chip."""
    p = pipeline.params
    image = decode_image(Path(path).read_bytes(), Settings().limits, field=path)
    small, _ = downscale(image.pixels, p.detect_max_side)
    passes = {}
    for up in (0, 1):
        found = hog_pass(small, pipeline.models, up, p.hog_weak_floor)
        passes[f"hog{up}"] = [f for f in found if f[4] >= p.hog_min_score]
        passes[f"hog{up}_weak"] = found
    used = next((k for k in ("hog0", "hog1") if passes[k]), None)
    if used is None:
        passes["cnn"] = cnn_pass(small, pipeline.models)
        used = "cnn" if passes["cnn"] else "hog-weak"
    det = detect_faces(image, pipeline.models, p)
    aligned = align_face(image, det.chosen, pipeline.models, p)
    boxes = passes.get(used if used != "hog-weak" else "hog0_weak", [])
    return {
        "pass": used,
        "faces": det.faces_seen,
        "box": det.chosen.box,
        "boxes": boxes,
        "chip": aligned.chip,
        "pixels": image.pixels,
    }


def _photo(d: dict, cell: int) -> Image.Image:
    """The photo with every box of the pass that found the face (yellow), the chosen red."""
    photo = Image.fromarray(d["pixels"]).copy()
    pd = ImageDraw.Draw(photo)
    for b in d["boxes"]:
        pd.rectangle(b[:4], outline="yellow", width=2)
    c = d["box"]
    pd.rectangle((c.left, c.top, c.right, c.bottom), outline="red", width=2)
    return photo.resize((cell, cell))


def sheet(rows: list[dict], found: dict, out: Path, page: int) -> None:
    """One contact sheet: per missed probe, its photo, the probe's, mate's and first wrong
    candidate's chips, and the mate's photo."""
    cell = 160
    img = Image.new("RGB", (5 * cell, len(rows) * (cell + 14)), "white")
    draw = ImageDraw.Draw(img)
    for i, r in enumerate(rows):
        y = i * (cell + 14)
        d = found[r["probe_path"]]
        if "pixels" not in d:  # the probe failed to enrol: no box, no chip
            draw.text((2, y), f"#{r['n']} {Path(r['probe_path']).stem}: {d['pass']}", fill="red")
            continue
        img.paste(_photo(d, cell), (0, y + 14))
        img.paste(_photo(found[r["mate_path"]], cell), (4 * cell, y + 14))
        for j, key in enumerate(("probe_path", "mate_path", "wrong_path")):
            if "chip" in found[r[key]]:
                chip = Image.fromarray(found[r[key]]["chip"]).resize((cell - 10, cell - 10))
                img.paste(chip, ((j + 1) * cell, y + 14))
        draw.text(
            (2, y),
            f"#{r['n']} {Path(r['probe_path']).stem}  mate {r['mate_score']:.3f}  "
            f"wrong {Path(r['wrong_path']).stem} {r['wrong_score']:.3f}",
            fill="black",
        )
    img.save(out / f"sheet{page:02d}.png")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--splits", type=int, default=10)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = embed_root(args.root, Settings.from_env())
    found_misses = misses(data, args.splits, args.seed)
    pipeline = load_face_pipeline(Settings.from_env().face)
    rows = []
    for n, m in enumerate(sorted(found_misses.values(), key=lambda m: m["probe"])):
        row = dict(m, n=n)
        for key in ("probe", "mate", "wrong"):
            i = m[key]
            row[f"{key}_path"] = data.paths[i]
            q = data.qualities[i] if data.ok[i] else None
            row[f"{key}_ok"] = bool(data.ok[i])
            for f in ("inter_eye_px", "sharpness", "yaw", "roll_deg"):
                row[f"{key}_{f}"] = None if q is None else round(float(getattr(q, f)), 3)
        rows.append(row)
    found: dict = {}
    for r in rows:
        for key in ("probe", "mate", "wrong"):
            p = r[f"{key}_path"]
            if p not in found:
                try:
                    found[p] = detection(p, pipeline)
                except ValueError as exc:  # no face found: a failure to enrol
                    found[p] = {"pass": f"none ({exc})", "faces": 0}
            r[f"{key}_pass"] = found[p]["pass"]
            r[f"{key}_faces"] = found[p]["faces"]
        print(
            r["n"], Path(r["probe_path"]).stem, r["probe_pass"], r["probe_faces"], file=sys.stderr
        )
    with (args.out / "failures.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for c, (probes, events, cnn) in per_category(rows).items():
        print(f"{c}: {probes} probes, {events} misses over splits, {cnn} CNN-found")
    first = list({r["probe"]: r for r in reversed(rows)}.values())[::-1]  # one row a probe
    for page in range(0, len(first), 10):
        sheet(first[page : page + 10], found, args.out, page // 10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
