"""The need-type adjustment for German, Spanish, French, Italian and Portuguese posts (issue 28).

The need head was trained on English posts only, and the English MiniLM encoder carries the other languages
poorly: on the hand-labelled multilingual set (``classify/training/multilingual_set.py``) it reached a macro-F1 of 0.26
(dev). A residual softmax (``classify.adapt.ResidualHead``, global, no memory term) fitted on the set's dev split
corrects the head's probabilities of posts and sentences in those languages::

    logits = log p_need(x) + x @ W + b

``classify.training.multilingual`` is the recipe (seeded L-BFGS, CPU, seconds); the weights ship as
``classify/model/need_multilingual.npz``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classify.adapt import GLOBAL, ResidualHead
from classify.labels import NEED_TYPES

FILE = "need_multilingual.npz"
# Words that state a failure or ask for a capability, per classified language (our own lists). The English
# encoder reads "se cierra", "stürzt ab" or "plante" poorly; a sentence with one of these counts as a problem
# (or request) sentence with probability at least ``CUE_P`` in the sentence rule.
_FAILURE = {
    "de": r"stürz|abgestürzt|absturz|hängt|friert|funktioniert (?:nicht|nie|kaum)|geht nicht|geht nicht mehr|"
          r"fehler|lädt nicht|laden nicht|kaputt|verschwunden|weg sind|nicht mehr möglich|bug|keine verbindung",
    "es": r"se cierra|se cuelga|se bloquea|se congela|no funciona|no abre|no carga|no me deja|no puedo|dej[óo] de|"
          r"error|falla|fallo|se traba|se borr|desaparec|bug|no sirve|no se puede|no llegan|no me llegan",
    "fr": r"plante|crash|se ferme|bloqu|fig[ée]|ne marche|ne fonctionne|fonctionne plus|marche plus|impossible|"
          r"erreur|bug|bugg|ne s'ouvre|ne charge|disparu|je ne peux|on ne peut",
    "it": r"si blocca|si chiude|crash|non funziona|non va|non si apre|non carica|non riesco|errore|bug|impossibile|"
          r"scompars|spariti|si pianta|non posso",
    "pt": r"fecha sozinho|fecha|trava|travando|não funciona|nao funciona|não abre|nao abre|não carrega|não consigo|"
          r"nao consigo|erro|bug|sumiu|sumiram|parou de|não dá|nao da",
}
_REQUEST = {
    "de": r"bitte (?:fügt|macht|bringt|baut)|hinzufügen|wäre (?:schön|toll|super|gut)|wünsche mir|ich wünsche|"
          r"fehlt (?:mir|eine|ein)|option für|möglichkeit",
    "es": r"añad|agreguen|agregar|ser[íi]a (?:genial|bueno|bueno que)|ojal[áa]|deber[íi]an|me gustar[íi]a|"
          r"estar[íi]a bien|pongan|incluyan|opci[óo]n (?:de|para)",
    "fr": r"ajout|serait (?:bien|top|génial|super)|j'aimerais|ce serait|il faudrait|pourriez-vous|option pour|"
          r"possibilité de",
    "it": r"aggiung|sarebbe (?:bello|utile|bene)|vorrei|dovreste|potreste|opzione per|possibilità di",
    "pt": r"adicion|coloquem|seria (?:bom|ótimo|otimo|legal)|gostaria|deveriam|poderiam|opção (?:de|para)",
}
_CUES = {lang: (re.compile(_FAILURE[lang], re.IGNORECASE), re.compile(_REQUEST[lang], re.IGNORECASE))
         for lang in _FAILURE}
# "nunca me ha fallado", "ne plante jamais": a cue right after one of these words says the opposite.
_NEGATION = re.compile(r"\b(?:nunca|jam[áa]s|nie|niemals|ohne|jamais|sans|mai|senza|sem)\b(?:\W+\w+){0,2}\W*$",
                       re.IGNORECASE)
CUE_P = 0.75  # dev: any value from 0.5 to 0.9 gives the same dev macro-F1 (0.256 -> 0.324 without the residual)
LANGUAGES = frozenset({"de", "es", "fr", "it", "pt"})


def cue_label(text: str, lang: str | None) -> str | None:
    """``problem`` or ``feature_request`` when ``text`` has a failure or request word of ``lang`` (failure first)."""
    cues = _CUES.get(lang or "")
    if cues is None:
        return None
    for pattern, label in zip(cues, ("problem", "feature_request"), strict=True):
        for m in pattern.finditer(text):
            if not _NEGATION.search(text[max(0, m.start() - 24):m.start()]):
                return label
    return None


def _lift(p: np.ndarray, label: str, cue_p: float) -> np.ndarray:
    """``p`` with ``label`` at least ``cue_p`` and the other classes scaled into the rest."""
    k = NEED_TYPES.index(label)
    if p[k] >= cue_p:
        return p
    rest = np.delete(p, k)
    out = np.insert(rest / max(float(rest.sum()), 1e-9) * (1.0 - cue_p), k, cue_p)
    return out.astype(p.dtype)


def with_cues(text: str, sentences: Sequence[str], post_p: np.ndarray, sent_p: np.ndarray, lang: str | None,
              cue_p: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Post and sentence need probabilities with the language's failure and request words taken into account."""
    cue_p = CUE_P if cue_p is None else cue_p
    if not cue_p or lang not in _CUES:
        return post_p, sent_p
    label = cue_label(text, lang)
    if label is None:
        return post_p, sent_p
    sent = sent_p.copy()
    for i, sentence in enumerate(sentences[: len(sent)]):
        found = cue_label(sentence, lang)
        if found is not None:
            sent[i] = _lift(sent[i], found, cue_p)
    return _lift(post_p, label, cue_p), sent


def load(folder: Path) -> ResidualHead | None:
    """The adjustment stored in ``folder``, or None when there is none."""
    path = folder / FILE
    if not path.exists():
        return None
    with np.load(path) as arrays:
        W, b = np.asarray(arrays["W"], dtype=np.float32), np.asarray(arrays["b"], dtype=np.float32)
        classes = tuple(str(c) for c in arrays["classes"])
    return ResidualHead(classes, W, b, np.zeros((0, W.shape[0]), np.float32), np.zeros(0, np.int64), 0.0, 1.0,
                        GLOBAL)

