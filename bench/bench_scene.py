"""Whole-scene prediction, end to end (read, network, vectorise, GeoJSON + heatmap GeoTIFF), in one process tree.

Sections (``--sections``, default all):
- ``speed``: on one synthetic ``--size`` px scene, interleaved repeats (medians): the seed configuration (full-width
  SegNet, plain upsampling, binary head, 8 views, float32, random weights: its speed does not depend on them) on a
  ``--seed-size`` crop of the same scene (it is ~100x slower), and the shipped model at float32 and bfloat16 with
  1 view and with its card's views; the ratio default / seed in MP/s;
- ``f1``: polygons of bfloat16 against float32 (SpaceNet F1, IoU 0.5) on the benchmark scene and the real Atlanta
  sample;
- ``rss``: peak resident memory of a child process predicting scenes of each ``--rss-sizes`` (mosaics of the
  synthetic scene, so every size has buildings everywhere);
- ``workers``: MP/s in this process (``--workers 1``) and on a local Dask cluster of 2 processes (``--workers 2``),
  interleaved, the cluster started once (its start-up time is printed apart).

    .venv/bin/python bench/bench_scene.py [--size 4096] [--seed-size 1024] [--reps 3] [--rss-sizes 4096,10000]
                                          [--sections speed,f1,rss,workers] [--workdir DIR]

The machine may be shared: every figure is a median of interleaved repeats in the same process tree.
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED_CONFIG = dict(preset="segnet", head="binary", unpooling="plain")
SEED_VIEWS = 8
SCENE_SEED = 4242
PIXEL_M = 0.5


def log(row: dict) -> None:
    print(json.dumps(row), flush=True)


def make_bench_scene(folder: Path, size: int) -> Path:
    from geo.synth import make_scene

    tif, _ = make_scene(folder, seed=SCENE_SEED, index=0, size=size, pixel_size=PIXEL_M)
    return tif


def crop(src_path: Path, out: Path, size: int) -> Path:
    """The top-left ``size`` x ``size`` px of a scene as its own GeoTIFF."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(src_path) as src:
        profile = src.profile | {"width": size, "height": size, "transform": src.window_transform(
            Window(0, 0, size, size))}
        data = src.read(window=Window(0, 0, size, size))
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    return out


def mosaic(src_path: Path, out: Path, size: int) -> Path:
    """A ``size`` x ``size`` px GeoTIFF tiled from copies of a scene, written block by block (never whole)."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(src_path) as src:
        data = src.read()
        profile = src.profile | {"width": size, "height": size, "tiled": True, "blockxsize": 256,
                                 "blockysize": 256, "compress": "deflate"}
    h, w = data.shape[1:]
    with rasterio.open(out, "w", **profile) as dst:
        for row in range(0, size, h):
            for col in range(0, size, w):
                win = Window(col, row, min(w, size - col), min(h, size - row))
                dst.write(data[:, :win.height, :win.width], window=win)
    return out


def seed_predictor():
    from model.predict import Predictor
    from model.segnet import build_segnet

    predictor = Predictor(build_segnet(3, **SEED_CONFIG), SEED_CONFIG["head"], 3, "seed", {"tta": SEED_VIEWS})
    return predictor


def run_scene(tif: Path, predictor, out: Path, **kw) -> float:
    from model.scene_predict import predict_scene

    start = time.perf_counter()
    predict_scene(tif, predictor, out.with_suffix(".geojson"), out.with_suffix(".tif"),
                  threshold=float(predictor.card.get("threshold", 0.5)), **kw)
    return time.perf_counter() - start


def megapixels(tif: Path) -> float:
    import rasterio

    with rasterio.open(tif) as src:
        return src.width * src.height / 1e6


def interleaved(configs: dict, reps: int, work: Path) -> dict[str, dict]:
    """{name: {"median_s", "mp_per_s", "reps"}}: one warm-up each on a 512 px crop (graph tracing), then ``reps``
    rounds over all configs."""
    times: dict[str, list[float]] = {name: [] for name in configs}
    for name, (tif, fn) in configs.items():
        warm = work / "warm_scene.tif"
        if not warm.exists():
            crop(tif, warm, 512)
        fn(warm, work / f"warm-{name}")
    for rep in range(reps):
        for name, (tif, fn) in configs.items():
            times[name].append(fn(tif, work / name))
            log({"rep": rep, "config": name, "seconds": round(times[name][-1], 2)})
    rows = {}
    for name, (tif, _) in configs.items():
        median = statistics.median(times[name])
        rows[name] = {"config": name, "megapixels": megapixels(tif), "median_s": round(median, 2),
                      "mp_per_s": round(megapixels(tif) / median, 3), "reps": reps}
        log(rows[name])
    return rows


def section_speed(scene: Path, args, work: Path) -> None:
    from model.precision import with_precision
    from model.predict import Predictor, default_model_path

    default = Predictor.load(default_model_path())
    bf16 = with_precision(default, "bfloat16")
    seed = seed_predictor()
    seed_scene = crop(scene, work / "seed_scene.tif", args.seed_size)
    card_views = default.tta
    configs = {"seed-8views-float32": (seed_scene, lambda t, o: run_scene(t, seed, o))}
    for views in sorted({1, card_views}):
        configs[f"default-{views}view-float32"] = (scene, lambda t, o, v=views: run_scene(t, default, o, tta=v))
        configs[f"default-{views}view-bfloat16"] = (scene, lambda t, o, v=views: run_scene(t, bf16, o, tta=v))
    rows = interleaved(configs, args.reps, work)
    base = rows["seed-8views-float32"]["mp_per_s"]
    for name, row in rows.items():
        print(f"{name:>26}: {row['mp_per_s']:7.3f} MP/s ({row['mp_per_s'] / base:6.1f}x seed), median of "
              f"{row['reps']} on {row['megapixels']:.1f} MP", flush=True)


def polygons_in(path: Path, crs: str) -> list:
    import shapely
    from pyproj import Transformer
    from shapely.geometry import shape

    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    data = json.loads(path.read_text())
    return [(shapely.transform(shape(f["geometry"]), lambda xy: np.column_stack(to_crs.transform(xy[:, 0], xy[:, 1]))),
             f["properties"]["score"]) for f in data["features"]]


def f1_between(a: Path, b: Path, crs: str) -> dict:
    """SpaceNet F1 (IoU >= 0.5) of polygons ``b`` against polygons ``a`` as the reference."""
    from model.metrics import spacenet_counts

    ref, other = polygons_in(a, crs), polygons_in(b, crs)
    counts = spacenet_counts(other, [p for p, _ in ref])
    tp, fp, fn = counts.tp, counts.fp, counts.fn
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    return {"float32": len(ref), "bfloat16": len(other), "tp": tp, "fp": fp, "fn": fn, "f1": round(f1, 4)}


def section_f1(scene: Path, args, work: Path) -> None:
    import rasterio

    from model.precision import with_precision
    from model.predict import Predictor, default_model_path

    default = Predictor.load(default_model_path())
    bf16 = with_precision(default, "bfloat16")
    scenes = {"synthetic": scene}
    atlanta = ROOT / "samples" / "spacenet-atlanta-sample" / "atlanta_sn4_pan.tif"
    if atlanta.exists():
        scenes["atlanta"] = atlanta
    for name, tif in scenes.items():
        f32, b16 = work / f"f1-{name}-f32", work / f"f1-{name}-bf16"
        if name == "synthetic" and (work / "default-1view-bfloat16.geojson").exists():  # the speed section's
            f32, b16 = work / "default-1view-float32", work / "default-1view-bfloat16"
        else:
            run_scene(tif, default, f32)
            run_scene(tif, bf16, b16)
        with rasterio.open(tif) as src:
            crs = src.crs.to_string()
        row = {"scene": name, **f1_between(f32.with_suffix(".geojson"), b16.with_suffix(".geojson"), crs)}
        log(row)
        print(f"bfloat16 vs float32 polygons on {name}: F1 {row['f1']:.4f} ({row['float32']} vs {row['bfloat16']} "
              "polygons)", flush=True)


def rss_child(tif: str, out: str) -> None:
    from model.predict import Predictor, default_model_path

    seconds = run_scene(Path(tif), Predictor.load(default_model_path()), Path(out))
    print(json.dumps({"peak_rss_mb": round(peak_rss_mb(), 1), "seconds": round(seconds, 1)}))


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (VmHWM: unlike ru_maxrss, not inherited from the
    parent that spawned it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def section_rss(scene: Path, args, work: Path) -> None:
    for size in [int(s) for s in args.rss_sizes.split(",")]:
        tif = mosaic(scene, work / f"mosaic-{size}.tif", size)
        done = subprocess.run([sys.executable, __file__, "--rss-child", str(tif), str(work / f"rss-{size}")],
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        row = {"size": size, "megapixels": size * size / 1e6, **json.loads(done.stdout.strip().splitlines()[-1])}
        log(row)
        print(f"peak RSS {row['peak_rss_mb']:.0f} MB for a {size} x {size} px scene ({row['megapixels']:.0f} MP, "
              f"{row['megapixels'] / row['seconds']:.3f} MP/s)", flush=True)
        tif.unlink()


def section_workers(scene: Path, args, work: Path) -> None:
    from model.distributed_predict import dask_client, dask_runner
    from model.predict import Predictor, default_model_path

    default = Predictor.load(default_model_path())
    start = time.perf_counter()
    with dask_client(2) as client:
        runner = dask_runner(client, default_model_path(), "float32")
        client.run(lambda: None)
        startup = time.perf_counter() - start
        configs = {"workers-1": (scene, lambda t, o: run_scene(t, default, o)),
                   "workers-2": (scene, lambda t, o: run_scene(t, default, o, runner=runner))}
        rows = interleaved(configs, args.reps, work)
    print(f"local Dask cluster of 2 processes started (model loaded) in {startup:.1f} s", flush=True)
    for name, row in rows.items():
        print(f"{name}: {row['mp_per_s']:.3f} MP/s, median of {row['reps']} on {row['megapixels']:.1f} MP",
              flush=True)


SECTIONS = {"speed": section_speed, "f1": section_f1, "rss": section_rss, "workers": section_workers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--seed-size", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rss-sizes", default="4096,10000")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--workdir", default=None, help="keep the scenes and outputs here (default: a temp dir)")
    parser.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        scene = work / "scene_000.tif"
        if not scene.exists():
            scene = make_bench_scene(work, args.size)
        print(f"scene {scene} ({megapixels(scene):.1f} MP at {PIXEL_M} m), cpu count {os.cpu_count()}", flush=True)
        for name in args.sections.split(","):
            SECTIONS[name](scene, args, work)


if __name__ == "__main__":
    main()
