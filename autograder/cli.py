"""The instructor commands of ``unet-tp`` (``notebook build|publish``, ``grade``, ``report``,
``export``, and :mod:`autograder.model_flags`'s): :func:`register` is the ``unet_tp.commands``
entry point of the checkout installed in place; a student install has none of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import model_flags
from autograder.sandbox import CELL_TIMEOUT, NOTEBOOK_TIMEOUT, Limits


def register(sub: argparse._SubParsersAction) -> None:
    """Add the instructor commands to ``unet-tp``'s sub-command parser."""
    model_flags.register(sub, _cmd_model)
    for add in (_add_notebook, _add_grade, _add_report, _add_export):
        add(sub)


def _cmd_model(args: argparse.Namespace) -> int:
    from autograder.model_commands import COMMANDS

    return COMMANDS[args.command](args)


def _cmd_notebook_build(args: argparse.Namespace) -> int:
    from autograder import build

    pack = None
    if args.pack is not None:
        pack = (None, None) if args.pack == "none" else (args.pack, args.pack_sha256)
    report = build.build(check=args.check, repository=args.repository, ref=args.ref, pack=pack)
    if report.synced_cells:
        verb = "would take" if args.check else "took"
        print(f"source notebook {verb} cells {', '.join(report.synced_cells)} from solutions/")
    print(report.summary())
    if args.check and report.changed:
        print("run `unet-tp notebook build` to regenerate them", file=sys.stderr)
        return 1
    return 0


def _cmd_notebook_publish(args: argparse.Namespace) -> int:
    from autograder.publish import publish

    print(publish(args.out, force=args.force).summary())  # a PublishError: one line, from main
    return 0


def _add_notebook(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebook", help="build the student notebook, publish the student repository"
    )
    nsub = p.add_subparsers(dest="notebook_command", required=True)
    b = nsub.add_parser(
        "build",
        help="sync the source notebook with solutions/, regenerate notebooks/TP_sujet.ipynb "
        "and the solution notebook (nbgrader generate_assignment)",
    )
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    b.add_argument(
        "--repository",
        metavar="OWNER/NAME",
        help="publish: the GitHub repository students install from and open in Colab, written "
        "into unet_tp/sources.py, the README's Colab badge and the notebook's install cell "
        "(default: REPOSITORY in unet_tp/sources.py)",
    )
    b.add_argument(
        "--ref", metavar="TAG", help="publish: the branch or tag students use (default: REF there)"
    )
    b.add_argument(
        "--pack",
        metavar="URL",
        help="the course pack (unet-tp data pack) students download: its https address, written "
        "into the notebook, where DATA_SOURCE = 'pack' becomes the default ('none' removes it)",
    )
    b.add_argument("--pack-sha256", metavar="HEX", help="the pack's SHA-256 (data pack prints it)")
    b.set_defaults(func=_cmd_notebook_build)
    p = nsub.add_parser(
        "publish",
        help="write the public student repository: unet_tp and the student notebook, nothing "
        "of solutions/ or autograder/ (this checkout stays private)",
    )
    p.add_argument("out", metavar="DIR", help="the folder to push as the students' repository")
    p.add_argument("--force", action="store_true", help="replace a folder publish did not write")
    p.set_defaults(func=_cmd_notebook_publish)


def _cmd_grade(args: argparse.Namespace) -> int:
    from autograder import grade as grading

    out = Path(args.out)
    results = grading.grade_all(
        Path(args.submissions),
        out,
        jobs=args.jobs,
        force=args.force,
        pattern=args.pattern,
        db_url=args.db,
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.notebook_timeout,
        memory_limit=int(args.memory_limit * 2**30) if args.memory_limit else None,
        sandbox=args.sandbox,
    )
    print(grading.summary_table(results))
    print(
        f"grades: {out / 'grades.csv'}; feedback: {out / 'feedback'}/; report: {out / 'report.html'}"
    )
    return 0


def _add_grade(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grade", help="autograde a folder (or LMS zip) of downloaded notebooks")
    p.add_argument(
        "submissions", help="folder of .ipynb files (one folder per student), a zip, or one .ipynb"
    )
    p.add_argument("--out", required=True, help="output folder: grades.csv, feedback/, gradebook")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded in parallel")
    p.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    p.add_argument("--pattern", help="regular expression with groups 'id' (and 'name') per path")
    p.add_argument("--db", help="gradebook SQLAlchemy URL (default sqlite OUT/gradebook.db)")
    p.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    p.add_argument(
        "--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT, help="seconds per notebook"
    )
    p.add_argument(
        "--memory-limit",
        type=float,
        default=Limits.memory_bytes >> 30,
        help="GiB per kernel (0: no limit)",
    )
    p.add_argument(
        "--sandbox",
        choices=["bwrap", "none"],
        default="bwrap",
        help="bwrap: each notebook's kernel in a bubblewrap sandbox (no network, nothing of the "
        "instructor side visible); none: run notebooks with your rights (every row flagged)",
    )
    p.set_defaults(func=_cmd_grade)


def _cmd_report(args: argparse.Namespace) -> int:
    from autograder.report import spec_changed, write_report
    from autograder.results import Results

    print(f"report: {write_report(Path(args.out))}")
    if changed := spec_changed(Results.load(Path(args.out))):
        print(f"warning: {changed}")
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="the class report OUT/report.html of a grading run")
    p.add_argument("out", metavar="OUT", help="the grading output folder (holding results.json)")
    p.set_defaults(func=_cmd_report)


def _cmd_export(args: argparse.Namespace) -> int:
    from autograder import export

    report = export.export(
        Path(args.out_dir),
        args.format,
        roster=Path(args.roster) if args.roster else None,
        out=Path(args.out) if args.out else None,
        assignment=args.assignment,
        force=args.force,
    )
    print(report.summary())
    if report.unmatched and not report.graded:  # an empty file: say so to scripts too
        print(f"error: no student could be put in the {args.format} file", file=sys.stderr)
        return 1
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="grades for Moodle or Canvas")
    p.add_argument("out_dir", metavar="OUT", help="the grading output folder (results.json)")
    p.add_argument(
        "--format",
        required=True,
        choices=["moodle", "canvas"],
        help="moodle: the offline grading worksheet; canvas: the gradebook import CSV",
    )
    p.add_argument(
        "--roster",
        metavar="FILE",
        help="the grading worksheet (Moodle) or gradebook export (Canvas) downloaded from the LMS",
    )
    p.add_argument("--out", metavar="FILE", help="file to write (default: a file in OUT)")
    p.add_argument("--assignment", help="Canvas: the assignment column, 'Title (id)' or its id")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the file (and Moodle's feedback zip) even if edited since export wrote it",
    )
    p.set_defaults(func=_cmd_export)
