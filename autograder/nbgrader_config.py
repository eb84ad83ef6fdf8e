# nbgrader configuration of the course (used by `unet-tp notebook build`, `unet-tp grade`, and
# by nbgrader's own commands run from this folder, e.g. `nbgrader formgrader`).
c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "unet-tp"
c.CourseDirectory.db_assignments = [dict(name="TP_sujet")]

# Students work in Colab, which neither locks cells nor runs nbgrader's extensions: at grading,
# test and read-only cells are restored from the source, deleted ones are put back.
c.OverwriteCells.add_missing_cells = True

# Colab notebooks come back with other kernel display names: grade with the course's kernel.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# A test cell builds the paper's 31-million-parameter network on a CPU and the training cell
# trains for a few seconds: 30 s (nbgrader's default) is too short on a slow machine.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Large outputs (a print in a loop) are cut in the feedback.
c.LimitOutput.max_lines = 300
c.LimitOutput.max_length = 20000

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
