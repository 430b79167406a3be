"""Multimodal search with a real vector index (faiss): exact inner-product search vs HNSW and IVF,
recall@k against exact search (neighbours identified by index, ties broken by index), query latency
and index memory as the gallery grows. Taught in notebook 08, section 6.

Embeddings are L2-normalised float32 (N, D), so inner product = cosine.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .base.validation import require_array, require_choice, require_int
from .training import ProgressBar

INDEX_KINDS: tuple[str, ...] = ("flat", "hnsw", "ivf")


def _faiss() -> Any:
    import faiss  # imported here: only this module needs it

    return faiss


def _vectors(name: str, x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    require_array(name, x, ndim=2, dtype="f")
    if len(x) == 0:
        raise ValueError(f"{name} is empty: give at least one vector")
    return np.ascontiguousarray(x, dtype=np.float32)


def exact_topk(queries: Any, gallery: Any, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product: (scores (Q, k), ids (Q, k)), highest score first and, among
    equal scores, the lower gallery index first, so the ground truth is unique."""
    q, g = _vectors("queries", queries), _vectors("gallery", gallery)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have dimension {q.shape[1]} but the gallery has {g.shape[1]}: "
                         "use one encoder for both")
    k = require_int("k", k, low=1, high=len(g))
    scores = q @ g.T  # (Q, N); for very large galleries chunk the queries, not the gallery
    ids = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), chunk):
        block = scores[start:start + chunk]
        # lexsort: last key is primary -> sort by -score, then by index (stable tie-break)
        order = np.lexsort((np.broadcast_to(np.arange(g.shape[0]), block.shape), -block), axis=1)[:, :k]
        ids[start:start + chunk] = order
    return np.take_along_axis(scores, ids, axis=1), ids


def recall_at_k(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:, :k] ∩ exact[:, :k]| / k (ids; -1 = nothing found)."""
    found, exact = np.asarray(found), np.asarray(exact)
    k = require_int("k", k, low=1)
    if found.ndim != 2 or found.shape[0] != exact.shape[0] or min(found.shape[1], exact.shape[1]) < k:
        raise ValueError(f"found {found.shape} and exact {exact.shape} must be (queries, >= k={k}) id arrays")
    hits = [len(set(f[:k].tolist()) & set(e[:k].tolist()) - {-1}) for f, e in zip(found, exact)]
    return float(np.mean(hits) / k)


def build_index(kind: str, vectors: Any, *, hnsw_m: int = 32, ef_construction: int = 40, ef_search: int = 64,
                nlist: int | None = None, nprobe: int = 8, seed: int = 0) -> Any:
    """A faiss inner-product index over `vectors`: 'flat' (IndexFlatIP, exact), 'hnsw'
    (IndexHNSWFlat, M links per node) or 'ivf' (IndexIVFFlat with nlist k-means cells, searched
    in the nprobe nearest; nlist defaults to sqrt(N))."""
    faiss = _faiss()
    require_choice("kind", kind, INDEX_KINDS)
    x = _vectors("vectors", vectors)
    d = x.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, require_int("hnsw_m", hnsw_m, low=2), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = require_int("ef_construction", ef_construction, low=1)
        index.hnsw.efSearch = require_int("ef_search", ef_search, low=1)
    else:
        nlist = require_int("nlist", nlist, low=1, high=len(x)) if nlist is not None else max(1, int(np.sqrt(len(x))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = require_int("seed", seed, low=0)
        index.train(x)
        index.nprobe = require_int("nprobe", nprobe, low=1, high=nlist)
    index.add(x)
    return index


def index_bytes(index: Any) -> int:
    """Bytes of the index as faiss serialises it (vectors, links, lists): a measured size."""
    return int(_faiss().serialize_index(index).nbytes)


def estimate_index_bytes(kind: str, n: int, dim: int, *, hnsw_m: int = 32, nlist: int | None = None) -> int:
    """Rough memory of an index over n float32 vectors of size dim: the vectors (4 n dim bytes),
    plus for HNSW the level-0 links (2 M int32 ids per vector; upper levels add about 1/M more,
    left out), plus for IVF one int64 id per vector and nlist centroids."""
    require_choice("kind", kind, INDEX_KINDS)
    n, dim = require_int("n", n, low=1), require_int("dim", dim, low=1)
    vectors = 4 * n * dim
    if kind == "flat":
        return vectors
    if kind == "hnsw":
        return vectors + n * 2 * require_int("hnsw_m", hnsw_m, low=2) * 4
    nlist = require_int("nlist", nlist, low=1) if nlist is not None else max(1, int(np.sqrt(n)))
    return vectors + 8 * n + 4 * nlist * dim


@dataclass(frozen=True)
class SearchRow:
    """One (gallery size, index kind) measurement."""

    size: int
    kind: str
    recall: float           # recall@k against exact search (ids, ties by index)
    build_seconds: float
    query_ms: float         # per query, queries searched one batch at a time on one thread
    bytes: int              # serialised index size
    estimate: int           # estimate_index_bytes


def measure_search(gallery: Any, queries: Any, sizes: Sequence[int], kinds: Sequence[str] = INDEX_KINDS, k: int = 10,
                   threads: int = 1, progress: Callable[[str], None] | None = None,
                   **index_options: Any) -> list[SearchRow]:
    """For each gallery size (the first `size` vectors) and index kind: build the index, search all
    queries, and measure recall@k against exact_topk, build time, latency per query and bytes."""
    faiss = _faiss()
    g, q = _vectors("gallery", gallery), _vectors("queries", queries)
    k = require_int("k", k, low=1)
    for kind in kinds:
        require_choice("kind", kind, INDEX_KINDS)
    faiss.omp_set_num_threads(require_int("threads", threads, low=1))
    rows = []
    for size in sizes:
        size = require_int("size", size, low=k, high=len(g))
        _, exact = exact_topk(q, g[:size], k)
        for kind in kinds:
            if progress is not None:
                progress(f"{kind} index over {size:,} vectors")
            start = time.perf_counter()
            index = build_index(kind, g[:size], **index_options)
            built = time.perf_counter() - start
            index.search(q[:8], k)  # warm-up
            start = time.perf_counter()
            _, found = index.search(q, k)
            query_ms = 1000 * (time.perf_counter() - start) / len(q)
            rows.append(SearchRow(size, kind, recall_at_k(found, exact, k), built, query_ms, index_bytes(index),
                                  estimate_index_bytes(kind, size, g.shape[1], hnsw_m=index_options.get("hnsw_m", 32),
                                                       nlist=index_options.get("nlist"))))
    return rows


def search_table(rows: Sequence[SearchRow], k: int = 10) -> str:
    """The measurements as a text table."""
    lines = [f"{'vectors':>8} {'index':>5} {f'recall@{k}':>9} {'build s':>8} {'ms/query':>9} {'MiB':>7} "
             f"{'est. MiB':>9}"]
    for r in rows:
        lines.append(f"{r.size:>8,} {r.kind:>5} {r.recall:>9.3f} {r.build_seconds:>8.2f} {r.query_ms:>9.3f} "
                     f"{r.bytes / 2**20:>7.1f} {r.estimate / 2**20:>9.1f}")
    return "\n".join(lines)


def encode_gallery(encode: Callable[[np.ndarray], Any], n: int, seed: int, *, batch_size: int = 5000,
                   max_objects: int = 3, time_budget: float | None = None, progress: bool = True) -> np.ndarray:
    """(n, D) float32 embeddings of n DISTINCT seeded Shapes World scenes (1 to max_objects objects,
    any composition), generated and encoded batch by batch so memory stays flat. Repeated images
    (about one in five at 100k: positions are discrete) are dropped before encoding: identical
    vectors would tie exactly, and a search result could not be matched to one right index.
    `encode` maps uint8 (B, H, W, 3) images to L2-normalised (B, D) embeddings. With `time_budget`
    (seconds) it stops early, before a batch that the rate so far says would overrun the budget,
    and returns the vectors it has: a prefix of the full gallery."""
    import hashlib

    from .shapes_world import generate_scenes

    n, batch_size = require_int("n", n, low=1), require_int("batch_size", batch_size, low=1)
    parts, seen, total, start = [], set(), 0, time.perf_counter()
    bar = ProgressBar(n, "encode gallery", enabled=progress)  # replaced by a one-line summary at the end
    for i in range(10 * (n // batch_size + 1)):
        images = generate_scenes(batch_size, seed=seed + i, max_objects=max_objects, split="all").images
        keep = []
        for j, image in enumerate(images):
            key = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
            if key not in seen and total + len(keep) < n:
                seen.add(key)
                keep.append(j)
        if keep:
            emb = encode(images[keep])
            parts.append(np.asarray(emb.detach().cpu() if hasattr(emb, "detach") else emb, dtype=np.float32))
            total += len(keep)
            bar.update(len(keep))
        if total == n:
            break
        elapsed = time.perf_counter() - start
        if time_budget is not None and total and elapsed * (total + batch_size) / total > time_budget:
            break
    bar.finish(f"encode gallery: {total:,} distinct scenes in {time.perf_counter() - start:.1f} s")
    if total < n and (time_budget is None or total == 0):
        raise ValueError(f"Shapes World gave only {total:,} distinct scenes with max_objects={max_objects}; "
                         "ask for fewer")
    return np.concatenate(parts)
