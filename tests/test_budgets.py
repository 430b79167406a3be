"""Token counts (single crop, tiles, AnyRes) against LlavaNextProcessor; KV bytes against a real cache."""

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LlavaNextImageProcessorPil, LlavaNextProcessor
from transformers.utils import logging as hf_logging

from course_lib import budgets
from course_lib.tokenizer import build_tokenizer

SIZES = [(672, 672), (336, 336), (480, 640), (100, 1000), (1000, 300), (224, 224), (800, 1200)]


@pytest.fixture(scope="module")
def next_processor():
    hf_logging.set_verbosity_error()  # the course tokenizer's 64-token limit warns on long image runs
    image_processor = LlavaNextImageProcessorPil(
        size={"shortest_edge": 336},
        crop_size={"height": 336, "width": 336},
        image_grid_pinpoints=[list(p) for p in budgets.LLAVA_NEXT_PINPOINTS],
    )
    return LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=build_tokenizer(),
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )


def test_single_crop_counts():
    assert budgets.tokens_per_image(224, 14) == 256
    assert budgets.tokens_per_image(336, 14) == 576
    assert budgets.tokens_per_image(336, 14, strategy="full") == 577
    assert budgets.tiled_tokens(336, 14, 4) == 2304
    assert budgets.tiled_tokens(336, 14, 4, base_image=True) == 2880
    with pytest.raises(ValueError, match="divisible"):
        budgets.tokens_per_image(300, 14)
    with pytest.raises(ValueError, match="strategy"):
        budgets.tokens_per_image(336, 14, strategy="cls")


@pytest.mark.parametrize("size", SIZES)
def test_anyres_formula_matches_processor_on_real_images(next_processor, size):
    h, w = size
    out = next_processor(
        images=np.zeros((h, w, 3), np.uint8), text="<image> is there a red circle ?", return_tensors="pt"
    )
    inserted = int((out["input_ids"] == next_processor.image_token_id).sum())
    parts = budgets.anyres_tokens(h, w)
    assert inserted == parts.total
    assert parts.total == parts.base + parts.tile_tokens + parts.newlines
    assert out["pixel_values"].shape[1] == 1 + parts.grid[0] * parts.grid[1]  # base crop + tiles


def test_anyres_formula_matches_processor_count_on_many_sizes(next_processor):
    rng = np.random.default_rng(0)
    for h, w in rng.integers(20, 2000, size=(60, 2)):
        expected = next_processor._get_num_multimodal_tokens([(int(h), int(w))]).num_image_tokens[0]
        assert budgets.anyres_tokens(int(h), int(w)).total == expected, (h, w)


def test_anyres_672_breakdown():
    parts = budgets.anyres_tokens(672, 672)
    assert parts.canvas == (672, 672) and parts.grid == (2, 2)
    assert (parts.base, parts.tile_tokens, parts.newlines, parts.total) == (576, 2304, 48, 2928)


def test_kv_cache_formula_7b():
    mha = budgets.LM_SHAPES["7B (MHA: 32 KV heads)"]
    gqa = budgets.LM_SHAPES["7B (GQA: 8 KV heads)"]
    assert budgets.lm_kv_bytes(1, mha, "fp16") == 2 * 32 * 32 * 128 * 2 == 524_288
    assert budgets.lm_kv_bytes(576, mha, "fp16") == 576 * 524_288
    assert budgets.lm_kv_bytes(576, gqa, "fp16") * 4 == budgets.lm_kv_bytes(576, mha, "fp16")
    with pytest.raises(ValueError, match="tokens"):
        budgets.kv_cache_bytes(-1, layers=2, kv_heads=2, head_dim=8)
    with pytest.raises(ValueError, match="dtype"):
        budgets.lm_kv_bytes(1, mha, "fp8")


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_kv_formula_matches_dynamic_cache(kv_heads):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=kv_heads)
    model = LlamaForCausalLM(config).eval()
    tokens = 17
    with torch.no_grad():
        cache = model(torch.randint(0, 40, (1, tokens)), use_cache=True).past_key_values
    assert budgets.cache_nbytes(cache) == budgets.config_kv_bytes(config, tokens, bytes_per_element=4)


def test_budget_text_and_errors():
    text = budgets.render_budget(672, 672, "anyres", "7B (GQA: 8 KV heads)", "fp16")
    assert "2928 visual tokens" in text and "366.00 MiB" in text
    assert "does not fit" in budgets.render_budget(1008, 336, "anyres", "7B (MHA: 32 KV heads)", images=2)
    with pytest.raises(ValueError, match="tiling"):
        budgets.render_budget(tiling="3x3")
    with pytest.raises(TypeError, match="Cache"):
        budgets.cache_nbytes(object())
