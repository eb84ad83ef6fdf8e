"""Data pipeline benchmark on BraTS-size cases (240x240x155, gzipped NIfTI).

Measures: seconds to prepare the slice cache per case; time to read one random slice (4
modalities + labels) from the cache vs from the .nii.gz files; peak RSS while iterating one
training epoch over caches of 10 and of 50 cases.

    python benchmarks/bench_data.py [--cases 50] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from unet_tp.data import find_cases  # noqa: E402
from unet_tp.data.cache import CacheSettings, SliceDataset, prepare_cache  # noqa: E402
from unet_tp.data.synth import synth_dataset  # noqa: E402

# Run in a fresh process; memory from /proc (ru_maxrss would carry the parent's peak across exec).
EPOCH_CHILD = """
import json, sys, time
import torch
from unet_tp.data.cache import SliceDataset

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))

ds = SliceDataset(sys.argv[1])
base = status("VmRSS:")
loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True, num_workers=0)
t = time.perf_counter()
n = 0
for images, labels in loader:
    n += images.shape[0]
print(json.dumps({"slices": n, "seconds": time.perf_counter() - t, "rss_before_kb": base,
                  "peak_rss_kb": status("VmHWM:")}))
"""


def subset(root: Path, n: int, dest: Path) -> Path:
    """A folder of links to the first ``n`` cases."""
    dest.mkdir(parents=True, exist_ok=True)
    for case in find_cases(root)[:n]:
        link = dest / case.case_id
        if not link.exists():
            link.symlink_to(case.directory, target_is_directory=True)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="unet_tp_bench_"))
    print(f"machine: {describe()}")
    print(f"work folder: {work}")

    t = time.perf_counter()
    root = synth_dataset(work / "data", cases=args.cases, seed=0)
    print(f"sample cases: {args.cases} in {time.perf_counter() - t:.0f} s")
    results: dict[str, float] = {}
    for n in (args.small, args.cases):
        data = subset(root, n, work / f"data{n}")
        cache = work / f"cache{n}"
        report = prepare_cache(data, cache, CacheSettings(), force=True)
        results[f"prepare_s_per_case_{n}"] = report.seconds / n
        results[f"slices_{n}"] = report.n_slices
        print(
            f"prepare {n} cases: {report.seconds:.1f} s = {report.seconds / n:.2f} s/case, {report.n_slices} slices"
        )

    rng = np.random.default_rng(0)
    ds = SliceDataset(work / f"cache{args.cases}")
    cases = {c.case_id: c for c in find_cases(root)}
    picks = rng.integers(len(ds), size=400)
    t = time.perf_counter()
    for i in picks:
        ds[int(i)]
    cache_s = (time.perf_counter() - t) / len(picks)
    t = time.perf_counter()
    for i in picks[:20]:
        case_id, z = ds.slice_info(int(i))
        case = cases[case_id]
        # a slice straight from the files: what a naive Dataset does per item
        for path in case.files.values():
            np.asarray(nib.load(str(path)).dataobj[:, :, z])
    nii_s = (time.perf_counter() - t) / 20
    results.update(
        read_cache_ms=cache_s * 1e3, read_niigz_ms=nii_s * 1e3, read_speedup=nii_s / cache_s
    )
    print(
        f"random slice read: cache {cache_s * 1e3:.2f} ms, .nii.gz {nii_s * 1e3:.0f} ms "
        f"-> {nii_s / cache_s:.0f}x faster"
    )

    for n in (args.small, args.cases):
        out = subprocess.run(
            [sys.executable, "-c", EPOCH_CHILD, str(work / f"cache{n}")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out)
        results[f"peak_rss_mb_{n}"] = r["peak_rss_kb"] / 1024
        print(
            f"epoch over {n} cases: {r['slices']} slices in {r['seconds']:.1f} s, "
            f"peak RSS {r['peak_rss_kb'] / 1024:.0f} MB (before the epoch: {r['rss_before_kb'] / 1024:.0f} MB)"
        )
    cache_bytes = sum(p.stat().st_size for p in (work / f"cache{args.cases}" / "cases").iterdir())
    print(f"cache size: {cache_bytes / 2**20 / args.cases:.1f} MB per case")
    if args.json:
        args.json.write_text(json.dumps({"machine": describe(), **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
