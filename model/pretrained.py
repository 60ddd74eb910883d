"""VGG16 ImageNet filters for SegNet's encoder (the SegNet paper initialises its encoder from VGG16).

Sources, both giving the 13 convolutions of Keras' VGG16 (``block1_conv1`` ... ``block5_conv3``):
- an ONNX export of a Keras VGG16 (``import_vgg16_onnx``; needs the ``onnx`` package, for this step only), saved as
  an ``.npz`` of HWIO kernels and biases keyed ``enc{block}_{i}``;
- ``keras.applications.VGG16(weights="imagenet")`` when the machine can download it (``keras_imagenet_filters``).

``load_into_segnet`` puts them into ``enc1_1 ... enc5_3``. VGG16 wants BGR pixels in 0-255 minus the ImageNet mean;
the network here gets RGB in [0, 1], so that preprocessing is folded into the first kernel and bias. Narrower
presets take, per layer, the output filters with the largest L1 norm (as in channel pruning) and the input
channels the previous layer kept.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from errors import UserError

VGG_LAYERS = [(b, i) for b, n in enumerate((2, 2, 3, 3, 3), start=1) for i in range(1, n + 1)]
IMAGENET_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
CONV_PARAMETERS = 14_714_688  # VGG16 without its classifier


def _layer_key(block: int, index: int) -> str:
    return f"enc{block}_{index}"


def import_vgg16_onnx(path: str | Path, check: bool = True) -> dict[str, np.ndarray]:
    """{"enc1_1/kernel": HWIO, "enc1_1/bias": O, ...} from an ONNX VGG16 (convolutions in graph order);
    ``check=False`` accepts other widths (tests)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise UserError("importing ONNX weights needs the onnx package; run `pip install onnx` once") from exc
    path = Path(path)
    if not path.is_file():
        raise UserError(f"'{path}' does not exist; give the .onnx file of a VGG16")
    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:
        raise UserError(f"'{path}' is not an ONNX model ({type(exc).__name__}); give a VGG16 .onnx file") from exc
    inits = {t.name: t for t in graph.initializer}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    if len(convs) != len(VGG_LAYERS):
        raise UserError(f"'{path}' has {len(convs)} convolutions, VGG16 has {len(VGG_LAYERS)}; give a VGG16 export")
    weights = {}
    for (block, index), node in zip(VGG_LAYERS, convs):
        kernel = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)  # OIHW
        bias = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
        weights[f"{_layer_key(block, index)}/kernel"] = np.transpose(kernel, (2, 3, 1, 0))  # -> HWIO
        weights[f"{_layer_key(block, index)}/bias"] = bias
    if check:
        check_vgg16(weights, str(path))
    return weights


def keras_imagenet_filters() -> dict[str, np.ndarray]:
    """The same filters from ``keras.applications.VGG16`` (downloads them once; needs internet)."""
    import keras

    try:
        vgg = keras.applications.VGG16(weights="imagenet", include_top=False)
    except Exception as exc:
        raise UserError(f"could not get the Keras ImageNet VGG16 weights ({type(exc).__name__}); use "
                        "--init vgg16:FILE.npz from `footprints weights import-vgg16`") from exc
    weights = {}
    for block, index in VGG_LAYERS:
        kernel, bias = vgg.get_layer(f"block{block}_conv{index}").get_weights()
        weights[f"{_layer_key(block, index)}/kernel"] = kernel
        weights[f"{_layer_key(block, index)}/bias"] = bias
    return weights


def check_vgg16(weights: dict[str, np.ndarray], source: str) -> None:
    """UserError unless ``weights`` are the 13 VGG16 convolutions with their published shapes."""
    total = sum(int(v.size) for v in weights.values())
    if total != CONV_PARAMETERS or weights.get("enc1_1/kernel", np.empty(0)).shape != (3, 3, 3, 64):
        raise UserError(f"'{source}' does not hold VGG16's convolutions ({total:,} parameters, expected "
                        f"{CONV_PARAMETERS:,}); give a VGG16 export")


def save_npz(weights: dict[str, np.ndarray], out: str | Path) -> Path:
    """Write the filters as a compressed .npz (to a temporary name, then renamed into place)."""
    out = Path(out)
    tmp = out.with_name(out.stem + ".tmp.npz")
    np.savez_compressed(tmp, **weights)
    tmp.replace(out)
    return out


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"VGG16 filters '{path}' do not exist; make them with `footprints weights import-vgg16`")
    with np.load(path) as data:
        weights = {key: data[key] for key in data.files}
    check_vgg16(weights, str(path))
    return weights


def fold_preprocessing(kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-layer kernel and bias for RGB input in [0, 1] equal to VGG16's on BGR*255 - mean (away from borders)."""
    rgb_kernel = kernel[:, :, ::-1, :] * 255.0
    shift = np.einsum("hwio,i->o", kernel, IMAGENET_MEAN_BGR)
    return rgb_kernel.astype(np.float32), (bias - shift).astype(np.float32)


def strongest(kernel: np.ndarray, count: int) -> np.ndarray:
    """Indices (sorted) of the ``count`` output filters with the largest L1 norm."""
    norms = np.abs(kernel).sum(axis=(0, 1, 2))
    return np.sort(np.argsort(-norms, kind="stable")[:count])


def load_into_segnet(model, weights: dict[str, np.ndarray], images: np.ndarray | None = None) -> list[str]:
    """Copy VGG16 filters into a SegNet's encoder (any width, any band count); returns the layers set.

    With ``images`` (a few NxHxWxC training patches) each batch norm is calibrated so that, in training mode on
    such images, conv + norm + ReLU computes what VGG16's conv + bias + ReLU computes (see ``_calibrate``)."""
    kept_inputs: np.ndarray | None = None
    done = []
    for block, index in VGG_LAYERS:
        key = _layer_key(block, index)
        try:
            conv, norm = model.get_layer(f"{key}_conv"), model.get_layer(f"{key}_bn")
        except ValueError:
            break  # a shallower preset
        kernel, bias = weights[f"{key}/kernel"], weights[f"{key}/bias"]
        if kept_inputs is None:
            kernel, bias = fold_preprocessing(kernel, bias)
            kernel = _fit_bands(kernel, conv.kernel.shape[2])
        else:
            kernel = kernel[:, :, kept_inputs, :]
        kept_inputs = strongest(kernel, conv.kernel.shape[3])
        conv.kernel.assign(kernel[..., kept_inputs])
        _identity_norm(norm, bias[kept_inputs])
        if images is not None:
            _calibrate(model, key, images, bias[kept_inputs])
        done.append(key)
    return done


def _calibrate(model, key: str, images: np.ndarray, bias: np.ndarray) -> None:
    """Set the norm after ``key``'s conv to gamma = std, beta = mean + bias of that conv's output on ``images``,
    so that normalising by the batch's own statistics gives back conv + bias."""
    import keras

    probe = keras.Model(model.inputs, model.get_layer(f"{key}_conv").output)
    out = np.asarray(probe.predict(images, batch_size=4, verbose=0), np.float64)
    mean, std = out.mean(axis=(0, 1, 2)), out.std(axis=(0, 1, 2)) + 1e-3
    norm = model.get_layer(f"{key}_bn")
    norm.gamma.assign(std.astype(np.float32))
    norm.beta.assign((mean + bias).astype(np.float32))
    norm.moving_mean.assign(mean.astype(np.float32))
    norm.moving_variance.assign((std ** 2).astype(np.float32))


def _fit_bands(kernel: np.ndarray, bands: int) -> np.ndarray:
    """An RGB first kernel for ``bands`` input bands: 1 band sums R, G, B; more bands keep RGB and add zeros."""
    if bands == 3:
        return kernel
    if bands == 1:
        return kernel.sum(axis=2, keepdims=True)
    extra = np.zeros(kernel.shape[:2] + (bands - 3, kernel.shape[3]), kernel.dtype)
    return np.concatenate([kernel, extra], axis=2) if bands > 3 else kernel[:, :, :bands]


def _identity_norm(norm, bias: np.ndarray) -> None:
    """A batch norm that starts as 'add the VGG bias' (gamma 1, beta bias, moving mean 0, variance 1)."""
    norm.gamma.assign(np.ones_like(bias))
    norm.beta.assign(bias)
    norm.moving_mean.assign(np.zeros_like(bias))
    norm.moving_variance.assign(np.ones_like(bias))
