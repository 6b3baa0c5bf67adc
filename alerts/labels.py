"""Issue labels in words people use: a key phrase from the member sentences, plus keywords.

KeyBERT-style: candidate phrases are the noun and verb phrases of the member sentences (runs of
content words, with at most one function word inside: "sync fails after update"; or opened by a word
that says what goes wrong: "can't sign in", "no audio"), each used by
several members; each is embedded with our own encoder and scored by its similarity to the issue's
centroid, weighted by how much more the members use it than the product's other posts; Maximal
Marginal Relevance then picks a diverse set, whose first is the label (<= 6 words, never two stopwords).
The keywords beside it are the members' most specific words (class-based TF-IDF against the
background), most specific first, then their commonest other words up to ten. A single-word winner is
widened to the members' commonest phrase around it ("crashes" -> "crashes on launch") when enough of
them use it. Neither label nor keywords is ever the product's own name alone (given, or a word in a
fifth of its posts when not given) or a filler word ("super", "features"). Everything is deterministic
given the member sentences, which :func:`pick_sentences` chooses the same way in live runs and in
backtests.

Without an encoder (or when the encoder's size differs from the embeddings'), phrases are scored by
the TF-IDF part alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from alerts.failures import AFTER, BEFORE, Failure, commonest, plain_failure

MAX_WORDS = 6
KEYWORDS = 10
SENTENCES = 50  # member sentences a label is drawn from (nearest the centroid)
CANDIDATES = 60  # phrases embedded per label
MMR_DIVERSITY = 0.5
WIDEN_SHARE = 0.08  # share of a label word's uses that a phrase around it needs to replace it
UBIQUITOUS_SHARE = 0.2  # a word in this share of the product's posts (its name, "email" for a mail app) names no issue
MIN_BACKGROUND = 50  # posts of background before a word's share of them says it is ubiquitous

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'’+#-]*[A-Za-z0-9+#]|[A-Za-z]")
_CLAUSE = re.compile(r"[,;:()\[\]!?.…\"“”/]+|\s-\s|\s–\s")
STOPWORDS = frozenset(
    "a about above after again against all almost also although always am among an and another any anymore "
    "anyone anything anyway app app's apps are aren't around as at away back be became because become been before "
    "being below best better between both but by can can't cannot cant come comes could couldn't did didn't do does "
    "doesn't doing don't done dont down during each else enough even ever every everything few find first for "
    "found from full fully further get gets getting give given gives go goes going gone good got great had hadn't "
    "has hasn't have haven't having he her here hers him his how however i i'd i'll i'm i've id if im in instead "
    "into is isn't it it'd it'll it's its itself ive just keep keeps kind know last least less let let's like "
    "little lot lots love made make makes making many may me might more most much must my myself need needed needs "
    "never new next nice no none nor not nothing now of off often oh ok okay old on once one ones only or other "
    "others otherwise our ours out over own please pretty put quite rather really reason right said same say says "
    "see seem seems seen should shouldn't since so some someone something sometimes soon still such sure take "
    "than thank thanks that that's the their theirs them themselves then there there's these they they're thing "
    "things think this those though through thru till to today too total totally tried tries try trying two under "
    "until up upon us use used uses using very via want wanted wants was wasn't way ways we we're well went were "
    "weren't what what's whatever when whenever where whether which while who whole whom whose why will with "
    "within without won't work works worked would wouldn't wow yeah yes yet you you'd you'll you're you've your "
    "yours yourself add added note notes exists exist annoying awesome amazing bad excellent horrible terrible "
    "awful fine easy useful helpful perfect poor worst everyday definitely absolutely already ago anybody "
    "everyone else's lately recently recent currently constantly actually basically literally simply".split()
)

# Words that say how people feel or fill a sentence but name no topic. Kept out of labels and keywords
# only: ``content_words`` (what makes a post topicless, and the benchmark's yardstick) does not use them.
FILLER = frozenset(
    "fantastic cool super nightmare omg pls plz bc ur u matter miss wish half took either saying telling letting "
    "frustrating inexcusable impossible ridiculous stupid glad sad happy hate hated unless supposedly seriously "
    "honestly hard far level etc idea lol guys hi hello feature features update updates updated version versions "
    "application time times longer".split()
)


# Function words that, right before a content word, say what goes wrong with it ("can't login").
PROBLEM_HEADS = frozenset("can't cannot cant couldn't won't doesn't didn't isn't no keeps keep always never".split())
# Words that say something goes wrong (a problem issue's label should hold one; see :func:`says_problem`).
PROBLEM_WORDS = PROBLEM_HEADS | frozenset(
    "crash crashes crashing crashed freeze freezes freezing frozen froze fail fails failing failed failure "
    "broken break breaks breaking error errors bug bugs buggy glitch glitches glitchy slow slower lag lags "
    "lagging laggy stuck lose loses losing lost missing disappear disappears disappeared drain drains "
    "draining hang hangs hanging quit quits closes closing stop stops stopped stopping unable wrong "
    "blank black delay delayed delays drop drops dropped dropping blurry unresponsive duplicate duplicates "
    "spam annoying unusable disconnect disconnects disconnected disconnecting echo noise "
    "resets resetting erased deleted overheating too "
    "won't can't doesn't isn't didn't not never wont cant doesnt dont cannot unable impossible invalid incorrect "
    "irrelevant unreadable".split())


def says_problem(label: str) -> bool:
    """Whether a label names a problem (holds a problem word or phrase: "PDF export crashes", "no audio")."""
    return any(w.lower() in PROBLEM_WORDS for w in tokens(label))


# "Sign in", "log out": the particle belongs to the verb, so a phrase may end with it.
SIGN_IN_VERBS = frozenset("sign signing signed log logging logged".split())
PARTICLES = frozenset("in on out".split())


def tokens(text: str) -> list[str]:
    """Word tokens of a text, in order (apostrophes normalised)."""
    return [t.replace("’", "'") for t in _TOKEN.findall(text or "")]


def is_stopword(word: str) -> bool:
    """Whether a word carries no topic (function words, generic verbs and opinion words)."""
    w = word.lower()
    return w in STOPWORDS or len(w) < 2 or w.isdigit()


def content_words(text: str) -> list[str]:
    """The lowercase content words of a text."""
    return [t.lower() for t in tokens(text) if not is_stopword(t)]


def phrases(sentence: str, max_words: int = 4) -> set[tuple[str, ...]]:
    """Candidate phrases of one sentence: word runs within a clause that start and end with a content
    word, with at most one function word inside (lowercase tuples). Two kinds of function word may
    also bound a run, because a label needs them to say what goes wrong: a problem word right before a
    content word opens one ("can't chat", "no audio", "keeps crashing" where "chat", "audio" and
    "crashing" only name a topic), and the particle of a sign-in verb closes one ("can't sign in")."""
    out: set[tuple[str, ...]] = set()
    for clause in _CLAUSE.split(sentence or ""):
        words = [t.lower() for t in tokens(clause)]
        stop = [is_stopword(w) for w in words]
        for i in range(len(words)):
            opens_problem = (stop[i] and words[i] in PROBLEM_HEADS and i + 1 < len(words) and not stop[i + 1]
                             and words[i + 1] not in FILLER)
            if stop[i] and not opens_problem:
                continue
            inside = 0
            for j in range(i + 1 if opens_problem else i, min(len(words), i + max_words)):
                if stop[j]:
                    if words[j] in PARTICLES and words[j - 1] in SIGN_IN_VERBS:
                        out.add(tuple(words[i:j + 1]))
                    inside += 1
                    if inside > 1:
                        break
                    continue
                out.add(tuple(words[i:j + 1]))
    return out


def _surface(sentences: Sequence[str]) -> dict[str, str]:
    """The most common written form of each word (keeps "PDF" upper case, drops sentence-initial capitals)."""
    forms: dict[str, Counter[str]] = {}
    for s in sentences:
        for t in tokens(s):
            forms.setdefault(t.lower(), Counter())[t] += 1
    out = {}
    for low, counts in forms.items():
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] != low, kv[0]))[0][0]
        out[low] = best if best.isupper() and len(best) > 1 else low
    return out


def word_doc_freq(texts: Sequence[str]) -> Counter[str]:
    """In how many of ``texts`` each content word occurs."""
    out: Counter[str] = Counter()
    for s in texts:
        out.update(set(content_words(s)))
    return out


def keywords_of(sentences: Sequence[str], background: Sequence[str], top: int = KEYWORDS,
                background_df: Mapping[str, int] | None = None, product_words: Collection[str] = ()) -> list[str]:
    """The members' most specific words (share among members times log lift over the background), then,
    up to ``top``, their commonest other words; never filler, the product's name or words ubiquitous
    in the background."""
    member_df = word_doc_freq(sentences)
    if background_df is None:
        background_df = word_doc_freq(background)
    n_m, n_b = max(1, len(sentences)), max(1, len(background))
    dull = _dull_words(member_df, background_df, len(background), product_words)
    scored = []
    for word, df in member_df.items():
        if (df < 2 and n_m >= 4) or word in dull:
            continue
        share = df / n_m
        lift = math.log((share + 1e-3) / ((background_df.get(word, 0) + 1) / (n_b + 2)))
        if lift > 0:
            scored.append((-share * lift, word))
    scored.sort()
    out = [w for _, w in scored[:top]]
    if len(out) < top:  # then the members' commonest words, so a small issue still says what it is about
        skip = dull.union(out)
        common = sorted((w for w, df in member_df.items() if (df >= 2 or n_m < 4) and w not in skip),
                        key=lambda w: (-member_df[w], w))
        out += common[: top - len(out)]
    return out


def _dull_words(words: Iterable[str], background_df: Mapping[str, int], n_background: int,
                product_words: Collection[str] = ()) -> set[str]:
    """Words that name no issue of this product: filler, the product's own name, and words in
    ``UBIQUITOUS_SHARE`` of its posts (how a name shows when it is not known, as in a benchmark replay)."""
    common = n_background >= MIN_BACKGROUND
    return {w for w in words if w in FILLER or w in product_words
            or (common and background_df.get(w, 0) >= UBIQUITOUS_SHARE * n_background)}


def name_words(name: str | None) -> frozenset[str]:
    """The lowercase content words of a product's name ("Google Drive" -> google, drive)."""
    return frozenset(content_words(name or ""))


def _specificity(df: int, n_m: int, bg_df: int, n_b: int) -> float:
    share = df / n_m
    return share * max(0.0, math.log((share + 1e-3) / ((bg_df + 1) / (n_b + 2))))


def mmr(doc: np.ndarray, cands: np.ndarray, relevance: np.ndarray, k: int, diversity: float) -> list[int]:
    """Maximal Marginal Relevance: ``k`` candidate indices, each the best trade of relevance against
    similarity to those already picked."""
    picked: list[int] = []
    left = list(range(len(cands)))
    sim = cands @ cands.T if len(cands) else np.zeros((0, 0))
    while left and len(picked) < k:
        if picked:
            redundancy = sim[np.ix_(left, picked)].max(axis=1)
        else:
            redundancy = np.zeros(len(left))
        score = (1 - diversity) * relevance[left] - diversity * redundancy
        best = left[int(np.argmax(score))]
        picked.append(best)
        left.remove(best)
    return picked


class PhraseEncoder:
    """An embedding function for phrases with a bounded in-process cache (labels re-embed the same phrases)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], limit: int = 50_000, dim: int | None = None) -> None:
        self.embed = embed
        self.limit = limit
        self.cache: dict[str, np.ndarray] = {}
        self.dim = dim

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            vecs = np.asarray(self.embed(missing), dtype=np.float32)
            if len(self.cache) + len(missing) > self.limit:
                self.cache.clear()
            for t, v in zip(missing, vecs, strict=True):
                self.cache[t] = v
        out = np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim or 1), np.float32)
        self.dim = int(out.shape[1]) if len(out) else self.dim
        return out


def label_issue(sentences: Sequence[str], centroid: np.ndarray | None, background: Sequence[str],
                embed: Callable[[list[str]], np.ndarray] | None = None,
                product_words: Collection[str] = (), problem: bool = False) -> tuple[str, list[str]]:
    """A short label (<= 6 words) and up to 10 keywords for the member sentences of one issue.

    Args:
        sentences: member sentences, most representative first (see :func:`pick_sentences`).
        centroid: the issue's centroid in the encoder's space (None: TF-IDF scoring only).
        background: other recent posts of the product.
        embed: our encoder's ``embed`` (texts -> unit vectors); None: TF-IDF scoring only.
        product_words: words of the product's name (:func:`name_words`), never a label or keyword alone.
        problem: most members report a problem: the label says what goes wrong where any member does.
    """
    sentences = [s for s in sentences if s and s.strip()]
    if not sentences:
        return "", []
    background_df = word_doc_freq(background)
    keywords = keywords_of(sentences, background, background_df=background_df, product_words=product_words)
    n_m, n_b = len(sentences), max(1, len(background))
    df: Counter[tuple[str, ...]] = Counter()
    for s in sentences:
        df.update(phrases(s))
    min_df = 1 if n_m < 4 else max(2, math.ceil(0.05 * n_m))
    pool = [p for p, c in df.items() if c >= min_df]
    if not pool:  # no phrase shared by enough members: the longest phrase of the most representative one
        own = sorted(phrases(sentences[0]), key=lambda p: (-len(p), p))
        surface = _surface(sentences)
        label = " ".join(surface.get(w, w) for w in own[0]) if own else (keywords[0] if keywords else "")
        fallback = list(dict.fromkeys(content_words(sentences[0])))[:KEYWORDS]
        return finish_label(label, sentences, problem=problem, keywords=keywords or fallback,
                            not_object=_dull_words(content_words(label), background_df, len(background),
                                                   product_words)), keywords or fallback
    bg: Counter[tuple[str, ...]] = Counter()
    pool_set = set(pool)
    for s in background:
        bg.update(p for p in phrases(s) if p in pool_set)
    spec = {p: _specificity(df[p], n_m, bg.get(p, 0), n_b) for p in pool}
    pool = [p for p in pool if spec[p] > 0] or pool
    # Longer phrases say more; a phrase must still be used by several members to win.
    pool.sort(key=lambda p: (-spec[p] * (1 + 0.35 * (len(p) - 1)), p))
    pool = pool[:CANDIDATES]
    surface = _surface(sentences)
    texts = [" ".join(surface.get(w, w) for w in p) for p in pool]
    spec_arr = np.array([spec[p] for p in pool], dtype=np.float64)
    spec_arr = spec_arr / (spec_arr.max() or 1.0)
    length = np.array([min(len(p), 4) for p in pool], dtype=np.float64)
    # A problem topic's label should say what goes wrong: phrases that do are preferred, other things equal.
    says = np.array([1.0 + PROBLEM_BOOST * (problem and any(w in PROBLEM_WORDS for w in p)) for p in pool])
    doc = None
    dim = getattr(embed, "dim", None)
    if embed is not None and centroid is not None and (dim is None or dim == centroid.shape[0]):
        vecs = np.asarray(embed(texts), dtype=np.float64)
        if vecs.ndim == 2 and vecs.shape[1] == centroid.shape[0]:
            norm = float(np.linalg.norm(centroid)) or 1.0
            doc = centroid / norm
            relevance = (vecs @ doc) * (0.6 + 0.4 * spec_arr) * (1 + 0.08 * (length - 1)) * says
            order = mmr(doc, vecs, relevance, 5, MMR_DIVERSITY)
    if doc is None:
        relevance = spec_arr * (1 + 0.35 * (length - 1)) * says
        order = [int(i) for i in np.argsort(-relevance, kind="stable")[:5]]
    multi = [i for i in order if len(pool[i]) >= 2]
    best = multi[0] if multi and relevance[multi[0]] >= 0.8 * relevance[order[0]] else order[0]
    words = pool[best] if len(pool[best]) >= 2 else _widen(pool[best][0], df)
    dull = _dull_words({w for p in pool for w in p}, background_df, len(background), product_words)

    def says_nothing(phrase: tuple[str, ...]) -> bool:  # "Microsoft Teams", "super": name or filler only
        return all(w in dull or is_stopword(w) for w in phrase)

    if says_nothing(words):
        ranked = [int(i) for i in np.argsort(-relevance, kind="stable")]
        words = next((pool[i] for i in ranked if not says_nothing(pool[i])), words)
    label = " ".join(surface.get(w, w) for w in words[:MAX_WORDS])
    return finish_label(label, sentences, problem=problem, keywords=keywords, not_object=dull), keywords


# A label never ends on one of these: a preposition, or an adjective that waits for its noun.
DANGLING = frozenset(
    "in into inside on onto at to of for from with without about between under over by through within "
    "individual specific certain multiple different separate entire whole other more less better easier "
    "new old own single same every each several many few main full".split())
_PUNCT = ":;,.!?…\"“”'’()[]/-–"  # around a word, never part of the object
_FUNCTION = frozenset(
    "a an the and or but so i me my we our us you your it its this that these those he she him her his they "
    "them their is are was were be been being am have has had do does did can will would could should may "
    "might must when then than there what which who how why all any some also too very just only not now yet "
    "if as up down out off again please".split())
# How the writer feels: a lead-in before the object ("aggravated as Zoom: can't sign in"), never the object.
FEELINGS = frozenset(
    "aggravated aggravating annoyed irritated irritating frustrated frustrating disappointed disappointing angry "
    "mad upset furious livid fed tired sick confused infuriated infuriating unhappy sorry worried pissed shocked "
    "baffled puzzled sad happy glad stressed exhausted hopeless helpless".split())
PROBLEM_BOOST = 0.25  # relevance bonus of a candidate label with a problem word, in a problem topic
PROBLEM_SHARE = 0.25  # share of the sentences about the label that must say the problem word


def finish_label(label: str, sentences: Sequence[str], *, problem: bool = False,
                 keywords: Sequence[str] = (), not_object: Collection[str] = ()) -> str:
    """Make a label a whole phrase that says what goes wrong, in the members' words.

    A label never ends on a preposition or a waiting adjective ("lock individual" -> "lock individual
    notes", else "lock"); a label with no problem word gets the failure expression
    (:mod:`alerts.failures`) most of the sentences that mention it use, when at least ``PROBLEM_SHARE``
    of them do ("PDF export" + "crashes" -> "PDF export crashes"; "sync" + "slow" -> "slow sync";
    "branches" + "can't create branches" -> "can't create branches"); with ``problem`` (most members
    report a problem) one mention is enough, and where no sentence that mentions the label says what
    goes wrong, the commonest failure of all the members is joined to it. Feature requests rarely say
    a problem word, so theirs stay as they are ("dark mode"). A label still one word is widened to the
    members' commonest phrase around it, else joined to its commonest companion keyword.

    A failure is joined to the label's object only: its lead-in words (how the writer feels, function
    words, punctuation, and ``not_object``: the product's name and words in most of its posts) are
    left out, so "aggravated as zoom" + "can't sign in" is "can't sign in" (:func:`object_words`).
    """
    words = label.split()
    if not words:
        return label
    lowered = [[t.lower() for t in tokens(s)] for s in sentences]
    while words and words[-1].lower() in DANGLING:
        if len(words) >= 2 and words[-1].lower() in PARTICLES and words[-2].lower() in SIGN_IN_VERBS:
            break  # "can't sign in": the particle belongs to the verb
        nxt = _next_word([w.lower() for w in words], lowered)
        if nxt is not None and len(words) < MAX_WORDS:
            words.append(nxt)
            break
        words.pop()
    if not words:
        return label
    label = " ".join(words)
    if not says_problem(label):
        label = _say_problem(words, sentences, lowered, problem, keywords, not_object)
    if len(label.split()) == 1:
        label = _one_word_widened(label, sentences, lowered, keywords)
    return label


def _say_problem(words: list[str], sentences: Sequence[str], lowered: Sequence[list[str]], problem: bool,
                 keywords: Sequence[str] = (), not_object: Collection[str] = ()) -> str:
    """The label joined to the members' commonest failure expression, where enough of them say one."""
    label = " ".join(words)
    mine = {w.lower() for w in words if not is_stopword(w.lower())}
    about = [s for s, t in zip(sentences, lowered, strict=True) if mine & set(t)] or list(sentences)
    # Where most members do not report a problem, only a plain failure word ("crashes", "slow", "not
    # working") says one; a verb phrase ("keeps asking", "can't find") may be a request's wording.
    plain = None if problem else plain_failure
    found = commonest(about, keep=plain)
    if found is None and problem:
        found = commonest(sentences)  # a problem topic: what its members say goes wrong, said elsewhere
    if found is None:
        return label
    failure, n = found
    if n < (1 if problem else max(1, PROBLEM_SHARE * len(about))):
        return label
    return _join(object_words(words, not_object), mine, failure, n >= 0.5 * len(about), keywords) or label


def object_words(words: Sequence[str], not_object: Collection[str] = ()) -> list[str]:
    """The label's words without the lead-in and tail that are not its object.

    Cut from either end: words that say how the writer feels (:data:`FEELINGS`, filler), function
    words, ``not_object`` words (the product's name: "as Zoom"), and bare punctuation; punctuation
    around a kept word goes too. "aggravated as Zoom:" -> [] (Zoom the product); "frustrated with
    meetings" -> ["meetings"]; "sign in" stays whole.
    """
    out = [w.strip(_PUNCT) for w in words]
    out = [w for w in out if w]
    skip = {w.lower() for w in not_object}

    def lead_in(word: str) -> bool:
        low = word.lower()
        return low in FEELINGS or low in FILLER or low in skip or low in _FUNCTION or is_stopword(low)

    while out and lead_in(out[0]):
        out.pop(0)
    while out and lead_in(out[-1]):
        if len(out) >= 2 and out[-1].lower() in PARTICLES and out[-2].lower() in SIGN_IN_VERBS:
            break  # "sign in": the particle belongs to the verb
        out.pop()
    return out


def _fit(words: Sequence[str], room: int) -> list[str]:
    """The label's first words that fit in ``room`` words, never ending on a dangling or function word."""
    out = list(words[:max(0, room)])
    while out and (out[-1].lower() in DANGLING or is_stopword(out[-1].lower())):
        if len(out) >= 2 and out[-1].lower() in PARTICLES and out[-2].lower() in SIGN_IN_VERBS:
            break  # "log in": the particle belongs to the verb
        out.pop()
    return out


def _same_verb(word: str, verb: str) -> bool:
    w, v = word.lower(), verb.split()[0]
    return w == v or (len(v) >= 4 and len(w) >= 4 and w[:4] == v[:4])


def _join(words: list[str], mine: set[str], failure: Failure, most: bool, keywords: Sequence[str] = ()) -> str | None:
    """A label and a failure expression as one phrase: the object first, then what goes wrong.

    ``words``: the label's object (:func:`object_words`); with none left, the failure alone says it.
    """
    text = failure.text
    if not words:
        return f"no {failure.object[0]}" if failure.kind == "no" and failure.object else text
    if failure.verb and failure.kind == "after" and _same_verb(words[0], failure.verb):
        return " ".join([text, *words[1:]][:MAX_WORDS])  # "connect" + "won't connect" -> "won't connect"
    if failure.kind == "cant":
        verb = failure.verb.split()[0]
        obj = [w for w in failure.object if not is_stopword(w)]
        if _same_verb(words[0], verb):
            return " ".join([text.split()[0], *words][:MAX_WORDS])  # "sign in" -> "can't sign in"
        if obj and (mine & set(obj) or (most and set(obj) & set(keywords))):
            return f"{text} {' '.join(obj)}"  # what most say: "can't create branches"
        fitted = _fit(words, MAX_WORDS - 1 - len(text.split()))
        return f"{' '.join(fitted)}: {text}" if fitted else text
    if failure.kind == "no":
        absent = failure.object[0]
        if words[0].lower() == absent:
            return " ".join(["no", *words][:MAX_WORDS])  # "audio" -> "no audio"
        fitted = _fit(words, MAX_WORDS - 2)
        return f"{' '.join(fitted)}: no {absent}" if fitted else f"no {absent}"
    fitted = _fit(words, MAX_WORDS - len(text.split()))
    if not fitted:
        return None
    return f"{text} {' '.join(fitted)}" if failure.kind == "before" else f"{' '.join(fitted)} {text}"


def _app_subject(word: str, lowered: Sequence[list[str]]) -> str:
    """A lone failure word given the subject its members name: "crashes" -> "app crashes" where they
    write "app" (a review of an app rarely names its object otherwise)."""
    low = word.lower()
    if not any("app" in toks for toks in lowered):
        return word
    if low in AFTER:
        return f"app {AFTER[low]}"
    return f"{word} app" if low in BEFORE else word


def _one_word_widened(word: str, sentences: Sequence[str], lowered: Sequence[list[str]],
                      keywords: Sequence[str]) -> str:
    """A one-word label made a phrase: the members' commonest phrase around the word (used twice, or
    once in a small topic), else the word with the keyword seen most often in the same sentences, in
    the order the members write them."""
    low = word.lower()
    need = 1 if len(sentences) < 4 else 2
    df: Counter[tuple[str, ...]] = Counter()
    for s in sentences:
        df.update(p for p in phrases(s, max_words=3) if low in p and len(p) >= 2)
    good = [(c, len(p), p) for p, c in df.items() if c >= need and p[-1] not in DANGLING
            and not all(w == low or w in FILLER or is_stopword(w) for w in p)]
    surface = _surface(sentences)
    if good:
        return " ".join(surface.get(w, w) for w in max(good)[2])
    if low in AFTER or low in BEFORE:
        subject = _app_subject(word, lowered)
        if subject != word:
            return subject
    together: Counter[str] = Counter()
    before: Counter[str] = Counter()
    for toks in lowered:
        if low not in toks:
            continue
        at = toks.index(low)
        for k in set(keywords) & set(toks):
            if k != low and k not in FILLER:
                together[k] += 1
                before[k] += toks.index(k) < at
    if not together:
        return _app_subject(word, lowered)
    best, n = max(together.items(), key=lambda kv: (kv[1], -keywords.index(kv[0]), kv[0]))
    if n < need:
        return _app_subject(word, lowered)
    pair = [best, word] if 2 * before[best] > n else [word, best]
    return " ".join(surface.get(w, w) for w in pair)


def _next_word(phrase: list[str], sentences: Sequence[list[str]]) -> str | None:
    """The content word the members write most often right after ``phrase`` (seen twice, or once in a small issue)."""
    counts: Counter[str] = Counter()
    k = len(phrase)
    for toks in sentences:
        for i in range(len(toks) - k):
            if toks[i:i + k] == phrase and toks[i + k] not in _FUNCTION and toks[i + k] not in DANGLING:
                counts[toks[i + k]] += 1
                break
    if not counts:
        return None
    word, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return word if n >= 2 or len(sentences) < 4 else None


def _widen(word: str, df: Counter[tuple[str, ...]]) -> tuple[str, ...]:
    """A single-word label made a phrase: the members' commonest phrase around the word ("crashes" ->
    "crashes on launch"), when at least ``WIDEN_SHARE`` of the posts using the word use that phrase."""
    uses = df.get((word,), 0)
    around = [(c, -len(p), p) for p, c in df.items() if len(p) >= 2 and word in p and c >= 2]
    if not around or not uses:
        return (word,)
    count, _, phrase = max(around)
    return phrase if count >= WIDEN_SHARE * uses else (word,)


def pick_sentences(members: Sequence[tuple[str, np.ndarray | None]], centroid: np.ndarray | None,
                   k: int = SENTENCES) -> list[str]:
    """The ``k`` distinct member sentences nearest the centroid, best first (ties by text)."""
    ranked = rank_members(members, centroid)
    seen: set[str] = set()
    out = []
    for i in ranked:
        text = (members[i][0] or "").strip()
        key = " ".join(text.lower().split())
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(text)
        if len(out) >= k:
            break
    return out


def rank_members(members: Sequence[tuple[str, np.ndarray | None]], centroid: np.ndarray | None) -> list[int]:
    """Member indices, most representative (nearest the centroid) first; ties by text, then index."""
    sims = []
    norm = float(np.linalg.norm(centroid)) if centroid is not None else 0.0
    for _text, emb in members:
        if emb is None or centroid is None or not norm or emb.shape[0] != centroid.shape[0]:
            sims.append(0.0)
        else:
            sims.append(float(np.asarray(emb, np.float64) @ centroid) / norm)
    return sorted(range(len(members)), key=lambda i: (-round(sims[i], 6), members[i][0] or "", i))


def label_cluster(cluster: Any, background: Sequence[str],
                  embed: Callable[[list[str]], np.ndarray] | None = None,
                  product_words: Collection[str] = ()) -> tuple[str, list[str]]:
    """Label an in-memory cluster from the members it kept (the backtest's labeller)."""
    members = [(m.sentence, m.embedding) for m in cluster.members]
    needs = getattr(cluster, "need_types", None) or {}
    # The need most members have, ties as everywhere else (``alerts.release_watch.dominant``).
    problem = bool(needs) and min(needs, key=lambda k: (-needs[k], k)) == "problem"
    return label_issue(pick_sentences(members, cluster.centroid), cluster.centroid, background, embed, product_words,
                       problem=problem)


def labeller_with(embed: Callable[[list[str]], np.ndarray] | None,
                  product_words: Collection[str] = ()) -> Callable[[Any, Sequence[str]], tuple[str, list[str]]]:
    """A replay labeller bound to an encoder and the product's name words."""
    def label(cluster: Any, background: Sequence[str]) -> tuple[str, list[str]]:
        return label_cluster(cluster, background, embed, product_words)

    return label
