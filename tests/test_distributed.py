"""Real multi-process losses on loopback (W = 2): all-gather CLIP and ring SigLIP equal the
single-process losses; bytes are counted; failures and hangs end the group quickly."""

import time

import pytest
import torch

from course_lib.contrastive import clip_loss
from course_lib.distributed import (
    comparison_table,
    distributed_comparison,
    faulty_worker,
    global_batch,
    launch,
    loopback_interface,
    loss_memory,
    shard,
)
from course_lib.sigmoid_loss import sigmoid_loss


def test_two_ranks_match_the_single_process_losses():
    table = distributed_comparison(world_sizes=(2,), block_sizes=(8, 32), dim=16, timeout=90)
    assert len(table) == 4
    for row in table:
        assert row["loss"] == pytest.approx(row["reference"], rel=1e-5, abs=1e-6), row
    image, text = global_batch(0, 2, 8, 16)
    siglip = next(r for r in table if r["method"] == "siglip_ring" and r["b"] == 8)
    clip = next(r for r in table if r["method"] == "clip_all_gather" and r["b"] == 8)
    assert siglip["reference"] == pytest.approx(float(sigmoid_loss(image, text, 10.0, -10.0)), rel=1e-6)
    # an independent reference for CLIP: F.cross_entropy on the full (N, N) logits, both directions
    logits = 10.0 * image @ text.T
    target = torch.arange(16)
    expected = (
        torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)
    ) / 2
    assert clip["loss"] == pytest.approx(float(expected), rel=1e-5)
    assert clip["reference"] == pytest.approx(float(clip_loss(image, text, 10.0)), rel=1e-6)
    # payload: ring = (W - 1) text blocks; all-gather = (W - 1) image and text blocks (b * D float32 each)
    assert siglip["bytes_sent"] == 1 * 8 * 16 * 4
    assert clip["bytes_sent"] == 2 * 1 * 8 * 16 * 4
    assert "siglip_ring" in comparison_table(table) and "peak MB" in comparison_table(table, memory=True)


def test_a_failing_rank_ends_the_group_with_a_clear_error():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"rank 1 of 2 failed.*simulated failure"):
        launch(faulty_worker, 2, (1,), timeout=60)
    assert time.monotonic() - start < 45  # not the 60 s timeout: the waiting rank was stopped


def test_a_hung_group_times_out_and_is_stopped():
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish"):
        launch(faulty_worker, 2, (1, "hang"), timeout=8)
    assert time.monotonic() - start < 25


def test_memory_of_full_and_chunked_losses():
    result = loss_memory(n=1024, dim=16, chunk_size=64, timeout=90)
    assert result["full"] == pytest.approx(result["chunked"], rel=1e-5)
    assert result["full_peak"] > result["chunked_peak"]


def test_bad_input():
    with pytest.raises(TypeError, match="importable"):
        launch(lambda rank, world: None, 2)
    with pytest.raises(ValueError, match="world_size"):
        launch(faulty_worker, 0)
    with pytest.raises(ValueError, match="b must be"):
        shard(0, 0, 0, 4)
    assert loopback_interface() in ("lo", "lo0")
