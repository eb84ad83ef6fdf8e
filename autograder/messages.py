"""The grader's messages to the student, each an English template declared once, here, filled
with ``.format(...)`` by the judges, the scores, the reading of the cells and the notes.
``results.json`` and the class report keep the English; :mod:`autograder.messages_fr` gives the
French. Nothing here imports anything: the page reads them without torch.
"""

from __future__ import annotations

# ---- compare.py: the judges --------------------------------------------------------------------

NO_REQUEST = "no request"
UNREADABLE = "the answer could not be read ({error})"
NO_VERDICT = "no verdict"
NO_ANSWER = "{label}: no answer from your code (the request timed out or the kernel died)"
NOT_DEFINED = "{names} is not defined when its test cell has run: did its cell run without error?"
NOT_DEFINED_PACKAGE = (
    "{names} is not defined when its test cell has run: the grading environment does not have "
    "the package '{package}' your notebook imports ({where}); the instructor checks this block "
    "by hand"
)
LABELLED = "{label}: {problem}"  # the label of a case, then what went wrong on it
OUTPUT_SHAPE = "output shape {got}, expected {want}"
NOT_FINITE = "the output is not finite (NaN or inf)"
NO_OUTPUT = "no output"
OUTPUT_DIFFERS = (
    "with the reference weights loaded the output differs from the reference's "
    "(max |difference| {diff:.3g})"
)
NO_GRADIENT = "{label}: no gradient (or a wrong one) reaches the parameters of shape {shapes}"
PARAM_SHAPES = (
    "its parameters are not the reference's: {count} tensors, the reference {reference_count}; "
    "the first that differs, number {index}, has shape {got}, the reference's {want}"
)
UNREGISTERED = (
    "{names} holds modules PyTorch does not see (a plain Python list or dict: their parameters "
    "are not the model's): use nn.ModuleList or nn.ModuleDict"
)
NO_TENSOR = "{label}: no tensor returned"
CROP_SHAPE = "{label}: shape {got}, expected {want}"
NOT_CENTRE = "{label}: the window is not the centre of the map"
LOSS_CASES = "categorical_cross_entropy: not one answer per case"
LOSS_NOT_FINITE = "{label}: the loss is {got!r:.40} (use log-sum-exp for a stable log-softmax)"
LOSS_VALUE = "{label}: loss {got:.6g}, expected {want:.6g}"
LOSS_GRADIENT = (
    "{label}: the loss is right but its gradient differs from the reference: an epsilon or a "
    "clamp in the log (log(softmax + eps))? Compute log(softmax) as logits - logsumexp; no "
    ".detach(), no in-place change of the logits"
)
LOSS_DTYPES = "{label}: {problem}. " + (
    "float32 and float64 mixed: make the one-hot (or any tensor you build) in the logits' "
    "dtype, F.one_hot(target, C).to(logits.dtype), not .float(); the grader passes float64 "
    "logits too"
)
LOSS_WEIGHT_KEYWORD = (
    "categorical_cross_entropy takes no weight= argument, and the training cell calls it as "
    "partial(categorical_cross_entropy, weight=CLASS_WEIGHTS): keep the signature "
    "(logits, target, weight=None)"
)
STEP_DTYPE = "train_step: no answer in a known dtype"
STEP_CALLS = "train_step was called {steps} times: one loss per call expected"
STEP_NOT_FLOAT = (
    "step {step}: train_step returned {got!r:.40}, not the loss as a finite Python float "
    "(loss.item())"
)
STEP_NOT_FLOAT_TYPE = (
    "step {step}: train_step returned a {kind} object, not the loss as a finite Python float "
    "(loss.item())"
)
STEP_LOSS = "step {step}: returned {got:.6f}, expected the loss {want:.6f}"
STEP_EVAL = "the model was left in evaluation mode: train_step must call model.train()"
STEP_NO_LOSS_FN = (
    "train_step never called the loss_fn it was given (a loss of its own instead?): compute the "
    "loss as loss_fn(model(images), labels), the loss the caller chose (with its class weights)"
)
STEP_WEIGHTS = (
    "after {steps} Adam steps the weights differ from the reference's by {diff:.3g}: are the "
    "gradients cleared (optimizer.zero_grad()) and the step taken once per batch?"
)
DICE_PAIRS = "dice_score: not one answer per pair of masks"
DICE_ERROR = "dice_score of two {shape} masks: {error}"
# an exception of the student's code, as harness._error writes it in the kernel
ERROR_IN_YOUR_CODE = "{error} (in your code: `{code}`)"
DICE_VALUE = "dice_score of two {shape} masks: {got}, expected {want}{empty}"
EMPTY_MASKS = " (two empty masks agree perfectly: 1.0)"
PREDICT_ERROR = "predict: {error}"
PREDICT_SHAPE = "predict returned shape {got}, expected {want} (the argmax over the classes)"
PREDICT_DIFFERS = "predict differs from the argmax of the model in evaluation mode (model.eval())"
PREDICT_CLASSES = (
    "predict returned {values}, not classes of the network (0 to {last}): return the argmax of "
    "the logits as it is (BraTS's label 4 is the files' name for class 3)"
)

# ---- score.py ----------------------------------------------------------------------------------

NOT_GRADED = "not graded"
SELF_CHECK = "{message}. The notebook's self-check says: {hint}"
# the static reading's: a function of the student's handed to what can give it back
HANDED_OVER = "hands {what} to {where}, where an answer can take it back"
HANDS_OWN = "{name} (which uses {what})"
HANDS_OWN_DOES = "{name} (which {what})"
BUILT_ON_WRONG = (
    "({block}) is right on its own, but it is built on {names}, which is wrong: "
    "your network will not train well until {names} is fixed"
)

# ---- static.py: what an answer may not use -----------------------------------------------------

FORBIDDEN = "({block}) uses {what} ({where}): {why}"
FORBIDDEN_DOES = "({block}): the notebook {what} ({where}): {why}"
# a forbidden name handed to code the answer reads, or named in a string it reads: inferred
FORBIDDEN_REACHED = (
    "({block}) is not credited: {what} is handed to, or named in, code your answer reads before "
    "its test ({where}), so the grader cannot tell whether your answer uses it; move that line "
    "below the block's test cell, or write it without {what}"
)
IMPORTS_WRITTEN = "imports code the notebook wrote into a file ({path})"
IMPORTS_UNKNOWN = "imports a module that is not installed where grading runs ({path})"
OWN_CODE = "({block}) must be your own code"
# why a block is lost to what the whole notebook does (the grader cannot follow what it runs)
NOT_FOLLOWED = (
    "the grader cannot follow what such code runs, so it credits no block tested after it: "
    "remove that line (or move it below the last test) and run the notebook again"
)
UNPICKLED = (
    "unpickling runs whatever the file holds, which the grader cannot follow: load arrays "
    "with np.load(path) (no allow_pickle=True: numbers load without it), save other numbers with "
    "json, a model with torch.save(model.state_dict(), path), and load it with "
    "torch.load(path, weights_only=True)"
)
RAN_FORBIDDEN = "({block}): run by the grader, your answer ran {what}: {why}"
# what the kernel's watch says when the answer switched it off (autograder/harness.py's UNWATCHED)
UNWATCHED = "code out of the grader's sight (the watch of what the answer runs was switched off)"
AROUND = (
    "code out of the grader's sight (the notebook's own runs with every cell: IPython "
    "events, an audit hook, or the shell's, the kernel's or a library's functions replaced)"
)
SERVED = (
    "code out of the grader's sight (a thread started before the answer, the kernel's own or "
    "the notebook's, ran while it ran)"
)
FOREIGN = (
    "code out of the grader's sight (torch ran the answer's operators on a thread of its own, "
    "as a backward within a backward makes it)"
)
REBUILT = "code out of the grader's sight (code objects the notebook built, renamed or rewrote)"
REQUESTS_READ = "code out of the grader's sight (the notebook's code read the grader's requests)"
COURSE_CODE = "the course package's code ({path})"
# the worker's request cell found the harness's function not the harness file's (execute.py)
HARNESS_REPLACED = "the grader's harness was replaced by the notebook's code"
ANSWER_NOT_TAKEN = "not taken: the notebook's code wrote or changed it after the grader's harness"
ANSWERS_CHANGED = (
    "answers not taken: the notebook's code wrote or changed them after the grader's harness"
    " ({steps})"
)
QUOTED = "line {line}: `{code}`"
CELL_AT = "cell {cell}, {cell_label}, {quote}"
# a use of `self` in a method of a class handed out (static._loose_cause): where, then why
LOOSE_CLASS = "{where}; self may be any object there, {cls} itself is handed out in {cause}"

# ---- repair.py: the cells' names ---------------------------------------------------------------

TEST_CELL = "({block}) test cell"
TP_CELL = "the TP's cell in '{section}'"
YOUR_CELL = "your cell after {last}"
YOUR_CELL_IN = "your cell after '{section}'"  # after a TP cell that is no block's
NOTEBOOK_TOP = "the top of the notebook"

# ---- the notes ---------------------------------------------------------------------------------

CELL = "cell {cell} ({cell_label})"
CELL_ERROR = "{where}: {ename}: {evalue}"
TP_CELL_TIMEOUT = (
    "{where}: {ename}: {evalue} (grading runs the TP's cells with a tiny setting that takes "
    "seconds; a setting your cells raise, such as config.optim.epochs, makes them longer; no "
    "point depends on this cell)"
)
CELLS_SKIPPED = (
    "{cells}: not run: the notebook had run for half of its time limit ({seconds} s), earlier "
    "cells taking minutes each (an answer that loops, or is very slow); the TP's own cells from "
    "there on were skipped so that your answers could still be graded"
)
ONE_PROCESS = (
    "{where}: {ename}: {evalue} (grading runs the notebook as one process: no other program, no "
    "worker process; a DataLoader needs num_workers=0 there)"
)
NO_COLAB = "{where}: google.colab exists only in Colab; grading ran on without it"
MISSING_PACKAGE = (
    "{where}: uses the package '{package}', which the grading environment does not have"
)
NOT_RUN_TO_END = "the notebook could not be run to the end: {error}"
METADATA_RESTORED = "{count} cells had lost their nbgrader metadata; restored by content"
ANSWERS_BY_PLACE = (
    "written answers {questions} read from the text cell below the question (the answer cell "
    "deleted, or its nbgrader metadata lost)"
)
COPIED_CELL = "a copy of the TP's cell {gid} was run as your own cell"
LATE_DEFINITION = (
    "{where}: defines {names} again after the test cell of ({block}), but what is graded is the "
    "answer cell as its test cell ran: put your final code in the answer cell"
)
LATE_HELPER = (
    "{where}: defines {names}, which the answer of ({block}) uses, only after its test cell: run from "
    "the top (as it is graded), the notebook has no {names} when the test runs; move that "
    "definition above the test cell"
)
SHOWN_PASSING = (
    "({block}): your notebook showed its test passing ('ok') when it was saved, but run from the "
    "top, as it is graded, the same test fails (was a cell edited, or run out of order, after "
    "that test ran?); run the whole notebook again (Runtime > Run all) before handing it in"
)
LOCKED_RESTORED = "{count} of the TP's locked cells had been edited and were restored"
HANDOUT_NOT_GRADED = (
    "{handouts}: the handout as given (nothing written in it), not graded; graded {chosen}"
)
HANDOUT_ONLY = "the handout as given, nothing written in it (the wrong file handed in?)"
FILES = "{count} files; graded the newest ({chosen}), not {others}"
FILES_SAME_DATE = (
    "{count} files; graded {chosen}, not {others}: the newest were handed in at the same time, "
    "and your instructor checks which one is your last"
)
SAME_DATE = (
    "files handed in at the same time (a zip's dates go to 2 s), nothing else tells them apart: "
    "graded {chosen}, not {others}; check which one is the student's last"
)
OTHER_SOURCES = (
    "notebooks of this student both in {zips}, read as the class's archive, and elsewhere; "
    "graded {chosen}: check that it is theirs (a classmate's zip may hold a notebook named as theirs)"
)
FOLDERS_APART = (
    "the folders {folders} name students whose ids would be the same ({id}): read as {count} "
    "students, {ids}; check that they are not one student's"
)
NOT_A_NOTEBOOK_FILE = (
    "not a notebook: {file} is a {kind} file; hand in the notebook itself (.ipynb; in Colab: File "
    "> Download > Download .ipynb)"
)
LONE_LMS_NAME = (
    "{file}: graded as the LMS's participant {id}, the only one its file names in {folder}/, a folder "
    "no LMS named: check that it is theirs (a student can give a file a classmate's LMS name)"
)
PARTICIPANTS = (
    "files of this student submitted by the LMS's participants {ids}; graded {chosen}: check that it "
    "is theirs (a student can name a file as a classmate's)"
)
LMS_NAME_IN_FOLDERS = (
    "the LMS's participant {id} has notebooks in {folders}; graded {chosen}: check that it is "
    "theirs (a student can give a file a classmate's LMS name)"
)
SET_BY_HAND = "(points set by your instructor after reading it: {points} / {of})"
ANSWER_CHANGED = "your answer to question {question} changed since it was graded by hand: it will be graded again"
POINTS_CHANGED = (
    "question {question} is now out of {points} points, not the points it was graded by hand "
    "out of: it will be graded again"
)
ZIP_NOT_OPENED = "a zip was not opened: {why}"
EMPTY_ZIP = "{file}: an empty zip"
ZIP_WITHOUT_NOTEBOOK = "{file}: a zip holding no notebook"
LINK_NOT_READ = "{file}: a link, not read (put the notebook itself there)"
FILE_NOT_READ = "{file}: could not be read (its permissions?)"
CELLS_PUT_BACK = "{count} of the TP's cells were missing and were put back ({cells})"
NOT_READABLE = "not a readable notebook ({error})"
FILE_UNREADABLE = "the file could not be read"
GRADING_ERROR = "grading error: {error}"
NOT_GRADED_AT_ALL = "the notebook could not be graded"
NOTHING_TO_GRADE = "no notebook to grade ({why}): ask the student for theirs"
NOT_THE_TP = (
    "{count} of the TP's {total} cells were missing: another notebook than the TP's? ask the "
    "student for theirs"
)
WRONG_NOTEBOOK = "not the TP's notebook (the wrong file handed in?)"
WRONG_NOTEBOOK_NOTE = (
    "this is not the TP's notebook: {count} of the TP's {total} cells are not in it (the wrong "
    "file handed in?); hand in your TP notebook"
)
WORKER_FAILED = "the grading worker failed: {log}"
STOPPED_AFTER = "grading stopped after {seconds} s (a cell that never ends?)"
