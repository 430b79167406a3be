"""Contrastive losses across real processes: torch.distributed, gloo backend, loopback only.

launch(worker, world_size, args) spawns `world_size` processes that meet through a TCPStore the
parent opens on 127.0.0.1 (port 0: the OS picks a free one), runs worker(rank, world_size, *args)
in each and returns the results in rank order. A rank that raises ends the whole group (the others
are terminated, a RuntimeError names the rank and its error); a group that overruns `timeout` is
killed (TimeoutError). Collectives time out too, so no process is left waiting.

A global batch of N = W * b pairs, each rank holding b image and b text embeddings:
- softmax CLIP needs every embedding: all-gather images and texts (each rank then holds 2 x N x D),
  then each rank computes its b rows (image -> all texts) and b columns (text -> all images).
- SigLIP's pairs are independent: keep the images, pass text blocks around a ring (W - 1 hops,
  overlapped with compute); each rank only ever holds a (b, b) block of logits.
Bytes sent count embedding payload (what the rank's data must reach other ranks); the final
one-number all-reduce of the loss, the same in both, is left out.

Taught in notebook 03, sections 5-6.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import resource
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as tmp
import torch.nn.functional as F

from .base.validation import require_choice, require_int, require_positive
from .contrastive import clip_loss
from .sigmoid_loss import block_loss_sum, sigmoid_loss, sigmoid_loss_chunked

HOST = "127.0.0.1"


# ---- launching -----------------------------------------------------------------------------------


def loopback_interface() -> str:
    """Name of the loopback network interface ('lo' on Linux, 'lo0' on macOS) for GLOO_SOCKET_IFNAME."""
    names = [name for _, name in socket.if_nameindex()]
    for name in ("lo", "lo0"):
        if name in names:
            return name
    raise RuntimeError(f"no loopback interface among {names}; gloo must not bind to another one here")


def _entry(rank: int, world_size: int, port: int, worker: Callable, args: tuple, out_dir: str, timeout: float) -> None:
    """Runs in each spawned process: join the group on loopback, run the worker, save its result."""
    os.environ["GLOO_SOCKET_IFNAME"] = loopback_interface()  # gloo's own sockets: loopback only
    torch.set_num_threads(1)  # W processes share the machine's cores
    _stable_allocator()
    store = dist.TCPStore(HOST, port, world_size, is_master=False, timeout=timedelta(seconds=timeout))
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout))
    try:
        result = worker(rank, world_size, *args)
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    except BaseException as err:  # leave the time and the error for the parent, which names the first rank to fail
        (Path(out_dir) / f"rank{rank}.err").write_text(f"{time.time()!r}\n{type(err).__name__}: {err}")
        raise
    finally:
        dist.destroy_process_group()


def launch(worker: Callable, world_size: int, args: Sequence[Any] = (), timeout: float = 60.0) -> list[Any]:
    """Run worker(rank, world_size, *args) in `world_size` spawned processes joined by a gloo group
    on 127.0.0.1; return the workers' results in rank order.

    worker must be importable (defined in a module, not in a notebook). Raises RuntimeError naming
    the first rank that failed (the others are stopped) and TimeoutError after `timeout` seconds.
    """
    world_size = require_int("world_size", world_size, low=1, high=64)
    timeout = require_positive("timeout", timeout)
    if (
        not callable(worker)
        or getattr(worker, "__module__", "__main__") == "__main__"
        or "<" in getattr(worker, "__qualname__", "<")
    ):
        raise TypeError(
            "worker must be a function defined in an importable module (spawned processes import it by name)"
        )
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)  # we report failures ourselves
    store = dist.TCPStore(
        HOST, 0, world_size, is_master=True, wait_for_workers=False, timeout=timedelta(seconds=timeout)
    )
    with tempfile.TemporaryDirectory(prefix="course_dist_") as out_dir:
        context = tmp.start_processes(
            _entry,
            args=(world_size, store.port, worker, tuple(args), out_dir, timeout),
            nprocs=world_size,
            join=False,
            daemon=True,
            start_method="spawn",
        )
        deadline = time.monotonic() + timeout
        try:
            while not context.join(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"the {world_size} ranks did not finish within {timeout:g} s; all were stopped")
        except (tmp.ProcessRaisedException, tmp.ProcessExitedException) as err:
            _stop(context.processes)
            raise RuntimeError(_first_failure(out_dir, world_size, err)) from None
        finally:
            _stop(context.processes)
        return [torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=False) for r in range(world_size)]


def _first_failure(out_dir: str, world_size: int, err: Exception) -> str:
    """The error of the rank that failed first (the others usually fail because it left)."""
    reports = []
    for path in Path(out_dir).glob("rank*.err"):
        when, message = path.read_text().split("\n", 1)
        reports.append((float(when), int(path.stem[4:]), message.strip()))
    if not reports:  # killed by a signal or os._exit: no Python error to report
        return f"rank {err.error_index} of {world_size} died ({err}), so the group was stopped"
    _, rank, message = min(reports)
    return f"rank {rank} of {world_size} failed, so the group was stopped: {message}"


def _stop(processes) -> None:
    """Terminate, then kill, any process still alive; reap all."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(2.0)
        if p.is_alive():
            p.kill()
            p.join()


def faulty_worker(rank: int, world_size: int, bad_rank: int, fault: str = "raise") -> float:
    """A worker whose rank `bad_rank` fails while the others wait in a collective: fault 'raise'
    raises an error, 'hang' sleeps for an hour. Shows that neither leaves the other ranks waiting."""
    require_choice("fault", fault, ("raise", "hang"))
    if rank == bad_rank and fault == "raise":
        raise ValueError(f"rank {rank} hit a bad batch (a simulated failure)")
    if rank == bad_rank:
        time.sleep(3600)
    value = torch.ones(1)
    dist.all_reduce(value)  # never completes: rank bad_rank is gone or asleep
    return float(value)


# ---- memory ------------------------------------------------------------------------------------


def _libc():
    try:
        return ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None
    except OSError:
        return None


def _stable_allocator() -> None:
    """glibc: serve every allocation above 64 KiB by mmap and hand it back on free (no dynamic
    threshold), so resident memory follows what is live and peaks are measurable."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD


def _rss_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_memory(fn: Callable[[], Any]) -> tuple[Any, int]:
    """(fn(), peak extra resident bytes while fn ran). Linux: the kernel's high-water mark, reset
    first (/proc/self/clear_refs); elsewhere the process's max RSS growth (a lower bound)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _rss_kib("VmRSS")
    except OSError:
        before = None
    if before is None:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = fn()
        unit = 1 if sys.platform == "darwin" else 1024
        return result, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) * unit
    result = fn()
    return result, max(0, _rss_kib("VmHWM") - before) * 1024


def _memory_worker(rank: int, world_size: int, n: int, dim: int, chunk_size: int, seed: int) -> dict[str, Any]:
    image, text = shard(seed, 0, n, dim)
    chunked, chunked_peak = peak_memory(lambda: sigmoid_loss_chunked(image, text, 10.0, -10.0, chunk_size))
    full, full_peak = peak_memory(lambda: sigmoid_loss(image, text, 10.0, -10.0))
    return {"full": float(full), "chunked": float(chunked), "full_peak": full_peak, "chunked_peak": chunked_peak}


def loss_memory(
    n: int = 4096, dim: int = 64, chunk_size: int = 256, seed: int = 0, timeout: float = 120.0
) -> dict[str, Any]:
    """Full vs chunked sigmoid loss of n random pairs, each measured in a fresh process:
    {'full', 'chunked'} losses and {'full_peak', 'chunked_peak'} extra resident bytes, plus the
    bytes of one (n, n) and one (n, chunk_size) float32 logit matrix for scale."""
    n, dim, chunk_size = (
        require_int("n", n, low=2),
        require_int("dim", dim, low=1),
        require_int("chunk_size", chunk_size, low=1),
    )
    result = launch(_memory_worker, 1, (n, dim, chunk_size, seed), timeout=timeout)[0]
    return {
        **result,
        "n": n,
        "chunk_size": chunk_size,
        "full_matrix_bytes": 4 * n * n,
        "chunk_matrix_bytes": 4 * n * chunk_size,
    }


# ---- data and the two distributed losses ---------------------------------------------------------


def shard(seed: int, rank: int, b: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank `rank`'s (b, dim) image and text embeddings, L2-normalised; text i is a noisy copy of image i.
    Seeded by (seed, rank), so the parent can rebuild the global batch."""
    b, dim = require_int("b", b, low=1), require_int("dim", dim, low=1)
    g = torch.Generator().manual_seed(require_int("seed", seed, low=0) * 10_007 + require_int("rank", rank, low=0))
    image = torch.randn(b, dim, generator=g)
    text = image + 1.5 * torch.randn(b, dim, generator=g)
    return F.normalize(image, dim=-1), F.normalize(text, dim=-1)


def global_batch(seed: int, world_size: int, b: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (W * b, dim) image and text embeddings that the W ranks hold between them, in rank order."""
    parts = [shard(seed, r, b, dim) for r in range(require_int("world_size", world_size, low=1))]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


@dataclass
class Traffic:
    """Payload bytes this rank sent."""

    bytes_sent: int = 0


def all_gather(x: torch.Tensor, traffic: Traffic) -> torch.Tensor:
    """(W * b, ...) concatenation of every rank's (b, ...) tensor. A ring all-gather (gloo's) sends
    this rank's block to W - 1 ranks."""
    world = dist.get_world_size()
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.contiguous())
    traffic.bytes_sent += (world - 1) * _nbytes(x)
    return torch.cat(parts)


def clip_all_gather_loss(image: torch.Tensor, text: torch.Tensor, scale: float, traffic: Traffic) -> torch.Tensor:
    """Symmetric softmax CLIP loss of the global batch from this rank's (b, D) normalised embeddings.

    Each rank gathers all N images and texts, computes the cross-entropy of its b rows (its images
    against all texts) and its b columns (its texts against all images), and the ranks sum."""
    rank, b = dist.get_rank(), image.shape[0]
    images, texts = all_gather(image, traffic), all_gather(text, traffic)  # (N, D) each
    target = torch.arange(rank * b, (rank + 1) * b)
    rows = F.cross_entropy(scale * image @ texts.T, target, reduction="sum")  # (b, N) logits
    cols = F.cross_entropy(scale * text @ images.T, target, reduction="sum")  # (b, N) logits
    total = (rows + cols).detach().reshape(1)
    dist.all_reduce(total)
    return total[0] / (2 * len(images))


def siglip_ring_loss(
    image: torch.Tensor, text: torch.Tensor, scale: float, bias: float, traffic: Traffic
) -> torch.Tensor:
    """SigLIP loss of the global batch from this rank's (b, D) embeddings, passing text blocks around a ring.

    At hop s the rank holds the texts of rank (rank - s) mod W: it starts sending them on to rank + 1
    and receiving the next block from rank - 1, computes the (b, b) block loss meanwhile, then swaps.
    Only the hop-0 block (its own texts) holds positives."""
    rank, world, b = dist.get_rank(), dist.get_world_size(), image.shape[0]
    total = torch.zeros(())
    current = text.contiguous()
    for hop in range(world):
        owner = (rank - hop) % world
        if hop < world - 1:
            incoming = torch.empty_like(current)
            requests = dist.batch_isend_irecv(
                [
                    dist.P2POp(dist.isend, current, (rank + 1) % world),
                    dist.P2POp(dist.irecv, incoming, (rank - 1) % world),
                ]
            )
            traffic.bytes_sent += _nbytes(current)
        total = total + block_loss_sum(image, current, scale, bias, row_start=rank * b, col_start=owner * b)
        if hop < world - 1:
            for request in requests:
                request.wait()
            current = incoming
    total = total.detach().reshape(1)
    dist.all_reduce(total)
    return total[0] / (world * b)


def compare_worker(
    rank: int,
    world_size: int,
    seed: int,
    block_sizes: Sequence[int],
    dim: int,
    clip_scale: float,
    scale: float,
    bias: float,
) -> list[dict[str, Any]]:
    """For each per-rank batch b: the ring SigLIP loss, then the all-gather CLIP loss, with the bytes
    this rank sent, its peak extra resident memory and the seconds taken."""
    rows = []
    warm_image, warm_text = shard(seed, rank, 2, dim)  # first use sets up connections and lazy imports: not measured
    siglip_ring_loss(warm_image, warm_text, scale, bias, Traffic())
    clip_all_gather_loss(warm_image, warm_text, clip_scale, Traffic())
    for b in block_sizes:
        image, text = shard(seed, rank, b, dim)
        for method in ("siglip_ring", "clip_all_gather"):
            traffic = Traffic()
            dist.barrier()
            start = time.perf_counter()
            if method == "siglip_ring":
                loss, peak = peak_memory(lambda: siglip_ring_loss(image, text, scale, bias, traffic))
            else:
                loss, peak = peak_memory(lambda: clip_all_gather_loss(image, text, clip_scale, traffic))
            rows.append(
                {
                    "method": method,
                    "world_size": world_size,
                    "b": b,
                    "n": world_size * b,
                    "loss": float(loss),
                    "bytes_sent": traffic.bytes_sent,
                    "peak_bytes": peak,
                    "seconds": time.perf_counter() - start,
                }
            )
    return rows


def distributed_comparison(
    world_sizes: Sequence[int] = (2, 4),
    block_sizes: Sequence[int] = (256, 1024),
    dim: int = 128,
    clip_scale: float = 10.0,
    scale: float = 10.0,
    bias: float = -10.0,
    seed: int = 0,
    timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """One launch per world size W; for each W and per-rank batch b, one row per method with the
    distributed loss (rank 0's), the single-process loss on the same N = W * b pairs ('reference'),
    bytes sent and peak extra memory per rank (max over ranks), and seconds (max over ranks)."""
    dim = require_int("dim", dim, low=1)
    block_sizes = [require_int("b", b, low=1) for b in block_sizes]
    table = []
    for world in world_sizes:
        per_rank = launch(compare_worker, world, (seed, block_sizes, dim, clip_scale, scale, bias), timeout=timeout)
        for i, row in enumerate(per_rank[0]):
            image, text = global_batch(seed, world, row["b"], dim)
            reference = float(
                sigmoid_loss(image, text, scale, bias)
                if row["method"] == "siglip_ring"
                else clip_loss(image, text, clip_scale)
            )
            table.append(
                {
                    **row,
                    "reference": reference,
                    "bytes_sent": max(r[i]["bytes_sent"] for r in per_rank),
                    "peak_bytes": max(r[i]["peak_bytes"] for r in per_rank),
                    "seconds": max(r[i]["seconds"] for r in per_rank),
                }
            )
    return table


def comparison_table(table: Sequence[dict[str, Any]], memory: bool = False) -> str:
    """The comparison as a text table: losses (4 decimals) and bytes sent per rank; with memory=True
    also peak extra MB per rank and seconds (these vary from run to run)."""
    head = f"{'method':16s} {'W':>2s} {'b':>5s} {'N':>5s} {'loss':>8s} {'1-process':>9s} {'KiB sent/rank':>13s}"
    head += f" {'peak MB/rank':>12s} {'seconds':>7s}" if memory else ""
    lines = [head]
    for r in table:
        line = (
            f"{r['method']:16s} {r['world_size']:2d} {r['b']:5d} {r['n']:5d} {r['loss']:8.4f} {r['reference']:9.4f} "
            f"{r['bytes_sent'] / 1024:13.0f}"
        )
        line += f" {r['peak_bytes'] / 2**20:12.1f} {r['seconds']:7.3f}" if memory else ""
        lines.append(line)
    return "\n".join(lines)


def plot_comparison(table: Sequence[dict[str, Any]]):
    """Bytes sent and peak extra memory per rank against the global batch N, one line per method and b."""
    import matplotlib.pyplot as plt

    from .plots import legend_with_colours

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for method, style in (("clip_all_gather", "o-"), ("siglip_ring", "s--")):
        for b in sorted({r["b"] for r in table}):
            rows = sorted((r for r in table if r["method"] == method and r["b"] == b), key=lambda r: r["n"])
            n = [r["n"] for r in rows]
            axes[0].plot(n, [r["bytes_sent"] / 2**20 for r in rows], style, label=f"{method}, b = {b}")
            axes[1].plot(n, [r["peak_bytes"] / 2**20 for r in rows], style, label=f"{method}, b = {b}")
    for ax, ylabel in zip(axes, ("MiB sent per rank", "peak extra MiB per rank")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("global batch N = W x b")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_title("communication (embedding payload)")
    axes[1].set_title("memory while computing the loss")
    legend_with_colours(axes[1], fontsize=8)
    fig.tight_layout()
    return fig
