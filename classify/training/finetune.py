"""Multi-task fine-tuning of the sentence encoder (sentiment with rating input, need type, intents).

The encoder is fine-tuned end to end with three kinds of batch:

- **sentiment**: cross-entropy of an MLP head over ``[post vector ; rating one-hot]``. The rating is shown
  for half of the rated rows and hidden for the rest, so the head is as right without it; rows whose label
  *is* their stars (App Store star data) never show it.
- **need**: cross-entropy of an MLP head over the post (or sentence) vector.
- **intents**: an in-batch contrastive loss on CLINC150 train paraphrase pairs, so job matching improves.

Every batch also carries a distillation term against the frozen encoder: the matrix of cosine similarities
inside the batch must stay close to the frozen one (relational), and each vector near its frozen self, so
the embedding keeps what jobs and issue clustering rely on. Batches are length-bucketed; training saves a
checkpoint every ``checkpoint_every`` steps and resumes from the last one.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from classify.labels import NEED_TYPES, SENTIMENTS
from classify.pipeline import RATING_SLOTS, rating_features
from classify.sentences import compose_post
from classify.training.corpora import Example


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one fine-tuning run (seeded: the same recipe gives the same weights on CPU)."""

    seed: int = 13
    epochs: float = 1.0
    batch_size: int = 32
    max_tokens: int = 64
    lr_encoder: float = 8e-5
    lr_heads: float = 1e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    need_repeat: float = 1.5  # need data is smaller and matters as much: seen 1.5 times per epoch
    intent_pairs: int = 1500
    relational_weight: float = 20.0
    anchor_weight: float = 0.5
    rating_shown: float = 0.5
    checkpoint_every: int = 250
    frozen_layers: int = 2  # the lower layers stay as packaged: cheaper, and the embedding moves less
    hidden: int = 256
    dropout: float = 0.1


def mlp(d_in: int, hidden: int, classes: int, dropout: float) -> nn.Sequential:
    """The head shape that ``classify.heads.MLPHead`` evaluates with numpy (tanh-GELU)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(d_in, hidden), nn.GELU(approximate="tanh"),
                         nn.Dropout(dropout), nn.Linear(hidden, classes))


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean of token vectors (sentence-transformers pooling)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return nn.functional.normalize(pooled, p=2, dim=1)


@dataclass
class Batch:
    """One homogeneous batch: ``kind`` is sentiment, need or intent (texts then come as anchor/positive pairs)."""

    kind: str
    texts: list[str]
    labels: list[int]
    ratings: list[int | None]
    weights: list[float]


def class_weights(examples: Sequence[Example], classes: Sequence[str]) -> dict[str, float]:
    """Inverse-frequency class weights, mean 1 over the examples (balanced loss)."""
    counts = Counter(e.label for e in examples)
    raw = {c: len(examples) / (len(classes) * counts[c]) if counts[c] else 0.0 for c in classes}
    return {c: min(w, 5.0) for c, w in raw.items()}  # cap: a rare class must not dominate


def plan_batches(sentiment: list[Example], need: list[Example], intents: list[tuple[str, str]],
                 recipe: Recipe) -> list[Batch]:
    """The whole run's batches in a fixed, seeded order (length-bucketed within each task)."""
    rng = random.Random(recipe.seed)
    batches: list[Batch] = []
    tasks = (("sentiment", sentiment, SENTIMENTS, 1.0), ("need", need, NEED_TYPES, recipe.need_repeat))
    for kind, pool, classes, repeat in tasks:
        cw = class_weights(pool, classes)
        n = int(len(pool) * recipe.epochs * repeat)
        order = [pool[i % len(pool)] for i in rng.sample(range(len(pool)), len(pool))]
        while len(order) < n:
            order += rng.sample(pool, len(pool))
        order = order[:n]
        chunk = recipe.batch_size * 64
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda e: len(e.text))
            for b in range(0, len(part), recipe.batch_size):
                rows = part[b:b + recipe.batch_size]
                texts = [compose_post(e.text, e.title) for e in rows]
                ratings = [e.rating if e.rating is not None and rng.random() < recipe.rating_shown else None
                           for e in rows]
                batches.append(Batch(kind, texts, [classes.index(e.label) for e in rows], ratings,
                                     [cw[e.label] for e in rows]))
    pairs = intents[:]
    rng.shuffle(pairs)
    for b in range(0, len(pairs), recipe.batch_size):
        rows = pairs[b:b + recipe.batch_size]
        batches.append(Batch("intent", [a for a, _ in rows] + [p for _, p in rows], [], [], []))
    rng.shuffle(batches)
    return batches


def intent_pairs(rows: Sequence[tuple[str, str]], n: int, seed: int) -> list[tuple[str, str]]:
    """n (anchor, positive) pairs of texts with the same intent, from (text, intent) rows; one intent per pair."""
    by: dict[str, list[str]] = defaultdict(list)
    for text, label in rows:
        by[label].append(text)
    labels = sorted(k for k, v in by.items() if len(v) >= 2)
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        lab = labels[i % len(labels)]
        a, p = rng.sample(by[lab], 2)
        pairs.append((a, p))
    return pairs


class MultiTask(nn.Module):
    """The encoder being tuned, its two heads, and the frozen upper layers it is distilled against.

    The embeddings and the lower ``frozen_layers`` layers are frozen and shared: their output is computed
    once per batch and fed to both the tuned upper layers and the packaged (teacher) upper layers.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, recipe: Recipe) -> None:
        super().__init__()
        self.student, self.frozen_layers = student, recipe.frozen_layers
        self.teacher_layers = nn.ModuleList(teacher.encoder.layer[recipe.frozen_layers:])
        dim = int(student.config.hidden_size)
        self.sentiment = mlp(dim + RATING_SLOTS, recipe.hidden, len(SENTIMENTS), recipe.dropout)
        self.need = mlp(dim, recipe.hidden, len(NEED_TYPES), recipe.dropout)
        frozen = [*self.teacher_layers.parameters(), *student.embeddings.parameters(),
                  *(p for layer in student.encoder.layer[:recipe.frozen_layers] for p in layer.parameters())]
        for p in frozen:
            p.requires_grad_(False)

    def encode(self, enc: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled vectors of the tuned and of the packaged encoder for one tokenized batch."""
        s = self.student
        with torch.no_grad():
            h = s.embeddings(input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids"))
            # transformers 5.x builds the 4-d attention mask here (the public forward does the same).
            mask4 = s._create_attention_masks(enc["attention_mask"], None, h, None, None)[0]
            for layer in s.encoder.layer[:self.frozen_layers]:
                h = layer(h, mask4)
            ref = h
            for layer in self.teacher_layers:
                ref = layer(ref, mask4)
        for layer in s.encoder.layer[self.frozen_layers:]:
            h = layer(h, mask4)
        return mean_pool(h, enc["attention_mask"]), mean_pool(ref, enc["attention_mask"])


def batch_loss(model: MultiTask, tokenizer, batch: Batch, recipe: Recipe) -> tuple[torch.Tensor, dict[str, float]]:
    """Task loss plus distillation for one batch."""
    enc = tokenizer(batch.texts, padding=True, truncation=True, max_length=recipe.max_tokens, return_tensors="pt")
    vec, ref = model.encode(enc)
    relational = ((vec @ vec.T - ref @ ref.T) ** 2).mean()
    anchor = (1 - (vec * ref).sum(1)).mean()
    distill = recipe.relational_weight * relational + recipe.anchor_weight * anchor
    parts = {"relational": float(relational.detach()), "anchor": float(anchor.detach())}
    if batch.kind == "intent":
        half = len(batch.texts) // 2
        sims = vec[:half] @ vec[half:].T * 20.0  # MultipleNegativesRanking scale
        task = nn.functional.cross_entropy(sims, torch.arange(half))
    else:
        y = torch.tensor(batch.labels)
        w = torch.tensor(batch.weights)
        if batch.kind == "sentiment":
            stars = torch.from_numpy(rating_features(batch.ratings, len(batch.ratings)))
            logits = model.sentiment(torch.cat([vec, stars], dim=1))
        else:
            logits = model.need(vec)
        task = (nn.functional.cross_entropy(logits, y, reduction="none") * w).sum() / w.sum()
    parts[batch.kind] = float(task.detach())
    return task + distill, parts


def train(model: MultiTask, tokenizer, batches: list[Batch], recipe: Recipe, ckpt_dir: Path,
          log_every: int = 25) -> None:
    """Run (or resume) the planned batches, checkpointing to ``ckpt_dir/last.pt``."""
    torch.manual_seed(recipe.seed)
    head_params = list(model.sentiment.parameters()) + list(model.need.parameters())
    tuned = [p for p in model.student.parameters() if p.requires_grad]
    decay = [p for p in tuned if p.ndim > 1]
    no_decay = [p for p in tuned if p.ndim <= 1]
    opt = torch.optim.AdamW([
        {"params": decay, "lr": recipe.lr_encoder, "weight_decay": recipe.weight_decay},
        {"params": no_decay, "lr": recipe.lr_encoder, "weight_decay": 0.0},
        {"params": head_params, "lr": recipe.lr_heads, "weight_decay": recipe.weight_decay},
    ])
    total = len(batches)

    def lr_at(step: int) -> float:
        if step < recipe.warmup_steps:
            return (step + 1) / recipe.warmup_steps
        return max(0.0, (total - step) / max(total - recipe.warmup_steps, 1))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    start = 0
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    last = ckpt_dir / "last.pt"
    if last.exists():
        state = torch.load(last, weights_only=False)
        model.student.load_state_dict(state["student"])
        model.sentiment.load_state_dict(state["sentiment"])
        model.need.load_state_dict(state["need"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["rng"])
        start = state["step"]
        print(f"resumed at step {start}/{total}", flush=True)
    model.student.train()
    model.sentiment.train()
    model.need.train()
    model.teacher_layers.eval()
    t0, seen = time.time(), 0
    running: dict[str, list[float]] = defaultdict(list)
    for step in range(start, total):
        batch = batches[step]
        loss, parts = batch_loss(model, tokenizer, batch, recipe)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        sched.step()
        seen += len(batch.texts)
        for k, v in parts.items():
            running[k].append(v)
        if (step + 1) % log_every == 0:
            rate = seen / (time.time() - t0)
            means = " ".join(f"{k} {np.mean(v[-50:]):.3f}" for k, v in sorted(running.items()))
            eta = (total - step - 1) * (time.time() - t0) / (step + 1 - start) / 60
            print(f"step {step + 1}/{total} {rate:.0f} texts/s eta {eta:.0f} min | {means}", flush=True)
        if (step + 1) % recipe.checkpoint_every == 0 or step + 1 == total:
            save_checkpoint(model, opt, sched, step + 1, last)
            if (step + 1) % (recipe.checkpoint_every * 4) == 0:
                save_checkpoint(model, opt, sched, step + 1, ckpt_dir / f"step{step + 1}.pt", light=True)


def save_checkpoint(model: MultiTask, opt, sched, step: int, path: Path, light: bool = False) -> None:
    """Write a checkpoint atomically (``light``: weights only, for choosing among checkpoints later)."""
    state = {"student": model.student.state_dict(), "sentiment": model.sentiment.state_dict(),
             "need": model.need.state_dict(), "step": step}
    if not light:
        state.update(opt=opt.state_dict(), sched=sched.state_dict(), rng=torch.get_rng_state())
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def head_arrays(head: nn.Sequential, name: str, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """The trained head as ``MLPHead`` arrays."""
    lin1, lin2 = head[1], head[4]

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().float().numpy().astype(np.float32).copy()

    return {f"{name}.W1": arr(lin1.weight.T), f"{name}.b1": arr(lin1.bias), f"{name}.W2": arr(lin2.weight.T),
            f"{name}.b2": arr(lin2.bias), f"{name}.classes": np.asarray(list(classes))}


def steps_summary(batches: list[Batch]) -> str:
    """How many batches and texts of each kind a plan has."""
    c = Counter(b.kind for b in batches)
    t = Counter()
    for b in batches:
        t[b.kind] += len(b.texts)
    return ", ".join(f"{k}: {c[k]} batches / {t[k]} texts" for k in sorted(c)) + f"; {math.fsum(t.values()):.0f} texts"
