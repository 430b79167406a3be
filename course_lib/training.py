"""The one training loop every tiny model in the course uses (CLIP, SigLIP, the LM, LLaVA, and those to come).

A model-specific module supplies `batch_fn(step) -> batch` and `loss_fn(model, batch) -> loss`;
this loop does the rest: AdamW, warm-up and cosine decay, gradient clipping, a progress bar,
an optional hook after each step (e.g. clamping CLIP's logit scale), and timing.

Taught in notebook 02, section 6 (the loop itself); notebooks 02, 03 and 05 train through it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from .base.validation import require_choice, require_int, require_positive


@dataclass
class TrainResult:
    """What a run produced: the loss at every step and the wall time of the loop in seconds."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.losses)


class ProgressBar:
    """A tqdm bar over `range(steps)` that leaves an honest record when the loop ends.

    In a notebook the live bar is a widget, and a saved widget shows its first text repr (a 0 % bar)
    wherever its state is missing: untrusted JupyterLab, GitHub, HTML exports. So the bar is shown
    through a display handle, and `finish` replaces it by one line of text (the training loop
    also calls it when interrupted).
    In a terminal it is tqdm's text bar on stderr.
    """

    def __init__(self, steps: int, desc: str, enabled: bool = True) -> None:
        self.handle = None
        if enabled and issubclass(tqdm, notebook_tqdm):  # tqdm.auto chose the widget: we are in a kernel
            from IPython.display import display

            self.bar = tqdm(range(steps), desc=desc, mininterval=0.5, display=False, leave=False)
            self.handle = display(self.bar.container, display_id=True)
        else:
            self.bar = tqdm(range(steps), desc=desc, disable=not enabled, mininterval=0.5)

    def __iter__(self):
        return iter(self.bar)

    def set_postfix(self, **values: Any) -> None:
        self.bar.set_postfix(**values)

    def update(self, n: int) -> None:
        """Advance by `n` (for loops that do not iterate over the bar)."""
        self.bar.update(n)

    def finish(self, summary: str) -> None:
        """Close the bar; in a notebook, replace it by `summary`."""
        self.bar.close()
        if self.handle is not None:
            self.handle.update({"text/plain": summary}, raw=True)
            self.handle = None


def step_seed(seed: int, step: int) -> int:
    """The data seed of training step `step` in a run seeded `seed`: seed * 1_000_003 + step (runs are
    repeatable, and runs with different seeds draw different batches)."""
    return require_int("seed", seed, low=0) * 1_000_003 + require_int("step", step, low=0)


def cosine_lr(step: int, steps: int, warmup_steps: int) -> float:
    """Learning-rate multiplier: linear warm-up for `warmup_steps` steps, then cosine decay to 0."""
    step, steps = require_int("step", step, low=0), require_int("steps", steps, low=1)
    warmup_steps = require_int("warmup_steps", warmup_steps, low=0)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


NO_DECAY_RULES: tuple[str, ...] = ("standard", "none")


def no_decay_parameters(model: torch.nn.Module, rule: str = "standard") -> list[torch.nn.Parameter]:
    """The parameters trained without weight decay under `rule`: "standard": every parameter with fewer than 2
    dimensions (open_clip's and nanoGPT's rule: biases, norm gains, a learned temperature logit_scale and bias
    logit_bias), and learned position tables (timm's ViT rule for pos_embed); decay would only pull them towards
    0 (a gain of 0 silences a layer, t -> 1, positions fade). "none": every parameter decays (how the checkpoints
    built before the rule were trained)."""
    require_choice("no_decay", rule, NO_DECAY_RULES)
    if rule == "none":
        return []
    return [p for name, p in model.named_parameters() if p.ndim < 2 or name.endswith("position_embedding.weight")]


def parameter_groups(
    model: torch.nn.Module,
    trainable: list[torch.nn.Parameter],
    weight_decay: float,
    no_decay: str | Iterable[torch.nn.Parameter] = "standard",
) -> list[dict[str, Any]]:
    """AdamW's parameter groups: the `trainable` parameters with `weight_decay`, and those of them named by
    `no_decay` (a rule of no_decay_parameters, or the parameters themselves) with none; empty groups dropped."""
    skip = {id(p) for p in (no_decay_parameters(model, no_decay) if isinstance(no_decay, str) else no_decay)}
    groups = [{"params": [p for p in trainable if id(p) not in skip], "weight_decay": weight_decay},
              {"params": [p for p in trainable if id(p) in skip], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def train(
    model: torch.nn.Module,
    batch_fn: Callable[[int], Any],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    *,
    steps: int,
    lr: float,
    weight_decay: float = 0.01,
    warmup_fraction: float = 0.1,
    params: Iterable[torch.nn.Parameter] | None = None,
    no_decay: str | Iterable[torch.nn.Parameter] = "standard",
    max_grad_norm: float | None = 1.0,
    after_step: Callable[[torch.nn.Module], None] | None = None,
    progress: bool = True,
    desc: str = "training",
) -> TrainResult:
    """Train `model` for `steps` steps and return the losses.

    batch_fn(step): the batch for that step (seed it with the step for determinism);
    loss_fn(model, batch): a scalar loss tensor; params: what to optimise (default: every
    parameter with requires_grad); no_decay: the parameters among them trained without weight decay, as a
    rule of no_decay_parameters ("standard": biases, norm gains, temperature; "none") or the parameters
    themselves; warmup_fraction: share of the steps spent warming up.
    """
    steps = require_int("steps", steps, low=1)
    lr = require_positive("lr", lr)
    if lr > 1.0:
        raise ValueError(f"lr must be a learning rate in (0, 1], got {lr:g}; AdamW rates here are around 1e-3")
    if max_grad_norm is not None:
        max_grad_norm = require_positive("max_grad_norm", max_grad_norm)
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
    trainable = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    if not trainable:
        raise ValueError("nothing to train: no parameter with requires_grad=True")
    optimizer = torch.optim.AdamW(parameter_groups(model, trainable, weight_decay, no_decay), lr=lr)
    warm = max(1, int(warmup_fraction * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_lr(s, steps, warm))
    result = TrainResult()
    model.train()
    start = time.perf_counter()
    bar = ProgressBar(steps, desc, enabled=progress)
    try:
        for step in bar:
            loss = loss_fn(model, batch_fn(step))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower lr (now {lr})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
            optimizer.step()
            schedule.step()
            if after_step is not None:
                with torch.no_grad():
                    after_step(model)
            result.losses.append(loss.item())
            if step % 10 == 0 or step == steps - 1:
                bar.set_postfix(loss=f"{result.losses[-1]:.3f}")
    except BaseException:  # an error or an interrupt: the record says where the loop stopped
        bar.finish(f"{desc}: stopped after {result.steps} of {steps} steps")
        raise
    result.seconds = time.perf_counter() - start
    bar.finish(f"{desc}: {steps} steps in {result.seconds:.1f} s, final loss {result.losses[-1]:.3f}")
    model.eval()
    return result
