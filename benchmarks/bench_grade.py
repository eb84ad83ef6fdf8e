"""Grading speed, memory and stability: N copies of the solved notebook graded per --jobs (each
notebook in its bubblewrap sandbox, the comparisons outside it, as `unet-tp grade` does).

    python benchmarks/bench_grade.py --submissions 30 --jobs 1 2
    python benchmarks/bench_grade.py --submissions 200 --jobs 2   # does a correct notebook ever lose a point?

Prints the machine, the seconds per submission, the grader's own peak memory (its process, where
the answers are read and judged) and the largest child's (a worker or a kernel), and how many of
the N correct notebooks lost points (each should get every point, on every draw of the inputs);
writes them to benchmarks/grade_results.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from machine import describe  # noqa: E402

from autograder import build  # noqa: E402
from autograder.grade import grade_all  # noqa: E402


def _solved() -> object:
    source = nbformat.read(build.SOURCE_NOTEBOOK, 4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(build.STUDENT_NOTEBOOK, 4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def _peak_mb(who: int) -> int:
    return resource.getrusage(who).ru_maxrss // 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default=str(Path(__file__).with_name("grade_results.json")))
    args = parser.parse_args()
    nb = _solved()
    results = {
        "machine": describe(),
        "submissions": args.submissions,
        "sandbox": "bwrap",
        "runs": [],
    }
    print(results["machine"])
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory() as tmp:
            subs = Path(tmp) / "subs"
            for i in range(args.submissions):
                path = subs / f"student{i:03d}" / "Copy of TP_sujet.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(copy.deepcopy(nb), path)
            t0 = time.perf_counter()
            graded = grade_all(subs, Path(tmp) / "out", jobs=jobs, progress=lambda _: None)
            total = time.perf_counter() - t0
            per = [r.seconds for r in graded]
            lost = [r for r in graded if r.total != r.max_points]
            run = {
                "jobs": jobs,
                "total_s": round(total, 1),
                "wall_s_per_submission": round(total / args.submissions, 1),
                "mean_s_per_notebook": round(sum(per) / len(per), 1),
                "notebooks_that_lost_points": len(lost),
                "lost": [
                    {"student": r.student_id, "total": r.total, "notes": r.notes[:3]}
                    | {"blocks": {k: b["message"] for k, b in r.blocks.items() if b["message"]}}
                    for r in lost
                ],
                "grader_peak_rss_mb": _peak_mb(resource.RUSAGE_SELF),
                "largest_child_peak_rss_mb": _peak_mb(resource.RUSAGE_CHILDREN),
            }
            results["runs"].append(run)
            print(
                f"--jobs {jobs}: {args.submissions} submissions in {total:.0f} s "
                f"({total / args.submissions:.1f} s each in wall time; one notebook "
                f"{run['mean_s_per_notebook']:.1f} s); {len(lost)} of {args.submissions} correct "
                f"notebooks lost points; peak memory: grader {run['grader_peak_rss_mb']} MB, "
                f"largest child {run['largest_child_peak_rss_mb']} MB"
            )
            for r in run["lost"]:
                print("  lost:", r)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
