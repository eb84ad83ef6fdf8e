"""Pack a BraTS folder into an archive to host for a class, and print the lines for sources.py.

    python data_scripts/make_archive.py /path/to/MICCAI_BraTS_2019_Data_Training brats2019.tar
    python data_scripts/make_archive.py DATA out.tar --cases 40   # a lighter subset for the TP

An uncompressed tar (the .nii.gz are compressed already) of
``MICCAI_BraTS_2019_Data_Training/{HGG,LGG}/<case>/...``, written atomically.
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

from unet_tp.data import find_cases
from unet_tp.fileio import atomic_write, sha256_file


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path)
    parser.add_argument("archive", type=Path)
    parser.add_argument("--cases", type=int, help="only the first N cases (sorted by id)")
    args = parser.parse_args()
    if args.archive.exists():
        raise SystemExit(f"{args.archive} exists; remove it first")
    cases = find_cases(args.data)[: args.cases]
    with atomic_write(args.archive, "wb") as raw, tarfile.open(fileobj=raw, mode="w|") as tf:
        for case in cases:
            folder = f"MICCAI_BraTS_2019_Data_Training/{case.grade or 'HGG'}/{case.case_id}"
            for path in sorted(case.files.values()):
                tf.add(path, arcname=f"{folder}/{path.name}")
    size = args.archive.stat().st_size / 2**30
    print(f"{len(cases)} cases, {size:.2f} GiB -> {args.archive}")
    print("in unet_tp/sources.py:")
    print(f'BRATS2019_URL = "https://<your host>/{args.archive.name}"')
    print(f'BRATS2019_SHA256 = "{sha256_file(args.archive)}"')


if __name__ == "__main__":
    main()
