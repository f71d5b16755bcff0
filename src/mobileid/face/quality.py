"""Stage 3: is this capture good enough to search with? Reasons are advice for the field."""

from __future__ import annotations

import math

import numpy as np

from mobileid.config import FaceParams
from mobileid.types import AlignedFace, Quality

ADVICE = {
    "small": "face too small in the picture: move closer",
    "blurred": "picture blurred: hold the phone steady and let it focus",
    "dark": "too dark: find more light or turn towards the light",
    "bright": "too bright: avoid direct sunlight or flash on the face",
    "flat": "too little contrast: avoid back-light and haze",
    "turned": "face turned away: ask the person to look straight at the camera",
    "tilted": "head tilted: hold the phone level with the face",
}


def _laplacian_variance(grey: np.ndarray) -> float:
    g = grey.astype(np.float32)
    lap = -4.0 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def pose_from_landmarks(points: np.ndarray) -> tuple[float, float]:
    """Yaw as the nose's offset from the eyes' midpoint along the eye line, in half inter-eye
    distances (0 frontal, ±1 nose level with an eye), and roll of the eye line in degrees."""
    eye_a = (points[0] + points[1]) / 2.0
    eye_b = (points[2] + points[3]) / 2.0
    axis = eye_a - eye_b
    half = float(np.linalg.norm(axis)) / 2.0
    if half == 0.0:
        return 1.0, 0.0
    unit = axis / (2.0 * half)
    yaw = float(np.dot(points[4] - (eye_a + eye_b) / 2.0, unit)) / half
    roll = math.degrees(math.atan2(float(axis[1]), float(axis[0])))
    return yaw, roll


def assess_quality(aligned: AlignedFace, params: FaceParams) -> Quality:
    """Measure the capture and list what is wrong with it (empty when acceptable)."""
    grey = aligned.chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    # The chip's centre holds the face; its border is background that says nothing.
    inner = grey[25:-25, 25:-25]
    yaw, roll = pose_from_landmarks(aligned.landmarks.points)
    q = Quality(
        inter_eye_px=aligned.landmarks.inter_eye_px,
        sharpness=_laplacian_variance(inner),
        brightness=float(inner.mean()),
        contrast=float(inner.std()),
        yaw=yaw,
        roll_deg=roll,
    )
    checks = {
        "small": q.inter_eye_px < params.min_inter_eye_px,
        "blurred": q.sharpness < params.min_sharpness,
        "dark": q.brightness < params.min_brightness,
        "bright": q.brightness > params.max_brightness,
        "flat": q.contrast < params.min_contrast,
        "turned": abs(q.yaw) > params.max_abs_yaw,
        "tilted": abs(q.roll_deg) > params.max_abs_roll_deg,
    }
    problems = tuple(ADVICE[k] for k, bad in checks.items() if bad)
    return Quality(**{**q.__dict__, "problems": problems})
