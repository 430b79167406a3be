"""Exercises of notebook 06: Q-Former cross-attention size, visual tokens at any resolution, which layers
cross-attend, prefill FLOPs saved by a fixed number of queries."""

from .. import budgets
from ..models.qformer import cross_attending_layers
from .core import Exercise, equal, register

HIDDEN, VISION = 768, 1408  # BLIP-2's Q-Former width and its ViT-g vision width


def _cross_attention_params(hidden: int, vision: int) -> int:
    # query (hidden -> hidden), key and value (vision -> hidden), output dense (hidden -> hidden), all with biases,
    # and the output LayerNorm (weight and bias)
    return (hidden * hidden + hidden) + 2 * (vision * hidden + hidden) + (hidden * hidden + hidden) + 2 * hidden


register(
    Exercise(
        key="06.cross_attention_params",
        task=(
            f"Parameters of one Q-Former cross-attention block (Blip2QFormerAttention, is_cross_attention=True): "
            f"hidden {HIDDEN}, image features of width {VISION}, biases everywhere, plus its output LayerNorm."
        ),
        solution=lambda: _cross_attention_params(HIDDEN, VISION),
        compare=equal,
        hint="query: hidden -> hidden; key and value: vision width -> hidden; output dense: hidden -> hidden; "
        "each Linear has a bias; the LayerNorm has a weight and a bias.",
        mistakes=(
            (
                4 * (HIDDEN * HIDDEN + HIDDEN) + 2 * HIDDEN,
                "Keys and values read the image features: their input width is the vision width, not hidden.",
            ),
            (
                _cross_attention_params(HIDDEN, VISION) - 2 * HIDDEN,
                "Don't forget the output LayerNorm (weight and bias).",
            ),
            (HIDDEN * HIDDEN * 2 + 2 * VISION * HIDDEN, "Count the biases and the LayerNorm too."),
        ),
    )
)

register(
    Exercise(
        key="06.tokens_any_resolution",
        task=(
            "A BLIP-2 with K = 32 queries and a ViT with 14 px patches: how many visual tokens does the LM read for a "
            "224 px image and for a 448 px image? Answer a tuple (tokens_224, tokens_448)."
        ),
        solution=lambda: (32, 32),
        compare=lambda a, b: tuple(a) == tuple(b),
        hint="The Q-Former's output length is the number of queries, whatever the number of patch features it reads.",
        mistakes=(
            (
                (budgets.tokens_per_image(224, 14), budgets.tokens_per_image(448, 14)),
                "Those are the patch counts the Q-Former reads; the LM sees only the K query outputs.",
            ),
            ((32, 128), "Resolution changes the keys and values of cross-attention, not the number of queries."),
        ),
    )
)

register(
    Exercise(
        key="06.cross_layers",
        task="Which layers of a 12-layer Q-Former with cross_attention_frequency = 3 have a cross-attention block?",
        solution=lambda: cross_attending_layers(12, 3),
        compare=lambda a, b: list(a) == list(b),
        hint="Layer i cross-attends when i % cross_attention_frequency == 0 (counting from 0).",
        mistakes=(
            ([3, 6, 9], "Counting starts at 0, and 0 % 3 == 0: layer 0 cross-attends."),
            ([2, 5, 8, 11], "Layer i cross-attends when i % frequency == 0, not every third layer counted from 1."),
            ([0, 3, 6, 9, 12], "A 12-layer Q-Former has layers 0 to 11."),
        ),
    )
)

PARAMS, PATCHES, QUERIES = 7_000_000_000, 576, 32


register(
    Exercise(
        key="06.flops_saved",
        task=(
            f"Prefill FLOPs saved (linear layers only: 2 x parameters x tokens) when a {PARAMS / 1e9:.0f}B LM reads "
            f"{QUERIES} query tokens instead of {PATCHES} patch tokens."
        ),
        solution=lambda: 2 * PARAMS * (PATCHES - QUERIES),
        compare=lambda a, b: abs(float(a) - float(b)) <= 1e-6 * abs(float(b)),
        hint="A forward pass costs about 2 FLOPs (a multiply-add) per parameter per token; count the tokens saved.",
        mistakes=(
            (PARAMS * (PATCHES - QUERIES), "A multiply-add is 2 FLOPs: 2 x parameters per token."),
            (2 * PARAMS * PATCHES, "That is the cost of the patch tokens; subtract what the queries still cost."),
        ),
    )
)
