"""Exercises of notebook 08: recall@k by id, a Leitner move, HNSW memory, prefill FLOPs, a relative-tolerance check."""
import numpy as np

from ..budgets import prefill_flops
from ..interview.cards import next_box
from ..vector_search import estimate_index_bytes, recall_at_k
from .core import Exercise, close, equal, register, same_function

# Ids an approximate index returned, and the exact top 4, for three queries.
FOUND = np.array([[3, 7, 1, 9], [2, 5, 8, 4], [6, 0, 11, 12]])
EXACT = np.array([[3, 1, 7, 2], [2, 5, 4, 8], [0, 6, 10, 11]])

register(Exercise(
    key="08.recall_at_4",
    task="recall@4 of FOUND against EXACT: the mean over queries of |found ∩ exact| / 4 (ids, order ignored).",
    solution=lambda: recall_at_k(FOUND, EXACT, 4),
    compare=close(rel=0, abs_=1e-9),
    hint="For each row count the ids FOUND shares with EXACT, divide by 4, then average the three rows.",
    mistakes=(
        (np.mean(FOUND == EXACT),
         "Position-by-position equality is not recall: a neighbour found at another rank still counts."),
        (9, "That is the number of shared ids; divide by k = 4 and by the three queries."),
        (1 / 3, "That is the share of queries whose top 4 is exactly right; recall counts each shared id."),
    ),
))


def _leitner_cases() -> list[tuple]:
    return [(b, c) for b in range(1, 6) for c in (True, False)]


register(Exercise(
    key="08.leitner",
    task="Write move(box, correct) for 5 Leitner boxes: right -> one box up (at most 5), wrong -> back to box 1.",
    solution=lambda: next_box,
    compare=same_function(_leitner_cases, equal),
    hint="min(box + 1, 5) when correct, else 1.",
    mistakes=(
        (lambda b, c: b + 1 if c else 1, "Box 5 is the last one: a right answer there stays in box 5."),
        (lambda b, c: min(b + 1, 5) if c else max(b - 1, 1),
         "In Leitner's system a missed card goes all the way back to box 1."),
    ),
))

register(Exercise(
    key="08.hnsw_bytes",
    task="Estimate the bytes of an HNSW index (M = 16) over 50,000 float32 vectors of dimension 128: the vectors "
         "plus 2M int32 link ids per vector at level 0.",
    solution=lambda: estimate_index_bytes("hnsw", 50_000, 128, hnsw_m=16),
    compare=close(rel=1e-9, abs_=0.5),
    hint="4 bytes x 50,000 x 128 for the vectors, plus 50,000 x 2 x 16 x 4 bytes for the links.",
    mistakes=(
        (4 * 50_000 * 128, "That is the vectors alone: the graph's links add 2M ids per vector."),
        (4 * 50_000 * 128 + 50_000 * 16 * 4, "Level 0 keeps 2M neighbours per vector, not M."),
    ),
))

register(Exercise(
    key="08.prefill_flops",
    task="Prefill FLOPs of 1,024 tokens through a 1B LM with 16 layers of width 2048: 2 x params x tokens plus "
         "4 x layers x tokens^2 x width.",
    solution=lambda: prefill_flops(1024, params=1e9, layers=16, hidden_size=2048),
    compare=close(rel=1e-6),
    hint="2 * 1e9 * 1024 + 4 * 16 * 1024**2 * 2048.",
    mistakes=(
        (2 * 1e9 * 1024,
         "You left out the attention term (Q K^T and the weighted sum of V), which grows with tokens squared."),
        (1e9 * 1024, "A multiply and an add are 2 FLOPs: 2 x params per token for the weights."),
    ),
))


def _within_cases() -> list[tuple]:
    return [(100.9, 100, 0.01), (101.1, 100, 0.01), (-99.5, -100, 0.01), (576, 576, 0.0), (577, 576, 0.0),
            (0.0, 0.0, 0.1)]


def _within(value: float, answer: float, tolerance: float) -> bool:
    return abs(value - answer) <= tolerance * abs(answer)


register(Exercise(
    key="08.within",
    task="Write within(value, answer, tolerance): True if value is within a relative tolerance of answer "
         "(|value - answer| <= tolerance * |answer|), as the quiz grades numeric answers.",
    solution=lambda: _within,
    compare=same_function(_within_cases, equal),
    hint="Compare the absolute difference with tolerance times the absolute answer (negative answers too).",
    mistakes=(
        (lambda v, a, t: abs(v - a) <= t, "That is an absolute tolerance: 1% of 2,928 tokens is not 0.01 tokens."),
        (lambda v, a, t: abs(v - a) <= t * a, "For a negative answer t * a is negative: use abs(answer)."),
        (lambda v, a, t: abs(v - a) < t * abs(a),
         "Use <=: an answer exactly at the tolerance is accepted (and tolerance 0 means exact)."),
    ),
))
