"""``footprints weights import-vgg16``: VGG16 ImageNet filters from an ONNX export into an .npz for --init."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "weights", help="pretrained encoder filters",
        description="import-vgg16 FILE.onnx --out vgg16.npz: read the 13 convolutions of a Keras VGG16 exported to "
                    "ONNX (needs the onnx package for this step only) for `footprints train --init vgg16:vgg16.npz`.")
    parser.add_argument("action", choices=["import-vgg16"], help="what to do")
    parser.add_argument("source", type=Path, help="the VGG16 .onnx file")
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    from model.pretrained import import_vgg16_onnx, save_npz

    weights = import_vgg16_onnx(args.source)
    out = save_npz(weights, args.out)
    return {"out": str(out), "layers": len(weights) // 2, "parameters": sum(int(v.size) for v in weights.values())}
