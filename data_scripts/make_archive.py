"""Pack a BraTS folder into an archive to host for a class, and print the lines for sources.py.

    python data_scripts/make_archive.py /path/to/MICCAI_BraTS_2019_Data_Training brats2019.tar
    python data_scripts/make_archive.py DATA out.tar.gz --cases 40   # a lighter subset

A tar of ``MICCAI_BraTS_2019_Data_Training/{HGG,LGG}/<case>/...`` (a case whose grade the data
does not name, BraTS 2021's or 2023's, at ``MICCAI_BraTS_2019_Data_Training/<case>/``: not
filed as HGG), gzipped when its name ends in ``.gz`` or ``.tgz`` (the Kaggle mirror's ``.nii``
are not compressed: about 18 MB a volume), written atomically. ``--cases N``: N cases drawn by
``--seed`` (not the first N by name: BraTS 2019's 2013 and CBICA cases).
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

import numpy as np

from unet_tp.data import find_cases
from unet_tp.fileio import atomic_write, sha256_file


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path)
    parser.add_argument("archive", type=Path)
    parser.add_argument("--cases", type=int, help="N cases drawn by the seed (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.archive.exists():
        raise SystemExit(f"{args.archive} exists; remove it first")
    cases = find_cases(args.data)
    if args.cases is not None and args.cases < len(cases):
        drawn = np.random.default_rng(args.seed).choice(len(cases), args.cases, replace=False)
        cases = [cases[i] for i in sorted(drawn)]
    mode = "w|gz" if args.archive.name.endswith((".gz", ".tgz")) else "w|"
    with atomic_write(args.archive, "wb") as raw, tarfile.open(fileobj=raw, mode=mode) as tf:
        for case in cases:
            grade = f"{case.grade}/" if case.grade in ("HGG", "LGG") else ""
            folder = f"MICCAI_BraTS_2019_Data_Training/{grade}{case.case_id}"
            for path in sorted(case.files.values()):
                tf.add(path, arcname=f"{folder}/{path.name}")
    size = args.archive.stat().st_size / 2**30
    print(f"{len(cases)} cases, {size:.2f} GiB -> {args.archive}")
    print("in unet_tp/sources.py:")
    print(f'BRATS2019_URL = "https://<your host>/{args.archive.name}"')
    print(f'BRATS2019_SHA256 = "{sha256_file(args.archive)}"')


if __name__ == "__main__":
    main()
