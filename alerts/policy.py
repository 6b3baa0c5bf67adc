"""Which posts may seed or join an issue, and which clusters may alert: the one place that decides.

Issues are built from unmet needs only: problem and feature-request posts seed and join them; a
question joins only when it describes a failure ("why does export crash?"); praise and other posts
never do, nor do posts with no topic word at all. Curation (mute, merge, resolve by hand) plugs in
through :class:`Gate`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from alerts.labels import content_words, tokens
from classify.labels import UNMET_NEEDS
from store.curation import MERGED  # noqa: F401  (Issue.state of an issue folded into another; its id redirects)

_FAILURE = re.compile(
    r"\b(crash\w*|freez\w*|froze\w*|hang[s]?|stuck|bug\w*|broke\w*|glitch\w*|error\w*|fail\w*|lost|los(e|ing)|"
    r"missing|disappear\w*|delet\w*|unable|(can ?not|can'?t|cannot|won'?t|doesn'?t|isn'?t|didn'?t|not) "
    r"(work|load|open|sync|connect|send|show|play|log|sign|start|update|download|upload|save|print|export)\w*|"
    r"stopped|keeps? (closing|crashing|logging|signing)|slow\w*|drain\w*|blank|black screen|white screen)\b",
    re.IGNORECASE,
)


def describes_failure(text: str) -> bool:
    """Whether a text says something fails (used to let failure questions into issues)."""
    return bool(_FAILURE.search(text or ""))


def is_topicless(text: str) -> bool:
    """Whether a text has words but none that names a topic ("Not good app", "Can't get this to work").

    Such posts voice general dissatisfaction, which the product-level sentiment and rating alerts
    cover; as an issue they would gather every vague complaint under an empty label. An empty text
    is not topicless: the embedding alone then decides.
    """
    return bool(tokens(text)) and not content_words(text)


def may_seed(need_type: str | None, text: str, unmet: bool = False) -> bool:
    """Whether a post may seed or join an issue (the same rule for both).

    Args:
        need_type: the classifier's need type (None when unknown: the ``unmet`` flag decides).
        text: the post's evidence sentence or text: it must name a topic, and a question must describe
            a failure.
        unmet: the classifier's unmet-need flag, used when ``need_type`` is missing.
    """
    if is_topicless(text):
        return False
    if need_type is None:
        return unmet
    if need_type in UNMET_NEEDS:
        return True
    return need_type == "question" and describes_failure(text)


class Gate(Protocol):
    """Curation hooks detection consults (issue curation implements these)."""

    def may_join(self, cluster: Any) -> bool:
        """Whether new posts may join this cluster (false for a merged-away issue)."""

    def may_alert(self, cluster: Any) -> bool:
        """Whether this cluster may alert now (false for a muted issue)."""


class OpenGate:
    """The default gate: every live cluster may take posts and alert; merged ones never."""

    def may_join(self, cluster: Any) -> bool:
        """Merged-away clusters take no posts."""
        return getattr(cluster, "state", None) != MERGED

    def may_alert(self, cluster: Any) -> bool:
        """Merged-away clusters never alert."""
        return getattr(cluster, "state", None) != MERGED
