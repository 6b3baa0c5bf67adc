"""Desired outcomes: an unmet-need issue read as what the customer wants from the step it sits on.

Ulwick's form is direction + metric + object ("Minimize the time it takes to export a note to PDF").
It is built here by rules from the issue's label and keywords, its need type and its step: the
problem word of the label picks the metric (crash, lose, fail -> the chance that ...; slow -> the time
it takes to ...; a request -> the ability to ...), the rest of the label is the object. Pure functions,
no model: the same label always reads the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# Problem words -> the kind of outcome they ask for.
_CRASH = {"crash", "crashes", "crashed", "crashing", "freeze", "freezes", "freezing", "frozen", "hang", "hangs",
          "closes", "quits"}
_LOSE = {"lose", "loses", "losing", "lost", "loss", "disappear", "disappears", "disappeared", "deleted", "vanish",
         "vanished", "missing", "wiped", "overwritten", "duplicate", "duplicates", "duplicated", "corrupt",
         "corrupted"}
_FAIL = {"fail", "fails", "failed", "failing", "failure", "broken", "broke", "error", "errors", "bug", "bugs",
         "buggy", "wrong", "stuck", "can't", "cannot", "cant", "won't", "wont", "doesn't", "unable", "not", "no",
         "issue", "issues", "problem", "problems", "glitch", "resets", "reset"}
_SLOW = {"slow", "slowly", "slower", "lag", "lags", "laggy", "lagging", "delay", "delayed", "delays", "takes",
         "forever", "long", "loading", "sluggish", "wait", "waiting"}
_REQUEST = {"add", "please", "wish", "want", "would", "could", "should", "need", "needs", "support", "request",
            "feature", "option", "allow", "let", "like", "love", "idea", "missing"}
_FILLER = {"the", "a", "an", "app", "application", "it", "is", "are", "was", "when", "after", "since", "every",
           "time", "on", "in", "of", "and", "or", "with", "my", "to", "for", "from", "be", "update", "latest",
           "new", "version", "again", "anymore", "always", "keeps", "keep", "still", "just", "very", "really",
           "sometimes", "completely", "while", "during", "way"}
_FORMATS = {"pdf": "PDF", "word": "Word", "docx": "Word", "csv": "CSV", "markdown": "Markdown", "html": "HTML",
            "epub": "EPUB", "png": "PNG", "jpg": "JPG", "txt": "text"}
_ACRONYMS = {"ios": "iOS", "ipad": "iPad", "iphone": "iPhone", "pdf": "PDF", "csv": "CSV", "ui": "UI", "api": "API",
             "os": "OS", "sso": "SSO", "2fa": "2FA", "wifi": "Wi-Fi"}
# Verb lemma -> its -ing form; noun forms point to the verb.
_VERBS = {"export": "exporting", "import": "importing", "sync": "syncing", "load": "loading", "open": "opening",
          "search": "searching", "find": "finding", "save": "saving", "upload": "uploading", "download": "downloading",
          "print": "printing", "share": "sharing", "log": "logging", "sign": "signing", "start": "starting",
          "launch": "launching", "edit": "editing", "type": "typing", "write": "writing", "record": "recording",
          "attach": "attaching", "backup": "backing up", "restore": "restoring", "install": "installing",
          "update": "updating", "pay": "paying", "cancel": "cancelling", "subscribe": "subscribing",
          "connect": "connecting", "play": "playing", "stream": "streaming", "send": "sending", "scan": "scanning",
          "lock": "locking", "set": "setting", "organise": "organising", "organize": "organizing", "tag": "tagging",
          "capture": "capturing", "draw": "drawing", "copy": "copying", "paste": "pasting", "move": "moving",
          "nest": "nesting"}
_VERB_FORMS = {**{v: v for v in _VERBS}, **{ing: v for v, ing in _VERBS.items() if " " not in ing},
               "exports": "export", "syncs": "sync", "loads": "load", "opens": "open", "searches": "search",
               "saves": "save", "uploads": "upload", "downloads": "download", "exported": "export",
               "synced": "sync", "syncing": "sync", "synchronization": "sync", "synchronisation": "sync",
               "login": "log", "signin": "sign", "sharing": "share", "printing": "print", "uploaded": "upload",
               "backups": "backup", "installation": "install"}
_PARTICLE = {"log": "in", "sign": "in", "back": "up"}
# What each default step is about, when a label names no action of its own.
_STEP_ACTION = {"choose": "choose the right product", "get": "get the product", "set-up": "set the product up",
                "learn": "learn how to use the product", "use": "use the product", "get-help": "get a problem fixed",
                "pay": "pay for the product", "leave": "move my data out"}
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'+.-]*")


@dataclass(frozen=True)
class Outcome:
    """A desired outcome: ``direction`` + ``metric`` + ``object``; ``text`` reads them as one sentence."""

    direction: str
    metric: str
    object: str
    text: str
    kind: str  # crash | lose | fail | slow | request | question | other

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _words(text: str) -> list[str]:
    return [w.strip(".'").lower() for w in _WORD.findall(text or "") if w.strip(".'")]


def _kind(words: Sequence[str], need_type: str | None) -> str:
    found = set(words)
    for kind, lexicon in (("crash", _CRASH), ("slow", _SLOW)):
        if found & lexicon:
            return kind
    if need_type == "feature_request":  # "missing" in a request is a feature not there, not lost data
        return "request"
    if found & _LOSE:
        return "lose"
    if need_type == "question":
        return "question"
    if found & _FAIL:
        return "fail"
    if found & _REQUEST:
        return "request"
    return "other" if need_type != "problem" else "fail"


def _pretty(word: str) -> str:
    return _ACRONYMS.get(word, word)


def _action(words: Sequence[str], step: str | None) -> tuple[str | None, list[str]]:
    """The label's verb (lemma) and the rest of its content words, in order."""
    verb: str | None = None
    rest: list[str] = []
    skip = _CRASH | _LOSE | _FAIL | _SLOW | _REQUEST | _FILLER
    for w in words:
        lemma = _VERB_FORMS.get(w)
        if verb is None and lemma is not None:
            verb = lemma
            continue
        if w in skip or (verb in _PARTICLE and w == _PARTICLE[verb]):
            continue
        rest.append(w)
    return verb, list(dict.fromkeys(rest))


def _object_phrase(verb: str | None, rest: Sequence[str]) -> str:
    """``export`` + ``[pdf, note]`` -> ``export a note to PDF``; formats take "to", the rest follow the verb."""
    formats = [_FORMATS[w] for w in rest if w in _FORMATS]
    things = [_pretty(w) for w in rest if w not in _FORMATS]
    parts = []
    if verb:
        parts.append(verb + (" " + _PARTICLE[verb] if verb in _PARTICLE else ""))
    if things:
        parts.append(" ".join(things))
    if formats:
        parts.append(("to " if verb in ("export", "save", "print", "convert", "share", None) else "as ")
                     + " and ".join(dict.fromkeys(formats)))
    return " ".join(parts)


def _ing(verb: str) -> str:
    ing = _VERBS.get(verb, verb + "ing")
    return ing + (" " + _PARTICLE[verb] if verb in _PARTICLE and " " not in ing else "")


def desired_outcome(label: str, keywords: Sequence[str] = (), need_type: str | None = None,
                    step: str | None = None) -> Outcome | None:
    """The desired outcome an unmet need asks for, or None when the label holds nothing to read.

    >>> desired_outcome("PDF export crashes", ["pdf", "export", "crash"], "problem", "use").text
    'Minimize the chance that the app crashes while exporting to PDF'
    >>> desired_outcome("images load slowly", [], "problem", "use").text
    'Minimize the time it takes to load images'
    """
    words = _words(label)
    if not words:
        words = _words(" ".join(keywords))
    if not words:
        return None
    kind = _kind(words, need_type)
    if kind in ("other", "fail", "request") and not set(words) & (_FAIL | _REQUEST):
        kind = _kind(words + _words(" ".join(keywords)), need_type)  # the label alone does not say
    verb, rest = _action(words, step)
    where = ""
    if rest and " on " in f" {' '.join(words)} " and words[-1] in rest and words[-2:-1] == ["on"]:
        where = f" on {_pretty(words[-1])}"  # "load slowly on mobile": the context stays at the end
        rest = rest[:-1]
    if verb and not rest and kind in ("slow", "request"):  # "load" alone: the keywords say what
        named = [w for w in _words(" ".join(keywords)) if w not in words and w not in _VERB_FORMS
                 and w not in _CRASH | _LOSE | _FAIL | _SLOW | _REQUEST | _FILLER]
        rest = named[:1]
    if verb is None and not rest:
        verb, rest = _action(_words(" ".join(keywords)), step)
    fallback = _STEP_ACTION.get(step or "", "use the product")
    if kind == "crash":
        what = f"{_ing(verb)} {_object_phrase(None, rest)}".strip() if verb else _object_phrase(None, rest)
        tail = f"while {what}" if verb else (f"with {what}" if what else "")
        if not what:
            tail = f"while trying to {fallback}"
        obj = f"the app crashes {tail}".strip()
        return _with(where, "Minimize", "the chance that", obj, kind)
    if kind == "lose":
        thing = " ".join(_pretty(w) for w in rest if w not in _FORMATS) or "a note"
        if thing.endswith("s") and thing not in ("notes",) or thing == "notes":
            subject, be = thing, "are"
        else:
            subject, be = (thing if thing.startswith(("a ", "an ", "the ")) else f"a {thing}"), "is"
        while_ = f" while {_ing(verb)}" if verb else ""
        return _with(where, "Minimize", "the chance that", f"{subject} {be} lost{while_}", kind)
    if kind == "slow":
        phrase = _object_phrase(verb, rest) if verb else (f"load {' '.join(_pretty(w) for w in rest)}" if rest
                                                            else fallback)
        return _with(where, "Minimize", "the time it takes to", phrase, kind)
    if kind == "request":
        phrase = _object_phrase(verb, rest) if verb else (f"use {' '.join(_pretty(w) for w in rest)}" if rest
                                                            else fallback)
        return _with(where, "Increase", "the ability to", phrase, kind)
    if kind == "question":
        phrase = _object_phrase(verb, rest) if verb else (" ".join(_pretty(w) for w in rest) or fallback)
        return _with(where, "Minimize", "the time it takes to find out how to", phrase, kind)
    if kind == "fail":
        if verb:
            subject = f"{_ing(verb)} {_object_phrase(None, rest)}".strip()
        else:
            subject = " ".join(_pretty(w) for w in rest) or f"trying to {fallback}"
        return _with(where, "Minimize", "the chance that", f"{subject} fails", kind)
    phrase = _object_phrase(verb, rest) if verb else (" ".join(_pretty(w) for w in rest) or fallback)
    return _with(where, "Minimize", "the effort it takes to", phrase, kind)


def _with(where: str, direction: str, metric: str, obj: str, kind: str) -> Outcome:
    return _done(direction, metric, obj + where, kind)


def _done(direction: str, metric: str, obj: str, kind: str) -> Outcome:
    obj = " ".join(obj.split())
    return Outcome(direction, metric, obj, f"{direction} {metric} {obj}", kind)
