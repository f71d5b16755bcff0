"""Fingertip photos against contact prints: genuine scores, ranks and the two calibrations.

Inputs: contact prints enrolled from FVC folders (:func:`mobileid.eval.fingers.enrol_root`);
phone photos named as ISPFD (``<subject>_<i|o>_<k>_<w|n>_<n>``, ``k`` read as the finger: no
contact print of these fingers exists); and, optionally, IMPOSE-style renders
(``multi_pose_CL/sampleN_ANGLE.png``, fingertips at roll ``ANGLE`` degrees, with
``source_rolled/sampleN.png``, the rolled contact print of the same finger at 500 ppi): the
only photo-vs-contact genuine pairs of the development data.

- Ranks: each render searched among every contact print (FVC folders and the rolled prints);
  the rank of its own rolled print, by roll angle. A render that fails to enrol has no rank.
- Photo → contact calibration: impostors are every usable photo or render against every
  contact print of another finger (photo mirrored and tried at every scale hypothesis, best
  score kept, as in search). The table is conservative
  by construction: each rate is the one-sided 95% Clopper-Pearson upper bound of the measured
  one, so a score above every impostor (k = 0 of n) is credited ``3/n``, not ``0``; with
  ~4,000 impostors that reaches the possible band (1e-3) and never the strong one (1e-5).
  The genuine photo-vs-contact scores are reported beside it (how many reach each band): with
  18 pairs of 2 synthetic fingers they show the table can be reached, not how often.
- Photo → photo calibration: every pair of photos of different fingers.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

from mobileid.errors import InputError, InvalidArgument
from mobileid.eval.fingers import Enrolled, Progress
from mobileid.finger.match import MatchFeatures, match_features
from mobileid.finger.pipeline import FingerPipeline, calibration_matcher
from mobileid.finger.types import FingerTemplate
from mobileid.finger.views import CONTACT_SCALES
from mobileid.scoring import Calibration, build_calibration

__all__ = [
    "ContactlessCalibration",
    "conservative",
    "contactless_calibrations",
    "save_contactless",
]

FloatArray = npt.NDArray[np.float64]

_PHOTO = re.compile(r"^(\d+)_[io]_(\d+)_[wn]_\d+\.(jpg|jpeg|png)$", re.IGNORECASE)
_RENDER = re.compile(r"^(sample\d+)_(-?\d+)\.png$")
CONFIDENCE = 0.95  # of the upper bound on each table rate


@dataclass(frozen=True, eq=False)
class ContactlessCalibration:
    """The two tables a photo probe needs, what they rest on, and the genuine evidence."""

    to_contact: Calibration  # photo probe against contact prints
    to_photo: Calibration  # photo probe against photo-enrolled templates
    metrics: dict[str, Any]
    genuine: FloatArray  # photo vs its own finger's contact print (-inf: failed to enrol)
    impostor: FloatArray  # photo vs contact prints of other fingers


@dataclass(frozen=True, eq=False)
class _Photo:
    key: str  # the finger: "ispfd:<subject>_<k>" or "render:sampleN"
    name: str
    template: FingerTemplate
    roll: int | None = None  # renders only, degrees


def conservative(cal: Calibration, confidence: float = CONFIDENCE) -> Calibration:
    """``cal`` with every rate replaced by its one-sided Clopper-Pearson upper bound."""
    n = cal.impostor_count
    k = np.rint(np.asarray(cal.fmrs) * n)
    # k = n (every impostor at or above the lowest score) has no upper bound below 1.
    upper = np.where(k >= n, 1.0, stats.beta.ppf(confidence, k + 1, np.maximum(n - k, 1)))
    upper = np.minimum(1.0, upper)
    fmrs = tuple(float(x) for x in np.maximum.accumulate(upper[::-1])[::-1])
    return Calibration(
        cal.matcher,
        f"{cal.dataset}; rates are {confidence:.0%} upper bounds (Clopper-Pearson)",
        cal.scores,
        fmrs,
        n,
        cal.genuine_count,
    )


def contactless_calibrations(
    photos: Path,
    contact: list[Enrolled],
    pipeline: FingerPipeline,
    progress: Progress | None = None,
    renders: Path | None = None,
) -> ContactlessCalibration:
    """Measure what the module doc lists; refused photos are listed in ``metrics``."""
    probes, refused, ms = _enrol_photos(photos, pipeline)
    rolled: dict[str, FingerTemplate] = {}
    if renders is not None:
        more, refused_r, rolled = _enrol_renders(renders, pipeline)
        probes, refused = probes + more, {**refused, **refused_r}
    prints = [(f"fvc:{e.file.path.parent.name}/{e.file.finger}", e.template) for e in contact]
    gallery = [(k, t) for k, t in prints if t is not None] + [
        (f"render:{s}", t) for s, t in sorted(rolled.items())
    ]
    if not probes or not gallery:
        raise InvalidArgument(
            f"photos: expected usable fingertip photos and contact prints, got {len(probes)} "
            f"photos ({len(refused)} refused) and {len(gallery)} prints",
            field="photos",
        )
    feats = [pipeline.features(t) for _, t in gallery]
    # Each photo meets a contact print at every scale hypothesis and keeps its best score,
    # as a search does (mobileid.finger.views): the impostors below carry the extra tries.
    views = [
        [pipeline.features(v) for v in pipeline.photo_views(p.template)[pipeline.pipeline_id]]
        for p in probes
    ]
    scores = np.array(
        [[max(match_features(v, f).score for v in vs) for f in feats] for vs in views]
    )
    mate = np.array([[p.key == k for k, _ in gallery] for p in probes], dtype=bool)
    impostor = scores[~mate]
    genuine, ranks = _genuine(probes, scores, mate, refused, rolled)
    to_photo, photo_genuine = _photo_pairs(probes, pipeline, progress)
    cpid, pid = pipeline.contactless_pipeline_id, pipeline.pipeline_id
    where = f"{len(probes)} usable fingertips ({len(refused)} refused) x {len(gallery)} prints"
    to_c = conservative(
        build_calibration(
            impostor,
            int(genuine.size),
            matcher=calibration_matcher(cpid, pid),
            dataset=_dataset(
                f"{where}: photo vs contact, photos mirrored and tried at {len(CONTACT_SCALES)} "
                f"scales ({min(CONTACT_SCALES):g}-{max(CONTACT_SCALES):g}), the best score kept",
                impostor.size,
            ),
        )
    )
    to_p = build_calibration(
        to_photo,
        len(photo_genuine),
        matcher=calibration_matcher(cpid, cpid),
        dataset=_dataset(f"{len(probes)} fingertips: pairs of different fingers", to_photo.size),
    )
    metrics = _metrics(probes, refused, ms, gallery, genuine, impostor, ranks, to_c)
    metrics["photo_photo_impostors"] = int(to_photo.size)
    metrics["photo_photo_genuine"] = [round(g, 4) for g in photo_genuine]
    return ContactlessCalibration(to_c, to_p, metrics, genuine, impostor)


def _best(views: list[MatchFeatures], candidate: MatchFeatures) -> float:
    return max(match_features(v, candidate).score for v in views)


def _genuine(
    probes: list[_Photo],
    scores: FloatArray,
    mate: npt.NDArray[np.bool_],
    refused: dict[str, str],
    rolled: dict[str, FingerTemplate],
) -> tuple[FloatArray, list[dict[str, Any]]]:
    """Genuine scores (refused renders of a finger with a rolled print: -inf) and ranks."""
    gen: list[float] = []
    ranks: list[dict[str, Any]] = []
    for i, p in enumerate(probes):
        if not mate[i].any():
            continue
        s = float(scores[i][mate[i]].max())
        rank = 1 + int((scores[i][~mate[i]] >= s).sum())
        gen.append(s)
        ranks.append({"render": p.name, "roll": p.roll, "score": round(s, 4), "rank": rank})
    for name in sorted(refused):
        m = _RENDER.match(name)
        if m and m.group(1) in rolled:
            gen.append(-np.inf)
            ranks.append({"render": name, "roll": int(m.group(2)), "score": None, "rank": None})
    ranks.sort(key=lambda r: (str(r["render"]).split("_")[0], int(r["roll"] or 0)))
    return np.asarray(gen, dtype=np.float64), ranks


def _photo_pairs(
    probes: list[_Photo], pipeline: FingerPipeline, progress: Progress | None
) -> tuple[FloatArray, list[float]]:
    feats: list[MatchFeatures] = [pipeline.features(p.template) for p in probes]
    impostor: list[float] = []
    genuine: list[float] = []
    for i, a in enumerate(probes):
        for j in range(i + 1, len(probes)):
            s = match_features(feats[i], feats[j]).score
            (genuine if a.key == probes[j].key else impostor).append(s)
        if progress:
            progress(i + 1, len(probes))
    if not impostor:
        raise InvalidArgument(
            f"photos: expected fingertips of at least two fingers, got {len(probes)} of one",
            field="photos",
        )
    return np.asarray(impostor, dtype=np.float64), genuine


def _metrics(
    probes: list[_Photo],
    refused: dict[str, str],
    ms: list[float],
    gallery: list[tuple[str, FingerTemplate]],
    genuine: FloatArray,
    impostor: FloatArray,
    ranks: list[dict[str, Any]],
    cal: Calibration,
) -> dict[str, Any]:
    possible = cal.threshold_or(1e-3, None)
    near = [r for r in ranks if r["roll"] is not None and abs(r["roll"]) <= 25]
    return {
        "photos": len({p.name for p in probes}) + len(refused),
        "fingertips_usable": len(probes),
        "refused": refused,
        "photo_ms_mean": float(np.mean(ms)) if ms else None,
        "contact_prints": len(gallery),
        "photo_contact_impostors": int(impostor.size),
        "photo_contact_genuine": int(genuine.size),
        "photo_contact_max_impostor": round(float(impostor.max()), 4),
        "threshold_possible": possible,
        "genuine_reaching_possible": (
            int((genuine >= possible).sum()) if possible is not None else 0
        ),
        "render_rank1": sum(r["rank"] == 1 for r in ranks) / len(ranks) if ranks else None,
        "render_rank1_roll_le_25": (
            sum(r["rank"] == 1 for r in near) / len(near) if near else None
        ),
        "render_ranks": ranks,
        "fmr_resolution": cal.resolution,
    }


def _enrol_photos(
    photos: Path, pipeline: FingerPipeline
) -> tuple[list[_Photo], dict[str, str], list[float]]:
    """Every usable fingertip of the ISPFD-named photos, the refused ones, and the times."""
    if not Path(photos).is_dir():
        raise InvalidArgument(
            f"photos: expected a folder of fingertip photos, got {str(photos)!r}", field="photos"
        )
    probes, refused, ms = [], {}, []
    for path in sorted(Path(photos).iterdir()):
        m = _PHOTO.match(path.name)
        if not m:
            continue
        start = time.perf_counter()
        try:
            photo = pipeline.enrol_photo_tips(path.read_bytes(), field=path.name)
        except InputError as exc:
            refused[path.name] = exc.code
            continue
        ms.append(1000.0 * (time.perf_counter() - start))
        for k, tip in enumerate(photo.tips):
            key = f"ispfd:{m.group(1)}_{m.group(2)}" + (f"#{k}" if len(photo.tips) > 1 else "")
            if tip.template is None:
                refused[f"{path.name}#{k}"] = tip.error.code if tip.error else "unusable"
            else:
                probes.append(_Photo(key, path.name, tip.template))
    return probes, refused, ms


def _enrol_renders(
    root: Path, pipeline: FingerPipeline
) -> tuple[list[_Photo], dict[str, str], dict[str, FingerTemplate]]:
    """The renders (one fingertip each) and the rolled prints (500 ppi) of an IMPOSE folder."""
    poses, rolled_dir = Path(root) / "multi_pose_CL", Path(root) / "source_rolled"
    if not poses.is_dir() or not rolled_dir.is_dir():
        raise InvalidArgument(
            f"renders: expected a folder with multi_pose_CL/ and source_rolled/, got {str(root)!r}",
            field="renders",
        )
    rolled = {
        p.stem: pipeline.enrol_bytes(p.read_bytes(), ppi=500.0, field=p.name)
        for p in sorted(rolled_dir.glob("sample*.png"))
    }
    probes, refused = [], {}
    for path in sorted(poses.iterdir()):
        m = _RENDER.match(path.name)
        if not m:
            continue  # the texture maps beside the renders
        try:
            tips = pipeline.enrol_photo_tips(path.read_bytes(), field=path.name).usable
        except InputError as exc:
            refused[path.name] = exc.code
            continue
        t = tips[0].template
        assert t is not None  # usable
        probes.append(_Photo(f"render:{m.group(1)}", path.name, t, int(m.group(2))))
    return probes, refused, rolled


def _dataset(what: str, n: int) -> str:
    shown = (
        "neither the strong (1e-5) nor the possible (1e-3) band can be shown"
        if n < 3000
        else "the strong band (1e-5) cannot be shown"
    )
    return (
        f"{what}: {n} impostor comparisons only (genuine pairs are reported beside the table, "
        f"not fitted), so rates resolve down to {1 / n:.1e} and {shown}. "
        "Rebuild with `mobileid eval fingers-contactless` (see mobileid.eval.finger_contactless)"
    )


def save_contactless(cal: ContactlessCalibration, folder: Path, stem: str) -> list[Path]:
    """Write ``STEM.json`` (photo -> contact) and ``STEM-photo.json`` (photo -> photo)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}-photo.json"]
    cal.to_contact.save(paths[0])
    cal.to_photo.save(paths[1])
    return paths
