"""Training tiles in one compressed NumPy file: read the scenes once where rasterio and the labels' formats are
installed, train from the file anywhere NumPy and Keras are (a GPU machine without the geo stack).

Images are stored as uint8 (the tiles are already stretched to [0, 1]: a step of 1/255 is under the noise that
augmentation adds), each tile raw, as lossless WebP (``codec="webp"``: under half the size of zlib on aerial
imagery) or as JPEG at quality 95 (``"jpeg"``: a fifth of it, mean error 1.5 / 255); instance ids as int32, valid
masks bit-packed; tiles of different sizes sit side by side in flat arrays with their shapes and refs beside them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import io

import numpy as np

from model.data import TrainingExample

CODECS = ("raw", "webp", "jpeg")


def save_tiles(path: str | Path, examples: Sequence[TrainingExample], codec: str = "raw") -> Path:
    """Write ``examples`` to ``path`` (.npz), atomically (a temporary name in the same folder, renamed)."""
    path = Path(path)
    if not examples:
        raise ValueError("no tiles to save")
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got '{codec}'")
    shapes = np.array([ex.image.shape for ex in examples], np.int64)
    if len(set(shapes[:, 2])) != 1:
        raise ValueError("every tile must have the same number of bands")
    if codec != "raw" and shapes[0, 2] != 3:
        raise ValueError(f"the {codec} codec stores 3-band tiles; these have {shapes[0, 2]} bands, use raw")
    encoded = [_encode(np.round(np.clip(ex.image, 0, 1) * 255).astype(np.uint8), codec) for ex in examples]
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
    images = np.frombuffer(b"".join(encoded), np.uint8)
    instances = np.concatenate([np.asarray(ex.instances, np.int32).ravel() for ex in examples])
    valid = np.packbits(np.concatenate([np.asarray(ex.valid, bool).ravel() for ex in examples]))
    refs = np.array([ex.ref for ex in examples])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez_compressed(tmp, shapes=shapes, images=images, offsets=offsets, instances=instances, valid=valid,
                            refs=refs, codec=np.array(codec))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_tiles(path: str | Path) -> list[TrainingExample]:
    """The tiles ``save_tiles`` wrote, images back in float32 [0, 1]."""
    with np.load(path, allow_pickle=False) as pack:
        shapes, images, offsets, instances = pack["shapes"], pack["images"], pack["offsets"], pack["instances"]
        refs, codec = pack["refs"], str(pack["codec"])
        valid = np.unpackbits(pack["valid"]).astype(bool)
    examples, px = [], 0
    for k, ((h, w, c), ref) in enumerate(zip(shapes.tolist(), refs.tolist())):
        image = _decode(images[offsets[k]:offsets[k + 1]], codec, (h, w, c)).astype(np.float32) / 255.0
        examples.append(TrainingExample(image, instances[px:px + h * w].reshape(h, w).copy(),
                                        valid[px:px + h * w].reshape(h, w).copy(), str(ref)))
        px += h * w
    return examples


def _encode(pixels: np.ndarray, codec: str) -> bytes:
    if codec == "raw":
        return pixels.tobytes()
    from PIL import Image

    buffer = io.BytesIO()
    options = {"format": "WEBP", "lossless": True, "method": 4} if codec == "webp" else \
        {"format": "JPEG", "quality": 95, "subsampling": 0}
    Image.fromarray(pixels).save(buffer, **options)
    return buffer.getvalue()


def _decode(data: np.ndarray, codec: str, shape: tuple[int, int, int]) -> np.ndarray:
    if codec == "raw":
        return data.reshape(shape)
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data.tobytes())).convert("RGB")).reshape(shape)
