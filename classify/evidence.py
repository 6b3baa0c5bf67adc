"""Which sentence of a post carries its point: the evidence quoted in alerts, issue pages and reports.

A sentence carries the point when it names what it is about: at least ``MIN_CONTENT`` content words, words that
are neither function words nor generic verdicts or pleas ("Reinstalling did not help.", "Sehr enttäuschend!",
"Por favor arreglen esto." have none). The evidence is the best-placed sentence for the post's need type that
carries the point; when the best-placed one does not but the sentence before it does (the first names the object,
the second the failure: "I export my notes to PDF every week. Since 4.2 it just crashes."), the two together;
a best-placed sentence that names nothing gives way to the next best that does; and an earlier sentence that
carries the point and weighs nearly as much (``EARLIER_MARGIN``) is preferred to a later one.
The word lists cover the classified languages (en, de, es, fr, it, pt).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

MIN_CONTENT = 2
# Reviews lead with their point and then tell its consequences ("The watch stopped syncing sleep data with the
# phone. Last 5 nights are blank."): an earlier sentence that carries the point wins when its weight is within
# this share of the chosen one's. Tuned on the dev split of bench/labels/evidence (0.03-0.30 score the same).
EARLIER_MARGIN = 0.05
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
# Function words of the six classified languages.
_FUNCTION = set("""
a an the and or but if so as at by for from in into of off on onto out over to up with without about after before
since until than then too very just only also even still again not no nor never i me my mine we us our you your
he him his she her it its they them their this that these those there here what which who whom whose when where
why how all any both each few more most other some such own same can could will would shall should may might must
do does did doing done is are was were be been being am have has had having get gets got getting go goes went
gone one ones every anything something nothing everything really quite much many lot lots way ever anymore yet
der die das den dem des ein eine einen einem einer und oder aber wenn weil dass ist sind war waren bin bist sein
hat habe haben hatte ich du er sie es wir ihr mich mir dich dir uns euch mein meine dein nicht kein keine nur auch
noch schon sehr so zu im in am an auf aus bei mit nach von vor für über unter um wie was wer wo jetzt immer mal
el la los las un una unos unas y o pero si que es son era fue ser estar está están he ha han yo tú él ella nosotros
me te se lo le les mi mis tu su sus no ni solo también muy más ya todavía aún en con de del al por para sin sobre
esto esta este eso esa ese estos estas cada vez siempre nunca
le la les un une des et ou mais si que qui est sont était être avoir ai as a ont je tu il elle nous vous ils elles
me te se lui leur mon ma mes ton ta tes son sa ses ne pas plus rien jamais très trop aussi encore déjà dans sur
avec de du au aux par pour sans ce cet cette ces ça cela tout tous toujours
il lo gli uno una e o ma se che è sono era essere ho hai ha hanno io lui lei noi voi loro mi ti si ci mio mia
tuo tua suo sua non più anche ancora già molto troppo nel nella con di del della da per su questo questa sempre
o os as um uma e ou mas se que é são era ser estar está tem têm eu você ele ela nós eles elas me te se lhe meu
minha seu sua não nem só também muito mais ainda já em no na nos nas com de do da dos das por para sem isso isto
este esta sempre nunca
""".split())
# Generic verdicts, pleas and filler: they say how the writer feels, not what is wrong or wanted.
_GENERIC = set("""
please pls plz fix fixed fixing help helped helps thanks thank thx sorry hope hoping wish
good great nice fine ok okay bad terrible awful horrible worst best poor useless pointless disappointing
disappointed disappointment annoying annoyed frustrating frustrated sad angry love loved hate hated like liked
happy unhappy glad satisfied mostly overall meh need needs
ugh wow omg lol seriously honestly totally completely absolutely literally
reinstall reinstalled reinstalling restart restarted restarting tried try trying update updated please
today yesterday now day days week weeks time times anyone someone else guys
bitte danke leider sehr schlecht gut toll super enttäuschend enttauschend enttäuscht nervig schade hilfe helfen
por favor gracias arreglen arreglar arregla ayuda malo mala pésimo pesimo bueno buena genial horrible decepcionante
merci aide aidez réparer corrigez nul nulle mauvais bon bien super génial décevant déçu horrible
grazie aiuto sistemate sistemare correggete pessimo pessima buono bello deludente orribile
obrigado obrigada ajuda consertem corrijam ruim péssimo pessimo bom boa ótimo otimo decepcionante horrível
""".split())


_NOT_CONTENT = _FUNCTION | _GENERIC  # one set, built once (the union per word cost 2% of predict)


def content_words(sentence: str) -> list[str]:
    """The words of ``sentence`` that name something (neither function words nor generic verdicts or pleas)."""
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(sentence)) if w not in _NOT_CONTENT]


def carries_point(sentence: str) -> bool:
    """True when the sentence names what it is about (at least ``MIN_CONTENT`` content words)."""
    return len(content_words(sentence)) >= MIN_CONTENT


def choose_evidence(sentences: Sequence[str], weight: np.ndarray) -> tuple[int, int]:
    """The evidence as a span of sentence indexes ``(first, last)`` (inclusive), from each sentence's ``weight``.

    The best-weighted sentence when it carries the point; else, when it names one thing (the failure) and the
    sentence before it carries the point (the object), the two; else the best-weighted sentence that carries the
    point ("Reinstalling did not help." names nothing and gives way); else the best-weighted one. Then an earlier
    sentence that carries the point and weighs at least ``1 - EARLIER_MARGIN`` of the chosen span's best replaces it.
    """
    first, last = _best_span(sentences, weight)
    if not len(sentences):
        return first, last
    w = np.asarray(weight, dtype=np.float64)
    floor = float(w[first:last + 1].max()) * (1.0 - EARLIER_MARGIN)
    for i in range(first):
        if w[i] >= floor and carries_point(sentences[i]):
            return i, i
    return first, last


def _best_span(sentences: Sequence[str], weight: np.ndarray) -> tuple[int, int]:
    """The span from the weights and the content-word rules alone (see ``choose_evidence``)."""
    if not len(sentences):
        return 0, 0
    order = [int(i) for i in np.argsort(-np.asarray(weight), kind="stable")]
    best = order[0]
    if carries_point(sentences[best]):
        return best, best
    if best > 0 and len(content_words(sentences[best])) == 1 and carries_point(sentences[best - 1]):
        return best - 1, best  # "... to PDF every week. Since the update it just closes."
    for i in order[1:]:
        if carries_point(sentences[i]):
            return i, i
    return best, best
