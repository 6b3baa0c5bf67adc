"""Step cues: words that say which step of the customer's process a sentence is on ("refund", "log in").

The embedding of a review sentence mostly says what the product is and how the writer feels; the step a
post sits on often hangs on one verb ("uninstalled", "how do I", "$50"). Each default step has a lexicon
here (our own wording); a cue found in the post's evidence sentence adds ``StepCalibration.cue_bonus`` to
that step's raw score, so a cue alone can beat the ``use`` margin but a clear embedding can still win.
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
              r"|prefer(red)? (it|this) (over|to)",
    "get": r"install(ed|ing)?|download(ed|ing)?|sign(ed|ing)? ?up|creat(e|ed|ing) an account"
           r"|forced (me )?to (use|install|download|switch)|made me (install|download|use)|not compatible"
           r"|no longer supported|requires ios|bought (it|this|the game)",
    "set-up": r"log(ged|ging)? ?(in|on)|login|sign(ed|ing)? ?in|signin|verification|two[- ](factor|step)"
              r"|set(ting)? ?up|import(ed|ing)?|add(ing)? (my|an|another) account|won'?t (start|launch|load|run|open)"
              r"|loading screens?|load(ing)? (in|into)|stuck (on|at|in) (the )?loading"
              r"|takes? (forever|ages|an hour|hours|\d+ min\w*) to load",
    "learn": r"how (do|can|to) (i|you|we)|how to|figured? out|tutorial|learning curve|get(ting)? the hang"
             r"|hard to learn|instructions|documentation|new players?|beginners?",
    "get-help": r"customer (support|service)|support( team)?|contact(ed)? (support|them|the developers?|help)"
                r"|help ?(desk|cent(er|re))|no ?one (answers|responds|replies)|recover(y|ed)?|restore|hacked"
                r"|locked out|password reset|reset (my|the) password|reinstall(ed|ing)?",
    "pay": r"price[sd]?|pricey|pricing|expensive|cheap(er)?|subscription|subscribe|pay(ing)?|paid|charged?"
           r"|cost(s|ing)?|worth (the|every) (money|penny|price)|on sale|premium|storage plan",
    "leave": r"uninstall(ed|ing)?|delet(e|ed|ing) (the|this) (app|game)|refund(ed|ing)?"
             r"|cancel(l?ed|l?ing)? (my|the) (subscription|account|plan)|switch(ed|ing)? (over )?to|going back to"
             r"|moving to|moved to|i'?ll (be )?(use|using|stick)|done with|quit(ting)? (the|this)|i'?m (out|done)"
             r"|never (play(ing)?|using|use|buy(ing)?|download(ing)?) (it |this )?again"
             r"|not (playing|using|downloading) (it |this )?(again|anymore)",
}
# Prices written as amounts ("$50", "35 euros") are a pay cue too; they have no word boundary before "$".
_PRICE = r"|\$ ?\d+|\d+ ?(\$|dollars|euros?|bucks)"
CUES: dict[str, re.Pattern[str]] = {
    step: re.compile(rf"\b({words})\b" + (_PRICE if step == "pay" else ""), re.IGNORECASE)
    for step, words in _CUES.items()
}


def _plain(text: str) -> str:
    """Curly and HTML-escaped apostrophes as a plain one, so "can’t" and "can&#39;t" read as "can't"."""
    return text.replace("&#39;", "'").replace("\u2019", "'")


def cue_matrix(texts: Sequence[str | None], ids: Sequence[str]) -> np.ndarray:
    """(n, k) 1.0 where text i holds a cue of step ids[k] (0 for ids without a lexicon, or no text)."""
    out = np.zeros((len(texts), len(ids)), dtype=np.float32)
    for k, step in enumerate(ids):
        pattern = CUES.get(step)
        if pattern is None:
            continue
        for i, text in enumerate(texts):
            if text and pattern.search(_plain(text)):
                out[i, k] = 1.0
    return out
