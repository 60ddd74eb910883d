"""VGG16 filters: the ONNX importer puts each tensor in the right layer (OIHW -> HWIO), the first layer absorbs
VGG's preprocessing, narrower SegNets take the strongest filters, and `train --init` starts from them."""
from __future__ import annotations

import numpy as np
import pytest

from model.pretrained import VGG_LAYERS, fold_preprocessing, import_vgg16_onnx, load_into_segnet, strongest

onnx = pytest.importorskip("onnx")

VGG_WIDTHS = (64, 128, 256, 512, 512)


def _vgg_shaped(rng: np.random.Generator, scale: int = 1) -> dict[str, np.ndarray]:
    """Random filters with VGG16's layer layout, widths divided by ``scale``."""
    weights, cin = {}, 3
    for block, index in VGG_LAYERS:
        cout = VGG_WIDTHS[block - 1] // scale
        weights[f"enc{block}_{index}/kernel"] = rng.normal(0, 0.1, (3, 3, cin, cout)).astype(np.float32)
        weights[f"enc{block}_{index}/bias"] = rng.normal(0, 0.1, cout).astype(np.float32)
        cin = cout
    return weights


def _onnx_file(path, weights: dict[str, np.ndarray]) -> None:
    """A small ONNX graph of 13 Conv + Relu nodes holding ``weights`` as OIHW initializers."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, previous = [], [], "input"
    for block, index in VGG_LAYERS:
        key = f"enc{block}_{index}"
        kernel = np.transpose(weights[f"{key}/kernel"], (3, 2, 0, 1))  # HWIO -> OIHW
        inits += [numpy_helper.from_array(kernel, f"{key}_w"), numpy_helper.from_array(weights[f"{key}/bias"], f"{key}_b")]
        nodes += [helper.make_node("Conv", [previous, f"{key}_w", f"{key}_b"], [f"{key}_c"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"{key}_c"], [f"{key}_r"])]
        previous = f"{key}_r"
    graph = helper.make_graph(nodes, "vgg", [helper.make_tensor_value_info("input", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph), str(path))


def test_importer_lands_each_tensor_in_its_layer(tmp_path):
    weights = _vgg_shaped(np.random.default_rng(0), scale=16)
    _onnx_file(tmp_path / "vgg.onnx", weights)
    imported = import_vgg16_onnx(tmp_path / "vgg.onnx", check=False)
    assert sorted(imported) == sorted(weights)
    for key, value in weights.items():
        np.testing.assert_array_equal(imported[key], value)


def test_importer_refuses_a_network_that_is_not_vgg16(tmp_path):
    from errors import UserError

    _onnx_file(tmp_path / "small.onnx", _vgg_shaped(np.random.default_rng(0), scale=16))
    with pytest.raises(UserError, match="VGG16"):
        import_vgg16_onnx(tmp_path / "small.onnx")


def test_folded_first_layer_equals_vgg_preprocessing():
    from scipy.signal import correlate

    rng = np.random.default_rng(1)
    kernel, bias = rng.normal(0, 1, (3, 3, 3, 2)).astype(np.float32), rng.normal(0, 1, 2).astype(np.float32)
    rgb = rng.uniform(0, 1, (9, 9, 3)).astype(np.float32)
    bgr = rgb[..., ::-1] * 255.0 - np.array([103.939, 116.779, 123.68], np.float32)
    folded_k, folded_b = fold_preprocessing(kernel, bias)
    for out in range(2):
        want = correlate(bgr, kernel[..., out], mode="valid")[..., 0] + bias[out]
        got = correlate(rgb, folded_k[..., out], mode="valid")[..., 0] + folded_b[out]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2)


def test_narrow_segnet_takes_the_strongest_filters():
    from model.segnet import build_segnet

    weights = _vgg_shaped(np.random.default_rng(2))
    model = build_segnet(3, "tiny", "border", input_size=32)
    assert len(load_into_segnet(model, weights)) == 13
    first_out = strongest(fold_preprocessing(weights["enc1_1/kernel"], weights["enc1_1/bias"])[0], 4)
    second = weights["enc1_2/kernel"][:, :, first_out, :]
    second_out = strongest(second, 4)
    np.testing.assert_allclose(np.asarray(model.get_layer("enc1_2_conv").kernel), second[..., second_out])
    np.testing.assert_allclose(np.asarray(model.get_layer("enc1_2_bn").beta), weights["enc1_2/bias"][second_out])


def test_train_init_smoke(tmp_path):
    """`footprints train --init vgg16:FILE.npz --freeze-encoder` on synthetic scenes: the encoder from the file, kept."""
    from cli.main import main
    from geo.synth import synth
    from model.pretrained import save_npz

    save_npz(_vgg_shaped(np.random.default_rng(3)), tmp_path / "vgg16.npz")
    synth(tmp_path / "scenes", 2, seed=5, size=128)
    code = main(["train", "--data", str(tmp_path / "scenes"), "--preset", "tiny", "--epochs", "1", "--patch", "64",
                 "--init", f"vgg16:{tmp_path / 'vgg16.npz'}", "--freeze-encoder", "--gsd", "0.5",
                 "--out", str(tmp_path / "run"), "--json"])
    assert code == 0
    import json

    card = json.loads((tmp_path / "run" / "model.card.json").read_text())
    assert card["init"].startswith("vgg16:") and card["gsd_m"] == 0.5 and card["frozen_encoder"] is True
