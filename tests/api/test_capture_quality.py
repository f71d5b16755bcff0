"""``POST /capture/quality`` with ``modality=finger``: fingertip photos and contact prints from
../shared/data judged as preview frames, with advice a person can act on."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.api.conftest import API, Deployment, assert_problem
from tests.conftest import shared_path

PREVIEW_SIDE = 960  # what the phone app sends for fingers (finger/preview.py says why)
ISPFD = "ISPFDv1_samples"


def _ispfd(name: str) -> Image.Image:
    path = shared_path("contactless", ISPFD, f"{name}.jpg")
    with Image.open(path) as im:
        frame = im.convert("RGB")
    frame.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return frame


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70)  # as the app encodes its preview frames
    return buf.getvalue()


def _judge(d: Deployment, frame: bytes, user: str = "off1", **form: Any) -> dict[str, Any]:
    answer = d.client.post(
        f"{API}/capture/quality",
        headers=d.headers(user),
        files={"image": ("frame.jpg", frame)},
        data={"modality": "finger", **form},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.mark.parametrize("name", ["1_i_1_w_1", "1_o_2_n_1", "9_o_1_n_1"])
def test_a_fingertip_photo_passes(deployment: Deployment, name: str) -> None:
    """A real phone photo of a fingertip (indoor and outdoor) is ok, with one fingertip and
    its ridge period found, and no advice."""
    body = _judge(deployment, _jpeg(_ispfd(name)))
    assert body["ok"] is True, body
    assert (body["advice"], body["problems"], body["faces_seen"]) == ([], [], 0)
    assert body["fingertips_seen"] == 1 and body["contactless"] is True
    tip = body["fingertips"][0]
    assert tip["problems"] == [] and 4 <= tip["ridge_period_px"] <= 12 and tip["width_px"] > 150


def test_a_face_offered_as_a_finger_is_refused(deployment: Deployment) -> None:
    """A face photo sent as a finger frame is not ok: the advice says it is a face."""
    face = _jpeg(Image.open(io.BytesIO(deployment.photo("Bill_Clinton", 10))))
    body = _judge(deployment, face)
    assert body["ok"] is False and body["problems"] == ["face"] and body["faces_seen"] >= 1
    assert "that is a face" in body["advice"][0]


@pytest.mark.parametrize(("colour", "problem"), [((128, 128, 128), "blank"), ((0, 0, 0), "dark")])
def test_a_blank_frame_says_what_to_do(
    deployment: Deployment, colour: tuple[int, int, int], problem: str
) -> None:
    """A blank grey frame (lens covered) and a black one are not ok, each with its advice."""
    body = _judge(deployment, _jpeg(Image.new("RGB", (720, 960), colour)))
    assert body["ok"] is False and body["problems"] == [problem] and body["fingertips_seen"] == 0
    assert body["advice"]


def test_dark_blurred_small_and_empty_frames_get_their_advice(deployment: Deployment) -> None:
    """The same real fingertip photo made dim, blurred (defocus), small (a 480 px frame, its
    ridges too fine to see), or cropped to the background, is refused with the matching
    advice; the good frame passes."""
    frame = _ispfd("1_o_1_n_1")
    pixels = np.asarray(frame, dtype=np.float32)
    cases = {
        "dark": Image.fromarray((pixels * 0.12).astype(np.uint8)),
        "blurred": frame.filter(ImageFilter.GaussianBlur(3)),
        "small": frame.resize((frame.width // 2, frame.height // 2)),
        "no_finger": frame.crop((0, 0, frame.width // 3, frame.height // 3)),
    }
    for problem, image in cases.items():
        body = _judge(deployment, _jpeg(image))
        assert body["ok"] is False and problem in body["problems"], (problem, body)
    words = {"dark": "too dark", "blurred": "hold still", "small": "closer"}
    for problem, text in words.items():
        body = _judge(deployment, _jpeg(cases[problem]))
        assert any(text in a for a in body["advice"]), (problem, body["advice"])


def test_contact_prints_judged_with_the_contact_gates(deployment: Deployment) -> None:
    """FVC2002 prints sent with contactless=false pass; the same print sent as a camera frame
    is no fingertip photo; a face sent as a contact print is refused as a face."""
    for db, name in (("DB1_B", "101_2.tif"), ("DB4_B", "105_3.tif")):
        data = Path(shared_path("fingerprints", "FVC2002", db, name)).read_bytes()
        body = _judge(deployment, data, contactless="false")
        assert body["ok"] is True and body["contactless"] is False, body
        assert body["fingertips_seen"] == 0 and body["advice"] == []
        as_photo = _judge(deployment, data)
        assert as_photo["ok"] is False and "no_finger" in as_photo["problems"]
    face = deployment.photo("Bill_Clinton", 10)
    body = _judge(deployment, face, contactless="false")
    assert body["ok"] is False and body["problems"] == ["face"]


def test_face_frames_keep_their_answer_and_bad_modality_is_refused(
    deployment: Deployment,
) -> None:
    """Without modality a frame is judged as a face, with exactly the face answer's keys; a
    modality other than face or finger is a 400 naming the field; a role that may not search
    is refused (403) for fingers too."""
    c, h = deployment.client, deployment.headers("off1")
    face = {"image": ("f.jpg", deployment.photo("Bill_Clinton", 10))}
    plain = c.post(f"{API}/capture/quality", headers=h, files=face)
    assert plain.status_code == 200 and set(plain.json()) == {"ok", "advice", "faces_seen"}
    bad = c.post(f"{API}/capture/quality", headers=h, files=face, data={"modality": "iris"})
    assert assert_problem(bad, 400)["field"] == "modality"
    refused = c.post(
        f"{API}/capture/quality", headers=deployment.headers("aud1"), files=face,
        data={"modality": "finger"},
    )  # fmt: skip
    assert_problem(refused, 403)
    trainee = _judge(deployment, _jpeg(_ispfd("9_o_1_n_1")), user="trn1")
    assert trainee["ok"] is True
