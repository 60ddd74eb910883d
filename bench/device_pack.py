"""Pack what bench/device_train.py needs on a GPU machine that has PyTorch and JAX but no geo stack, no Keras and
no network: every place's training tiles at the working resolution (model/tilepack.py), the synthetic tiles, the
synthetic-only model every candidate starts from, optionally VGG16's filters (float16, to fit the 64 MiB a device
call carries), and wheels of Keras and the two packages it needs that the machine lacks (Python 3.12).

    .venv/bin/python bench/device_pack.py --root ../shared/data --out .devpack [--align window] [--vgg vgg16.npz]

The folder is git-ignored; a device call names it in ``carry`` (model/weights/README.md, "On a GPU machine").
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# what Keras needs beyond the GPU machine's own packages (its list: numpy, h5py, ml-dtypes, rich, absl-py are there)
WHEELS = ("keras==3.15.1", "namex", "optree")
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def pack(args) -> dict:
    from bench_real import GSD_M, load_examples, synthetic_examples
    from model.tilepack import save_tiles

    out, cache = Path(args.out), Path(args.cache)
    out.mkdir(parents=True, exist_ok=True)
    align = {"none": False, "scene": "scene", "window": True}[args.align]
    examples = load_examples(Path(args.root), cache, GSD_M, align)
    real = [ex for exs in examples.values() for ex in exs]  # place order as bench_real's folds read it
    save_tiles(out / "tiles.npz", real, args.codec)
    if args.synthetic:
        save_tiles(out / "synthetic.npz", synthetic_examples(cache, args.synthetic, 7, GSD_M), args.codec)
    shutil.copyfile(args.synthetic_model, out / "synthetic-only.keras")
    card = Path(args.synthetic_model).with_suffix(".card.json")
    if card.exists():  # its inference settings, which the fine-tuned models inherit
        shutil.copyfile(card, out / "synthetic-only.card.json")
    if args.vgg:
        import numpy as np

        with np.load(args.vgg) as filters:
            np.savez(out / "vgg16.npz", **{k: v.astype(np.float16) for k, v in filters.items()})
    if not args.no_wheels:
        wheels = out / "wheels"
        wheels.mkdir(exist_ok=True)
        platforms = [arg for p in WHEEL_PLATFORMS for arg in ("--platform", p)]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(wheels),
                        *WHEELS], check=True)
    info = {"gsd_m": GSD_M, "align": args.align, "places": {p: len(exs) for p, exs in examples.items()},
            "synthetic_scenes": args.synthetic, "vgg16": bool(args.vgg), "codec": args.codec}
    (out / "pack.json").write_text(json.dumps(info, indent=2))
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(out.rglob("*")) if p.is_file()}
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    repo = sum((ROOT / f).stat().st_size for f in tracked.decode().split("\0") if f and (ROOT / f).is_file())
    total = sum(sizes.values()) + repo / 2**20
    return {**info, "mib": sizes, "with_the_repo_mib": round(total, 1), "fits_a_device_call": total < 63.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / ".devpack"))
    parser.add_argument("--cache", default=str(ROOT / "bench" / "out" / "real" / "cache"))
    parser.add_argument("--align", choices=["none", "scene", "window"], default="none",
                        help="register each scene's labels to its imagery first (geo/registration.py)")
    parser.add_argument("--synthetic", type=int, default=16, help="synthetic scenes (seed 7) as bench_real mixes in")
    parser.add_argument("--synthetic-model", type=Path,
                        default=ROOT / "bench" / "out" / "real" / "synthetic-only.keras")
    parser.add_argument("--codec", choices=["raw", "webp", "jpeg"], default="webp",
                        help="how tile images are stored (model/tilepack.py); jpeg leaves room for --vgg")
    parser.add_argument("--vgg", type=Path, default=None, help="VGG16 filters from `footprints weights import-vgg16`")
    parser.add_argument("--no-wheels", action="store_true", help="leave the Keras wheels out (tests)")
    print(json.dumps(pack(parser.parse_args())))


if __name__ == "__main__":
    main()
