"""What goes wrong, in the customers' words: the failure expressions of a sentence.

A problem topic's label should say its object and what goes wrong ("PDF export crashes", "can't sign
in", "notifications not working", "no sound"). This module finds how each member sentence says it:

* a failure word, in the form a label uses after its object ("crashes", "freezes", "fails", "error") or
  before it ("slow", "broken", "missing");
* an inability with its verb and object: "can't / cannot / unable to / not able to / won't let me /
  doesn't allow me to" + verb ("can't create branches", "can't log in");
* a refusal or a stop after the object: "won't load", "doesn't open", "not syncing", "keeps crashing";
* an absence: "no sound", "no notifications".

:func:`failures` lists the expressions of one sentence; :func:`commonest` picks the one most of a
topic's sentences use (ties: the more specific, then by text). Nothing here depends on a product: the
lists are English failure phrasing.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# Failure words as a label says them after its object ("PDF export crashes"); each inflection maps to it.
AFTER = {**{w: "crashes" for w in "crash crashes crashing crashed".split()},
         **{w: "freezes" for w in "freeze freezes freezing froze frozen".split()},
         **{w: "fails" for w in "fail fails failing failed failure failures".split()},
         **{w: "lags" for w in "lag lags lagging".split()},
         **{w: "hangs" for w in "hang hangs hanging".split()},
         **{w: "disconnects" for w in "disconnect disconnects disconnecting disconnected".split()},
         **{w: "disappears" for w in "disappear disappears disappearing disappeared".split()},
         **{w: "drops" for w in "drop drops dropping dropped".split()},
         **{w: "loses" for w in "lose loses losing".split()},
         **{w: "stops working" for w in "stop stops stopped stopping".split()},
         **{w: "drains battery" for w in "drain drains draining drained".split()},
         **{w: "error" for w in "error errors".split()},
         **{w: "glitches" for w in "glitch glitches".split()},
         **{w: "gets stuck" for w in "stuck".split()},
         **{w: "is wrong" for w in "wrong incorrect".split()}}
# Failure words a label puts before its object ("slow sync", "missing notifications").
BEFORE = {w: w for w in "slow laggy broken buggy glitchy blank blurry unresponsive missing unusable lost "
          "invalid duplicate delayed corrupted".split()}
NOT_WORKING = ("doesn't work", "does not work", "dose not work", "not working", "isn't working", "won't work",
               "wont work", "doesnt work", "don't work", "stopped working", "didn't work", "no longer works")

_CAN = {"can't": 1, "cannot": 1, "cant": 1, "couldn't": 1, "couldnt": 1, "unable": 2}  # tokens to skip ("unable to")
_TWO = {("can", "not"), ("could", "not"), ("not", "able"), ("never", "able")}
_WILL = frozenset("won't wont doesn't doesnt didn't didnt isn't isnt aren't arent wouldn't wouldnt don't dont".split())
_WILL_TWO = {("does", "not"), ("will", "not"), ("did", "not"), ("do", "not"), ("would", "not"), ("is", "not"),
             ("are", "not")}
# Between a negation and its verb: "can't even open", "doesn't seem to load", "won't let me sign in".
_SKIP = frozenset("even really just ever always still seem seems appear appears to be been able get it the app anymore "
                  "properly correctly".split())
# "haven't received my code", "never got the email": what should have happened did not.
_NEVER = {"haven't": "haven't", "havent": "haven't", "hasn't": "haven't", "hasnt": "haven't", "never": "never"}
_NEVER_TWO = {("have", "not"), ("has", "not")}
# "not available", "not getting updates": "not" before these (or a verb in -ing) says what fails.
_NOT_STATES = frozenset("available responsive visible supported allowed possible accessible received delivered "
                        "saved synced updated shown displayed found recognized recognised".split())
# Verbs a negation makes an opinion, not a failure ("I don't know", "doesn't like"), and verbs that say
# nothing after "keeps" ("keeps getting ...").
_OPINION = frozenset("know like understand think want need care mind recommend bother appreciate believe expect "
                     "agree matter deserve love hate wish mean getting going having trying doing".split())
# "can't wait", "can't believe how good", "can't live without it": praise, not a failure.
_PRAISE = frozenset("wait believe imagine live stop say thank complain beat praise express recommend".split()
                    + ["be bothered"])
_PRONOUNS = frozenset("i you we they it he she".split())
_WORK = frozenset("work works worked working".split())
_LET = frozenset("let allow allows permit".split())  # "won't let me X" / "doesn't allow me to X": can't X
_DET = frozenset("my the a an any your our their his her its this that these those all some".split())
_NOT_VERBS = frozenset(
    "a an the and or but so i me my we our us you your it its this that these those he she him her his they them "
    "their is are was were be been being am have has had do does did can will would could should may might must "
    "when then than there what which who how why all any some also too very just only not now yet if as up down "
    "out off again please to of for in on at with from by about into even really ever always still because after "
    "before since during while until without within anymore anyway either".split())
# Verbs whose particle belongs to them ("log in", "show up"), with the particles they take.
_PARTICLE_VERBS = {**{v: frozenset("in out on into".split()) for v in "sign signing signed log logging logged".split()},
                   **{v: frozenset(["up"]) for v in "show showing shows come coming pop popping".split()}}
_NO_SKIP = frozenset("problem problems issue issues complaint complaints way longer matter idea doubt one thing "
                     "things ads reason more less need needs wonder".split())
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'’+#-]*[A-Za-z0-9+#]|[A-Za-z]")
_CLAUSE = re.compile(r"[,;:()\[\]!?.…\"“”/]+|\s-\s|\s–\s|\bbut\b|\band\b")


@dataclass(frozen=True)
class Failure:
    """One way a sentence says what goes wrong.

    ``kind``: ``after`` (follows the object: "crashes", "won't load"), ``before`` (precedes it: "slow"),
    ``cant`` (an inability: "can't" + ``verb``, with its ``object`` words), ``no`` (an absence: "no" + object).
    """

    kind: str
    text: str  # the expression without its object ("can't create", "won't load", "crashes", "no")
    verb: str = ""
    object: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """What makes two expressions the same one (the object aside, except for an absence)."""
        return f"{self.text} {' '.join(self.object)}" if self.kind == "no" else self.text


def words(text: str) -> list[str]:
    """Lowercase word tokens with apostrophes normalised."""
    return [t.replace("’", "'").lower() for t in _TOKEN.findall(text or "")]


def _object(toks: Sequence[str], j: int) -> tuple[str, ...]:
    """Up to two content words right after position ``j`` (past a determiner): the verb's object."""
    while j < len(toks) and toks[j] in _DET:
        j += 1
    out: list[str] = []
    while j < len(toks) and len(out) < 2 and toks[j] not in _NOT_VERBS:
        out.append(toks[j])
        j += 1
    return tuple(out)


def _verb(toks: Sequence[str], j: int) -> tuple[str, int, bool] | None:
    """The verb at or after ``j`` (past skippable words), with its particle ("log in", "logging me out"),
    where it ends, and whether "able" came before it ("doesn't seem to be able to sync": an inability)."""
    able = False
    got = None  # "can't get it to load" skips "get"; "never get a reply" means it
    while j < len(toks) and toks[j] in _SKIP:
        able = able or toks[j] == "able"
        got = j if toks[j] == "get" else got
        j += 1
    if j >= len(toks) or toks[j] in _NOT_VERBS or toks[j] in AFTER or toks[j] in BEFORE:
        return ("get", got + 1, able) if got is not None else None
    verb = toks[j]
    if j > 0 and toks[j - 1] == "be" and verb.endswith(("ed", "en")):
        return f"be {verb}", j + 1, able  # "cannot be exported": "can't be exported", never "can't exported"
    if verb in _PARTICLE_VERBS:
        k = j + 1 + (j + 2 < len(toks) and toks[j + 1] in ("me", "us"))
        if k < len(toks) and toks[k] in _PARTICLE_VERBS[verb]:
            return f"{verb} {toks[k]}", k + 1, able
    return verb, j + 1, able


def _clause_failures(toks: Sequence[str]) -> list[Failure]:
    out: list[Failure] = []
    joined = " ".join(toks)
    if any(p in joined for p in NOT_WORKING):
        out.append(Failure("after", "not working"))
    i = 0
    while i < len(toks):
        t = toks[i]
        pair = (t, toks[i + 1]) if i + 1 < len(toks) else ("", "")
        skip = 0
        cant = False
        if t in _CAN:
            skip, cant = _CAN[t], True
        elif pair in _TWO:
            skip, cant = 2, True
        elif t in _WILL or pair in _WILL_TWO:
            skip = 1 if t in _WILL else 2
            k = i + skip
            if k < len(toks) and toks[k] in _LET:  # "won't let me", "doesn't allow me to": an inability
                skip, cant = skip + 1 + (k + 1 < len(toks) and toks[k + 1] in ("me", "us", "you")), True
        elif t in _NEVER or pair in _NEVER_TWO:
            skip = 1 if t in _NEVER else 2
            found = _verb(toks, i + skip)
            if found is not None and found[0] not in _OPINION:
                verb, end, able = found
                neg = "can't" if able else _NEVER.get(t, "haven't")
                if verb in _WORK:
                    out.append(Failure("after", "not working"))  # "never worked", "hasn't worked since"
                else:
                    out.append(Failure("cant", f"{neg} {verb}", verb=verb, object=_object(toks, end)))
                i = end
                continue
            skip = 0
        elif t == "not" and i + 1 < len(toks) and (toks[i + 1] in _NOT_STATES or (
                toks[i + 1].endswith("ing") and toks[i + 1] not in _NOT_VERBS)):
            state = _verb(toks, i + 1)
            out.append(Failure("after", f"not {state[0] if state else toks[i + 1]}"))
        elif t in ("keeps", "keep") and i + 1 < len(toks) and toks[i + 1].endswith("ing") and (
                toks[i + 1] not in _OPINION):
            kept = _verb(toks, i + 1)
            out.append(Failure("after", f"keeps {kept[0] if kept else toks[i + 1]}"))
        elif t == "no" and i + 1 < len(toks) and toks[i + 1] not in _NOT_VERBS and toks[i + 1] not in _NO_SKIP:
            out.append(Failure("no", "no", object=(toks[i + 1],)))
        elif t == "wrong" and i and toks[i - 1] in ("went", "goes", "go", "going"):
            out.append(Failure("after", "error"))  # "something went wrong": an error message
        elif t in AFTER:
            out.append(Failure("after", AFTER[t]))
        elif t in BEFORE:
            out.append(Failure("before", BEFORE[t]))
        if skip:
            found = _verb(toks, i + skip)
            if found is not None and found[0].split()[0] in _OPINION and not (cant or found[2]):
                found = None  # "I don't know", "doesn't like": an opinion
            if found is not None and cant and found[0] in _PRAISE:
                i += skip
                continue
            if found is not None:
                verb, end, able = found
                if cant or able:
                    out.append(Failure("cant", f"can't {verb}", verb=verb, object=_object(toks, end)))
                elif verb.split()[0].endswith("ing"):
                    out.append(Failure("after", f"not {verb}", verb=verb))
                elif verb not in ("work", "works"):  # "doesn't work" is counted above
                    neg = "won't" if t in ("won't", "wont", "will", "wouldn't", "would") else "doesn't"
                    out.append(Failure("after", f"{neg} {verb}", verb=verb))
                i = end
                continue
            if toks[i + skip - 1] in ("me", "us") or (cant and (i + skip >= len(toks) or toks[i + skip] in _PRONOUNS)):
                out.append(Failure("after", "not working"))  # "it won't let me", "on my iPad I can't"
        i += 1
    return out


def failures(sentence: str) -> list[Failure]:
    """The failure expressions of one sentence, in order (each clause read on its own)."""
    out: list[Failure] = []
    for clause in _CLAUSE.split(html.unescape(sentence or "")):  # review feeds leave "doesn&#39;t" escaped
        out.extend(_clause_failures(words(clause)))
    return out


def plain_failure(failure: Failure) -> bool:
    """A failure word or "not working" alone: says a problem whatever the sentence asks for."""
    return failure.kind == "before" or failure.text == "not working" or (
        failure.kind == "after" and not failure.verb and not failure.text.startswith(("keeps", "not ")))


def commonest(sentences: Iterable[str], *, avoid: Iterable[str] = (),
              keep: Callable[[Failure], bool] | None = None) -> tuple[Failure, int] | None:
    """The failure expression most sentences use (each sentence counts an expression once), with how
    many; an inability keeps the object most of its uses name. ``avoid``: expression texts to skip;
    ``keep``: only the expressions it accepts.

    Ties go to the more specific expression (an inability, then a refusal, before a bare failure word)."""
    skip = set(avoid)
    counts: Counter[str] = Counter()
    first: dict[str, Failure] = {}
    objects: dict[str, Counter[tuple[str, ...]]] = {}
    for s in sentences:
        seen = set()
        for f in failures(s):
            if f.text in skip or f.key in seen or (keep is not None and not keep(f)):
                continue
            seen.add(f.key)
            counts[f.key] += 1
            first.setdefault(f.key, f)
            if f.object:
                objects.setdefault(f.key, Counter())[f.object] += 1
    if not counts:
        return None
    rank = {"cant": 0, "no": 1, "after": 2, "before": 3}
    key = min(counts, key=lambda k: (-counts[k], rank[first[k].kind], -len(k), k))
    best = first[key]
    if key in objects:
        obj = max(objects[key].items(), key=lambda kv: (kv[1], -len(kv[0]), kv[0]))[0]
        best = Failure(best.kind, best.text, best.verb, obj)
    return best, counts[key]
