"""Temporal path kernels on integer edge arrays (numpy and scipy only, no Python loop per edge).

The transfer detectors hand these kernels plain arrays: ``src``, ``dst`` (dense node ids),
``t`` (float days, edges sorted by time so that an edge's index is its time order) and
boolean edge classes. Two kernels:

* :func:`window_scc_edges` keeps only the edges that can lie on a cycle whose transfers all
  fall inside one window of ``window`` days: every edge is copied into the two overlapping
  layers ``[kW, (k+2)W)`` that contain it, strongly connected components are computed once
  over all layers (:func:`scipy.sparse.csgraph.connected_components`), and an edge survives
  when its two ends share a component in one of its layers. Any cycle with span ``<= W``
  lies inside one layer, so nothing that matters is dropped.
* :func:`window_cycles` enumerates simple cycles breadth first, all partial paths of one
  length at a time as arrays (one ``searchsorted`` + ``repeat`` per step). A cycle must
  start from a *fresh* edge, and the start is its smallest fresh edge index, so each cycle
  (as a sequence of transfers) is found exactly once. Work is bounded by ``max_len``,
  ``max_branch`` (out-edges followed per path and step), ``max_old`` (non-fresh hops) and
  ``max_paths`` (partial paths kept per step, extra ones dropped deterministically).

Examples
--------
>>> import numpy as np
>>> src = np.array([0, 1, 2, 3]); dst = np.array([1, 2, 0, 4]); t = np.array([0.0, 1, 2, 3])
>>> window_scc_edges(src, dst, t, 5, 5.0).tolist()
[True, True, True, False]
>>> cyc = window_cycles(src, dst, t, np.ones(4, bool), window=5.0, max_len=6)
>>> cyc.edges.tolist(), cyc.length.tolist()
([[0, 1, 2, -1, -1, -1]], [3])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def window_scc_edges(
    src: np.ndarray, dst: np.ndarray, t: np.ndarray, n_nodes: int, window: float
) -> np.ndarray:
    """Mask of edges that lie in a strongly connected component of a ``2 * window`` layer."""
    m = src.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    src = src.astype(np.int64)
    dst = dst.astype(np.int64)
    layer = np.floor((t - t.min()) / window).astype(np.int64)
    lay = np.concatenate([layer, layer - 1])
    s2 = lay * n_nodes + np.concatenate([src, src])
    d2 = lay * n_nodes + np.concatenate([dst, dst])
    uniq, inv = np.unique(np.concatenate([s2, d2]), return_inverse=True)
    si, di = inv[: 2 * m], inv[2 * m :]
    mat = sp.csr_matrix((np.ones(2 * m, dtype=np.int8), (si, di)), shape=(uniq.size, uniq.size))
    _, lab = connected_components(mat, directed=True, connection="strong")
    ok = lab[si] == lab[di]
    keep = np.zeros(m, dtype=bool)
    keep[np.concatenate([np.arange(m), np.arange(m)])[ok]] = True
    return keep


@dataclass
class Cycles:
    """Cycles found: ``edges`` (n x max_len edge indices, ``-1`` padded) and ``length``.

    ``truncated`` is true when a work cap (``max_paths``) dropped partial paths.
    """

    edges: np.ndarray
    length: np.ndarray
    truncated: bool = False


class _Adjacency:
    """Edges sorted by (src, t) with a float key for range look-ups by time."""

    def __init__(self, idx: np.ndarray, src: np.ndarray, t: np.ndarray, span: float) -> None:
        order = np.lexsort((idx, t[idx], src[idx]))
        self.edge = idx[order]
        self.scale = span + 1.0
        self.key = src[self.edge].astype(np.float64) * self.scale + t[self.edge]

    def expand(
        self, tail: np.ndarray, lo_t: np.ndarray, hi_t: np.ndarray, cap: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(path row, edge) for up to ``cap`` out-edges of each tail with ``lo_t <= t <= hi_t``."""
        base = tail.astype(np.float64) * self.scale
        lo = np.searchsorted(self.key, base + lo_t, side="left")
        hi = np.searchsorted(self.key, base + hi_t, side="right")
        cnt = np.minimum(hi - lo, cap)
        total = int(cnt.sum())
        rows = np.repeat(np.arange(tail.size), cnt)
        off = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return rows, self.edge[np.repeat(lo, cnt) + off]


def window_cycles(
    src: np.ndarray,
    dst: np.ndarray,
    t: np.ndarray,
    fresh: np.ndarray,
    *,
    window: float,
    max_len: int = 12,
    max_old: int = 0,
    max_branch: int = 8,
    max_old_branch: int = 4,
    max_paths: int = 2_000_000,
    search: np.ndarray | None = None,
    prev_t: np.ndarray | None = None,
    next_t: np.ndarray | None = None,
) -> Cycles:
    """Simple cycles of 2..``max_len`` edges whose times all fit in ``window`` days.

    Parameters
    ----------
    src, dst, t
        Edge ends and times (days); edges sorted by ``t`` (index = time order).
    fresh
        Edges a cycle may start from; every cycle contains at least one.
    window
        Largest allowed ``max(t) - min(t)`` over the cycle's edges.
    max_len
        Longest cycle, in edges.
    max_old
        Most non-fresh edges on one cycle.
    max_branch, max_old_branch
        Fresh / non-fresh out-edges followed per partial path and step (earliest first).
    max_paths
        Partial paths kept per step; beyond it the latest-starting ones are dropped.
    search
        Optional mask of edges the search may use at all (e.g. :func:`window_scc_edges`).
    prev_t, next_t
        Optional times of the previous / next edge of the same (src, dst) pair (``-inf`` /
        ``inf`` if none). When given, a fresh edge must be its pair's only edge inside the
        cycle's time span: paths whose span reaches such a neighbour are dropped early.
    """
    m = src.size
    usable = np.ones(m, dtype=bool) if search is None else search.astype(bool)
    fresh = fresh.astype(bool) & usable
    old = usable & ~fresh
    src = src.astype(np.int64)
    dst = dst.astype(np.int64)
    t = t.astype(np.float64)
    empty = Cycles(np.zeros((0, max_len), dtype=np.int64), np.zeros(0, dtype=np.int64))
    start = np.flatnonzero(fresh)
    if start.size == 0:
        return empty
    t0 = t.min()
    t = t - t0
    span = float(t.max()) + 2 * window + 1
    if prev_t is None or next_t is None:
        prev_t = np.full(m, -np.inf)
        next_t = np.full(m, np.inf)
    else:
        prev_t = np.where(fresh, prev_t - t0, -np.inf)
        next_t = np.where(fresh, next_t - t0, np.inf)
    adj_fresh = _Adjacency(start, src, t, span)
    adj_old = _Adjacency(np.flatnonzero(old), src, t, span) if max_old > 0 and old.any() else None

    # partial paths: edges (F x max_len), nodes (F x max_len + 1), running figures
    path_e = np.full((start.size, max_len), -1, dtype=np.int64)
    path_e[:, 0] = start
    path_n = np.full((start.size, max_len + 1), -1, dtype=np.int64)
    path_n[:, 0] = src[start]
    path_n[:, 1] = dst[start]
    first = start
    tmin = t[start]
    tmax = t[start]
    n_old = np.zeros(start.size, dtype=np.int64)
    lo_bound = prev_t[start]  # the span must stay strictly inside (lo_bound, hi_bound)
    hi_bound = next_t[start]
    found_e: list[np.ndarray] = []
    found_len: list[np.ndarray] = []
    truncated = False
    for depth in range(1, max_len):
        if first.size == 0:
            break
        tail = path_n[:, depth]
        lo_t, hi_t = tmax - window, tmin + window
        rows, e = adj_fresh.expand(tail, lo_t, hi_t, max_branch)
        ok = e > first[rows]
        if adj_old is not None:
            can = np.flatnonzero(n_old < max_old)
            r2, e2 = adj_old.expand(tail[can], lo_t[can], hi_t[can], max_old_branch)
            rows = np.concatenate([rows[ok], can[r2]])
            e = np.concatenate([e[ok], e2])
            ok = np.ones(rows.size, dtype=bool)
        rows, e = rows[ok], e[ok]
        new_lo = np.maximum(lo_bound[rows], prev_t[e])
        new_hi = np.minimum(hi_bound[rows], next_t[e])
        ok = (np.minimum(tmin[rows], t[e]) > new_lo) & (np.maximum(tmax[rows], t[e]) < new_hi)
        rows, e, new_lo, new_hi = rows[ok], e[ok], new_lo[ok], new_hi[ok]
        d = dst[e]
        closes = d == path_n[rows, 0]
        seen = (path_n[rows, : depth + 1] == d[:, None]).any(axis=1)
        done = closes
        if done.any():
            fe = path_e[rows[done]].copy()
            fe[:, depth] = e[done]
            found_e.append(fe)
            found_len.append(np.full(fe.shape[0], depth + 1, dtype=np.int64))
        go = ~seen & (depth + 1 < max_len)
        rows, e, new_lo, new_hi = rows[go], e[go], new_lo[go], new_hi[go]
        if rows.size > max_paths:
            truncated = True
            rows, e = rows[:max_paths], e[:max_paths]
            new_lo, new_hi = new_lo[:max_paths], new_hi[:max_paths]
        lo_bound, hi_bound = new_lo, new_hi
        path_e = path_e[rows]
        path_e[:, depth] = e
        path_n = path_n[rows]
        path_n[:, depth + 1] = dst[e]
        first = first[rows]
        tmin = np.minimum(tmin[rows], t[e])
        tmax = np.maximum(tmax[rows], t[e])
        n_old = n_old[rows] + (~fresh[e]).astype(np.int64)
    if not found_e:
        return Cycles(empty.edges, empty.length, truncated)
    return Cycles(np.concatenate(found_e), np.concatenate(found_len), truncated)
