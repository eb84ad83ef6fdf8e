"""The French of the grader's messages (:mod:`autograder.messages`), for a French feedback page.

``results.json`` and the class report keep the English the judges wrote; :func:`french` translates
one such message at render time: it matches the message against the English templates (each
turned into an anchored regular expression, a field matching lazily) and fills the French template
with the fields it read. A case's label goes through :func:`unet_tp.i18n.translated` (the
notebook's own catalog), a field that is itself a message of the grader through :func:`french`
again; a message no template matches comes back unchanged (an error of the student's code, the
notebook's own self-check, already in its language).
"""

from __future__ import annotations

import functools
import re
import string

from autograder import messages as M
from unet_tp.i18n import catalog, translated

# English template -> French template (fields by name, without format specs)
FRENCH = {
    M.NO_REQUEST: "aucune requête",
    M.UNREADABLE: "la réponse n'a pas pu être lue ({error})",
    M.NO_VERDICT: "aucun verdict",
    M.NO_ANSWER: "{label} : aucune réponse de votre code (la requête a expiré ou le noyau s'est "
    "arrêté)",
    M.NOT_DEFINED: "{names} n'est pas défini une fois sa cellule de test exécutée : sa cellule "
    "s'est-elle exécutée sans erreur ?",
    M.LABELLED: "{label} : {problem}",
    M.OUTPUT_SHAPE: "sortie de forme {got}, attendu {want}",
    M.NOT_FINITE: "la sortie n'est pas finie (NaN ou inf)",
    M.NO_OUTPUT: "aucune sortie",
    M.OUTPUT_DIFFERS: "avec les poids de la référence chargés, la sortie diffère de celle de la "
    "référence (max |différence| {diff})",
    M.NO_GRADIENT: "{label} : aucun gradient (ou un gradient faux) n'atteint les paramètres de "
    "forme {shapes}",
    M.PARAM_SHAPES: "ses paramètres ont les formes {shapes}, ceux de la référence {reference}",
    M.NO_TENSOR: "{label} : aucun tenseur renvoyé",
    M.CROP_SHAPE: "{label} : forme {got}, attendu {want}",
    M.NOT_CENTRE: "{label} : la fenêtre n'est pas le centre de la carte",
    M.LOSS_CASES: "categorical_cross_entropy : pas une réponse par cas",
    M.LOSS_NOT_FINITE: "{label} : la perte vaut {got} (utilisez log-sum-exp pour un log-softmax "
    "stable)",
    M.LOSS_VALUE: "{label} : perte {got}, attendu {want}",
    M.LOSS_GRADIENT: "{label} : la perte est juste, mais son gradient diffère de celui de la "
    "référence",
    M.STEP_DTYPE: "train_step : aucune réponse dans un dtype connu",
    M.STEP_CALLS: "train_step a été appelée {steps} fois : une perte par appel est attendue",
    M.STEP_NOT_FLOAT: "pas {step} : train_step a renvoyé {got}, et non la perte sous forme de "
    "float Python fini (loss.item())",
    M.STEP_LOSS: "pas {step} : {got} renvoyé, attendu la perte {want}",
    M.STEP_EVAL: "le modèle est resté en mode évaluation : train_step doit appeler model.train()",
    M.STEP_WEIGHTS: "après {steps} pas d'Adam, les poids diffèrent de ceux de la référence de "
    "{diff} : les gradients sont-ils remis à zéro (optimizer.zero_grad()) et le pas fait une "
    "seule fois par batch ?",
    M.DICE_PAIRS: "dice_score : pas une réponse par paire de masques",
    M.DICE_ERROR: "dice_score de deux masques {shape} : {error}",
    M.DICE_VALUE: "dice_score de deux masques {shape} : {got}, attendu {want}{empty}",
    M.EMPTY_MASKS: " (deux masques vides concordent parfaitement : 1.0)",
    M.PREDICT_ERROR: "predict : {error}",
    M.PREDICT_SHAPE: "predict a renvoyé la forme {got}, attendu {want} (l'argmax sur les classes)",
    M.PREDICT_DIFFERS: "predict diffère de l'argmax du modèle en mode évaluation (model.eval())",
    M.NOT_GRADED: "non corrigé",
    M.SELF_CHECK: "{message}. Le test du notebook indique : {hint}",
    M.BUILT_ON_WRONG: "({block}) est juste en soi, mais il s'appuie sur {names}, qui contient une "
    "erreur : votre réseau n'apprendra pas bien tant que l'erreur de {names} ne sera pas corrigée",
    M.FORBIDDEN: "({block}) utilise {what} ({where}) : {why}",
    M.OWN_CODE: "({block}) doit être votre propre code",
    M.COURSE_CODE: "le code du package du cours ({path})",
    M.QUOTED: "ligne {line} : `{code}`",
    M.CELL_AT: "cellule {cell}, {cell_label}, {quote}",
    M.TEST_CELL: "cellule de test de ({block})",
    M.TP_CELL: "la cellule du TP dans « {section} »",
    M.YOUR_CELL: "votre cellule après {last}",
    M.NOTEBOOK_TOP: "le début du notebook",
    M.CELL: "cellule {cell} ({cell_label})",
    M.CELL_ERROR: "{where} : {ename} : {evalue}",
    M.NO_COLAB: "{where} : google.colab n'existe que dans Colab ; la correction a continué sans",
    M.CELLS_PUT_BACK: "{count} cellules du TP manquaient et ont été remises ({cells})",
    M.NOT_READABLE: "ce n'est pas un notebook lisible ({error})",
    M.FILE_UNREADABLE: "le fichier n'a pas pu être lu",
    M.GRADING_ERROR: "erreur de correction : {error}",
    M.NOT_GRADED_AT_ALL: "le notebook n'a pas pu être corrigé",
    M.WORKER_FAILED: "le processus de correction a échoué : {log}",
    M.STOPPED_AFTER: "correction arrêtée après {seconds} s (une cellule qui ne se termine jamais ?)",
    M.MISSING_PACKAGE: "{where} : utilise le package '{package}', absent de l'environnement de "
    "correction",
    M.NOT_RUN_TO_END: "le notebook n'a pas pu être exécuté jusqu'au bout : {error}",
    M.METADATA_RESTORED: "{count} cellules avaient perdu leurs métadonnées nbgrader ; restaurées "
    "d'après leur contenu",
    M.COPIED_CELL: "une copie de la cellule {gid} du TP a été exécutée comme votre propre cellule",
    M.LOCKED_RESTORED: "{count} cellules verrouillées du TP avaient été modifiées et ont été "
    "restaurées",
    M.FILES: "{count} fichiers ; le plus récent a été corrigé ({chosen}), pas {others}",
    # assignment.toml's forbidden_why of (e)
    "Eq. (1) must be written out with tensor operations (softmax or log-sum-exp, log, one-hot, "
    "sum over the classes), not computed by torch's cross-entropy": "l'Éq. (1) doit être écrite "
    "avec des opérations sur les tenseurs (softmax ou log-sum-exp, log, one-hot, somme sur les "
    "classes), et non calculée par l'entropie croisée de torch",
}

LABELS = ("label",)  # a case's label: the notebook's catalog knows its French
# labels made from a template of the notebook's catalog (unet_tp/checks.py writes them)
LABEL_TEMPLATES = ("center_crop of a {height}x{width} map to {target_h}x{target_w}",)
# fields that are themselves messages of the grader (or a cell's name): translated in turn
NESTED = ("problem", "message", "where", "why", "what", "quote", "cell_label", "last", "empty")


def fields(template: str) -> list[str]:
    """The names of ``template``'s fields, in order (repeats included)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


@functools.cache
def _known_labels() -> str:
    """The catalog's plain texts (the cases' labels among them), longest first, as alternatives
    a label field tries before any text: a label may hold ": " itself."""
    plain = [k for k in catalog("fr") if "{" not in k and k.strip() == k and "\n" not in k]
    return "|".join(re.escape(k) for k in sorted(plain, key=len, reverse=True))


@functools.cache
def _patterns() -> list[tuple[re.Pattern, str, str]]:
    """``(regex, English, French)`` of each template, the most specific (longest literal text)
    first."""
    out = [(_regex(en, _known_labels()), en, fr) for en, fr in FRENCH.items()]
    out.sort(key=lambda p: -len(re.sub(r"\{[^}]*\}", "", p[1])))
    return out


def _regex(template: str, label: str = "") -> re.Pattern:
    """``template`` as an anchored regex, each field lazy (``label``: the alternatives a field
    named ``label`` tries first)."""
    parts, seen = [], set()
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            parts.append(f"(?P={name})")
        elif name in LABELS and label:
            parts.append(f"(?P<{name}>{label}|.*?)")
        else:
            parts.append(f"(?P<{name}>.*?)")
        seen.add(name)
    return re.compile(r"\A" + "".join(parts) + r"\Z", re.S)


def _label(value: str) -> str:
    """A case's label in French: the notebook's catalog, as the notebook's self-checks say it."""
    text = translated(value, "fr")
    for template in LABEL_TEMPLATES if text == value else ():
        m = _regex(template).match(value)
        if m:
            return catalog("fr")[template].format(**m.groupdict())
    return text


def _field(name: str, value: str) -> str:
    if name in LABELS:
        return _label(value)
    return french(value) if name in NESTED else value


def french(message: str) -> str:
    """``message`` (a message of the grader, in English) in French; unchanged when no template
    matches it. A template of fields only (``"{label}: {problem}"``) is used only where one of its
    fields has a French: a student's ``ValueError: ...`` stays as it is."""
    if not message:
        return message
    for regex, english, french_text in _patterns():
        m = regex.match(message)
        if m is None:
            continue
        values = {k: _field(k, v) for k, v in m.groupdict().items()}
        if not re.sub(r"\{[^}]*\}|\W", "", english) and values == m.groupdict():
            continue
        return french_text.format(**values)
    return message
