"""Step cues: words that say which step of the customer's process a sentence is on ("refund", "log in").

The embedding of a review sentence mostly says what the product is and how the writer feels; the step a
post sits on often hangs on one verb ("uninstalled", "how do I", "$50"). Each default step has a lexicon
here (our own wording); a cue found in the post's evidence sentence adds ``StepCalibration.cue_bonus`` to
that step's raw score (one found only elsewhere in the post ``post_cue_bonus``), so a cue alone can beat the
``use`` margin but a clear embedding can still win; a cue of leaving anywhere in the post outranks the other
cues (:data:`DECISIVE_STEP`, ``classify.steps.StepIndex.cue_scores``). "Refund" belongs to pay or leave by
what else the post says (:func:`refund_step`).
Cues apply only to steps whose id is a default step id (:data:`classify.steps.DEFAULT_STEPS`); a product's
own steps with other ids are scored on embeddings alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# Words and phrases per default step id. Verbs in their common forms; "reinstall" is help, not get (\b keeps
# "install" from matching inside it).
_CUES: dict[str, str] = {
    "choose": r"better than|worse than|compared? (to|with)|vs\.?|versus|instead of|alternatives?|free trial"
              r"|trial version|switch(ed|ing)? (over )?from|convert(ed)? from|moved? (over )?from"
              r"|prefer(red)? (it|this) (over|to)|decid(e|ed|ing) between|recommend(ed)? (it |this )?over"
              r"|(tried|tested|compared) (a few|several|many|two|three|four|five|\d+) \w+",
    "get": r"install(ed|ing)?|download(ed|ing)?|sign(ed|ing)? ?up|creat(e|ed|ing) an account"
           r"|forced (me )?to (use|install|download|switch)|made me (install|download|use)|not compatible"
           r"|no longer supported|requires ios|bought (it|this|the game)",
    "set-up": r"log(ged|ging)? ?(in|on)|login|sign(ed|ing)? ?in|signin|verification|two[- ](factor|step)"
              r"|set(ting)? ?up|import(ed|ing)?|add(ing)? (my|an|another) account|won'?t (start|launch|load|run|open)"
              r"|loading screens?|load(ing)? (in|into)|stuck (on|at|in) (the )?loading"
              r"|takes? (forever|ages|an hour|hours|\d+ min\w*) to load",
    "learn": r"how (do|can|to) (i|you|we)|how to|figured? out|tutorial|learning curve|get(ting)? the hang"
             r"|hard to learn|instructions|documentation|new players?|beginners?"
             # asking where a control lives is finding out how, not using the feature
             r"|where (is|are) (the|an?) (settings?|options?|buttons?|menus?|switch(es)?|toggles?)"
             r"|where (do|can|would|should) (i|you|we) (find|get to|turn|change|set|switch)"
             r"|(can'?t|cannot|could ?n[o']?t|unable to) (find|locate|see) (the|an?|any) "
             r"(settings?|options?|buttons?|menus?|switch(es)?|toggles?|way)"
             r"|is there (a|any) (way|setting|option) to",
    "get-help": r"customer (support|service)|support( team)?|contact(ed)? (support|them|the developers?|help)"
                r"|help ?(desk|cent(er|re))|no ?one (answers|responds|replies)|recover(y|ed)?|restore|hacked"
                r"|locked out|password reset|reset (my|the) password|reinstall(ed|ing)?",
    "pay": r"price[sd]?|pricey|pricing|expensive|cheap(er)?|subscription|subscribe|pay(ing)?|paid|charged?"
           r"|cost(s|ing)?|worth (the|every) (money|penny|price)|on sale|premium|storage plan"
           r"|over-?charged|billed|billing|invoices?",
    "leave": r"uninstall(ed|ing)?|delet(e|ed|ing) (the|this) (app|game)"
             r"|cancel(l?ed|l?ing)? (my|the) (subscription|account|plan)|switch(ed|ing)? (over )?to|going back to"
             r"|moving to|moved to|turn(ed|ing) to|i'?ll (be )?(use|using|stick)|done with|quit(ting)? (the|this)"
             r"|i'?m (out|done)|never (play(ing)?|using|use|buy(ing)?|download(ing)?|install(ing)?) (it |this )?again"
             r"|not (playing|using|downloading) (it |this )?(again|anymore)"
             r"|won'?t (be )?(play(ing)?|us(e|ing)|buy(ing)?|download(ing)?|install(ing)?) (it |this )?again"
             r"|(trying|looking for|find) (out )?(an?other|other|a different|a new) (\w+ )?"
             r"(apps?|games?|services?|clients?|providers?)",
}
# The step whose cue, anywhere in a post, outranks every other cue (classify.steps.StepIndex.cue_scores).
DECISIVE_STEP = "leave"
# Prices written as amounts ("$50", "35 euros") are a pay cue too; they have no word boundary before "$".
_PRICE = r"|\$ ?\d+|\d+ ?(\$|dollars|euros?|bucks)"
CUES: dict[str, re.Pattern[str]] = {
    step: re.compile(rf"\b({words})\b" + (_PRICE if step == "pay" else ""), re.IGNORECASE)
    for step, words in _CUES.items()
}


# A refund is the money side of two different steps: getting one's money back for a product one is giving up
# (Steam: "refunded, the game will not run") is leaving, while a refund in a post about being billed wrongly
# ("charged twice, still no refund", "billed after downgrading, the refund took weeks") is paying. So "refund" is
# a cue of neither on its own: it counts for pay when the post also talks about billing, else for leave. Words of
# leaving in the same post ("cancelled my subscription and asked for a refund") still give leave its own cue.
_REFUND = re.compile(r"\brefund(s|ed|ing)?\b", re.IGNORECASE)
_BILLING = re.compile(r"\b(charged?|over-?charged|billed|billing|bill|invoices?|payments?|renew(al|ed|s)?"
                      r"|subscriptions?|premium)\b", re.IGNORECASE)


def _plain(text: str) -> str:
    """Curly and HTML-escaped apostrophes as a plain one, so "can’t" and "can&#39;t" read as "can't"."""
    return text.replace("&#39;", "'").replace("\u2019", "'")


def refund_step(text: str, context: str | None = None) -> str | None:
    """The step a refund in ``text`` is a cue of: "pay" when ``context`` (the whole post; ``text`` when None)
    talks about billing, else "leave"; None when ``text`` holds no refund."""
    if not _REFUND.search(text):
        return None
    return "pay" if _BILLING.search(_plain(context if context is not None else text)) else "leave"


def cue_matrix(texts: Sequence[str | None], ids: Sequence[str],
               contexts: Sequence[str | None] | None = None) -> np.ndarray:
    """(n, k) 1.0 where text i holds a cue of step ids[k] (0 for ids without a lexicon, or no text).

    ``contexts`` (the whole post of each text) decides what a refund in text i is a cue of (:func:`refund_step`).
    """
    if contexts is not None and len(contexts) != len(texts):
        raise ValueError("contexts must have one entry per text")
    out = np.zeros((len(texts), len(ids)), dtype=np.float32)
    for i, text in enumerate(texts):
        if not text:
            continue
        plain = _plain(text)
        refund = refund_step(plain, contexts[i] if contexts is not None else None)
        for k, step in enumerate(ids):
            pattern = CUES.get(step)
            if pattern is not None and (pattern.search(plain) or step == refund):
                out[i, k] = 1.0
    return out
