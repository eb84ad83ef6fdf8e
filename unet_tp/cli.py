"""The ``unet-tp`` command line.

unet-tp data synth OUT --cases N --seed S     BraTS-format sample cases
unet-tp data download --source kaggle --out DIR  fetch a dataset (or use a local archive / folder)
unet-tp data prepare DATA --cache DIR         build the slice cache
unet-tp data info DATA                        list the cases found
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from unet_tp.data.cases import DataError

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


PLUGINS = "unet_tp.commands"
"""Entry-point group of further sub-commands: the instructor's checkout, installed in place,
declares ``autograder.cli:register`` there (``notebook``, ``grade``, ``report``, ``export``)."""
INSTRUCTOR_COMMANDS = {
    "notebook": "build the student notebook, publish the student repository",
    "grade": "autograde downloaded notebooks",
    "report": "the class report of a grading run",
    "export": "grades for Moodle, Canvas or a CSV",
}


def command(register: Callable[[argparse._SubParsersAction], None]) -> Callable:
    """Register a function that adds a sub-command to the parser."""
    if register not in _COMMANDS:
        _COMMANDS.append(register)
    return register


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

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    root = synth_dataset(
        args.out, cases=args.cases, seed=args.seed, force=args.force, progress=progress
    )
    bar.close()
    print(f"{args.cases} BraTS-format cases in {root}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from unet_tp.data.cases import find_cases
    from unet_tp.data.download import fetch_dataset
    from unet_tp.sources import sources

    available = sources()
    src = available[args.source]
    if src.layout == "kaggle" and not args.url:
        from unet_tp.data.download import fetch_kaggle

        root = fetch_kaggle(args.out, src.url)
        cases = find_cases(root)
        print(f"{len(cases)} cases ready in {root} (linked from the kagglehub download)")
        print(f"next: unet-tp data prepare {root} --cache {args.out}/cache")
        return 0
    url = args.url or src.url
    if url is None:
        print(
            f"error: no URL configured for source {src.name!r} ({src.description}). Set it in "
            "unet_tp/sources.py, export UNET_TP_BRATS_URL, or pass --url (an archive or a folder).",
            file=sys.stderr,
        )
        return 2
    sha256 = args.sha256 if args.sha256 is not None else (src.sha256 if not args.url else None)
    md5 = src.md5 if not args.url else None
    root = fetch_dataset(
        url,
        args.out,
        layout=args.layout or (src.layout if src.layout != "kaggle" else "brats"),
        sha256=sha256,
        md5=md5,
        keep_archive=args.keep_archive,
    )
    cases = find_cases(root)
    print(f"{len(cases)} cases ready in {root}")
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
    from unet_tp.data.cases import find_cases, scan_cases

    scan = scan_cases(args.data)
    cases = find_cases(args.data)  # raises, naming what was found, when there is no case
    grades: dict[str, int] = {}
    no_seg = [c for c in cases if not c.has_seg]
    for case in cases:
        grades[case.grade or "?"] = grades.get(case.grade or "?", 0) + 1
        missing = case.missing(with_seg=False)
        notes = []
        if missing:
            notes.append(f"missing: {', '.join(missing)}")
        if not case.has_seg:
            notes.append("prediction only (no seg)")
        notes += case.notes
        if (notes and len(no_seg) < len(cases)) or missing or case.notes or args.verbose:
            note = f"  {'; '.join(notes)}" if notes else ""
            print(f"{case.case_id:30s} {case.grade or '-':4s} {case.directory}{note}")
    editions = ", ".join(f"{k}: {v}" for k, v in scan.editions().items())
    print(
        f"{len(cases)} cases ({', '.join(f'{k}: {v}' for k, v in sorted(grades.items()))}); "
        f"edition: {editions}"
    )
    if no_seg:
        which = "all" if len(no_seg) == len(cases) else f"{len(no_seg)} of {len(cases)}"
        print(
            f"{which} cases have no seg file: prediction only (`unet-tp predict --data "
            f"{args.data} --checkpoint CKPT --out OUT_DIR`); training and evaluation leave them out"
        )
    if scan.unrecognised:
        print(
            f"{len(scan.unrecognised)} NIfTI files not recognised (their names follow no edition):"
        )
        for path in scan.unrecognised[: None if args.verbose else 10]:
            print(f"  {path}")
        if not args.verbose and len(scan.unrecognised) > 10:
            print(f"  ... and {len(scan.unrecognised) - 10} more (-v lists all)")
    return 0


@command
def _register_data(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="sample cases, downloads, the slice cache")
    dsub = data.add_subparsers(dest="data_command", required=True)
    for add in (_add_synth, _add_download, _add_prepare, _add_info):
        add(dsub)


def _add_synth(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("synth", help="write BraTS-format sample cases")
    p.add_argument("out", help="output folder")
    p.add_argument("--cases", type=int, default=12, help="number of cases")
    p.add_argument("--seed", type=int, default=0, help="dataset seed")
    p.add_argument("--force", action="store_true", help="replace a dataset made with another seed")
    p.set_defaults(func=_cmd_synth)


def _add_download(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "download", help="download and unpack a dataset (or use a local archive/folder)"
    )
    p.add_argument(
        "--source",
        default="brats2019",
        choices=["brats2019", "kaggle", "msd"],
        help="configured source (unet_tp/sources.py): brats2019 (the instructor's archive), "
        "kaggle (the Kaggle mirror of BraTS 2019, via kagglehub), msd (Decathlon Task01); "
        "default brats2019",
    )
    p.add_argument(
        "--url", help="archive URL, local archive or folder (overrides the source's URL)"
    )
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
    p.add_argument(
        "--crop", type=int, help="centre crop slices to CROP x CROP pixels (default: no crop)"
    )
    p.add_argument(
        "--image-size",
        type=int,
        help="resize slices to SIZE x SIZE pixels (default: no resize, the crop's size)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for choosing tumour-free slices")
    p.add_argument(
        "--skip-bad", action="store_true", help="skip unreadable cases instead of stopping"
    )
    p.add_argument(
        "--force", action="store_true", help="rebuild everything / write into a non-cache folder"
    )
    add_strict_flag(p)
    p.set_defaults(func=_cmd_prepare)


def _add_info(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("info", help="list the BraTS cases found in a folder")
    p.add_argument("data", help="folder of BraTS cases")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    p.set_defaults(func=_cmd_info)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each flag's help ends with its default (when it has one); epilogs keep their lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False) or "default" in text:
            return text
        return super()._get_help_string(action)


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every sub-command's parser, depth first."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += all_parsers(child)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unet-tp",
        description="U-Net brain-tumour segmentation practical",
        epilog="Run as .venv/bin/unet-tp, or after `source .venv/bin/activate` as unet-tp. "
        "`unet-tp COMMAND --help` describes a command and its flags.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for register in _COMMANDS:
        register(sub)
    for name, what in INSTRUCTOR_COMMANDS.items():
        if name not in sub.choices:  # a student install: one line instead of "invalid choice"
            p = sub.add_parser(name, help=f"instructor: {what} (not in a student install)")
            p.add_argument("rest", nargs=argparse.REMAINDER, help="the command's arguments")
            p.set_defaults(func=_instructor_only)
    for p in all_parsers(parser):
        p.formatter_class = HelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unet-tp`` console script."""
    _put_own_scripts_on_path()
    _load_optional_commands()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # read-only, permission, not a folder, disk full: one line, no traceback
        from unet_tp.fileio import os_error_message

        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except ImportError as exc:  # e.g. an in-place install without the instructor extras
        hint = ""
        if args.command in INSTRUCTOR_COMMANDS:
            hint = f": `unet-tp {args.command}` needs `pip install -e '.[instructor]'`"
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _put_own_scripts_on_path() -> None:
    """Run as ``.venv/bin/unet-tp`` without activating the venv, the tools it calls (nbgrader
    runs ``alembic``) are found beside it."""
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def _load_optional_commands() -> None:
    """Register the model commands (:mod:`unet_tp.commands`) and those of the installed
    ``unet_tp.commands`` entry points (the instructor's, where the checkout is installed)."""
    from importlib.metadata import entry_points

    import unet_tp.commands  # noqa: F401 - registers train, evaluate, predict, figures

    for plugin in entry_points(group=PLUGINS):
        try:
            command(plugin.load())
        except ModuleNotFoundError as exc:  # declared, but its code is not installed here
            if exc.name is None or exc.name.split(".")[0] != plugin.module.split(".")[0]:
                raise
        except AttributeError:  # a module of that name that is not the plugin
            continue


def _instructor_only(args: argparse.Namespace) -> int:
    raise RuntimeError(
        f"`unet-tp {args.command}` is an instructor command: it needs the kit's repository "
        "checked out and installed in place (`pip install -e '.[instructor]'`, as "
        "scripts/setup_env.sh does); a student install holds the course package only"
    )


if __name__ == "__main__":
    sys.exit(main())
