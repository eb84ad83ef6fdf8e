"""Step 5 of grading: points per block from the comparisons' verdicts.

A lost block gets one message (what differs, and the visible self-check's hint if it failed too);
a right block built on a wrong one gets a warning (no points lost, but training will suffer).
"""

from __future__ import annotations

from autograder import messages as M
from autograder.compare import Verdict
from autograder.results import BlockScore
from autograder.spec import Spec


def block_scores(
    spec: Spec, verdicts: dict[str, Verdict], hints: dict[str, str]
) -> tuple[dict[str, BlockScore], dict[str, float]]:
    """``(blocks, tests)``: each block's score and each graded test cell's points."""
    tests: dict[str, float] = {}
    blocks: dict[str, BlockScore] = {}
    for block in spec.blocks:
        points, message = 0.0, None
        for test in block.tests:
            verdict = verdicts.get(test.grade_id, Verdict(False, M.NOT_GRADED))
            tests[test.grade_id] = test.points if verdict.passed else 0.0
            points += tests[test.grade_id]
            if not verdict.passed and message is None:
                message = verdict.message
                hint = hints.get(test.grade_id)
                if hint and hint not in message:
                    message = M.SELF_CHECK.format(message=message.rstrip("."), hint=hint)
        blocks[block.id] = BlockScore(points, block.points, message, block.id if message else None)
    for block in spec.blocks:
        wrong = [d for d in block.depends_on if blocks[d].message]
        if wrong and not blocks[block.id].message:
            names = ", ".join(f"({d})" for d in wrong)
            blocks[block.id].warning = M.BUILT_ON_WRONG.format(block=block.id, names=names)
    return blocks, tests
