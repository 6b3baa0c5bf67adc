"""The packaged encoder run by ONNX Runtime with int8 weights (u8s8 kernels on x86 CPUs), as an option.

``classify.training.export_int8`` writes ``model.int8.onnx`` beside the packaged encoder's weights: the same
transformer exported to ONNX, its MatMul weights quantised per output channel to int8, activations quantised
per batch at run time. Everything else (tokenizer, batching by token count, mean pooling, sentence spans) is
:class:`classify.encoder.Encoder`'s, so only the forward pass differs.

It is not the default: ``bench/speed.py --int8`` prints its speed and ``bench/quality.py --int8`` its quality
figures beside fp32, and the model card says whether it is within the issue's bounds.
``VOXPOP_ENCODER=int8`` (or ``Classifier(runtime="int8")``) selects it; its ``model_version`` says ``int8``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from classify.encoder import Encoder

INT8_FILE = "model.int8.onnx"


class Int8ModelMissing(FileNotFoundError):
    """The int8 model has not been built: one line saying how to build it."""


def int8_path(model_dir: Path) -> Path:
    """Where the int8 model of an encoder directory lives."""
    return Path(model_dir) / INT8_FILE


class OnnxInt8Encoder(Encoder):
    """:class:`Encoder` whose forward pass is the int8 ONNX model (same inputs, same pooling)."""

    def __init__(self, model_dir: str | os.PathLike[str], *, batch_size: int = 32, max_tokens: int = 128,
                 name: str | None = None) -> None:
        super().__init__(model_dir, batch_size=batch_size, max_tokens=max_tokens, name=name)
        self.name = f"{self.name}-int8"

    def _digest(self) -> str:
        """Short digest of the int8 model's bytes."""
        return hashlib.sha256(int8_path(self.model_dir).read_bytes()).hexdigest()[:8]

    def _load_model(self) -> int:
        """Open the int8 model in ONNX Runtime (as many threads as torch uses); the hidden size from the config."""
        path = int8_path(self.model_dir)
        if not path.is_file():
            raise Int8ModelMissing(f"{path} not found: build it with `python -m classify.training.export_int8`")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise Int8ModelMissing("the int8 encoder needs onnxruntime: pip install 'onnxruntime==1.31.1'") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        return int(config["hidden_size"])

    def _hidden(self, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """The int8 model's last hidden states for a padded batch."""
        (hidden,) = self.session.run(["hidden"], {"input_ids": input_ids.numpy().astype(np.int64),
                                                  "attention_mask": attention.numpy().astype(np.int64)})
        return torch.from_numpy(hidden)
