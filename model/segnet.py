"""SegNet (Badrinarayanan, Kendall, Cipolla): VGG16 encoder, decoder that unpools with the encoder's pooling indices.

Written with ``keras.ops`` only, so the same builder runs on the TensorFlow, JAX and PyTorch backends. A pure
builder: no file I/O. Every layer has a name (``enc3_conv2``, ``dec3_unpool``, ``head_border``).

Pooling indices without backend-specific ops: ``MaxPoolWithMask`` returns the 2x2 max-pooled map together with a
0/1 mask of the same shape as its input, 1 exactly at the position of each window's maximum. Ties inside a window
are broken in raster order (top-left first, as ``numpy.argmax`` on the flattened window), so every window keeps
exactly one position. ``MaxUnpool`` repeats the pooled map 2x2 and multiplies by that mask.

Heads (one output tensor named ``head_<head>``):
- ``binary``: 1 channel, sigmoid building probability (the original configuration);
- ``border``: 3 channels, softmax over outside (0) / inside (1) / border (2);
- ``distance``: 2 channels, sigmoid [building probability, truncated distance to the nearest border / truncation].
"""
from __future__ import annotations

import keras
from keras import layers, ops

HEADS = ("binary", "border", "distance")
HEAD_CHANNELS = {"binary": 1, "border": 3, "distance": 2}
VGG_BLOCKS = (2, 2, 3, 3, 3)  # convolutions per encoder block (13 in all)
VGG_MULTIPLIERS = (1, 2, 4, 8, 8)  # block widths relative to the first block (64, 128, 256, 512, 512)
PRESETS = {
    "segnet": {"width": 64, "depth": 5},  # the paper's network, ~29.4 M parameters: for GPUs
    "light": {"width": 16, "depth": 5},  # the CPU default, ~1.8 M parameters
    "tiny": {"width": 4, "depth": 5},  # tests and quick experiments
    # VGG16's full-width encoder (for its ImageNet filters, kept frozen) under the light decoder, which unpools with
    # the encoder's indices of its own channels and adds a 1x1 projection of each encoder block's features
    "vgg-light": {"width": 16, "depth": 5, "encoder_width": 64, "skips": True},
}
DEFAULT_PRESET = "light"
ENCODER_PREFIX = "enc"  # the encoder's layers: enc<block>_<i>_conv / _bn / _relu, enc<block>_pool
INPUT_MULTIPLE = 32
BN_MOMENTUM = 0.9  # moving statistics settle within tens of steps: short CPU runs and fine-tuning


@keras.saving.register_keras_serializable(package="footprints")
class MaxPoolWithMask(layers.Layer):
    """2x2 max pooling that also returns where each maximum was (a 0/1 mask shaped like the input; with
    ``mask_channels`` only of the first that many channels, for a narrower decoder)."""

    def __init__(self, mask_channels: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mask_channels = mask_channels

    def get_config(self):
        return {**super().get_config(), "mask_channels": self.mask_channels}

    def call(self, x):
        pooled = ops.max_pool(x, pool_size=2, strides=2, padding="valid")
        if self.mask_channels is not None:
            x, pooled_kept = x[..., :self.mask_channels], pooled[..., :self.mask_channels]
        else:
            pooled_kept = pooled
        hit = ops.cast(ops.equal(_repeat2(pooled_kept), x), x.dtype)
        priority = _window_priority(x)  # 4 top-left, 3 top-right, 2 bottom-left, 1 bottom-right
        ranked = hit * priority
        best = _repeat2(ops.max_pool(ranked, pool_size=2, strides=2, padding="valid"))
        mask = ops.cast(ops.equal(ranked, best), x.dtype) * hit
        return pooled, ops.stop_gradient(mask)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        half = [None if size is None else size // 2 for size in (height, width)]
        kept = channels if self.mask_channels is None else self.mask_channels
        return (batch, half[0], half[1], channels), (batch, height, width, kept)


@keras.saving.register_keras_serializable(package="footprints")
class MaxUnpool(layers.Layer):
    """Place each pooled value back at its recorded maximum position; zeros elsewhere."""

    def call(self, pooled, mask):
        return _repeat2(pooled) * mask

    def compute_output_shape(self, pooled_shape, mask_shape=None):
        if mask_shape is not None:
            return tuple(mask_shape)
        batch, height, width, channels = pooled_shape  # inputs are multiples of 32, so the mask is twice the size
        return (batch, None if height is None else 2 * height, None if width is None else 2 * width, channels)


def _repeat2(x):
    """Repeat an NHWC map 2x2 (nearest-neighbour upsampling)."""
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)


def _window_priority(x):
    """Per-pixel rank inside its 2x2 window, broadcastable against x: raster order first gets the highest rank."""
    ones = ops.ones_like(x[:, :, :, :1])
    row = ops.cumsum(ones, axis=1) - 1.0
    col = ops.cumsum(ones, axis=2) - 1.0
    row_odd = row - 2.0 * ops.floor(row / 2.0)
    col_odd = col - 2.0 * ops.floor(col / 2.0)
    return 4.0 - 2.0 * row_odd - col_odd


def block_widths(width: int, depth: int) -> list[int]:
    """Channels of each encoder block: VGG16's 64-128-256-512-512 scaled to ``width``, first ``depth`` blocks."""
    return [width * m for m in VGG_MULTIPLIERS[:depth]]


def resolve_preset(preset: str, width: int | None = None, depth: int | None = None) -> tuple[int, int]:
    """(width, depth) for a preset name, with explicit arguments taking precedence; ValueError when invalid."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
    width = PRESETS[preset]["width"] if width is None else int(width)
    depth = PRESETS[preset]["depth"] if depth is None else int(depth)
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    if not 1 <= depth <= len(VGG_BLOCKS):
        raise ValueError(f"depth must be between 1 and {len(VGG_BLOCKS)}, got {depth}")
    return width, depth


def _conv(x, filters: int, name: str):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _encoder(x, widths: list[int], plain: bool, mask_widths: list[int] | None = None):
    """VGG16 blocks; returns the bottom map, per block the pooling mask (or None for plain upsampling) and per
    block its last convolution's output (before pooling). ``mask_widths`` keeps each block's mask to that many
    channels (a decoder narrower than the encoder)."""
    masks, features = [], []
    for b, filters in enumerate(widths, start=1):
        for i in range(1, VGG_BLOCKS[b - 1] + 1):
            x = _conv(x, filters, f"enc{b}_{i}")
        features.append(x)
        if plain:
            x = layers.MaxPooling2D(2, name=f"enc{b}_pool")(x)
            masks.append(None)
        else:
            kept = None if mask_widths is None or mask_widths[b - 1] == filters else mask_widths[b - 1]
            x, mask = MaxPoolWithMask(kept, name=f"enc{b}_pool")(x)
            masks.append(mask)
    return x, masks, features


def _decoder(x, widths: list[int], masks: list, plain: bool, skips: list | None = None):
    """Mirror of the encoder: unpool with the block's mask (plus, with ``skips``, a 1x1 projection of the encoder
    block's features), then its convolutions; the last one narrows."""
    for b in range(len(widths), 0, -1):
        if plain:
            x = layers.UpSampling2D(2, name=f"dec{b}_upsample")(x)
        else:
            x = MaxUnpool(name=f"dec{b}_unpool")(x, masks[b - 1])
        if skips is not None:
            skip = layers.Conv2D(widths[b - 1], 1, name=f"dec{b}_skip")(skips[b - 1])
            x = layers.Add(name=f"dec{b}_join")([x, skip])
        n_convs = VGG_BLOCKS[b - 1]
        for i in range(n_convs, 0, -1):
            out = widths[b - 2] if (i == 1 and b > 1) else widths[b - 1]
            x = _conv(x, out, f"dec{b}_{i}")
    return x


def build_segnet(bands: int = 3, preset: str = DEFAULT_PRESET, head: str = "border", width: int | None = None,
                 depth: int | None = None, unpooling: str = "indices", input_size: int | None = None) -> keras.Model:
    """A SegNet for ``bands`` input bands; input height and width must be multiples of 32 (None: any such size).

    ``unpooling="plain"`` swaps index unpooling for nearest-neighbour upsampling (the original blog's setup).
    """
    if head not in HEADS:
        raise ValueError(f"unknown head '{head}'; choose one of {', '.join(HEADS)}")
    if bands < 1:
        raise ValueError(f"bands must be at least 1, got {bands}")
    if unpooling not in ("indices", "plain"):
        raise ValueError(f"unpooling must be 'indices' or 'plain', got '{unpooling}'")
    if input_size is not None and input_size % INPUT_MULTIPLE:
        raise ValueError(f"input size must be a multiple of {INPUT_MULTIPLE}, got {input_size}")
    width, depth = resolve_preset(preset, width, depth)
    widths = block_widths(width, depth)
    encoder_width = PRESETS[preset].get("encoder_width", width)
    encoder_widths = block_widths(encoder_width, depth)
    plain = unpooling == "plain"
    inputs = keras.Input((input_size, input_size, bands), name="image")
    x, masks, features = _encoder(inputs, encoder_widths, plain, widths)
    if encoder_width != width:  # the bottom map narrowed to the decoder's width
        x = layers.Conv2D(widths[-1], 1, name="dec_bridge")(x)
    x = _decoder(x, widths, masks, plain, features if PRESETS[preset].get("skips") else None)
    logits = layers.Conv2D(HEAD_CHANNELS[head], 1, name="head_logits")(x)
    activation = "softmax" if head == "border" else "sigmoid"
    outputs = layers.Activation(activation, dtype="float32", name=f"head_{head}")(logits)
    return keras.Model(inputs, outputs, name=f"segnet_{preset}_{head}")


def model_unpooling(model: keras.Model) -> str:
    """How a built or loaded SegNet's decoder upsamples: "indices" (index unpooling) or "plain"."""
    return "plain" if any(layer.name.endswith("_upsample") for layer in model.layers) else "indices"


def model_head(model: keras.Model) -> str:
    """Which head a built or loaded SegNet has (from its output layer's name)."""
    name = model.layers[-1].name
    if not name.startswith("head_") or name[5:] not in HEADS:
        raise ValueError(f"model '{model.name}' is not a footprints SegNet (last layer '{name}')")
    return name[5:]
