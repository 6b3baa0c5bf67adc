"""Build the int8 ONNX model of the packaged encoder (``classify/model/encoder/model.int8.onnx``).

    .venv/bin/python -m classify.training.export_int8 [--encoder DIR]

Exports the transformer (input ids and attention mask in, last hidden states out, any batch and length) to ONNX
with the TorchScript exporter, then quantises it with ONNX Runtime's dynamic quantisation: MatMul weights only,
int8 per output channel; activations are quantised per batch at run time (uint8), which runs the u8s8 kernels.
Per-channel and MatMul-only because per-tensor int8 weights (and quantised embedding lookups) moved the
embeddings too far: mean cosine to fp32 0.961 (min 0.883) against 0.993 (min 0.978) on 400 real reviews.
The fp32 ONNX file is a temporary; only the int8 file is kept. Deterministic on the same versions of torch and
onnxruntime, and runs on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ENCODER_DIR = Path(__file__).resolve().parent.parent / "model" / "encoder"


def export_int8(encoder_dir: Path) -> Path:
    """Write ``encoder_dir/model.int8.onnx`` from the encoder's weights; returns its path."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    from classify.onnx_encoder import int8_path

    model = AutoModel.from_pretrained(str(encoder_dir), local_files_only=True, dtype=torch.float32).eval()

    class LastHidden(torch.nn.Module):
        """The transformer with its last hidden states as the one output."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    target = int8_path(encoder_dir)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "encoder.onnx"
        with warnings.catch_warnings():  # the exporter's tracing notes are about its internals, not our model
            warnings.simplefilter("ignore")
            torch.onnx.export(LastHidden(model), (sample, sample), str(fp32),
                              input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden": axes},
                              opset_version=17, dynamo=False)
        partial = target.with_suffix(".tmp")
        quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Build the int8 model; one line on success or failure."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoder", type=Path, default=ENCODER_DIR, help="encoder directory (default: the packaged one)")
    args = ap.parse_args(argv)
    try:
        path = export_int8(args.encoder)
    except (OSError, ImportError, RuntimeError) as exc:
        print(f"export_int8: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
