"""``unet-tp data``: the student's data commands (synth, download, prepare, pack, info), each
declared as a row of :func:`register`'s table: help, function, flags."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from unet_tp.i18n import tr

REQUIRED = object()
"""A flag's default that makes it required."""
STRICT = ("--strict", bool, False, "suspicious data (constant modality, non-zero background, "
          "lost header) is an error")  # fmt: skip


def add_flag(p: argparse.ArgumentParser, name: str, kind, default, text: str) -> None:
    """One flag of a table row: ``kind`` a type, ``bool`` (a switch) or a list of choices;
    ``name`` may be ``-v/--verbose``."""
    if kind is bool:
        extra = {"action": "store_true"}
    elif isinstance(kind, list):
        extra = {"choices": kind, "default": default}
    elif default is REQUIRED:
        extra = {"type": kind, "required": True}
    else:
        extra = {"type": kind, "default": default}
    p.add_argument(*name.split("/"), help=text, **extra)


def add_strict_flag(p: argparse.ArgumentParser) -> None:
    """``--strict``: suspicious data is an error, not a warning (prepare, train, predict)."""
    add_flag(p, *STRICT)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data`` and its sub-commands to ``unet-tp``'s sub-command parser."""
    from unet_tp.sources import sources

    known = sources()
    described = "; ".join(f"{s.name}: {s.description}" for s in known.values())
    table = {
        "synth": ("write BraTS-format sample cases", _cmd_synth, [
            ("out", str, None, "output folder"),
            ("--cases", int, 12, "number of cases"),
            ("--seed", int, 0, "dataset seed"),
            ("--force", bool, False, "replace a dataset made with another seed"),
        ]),
        "download": ("download and unpack a dataset (or a local archive/folder)", _cmd_download, [
            ("--source", list(known), "brats2019",
             f"configured source (unet_tp/sources.py): {described}; default brats2019"),
            ("--url", str, None, "archive URL, local archive or folder (overrides the source's)"),
            ("--sha256", str, None, "expected SHA-256 of the archive (default: the source's, if any)"),
            ("--layout", ["brats", "msd"], None, "archive layout (default: the source's)"),
            ("--out", str, "data", "data folder"),
            ("--keep-archive", bool, False, "keep the archive after extraction"),
        ]),
        "prepare": ("build the slice cache of a folder of cases", _cmd_prepare, [
            ("data", str, None, "folder of BraTS cases"),
            ("--cache", str, REQUIRED, "cache folder"),
            ("--tumour-free-fraction", float, 0.25, "share of tumour-free brain slices kept per case"),
            ("--crop", int, None, "centre crop to CROP x CROP pixels (default: no crop)"),
            ("--image-size", int, None, "resize to SIZE x SIZE pixels (default: the crop's size)"),
            ("--seed", int, 0, "seed for choosing tumour-free slices"),
            ("--skip-bad", bool, False, "skip unreadable cases, do not stop"),
            ("--force", bool, False, "rebuild everything / write into a non-cache folder"),
            STRICT,
        ]),
        "pack": ("a course pack: the slice cache of N patients in one checked archive", _cmd_pack, [
            ("data", str, None, "folder of BraTS cases (any edition the kit reads)"),
            ("--out", str, REQUIRED, "the archive to write (e.g. course.tar.gz)"),
            ("--patients", int, REQUIRED, "how many patients (>= 2)"),
            ("--crop", int, 192, "centre crop (default 192)"),
            ("--image-size", int, None, "resize to SIZE x SIZE (default: the crop)"),
            ("--tumour-free-fraction", float, 0.25, "(default 0.25)"),
            ("--seed", int, 0, "chooses the patients and the split"),
            ("--skip-bad", bool, False, "leave out unreadable cases (fewer patients), do not stop"),
            ("--force", bool, False, "replace an existing --out"),
        ]),
        "info": ("list the BraTS cases of a folder, or describe a course pack", _cmd_info, [
            ("data", str, None, "folder of BraTS cases, or a course pack (archive, URL, folder)"),
            ("-v/--verbose", bool, False, "one line per case"),
        ]),
    }  # fmt: skip
    data = sub.add_parser("data", help="sample cases, downloads, the slice cache")
    dsub = data.add_subparsers(dest="data_command", required=True)
    for name, (text, func, flags) in table.items():
        p = dsub.add_parser(name, help=text)
        for flag in flags:
            add_flag(p, *flag)
        p.set_defaults(func=func)


def _cmd_synth(args: argparse.Namespace) -> int:
    from unet_tp.data.synth import synth_dataset
    from unet_tp.progress import progress_bar

    with progress_bar(None, "sample cases", total=args.cases, unit="case") as bar:
        root = synth_dataset(
            args.out, args.cases, args.seed, args.force, lambda n, _: bar.update(n - bar.n)
        )
    print(tr("{count} BraTS-format cases in {root}", count=args.cases, root=root))
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    """The source's archive (or ``--url``), unpacked into ``--out``; the Kaggle mirror through
    kagglehub. A URL of one's own is checked only against ``--sha256``."""
    from unet_tp.data import download
    from unet_tp.data.cases import find_cases, incomplete
    from unet_tp.sources import sources

    src, own = sources()[args.source], bool(args.url)
    kaggle = src.layout == "kaggle" and not own
    if kaggle:
        root = download.fetch_kaggle(args.out, src.url)
    elif (args.url or src.url) is None:
        raise ValueError(
            tr(
                "no URL configured for source {name} ({description}). Set it in "
                "unet_tp/sources.py, export UNET_TP_BRATS_URL, or pass --url (an archive or a "
                "folder).",
                name=repr(src.name),
                description=src.description,
            )
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
    cases = find_cases(root)
    left_out = [why for c in cases if (why := incomplete(c))]
    count = len(cases) - len(left_out)
    if kaggle:
        print(
            tr(
                "{count} cases ready in {root} (linked from the kagglehub download)",
                count=count,
                root=root,
            )
        )
    else:
        print(tr("{count} cases ready in {root}", count=count, root=root))
    for why in left_out:
        print(tr("  incomplete, not counted: {why}", why=why))
    print(tr("next: unet-tp data prepare {args}", args=_next_cache(root, Path(args.out))))
    return 0


def _next_cache(root: Path, out: Path) -> str:
    """``DATA --cache DIR`` for the line after a download, quoted for a shell (a Drive folder's
    spaces); the cache in ``out``, or in the current folder where ``out`` cannot be written (a
    read-only mount the download found unpacked)."""
    import os
    import shlex

    cache = out / "cache" if os.access(out, os.W_OK) else Path("brats_cache")
    return f"{shlex.quote(str(root))} --cache {shlex.quote(str(cache))}"


def _cmd_prepare(args: argparse.Namespace) -> int:
    from unet_tp.data.cache import CacheSettings, prepare_cache
    from unet_tp.progress import case_progress

    grid = {"crop": args.crop, "image_size": args.image_size}
    settings = CacheSettings(args.tumour_free_fraction, seed=args.seed, **grid)
    report = prepare_cache(
        args.data, args.cache, settings, args.skip_bad, args.force, case_progress(), args.strict
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
        notes = [tr("missing: {kinds}", kinds=", ".join(missing))] if missing else []
        notes += ([] if case.has_seg else [tr("prediction only (no seg)")]) + case.notes
        notes += [case.problem] if case.problem else []
        worth = missing or case.notes or case.problem or args.verbose
        if (notes and len(no_seg) < len(cases)) or worth:
            note = f"  {tr('; ').join(notes)}" if notes else ""
            print(f"{case.case_id:30s} {case.grade or '-':4s} {case.directory}{note}")
    grades = ", ".join(
        tr("{name}: {count}", name=k, count=v)
        for k, v in sorted(Counter(c.grade or "?" for c in cases).items())
    )
    editions = ", ".join(tr("{name}: {count}", name=k, count=v) for k, v in scan.editions().items())
    print(
        tr(
            "{count} cases ({grades}); edition: {editions}",
            count=len(cases),
            grades=grades,
            editions=editions,
        )
    )
    if no_seg:
        print(_no_seg_note(len(no_seg), len(cases), args.data))
    if scan.unrecognised:
        _print_unrecognised(scan.unrecognised, args.verbose)
    return 0


def _no_seg_note(count: int, total: int, data: str) -> str:
    """The cases without a seg file: what they are good for."""
    if count == 1 and total > 1:
        return tr(
            "1 of {total} cases has no seg file: prediction only (`unet-tp predict --data "
            "{data} --checkpoint CKPT --out OUT_DIR`); training and evaluation leave it out",
            total=total,
            data=data,
        )
    if count == total:
        return tr(
            "all cases have no seg file: prediction only (`unet-tp predict --data {data} "
            "--checkpoint CKPT --out OUT_DIR`); training and evaluation leave them out",
            data=data,
        )
    return tr(
        "{count} of {total} cases have no seg file: prediction only (`unet-tp predict --data "
        "{data} --checkpoint CKPT --out OUT_DIR`); training and evaluation leave them out",
        count=count,
        total=total,
        data=data,
    )


def _print_unrecognised(unrecognised: list[Path], verbose: bool) -> None:
    """The NIfTI files no edition names (the first 10 unless ``verbose``)."""
    shown = unrecognised[: None if verbose else 10]
    print(
        tr(
            "{count} NIfTI files not recognised (their names follow no edition):",
            count=len(unrecognised),
        )
    )
    print("\n".join(f"  {path}" for path in shown))
    if len(shown) < len(unrecognised):
        print(tr("  ... and {more} more (-v lists all)", more=len(unrecognised) - 10))


def _cmd_pack(args: argparse.Namespace) -> int:
    from unet_tp.data.cache import CacheSettings
    from unet_tp.data.cases import find_cases
    from unet_tp.data.pack import build_pack
    from unet_tp.data.split import patient_of

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(tr("{out} exists: pass --force to replace it", out=out))
    settings = CacheSettings(args.tumour_free_fraction, crop=args.crop, image_size=args.image_size)
    built = build_pack(
        args.data, out, args.patients, settings, seed=args.seed, skip_bad=args.skip_bad
    )
    print(built.summary())
    got, skipped = built.manifest["patients"], len(built.skipped)
    if got < args.patients:
        held = len({patient_of(c.case_id) for c in find_cases(args.data) if c.has_seg})
        why = [tr("{data} holds {held} with a seg file", data=args.data, held=held)]
        why = why if held < args.patients else []
        why += [tr("{count} skipped", count=skipped)] if skipped else []
        print(
            tr(
                "note: {got} patients, not the {asked} asked ({why})",
                got=got,
                asked=args.patients,
                why=tr("; ").join(why),
            )
        )
    print(tr("then: unet-tp notebook build --pack URL --pack-sha256 {sha256}", sha256=built.sha256))
    return 0
