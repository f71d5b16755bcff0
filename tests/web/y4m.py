"""A YUV4MPEG2 (C420jpeg) video written with numpy alone: Chromium's fake camera plays it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def frame_from_photo(
    photo: Path, width: int = 640, height: int = 480, gain: float = 1.0
) -> np.ndarray:
    """The photo scaled to the frame's height, centred on grey, brightness times ``gain``."""
    with Image.open(photo) as im:
        rgb = im.convert("RGB")
        side = height
        rgb = rgb.resize((side * rgb.width // rgb.height, side), Image.Resampling.BICUBIC)
    canvas = np.full((height, width, 3), 110, dtype=np.float32)
    left = (width - rgb.width) // 2
    canvas[:, left : left + rgb.width] = np.asarray(rgb, dtype=np.float32)
    return np.clip(canvas * gain, 0, 255).astype(np.uint8)


def _yuv420(rgb: np.ndarray) -> bytes:
    """BT.601 in studio range (what Chromium assumes for a y4m), chroma averaged over 2x2."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [y, sub(cb), sub(cr)]
    return b"".join(np.clip(p + 0.5, 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 1) -> Path:
    """Write RGB frames (all the same even size) as one y4m file that Chromium loops."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for f in frames:
            out.write(b"FRAME\n")
            out.write(_yuv420(f))
    return path
