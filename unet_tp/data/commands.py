"""``unet-tp data``: the student's data commands.

unet-tp data synth OUT --cases N --seed S        BraTS-format sample cases
unet-tp data download --source kaggle --out DIR  fetch a dataset (or use a local archive / folder)
unet-tp data prepare DATA --cache DIR            build the slice cache
unet-tp data info DATA                           list the cases found
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data`` and its sub-commands to ``unet-tp``'s sub-command parser."""
    data = sub.add_parser("data", help="sample cases, downloads, the slice cache")
    dsub = data.add_subparsers(dest="data_command", required=True)
    for add in (_add_synth, _add_download, _add_prepare, _add_pack, _add_info):
        add(dsub)


def add_strict_flag(p: argparse.ArgumentParser) -> None:
    """``--strict``: suspicious data is an error, not a warning (prepare, train, predict)."""
    p.add_argument(
        "--strict",
        action="store_true",
        help="suspicious data (constant modality, non-zero background, lost header) is an error",
    )


def _cmd_synth(args: argparse.Namespace) -> int:
    from unet_tp.data.synth import synth_dataset
    from unet_tp.progress import progress_bar

    bar = progress_bar(None, "sample cases", total=args.cases, unit="case")
    root = synth_dataset(
        args.out,
        cases=args.cases,
        seed=args.seed,
        force=args.force,
        progress=lambda done, total: bar.update(done - bar.n),
    )
    bar.close()
    print(f"{args.cases} BraTS-format cases in {root}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    """The source's archive (or ``--url``), unpacked into ``--out``; the Kaggle mirror through
    kagglehub. A URL of one's own is checked only against ``--sha256``."""
    from unet_tp.data import download
    from unet_tp.data.cases import find_cases
    from unet_tp.sources import sources

    src, own = sources()[args.source], bool(args.url)
    note = ""
    if src.layout == "kaggle" and not own:
        root = download.fetch_kaggle(args.out, src.url)
        note = " (linked from the kagglehub download)"
    elif (args.url or src.url) is None:
        raise ValueError(
            f"no URL configured for source {src.name!r} ({src.description}). Set it in "
            "unet_tp/sources.py, export UNET_TP_BRATS_URL, or pass --url (an archive or a folder)."
        )
    else:
        root = download.fetch_dataset(
            args.url or src.url,
            args.out,
            layout=args.layout or (src.layout if src.layout != "kaggle" else "brats"),
            sha256=args.sha256 if args.sha256 is not None else (None if own else src.sha256),
            md5=None if own else src.md5,
            keep_archive=args.keep_archive,
        )
    print(f"{len(find_cases(root))} cases ready in {root}{note}")
    print(f"next: unet-tp data prepare {root} --cache {args.out}/cache")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from unet_tp.data.cache import CacheSettings, prepare_cache
    from unet_tp.progress import case_progress

    settings = CacheSettings(
        tumour_free_fraction=args.tumour_free_fraction,
        crop=args.crop,
        image_size=args.image_size,
        seed=args.seed,
    )
    report = prepare_cache(
        args.data,
        args.cache,
        settings,
        skip_bad=args.skip_bad,
        force=args.force,
        progress=case_progress(),
        strict=args.strict,
    )
    print(report.summary())
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    """One line per case worth a note (every case with ``-v``), then the totals; for a course
    pack (archive, URL or its folder), its summary."""
    from unet_tp.data import pack
    from unet_tp.data.cases import find_cases, scan_cases

    if pack.is_pack(args.data):
        print(pack.pack_info(args.data))
        return 0
    scan = scan_cases(args.data)
    cases = find_cases(args.data)  # raises, naming what was found, when there is no case
    no_seg = [c for c in cases if not c.has_seg]
    for case in cases:
        missing = case.missing(with_seg=False)
        notes = [f"missing: {', '.join(missing)}"] if missing else []
        notes += ([] if case.has_seg else ["prediction only (no seg)"]) + case.notes
        if (notes and len(no_seg) < len(cases)) or missing or case.notes or args.verbose:
            note = f"  {'; '.join(notes)}" if notes else ""
            print(f"{case.case_id:30s} {case.grade or '-':4s} {case.directory}{note}")
    grades = ", ".join(
        f"{k}: {v}" for k, v in sorted(Counter(c.grade or "?" for c in cases).items())
    )
    editions = ", ".join(f"{k}: {v}" for k, v in scan.editions().items())
    print(f"{len(cases)} cases ({grades}); edition: {editions}")
    if no_seg:
        which = "all" if len(no_seg) == len(cases) else f"{len(no_seg)} of {len(cases)}"
        print(
            f"{which} cases have no seg file: prediction only (`unet-tp predict --data "
            f"{args.data} --checkpoint CKPT --out OUT_DIR`); training and evaluation leave them out"
        )
    if scan.unrecognised:
        shown = scan.unrecognised[: None if args.verbose else 10]
        print(
            f"{len(scan.unrecognised)} NIfTI files not recognised (their names follow no edition):"
        )
        print("\n".join(f"  {path}" for path in shown))
        if len(shown) < len(scan.unrecognised):
            print(f"  ... and {len(scan.unrecognised) - 10} more (-v lists all)")
    return 0


def _add_synth(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("synth", help="write BraTS-format sample cases")
    p.add_argument("out", help="output folder")
    p.add_argument("--cases", type=int, default=12, help="number of cases")
    p.add_argument("--seed", type=int, default=0, help="dataset seed")
    p.add_argument("--force", action="store_true", help="replace a dataset made with another seed")
    p.set_defaults(func=_cmd_synth)


def _add_download(dsub: argparse._SubParsersAction) -> None:
    from unet_tp.sources import sources

    known = sources()
    described = "; ".join(f"{s.name}: {s.description}" for s in known.values())
    p = dsub.add_parser(
        "download", help="download and unpack a dataset (or a local archive/folder)"
    )
    p.add_argument(
        "--source",
        default="brats2019",
        choices=list(known),
        help=f"configured source (unet_tp/sources.py): {described}; default brats2019",
    )
    p.add_argument("--url", help="archive URL, local archive or folder (overrides the source's)")
    p.add_argument(
        "--sha256", help="expected SHA-256 of the archive (default: the source's, if any)"
    )
    p.add_argument(
        "--layout", choices=["brats", "msd"], help="archive layout (default: the source's)"
    )
    p.add_argument("--out", default="data", help="data folder")
    p.add_argument("--keep-archive", action="store_true", help="keep the archive after extraction")
    p.set_defaults(func=_cmd_download)


def _add_prepare(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("prepare", help="build the slice cache of a folder of cases")
    p.add_argument("data", help="folder of BraTS cases")
    p.add_argument("--cache", required=True, help="cache folder")
    p.add_argument(
        "--tumour-free-fraction",
        type=float,
        default=0.25,
        help="share of tumour-free brain slices kept per case",
    )
    p.add_argument("--crop", type=int, help="centre crop to CROP x CROP pixels (default: no crop)")
    p.add_argument(
        "--image-size", type=int, help="resize to SIZE x SIZE pixels (default: the crop's size)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for choosing tumour-free slices")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable cases, do not stop")
    p.add_argument(
        "--force", action="store_true", help="rebuild everything / write into a non-cache folder"
    )
    add_strict_flag(p)
    p.set_defaults(func=_cmd_prepare)


def _cmd_pack(args: argparse.Namespace) -> int:
    from unet_tp.data.cache import CacheSettings
    from unet_tp.data.pack import build_pack

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists: pass --force to replace it")
    settings = CacheSettings(args.tumour_free_fraction, crop=args.crop, image_size=args.image_size)
    built = build_pack(args.data, out, args.patients, settings, seed=args.seed)
    print(built.summary())
    print(f"then: unet-tp notebook build --pack URL --pack-sha256 {built.sha256}")
    return 0


def _add_pack(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "pack", help="a course pack: the slice cache of N patients in one checked archive"
    )
    p.add_argument("data", help="folder of BraTS cases (any edition the kit reads)")
    p.add_argument("--out", required=True, help="the archive to write (e.g. course.tar.gz)")
    p.add_argument("--patients", type=int, required=True, help="how many patients (>= 2)")
    p.add_argument("--crop", type=int, default=192, help="centre crop (default 192)")
    p.add_argument("--image-size", type=int, help="resize to SIZE x SIZE (default: the crop)")
    p.add_argument("--tumour-free-fraction", type=float, default=0.25, help="(default 0.25)")
    p.add_argument("--seed", type=int, default=0, help="chooses the patients and the split")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_cmd_pack)


def _add_info(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("info", help="list the BraTS cases of a folder, or describe a course pack")
    p.add_argument("data", help="folder of BraTS cases, or a course pack (archive, URL, folder)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    p.set_defaults(func=_cmd_info)
