"""Ingest throughput for a synthetic 10k x 10k px scene with a nodata corner and tens of thousands of labels.

The scene is written by windows (never whole in memory): each 512 px block repeats a synthetic scene, the top-left
quarter is nodata. Labels are the synthetic scene's buildings repeated per block.

    .venv/bin/python bench/bench_ingest.py [--size 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from shapely import affinity
from shapely.geometry import mapping

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BLOCK = 512


def write_big_scene(folder: Path, size: int) -> tuple[Path, Path]:
    """A size x size RGB uint8 GeoTIFF (nodata 0, top-left quarter empty) and its label GeoJSON."""
    from geo.synth import render_scene

    image, labels, crs, transform = render_scene(seed=11, index=0, size=BLOCK, pixel_size=0.4)
    image = np.maximum(np.moveaxis(image, -1, 0), 1)  # 0 is nodata
    tif = folder / "big.tif"
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "nodata": 0,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "predictor": 2,
    }
    features = []
    with rasterio.open(tif, "w", **profile) as dst:
        for row in range(0, size, BLOCK):
            for col in range(0, size, BLOCK):
                w, h = min(BLOCK, size - col), min(BLOCK, size - row)
                empty = row < size // 2 and col < size // 2
                block = np.zeros((3, h, w), np.uint8) if empty else image[:, :h, :w]
                dst.write(block, window=Window(col, row, w, h))
                if not empty and w == BLOCK and h == BLOCK:
                    features += _shifted_labels(labels, transform, col, row)
    geojson = folder / "big.geojson"
    epsg = crs.split(":")[1]
    geojson.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": features,
                "crs": {"type": "name", "properties": {"name": f"EPSG:{epsg}"}},
            }
        )
    )
    return tif, geojson


def _shifted_labels(labels, transform, col: int, row: int) -> list[dict]:
    world = [transform.a, transform.b, transform.d, transform.e, transform.c, transform.f]
    return [
        {
            "type": "Feature",
            "properties": {},
            "id": f"{row}_{col}_{i}",
            "geometry": mapping(affinity.affine_transform(affinity.translate(poly, col, row), world)),
        }
        for i, (poly, _) in enumerate(labels)
    ]


def ingest_once(tif: str, labels: str | None, project: str) -> None:
    """Child process: one ingest; prints seconds, summary and this process's peak RSS as JSON."""
    from services.ingest import ingest

    start = time.perf_counter()
    result = ingest([tif], [labels] if labels else None, project=project, tile_size=512)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_mb,
                "tiles": result["tiles"],
                "nodata": result["skipped"]["nodata_tiles"],
                "labels": result["labels"],
            }
        )
    )


def run_child(tif: Path, labels: Path | None, project: str) -> dict:
    argv = [sys.executable, __file__, "--child", str(tif), str(labels or ""), project]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(name: str, runs: list[dict], megapixels: float) -> None:
    median = statistics.median(r["seconds"] for r in runs)
    last = runs[-1]
    seconds = ", ".join(f"{r['seconds']:.1f}" for r in runs)
    print(
        f"{name}: runs {seconds} s; median {median:.1f} s; "
        f"{megapixels / median:.1f} Mpx/s; {(last['tiles'] + last['nodata']) / median:.0f} windows/s; "
        f"tiles {last['tiles']} stored, {last['nodata']} nodata skipped; labels {last['labels']} "
        f"({last['labels'] / median:.0f}/s); peak RSS {max(r['peak_mb'] for r in runs):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ingest_once(args.child[0], args.child[1] or None, args.child[2])
        return
    folder = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    os.environ["FOOTPRINTS_HOME"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    start = time.perf_counter()
    tif, labels = write_big_scene(folder, args.size)
    megapixels = args.size * args.size / 1e6
    print(
        f"wrote {args.size}x{args.size} RGB scene ({tif.stat().st_size / 1e6:.0f} MB deflate, "
        f"{3 * megapixels:.0f} MB raw) in {time.perf_counter() - start:.1f} s"
    )
    report("pixels only", [run_child(tif, None, f"pixels{i}") for i in range(args.runs)], megapixels)
    report("with labels", [run_child(tif, labels, f"labels{i}") for i in range(args.runs)], megapixels)


if __name__ == "__main__":
    main()
