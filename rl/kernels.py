"""Compiled (numba) kernels of one GSAC/SAC outer iteration.

Each kernel does, with plain loops, exactly the arithmetic of the numpy reference
path in :mod:`rl.gsac`, :mod:`rl.critics` and :class:`rl.envs.WirelessAccessEnv`, in
the same order, so the two engines agree bit for bit (``tests/test_engine_numba.py``):

* :func:`wireless_rollout` -- policy codes, inverse-CDF sampling and the wireless
  step (collisions, deliveries, queue shift, arrivals) for ``T + 1`` steps, reading
  the uniforms of the whole iteration from one array laid out per run as the
  numpy path draws them (reset, then per step: policy, success, arrival);
* :func:`hashed_keys` / :func:`dense_keys` -- every agent's critic key;
* :func:`gather_hashed` -- the iteration's distinct keys, their stored cells and
  values (the working table of a hashed critic);
* :func:`td_sweep` -- SARSA TD(0) in time order;
* :func:`reference_weights`, :func:`advantage_weights` -- the actor's weights
  (neighbourhood sums in the order numpy adds a fancy-indexed last axis,
  :func:`_sequential_sum`; action sums in numpy's pairwise order, :func:`_numpy_sum`);
* :func:`actor_step` -- the localized policy-gradient step, gradients accumulated in
  the order of ``numpy.bincount``.

Softmax tables (:func:`softmax_tables`) are compiled except for the exponential,
which stays ``numpy.exp`` in both engines (numpy's vectorised ``exp`` and a compiled one
may differ in the last bit).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["actor_step", "advantage_weights", "commit_hashed", "dense_keys", "reference_weights", "gather_hashed", "hashed_keys", "normalise_rows", "policy_codes_sample",
           "shifted_logits", "softmax_tables", "td_sweep", "wireless_rollout"]

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U32 = np.uint64(32)


@numba.njit(cache=True, inline="always")
def _numpy_sum(values, start, width):
    """``sum(values[start:start + width])`` in numpy's pairwise order (width <= 128)."""
    if width < 8:
        res = 0.0
        for k in range(width):
            res += values[start + k]
        return res
    r0 = values[start]
    r1 = values[start + 1]
    r2 = values[start + 2]
    r3 = values[start + 3]
    r4 = values[start + 4]
    r5 = values[start + 5]
    r6 = values[start + 6]
    r7 = values[start + 7]
    k = 8
    stop = width - (width % 8)
    while k < stop:
        r0 += values[start + k]
        r1 += values[start + k + 1]
        r2 += values[start + k + 2]
        r3 += values[start + k + 3]
        r4 += values[start + k + 4]
        r5 += values[start + k + 5]
        r6 += values[start + k + 6]
        r7 += values[start + k + 7]
        k += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while k < width:
        res += values[start + k]
        k += 1
    return res


@numba.njit(cache=True, inline="always")
def _sequential_sum(values, width):
    """``((v0 + v1) + v2) + ...``: numpy's order for ``x[..., nbr].sum(axis=-1)``, whose
    fancy-indexed operand is laid out with the neighbour axis outermost, so the reduction
    accumulates one neighbour at a time."""
    res = values[0]
    for k in range(1, width):
        res += values[k]
    return res


@numba.njit(cache=True)
def _sample(cdf_rows, row, u, count):
    a = 0
    for k in range(cdf_rows.shape[1]):
        if cdf_rows[row, k] <= u:
            a += 1
    return a if a < count - 1 else count - 1


@numba.njit(cache=True)
def policy_codes_sample(states, cdf_rows, row_base, pcols, pstrides, action_counts, u, codes_out, actions_out):
    """Policy codes and sampled actions of one step: ``states (R, n_state)``, ``u (R, n)``."""
    R, n = row_base.shape
    for r in range(R):
        for i in range(n):
            code = 0
            for p in range(pcols.shape[1]):
                code += states[r, pcols[i, p]] * pstrides[i, p]
            codes_out[r, i] = code
            actions_out[r, i] = _sample(cdf_rows, row_base[r, i] + code, u[r, i], action_counts[i])


@numba.njit(cache=True)
def wireless_rollout(cdf_rows, row_base, pcols, pstrides, action_counts, ap_code, q_flat, cell_flat, clear_flat,
                     width_a, n_aps, d, arrival, u, horizon, post, state_buf, act_buf, rew_buf, code_buf):
    """Reset and roll ``horizon + 1`` steps of every run (see the module docstring).

    ``state_buf`` has shape ``(horizon + 2, R, n * d)``; rows ``0..horizon`` (and
    ``horizon + 1`` when ``post``) are written. ``u`` has shape ``(R, n_uniforms)``.
    """
    R, n = row_base.shape
    load = np.zeros(n_aps + 1, dtype=np.int64)
    for r in range(R):
        pos = 0
        for i in range(n):                                       # reset: e_d ~ Bernoulli(p)
            for j in range(d - 1):
                state_buf[0, r, i * d + j] = 0
            state_buf[0, r, i * d + d - 1] = 1 if u[r, pos + i] < arrival[r, i] else 0
        pos += n
        for t in range(horizon + 1):
            for i in range(n):
                code = 0
                for p in range(pcols.shape[1]):
                    code += state_buf[t, r, pcols[i, p]] * pstrides[i, p]
                code_buf[t, r, i] = code
                act_buf[t, r, i] = _sample(cdf_rows, row_base[r, i] + code, u[r, pos + i], action_counts[i])
            pos += n
            if t < horizon or post:
                load[:] = 0
                for i in range(n):
                    load[ap_code[i * width_a + act_buf[t, r, i]]] += 1
                for i in range(n):
                    row = i * width_a + act_buf[t, r, i]
                    delivered = (u[r, pos + i] < q_flat[row]) and load[ap_code[row]] == 1 \
                        and state_buf[t, r, cell_flat[row]] != 0
                    rew_buf[t, r, i] = 1.0 if delivered else 0.0
                    for j in range(d - 1):
                        state_buf[t + 1, r, i * d + j] = state_buf[t, r, i * d + j + 1]
                    if delivered and d > 1:
                        state_buf[t + 1, r, i * d + clear_flat[row]] = 0
                    state_buf[t + 1, r, i * d + d - 1] = 1 if u[r, pos + n + i] < arrival[r, i] else 0
                pos += 2 * n


@numba.njit(cache=True, inline="always")
def _digit(states, actions, dom, t, r, c, n_state, n):
    if c < 0:
        return 0
    if c < n_state:
        return np.int64(states[t, r, c])
    if c < n_state + n:
        return np.int64(actions[t, r, c - n_state])
    return np.int64(dom[r, c - n_state - n])


@numba.njit(cache=True)
def hashed_keys(states, actions, dom, cols, m1, m2, salt, keys_out):
    """64-bit critic keys ``(T+1, R, n)`` (see :mod:`rl.critics`): ``states (T+1, R, n_state)``,
    ``actions (T+1, R, n)``, ``dom (R, n)`` domain codes."""
    T1, R, n = keys_out.shape
    n_state = states.shape[2]
    for t in range(T1):
        for r in range(R):
            for i in range(n):
                h1 = np.int64(0)
                h2 = np.int64(0)
                for p in range(cols.shape[1]):
                    v = _digit(states, actions, dom, t, r, cols[i, p], n_state, n)
                    h1 += v * m1[i, p]
                    h2 += v * m2[i, p]
                key = ((np.uint64(h1) << _U32) ^ np.uint64(h2)) + salt[r]
                keys_out[t, r, i] = _U1 if key == _U0 else key


@numba.njit(cache=True)
def dense_keys(states, actions, dom, cols, strides, agent_base, run_size, keys_out):
    """Dense critic indices ``(T+1, R, n)``: mixed-radix code plus agent and run offsets."""
    T1, R, n = keys_out.shape
    n_state = states.shape[2]
    for t in range(T1):
        for r in range(R):
            for i in range(n):
                code = np.int64(0)
                for p in range(cols.shape[1]):
                    code += _digit(states, actions, dom, t, r, cols[i, p], n_state, n) * strides[i, p]
                keys_out[t, r, i] = code + agent_base[i] + r * run_size


@numba.njit(cache=True)
def gather_hashed(keys, table_keys, table_values, lookup):
    """Distinct keys of ``keys`` (1-d, first-occurrence order) and their working values.

    Returns ``(slots, work_keys, work_cells, work_values)``: ``slots[k]`` indexes the
    working arrays; ``work_cells`` is the stored cell (-1 when absent, then the value is
    0); ``lookup=False`` skips the stored table (reset critic: all values 0).
    """
    K = keys.size
    size = 16
    while size < 2 * K:
        size *= 2
    mask = np.uint64(size - 1)
    local_keys = np.zeros(size, dtype=np.uint64)
    local_slot = np.empty(size, dtype=np.int64)
    slots = np.empty(K, dtype=np.int64)
    work_keys = np.empty(K, dtype=np.uint64)
    n_work = 0
    for k in range(K):
        key = keys[k]
        cell = np.int64(key & mask)
        while local_keys[cell] != _U0 and local_keys[cell] != key:
            cell = (cell + 1) & (size - 1)
        if local_keys[cell] == _U0:
            local_keys[cell] = key
            local_slot[cell] = n_work
            work_keys[n_work] = key
            n_work += 1
        slots[k] = local_slot[cell]
    work_keys = work_keys[:n_work].copy()
    work_cells = np.full(n_work, -1, dtype=np.int64)
    work_values = np.zeros(n_work)
    if lookup:
        tmask = np.uint64(table_keys.size - 1)
        for w in range(n_work):
            key = work_keys[w]
            cell = np.int64(key & tmask)
            while table_keys[cell] != _U0 and table_keys[cell] != key:
                cell = (cell + 1) & (table_keys.size - 1)
            if table_keys[cell] == key:
                work_cells[w] = cell
                work_values[w] = table_values[cell]
    return slots, work_keys, work_cells, work_values


@numba.njit(cache=True)
def td_sweep(slots, values, rewards, gamma, alphas):
    """``Q(x_{t-1}) += alpha_{t-1} (r(t-1) + gamma Q(x_t) - Q(x_{t-1}))`` for t = 1..T, in place."""
    T1, R, n = slots.shape
    for t in range(1, T1):
        a = alphas[t - 1]
        for r in range(R):
            for i in range(n):
                prev = slots[t - 1, r, i]
                q_prev = values[prev]
                values[prev] = q_prev + a * (rewards[t - 1, r, i] + gamma * values[slots[t, r, i]] - q_prev)


@numba.njit(cache=True)
def reference_weights(q, nbr, disc_n, out):
    """The reference actor's weights ``(sum_{j in N_i} Q_j(x_t)) * gamma^t / n`` (numpy's
    order over the padded neighbourhood, :func:`_sequential_sum`; ``nbr`` padded with ``n``,
    read as 0)."""
    T1, R, n = q.shape
    W = nbr.shape[1]
    padded = np.zeros(W)
    for t in range(T1):
        for r in range(R):
            for i in range(n):
                for w in range(W):
                    j = nbr[i, w]
                    padded[w] = q[t, r, j] if j < n else 0.0
                out[t, r, i] = _sequential_sum(padded, W) * disc_n[t]


@numba.njit(cache=True)
def actor_step(theta, weight, probs_rows, row_base, codes, actions, phi, eta, n_states):
    """``theta += eta * grad``, ``grad = sum_t weight_i(t) phi_i grad_logits log pi_i``.

    ``theta`` is the flat view of ``(R, n, S, F, A)``; ``weight (T+1, R, n)``. One (run,
    agent) block at a time: its gradient is accumulated over ``t = 0..T`` in increasing
    ``t`` (the order in which ``numpy.bincount`` adds the same terms), then added to
    ``theta``.
    """
    T1, R, n = weight.shape
    F = phi.shape[2]
    A = probs_rows.shape[1]
    block = n_states * F * A
    grad = np.zeros(block)
    for r in range(R):
        for i in range(n):
            grad[:] = 0.0
            for t in range(T1):
                w = weight[t, r, i]
                code = codes[t, r, i]
                row = row_base[r, i] + code
                act = actions[t, r, i]
                for f in range(F):
                    wf = w * phi[r, i, f]
                    base = (code * F + f) * A
                    for a in range(A):
                        score = (1.0 if a == act else 0.0) - probs_rows[row, a]
                        grad[base + a] += wf * score
            start = row_base[r, i] * F * A
            for k in range(block):
                theta[start + k] = theta[start + k] + eta * grad[k]


@numba.njit(cache=True)
def commit_hashed(table_keys, table_values, work_keys, work_cells, values):
    """Write a hashed persistent critic's working values back: stored keys are updated,
    new keys with a nonzero value inserted (linear probing). The caller has made room
    (growth, eviction). Returns the number of keys inserted."""
    size = table_keys.size
    inserted = 0
    for w in range(work_keys.size):
        cell = work_cells[w]
        if cell >= 0:
            table_values[cell] = values[w]
        elif values[w] != 0.0:
            key = work_keys[w]
            c = np.int64(key & np.uint64(size - 1))
            while table_keys[c] != _U0:
                c = (c + 1) & (size - 1)
            table_keys[c] = key
            table_values[c] = values[w]
            inserted += 1
    return inserted


@numba.njit(cache=True)
def shifted_logits(theta, phi, mask, out):
    """``logits - max(logits)`` over actions for every (run, agent, local state), masked actions
    ``-inf``: the first half of :func:`rl.actors.softmax_tables` (``theta (R, n, S, F, A)``,
    ``phi (R, n, F)``, ``mask (n, A)``, ``out (R, n, S, A)``)."""
    R, n, S, F, A = theta.shape
    for r in range(R):
        for i in range(n):
            for s in range(S):
                top = -np.inf
                for a in range(A):
                    if mask[i, a]:
                        v = phi[r, i, 0] * theta[r, i, s, 0, a]
                        for f in range(1, F):
                            v = v + phi[r, i, f] * theta[r, i, s, f, a]
                    else:
                        v = -np.inf
                    out[r, i, s, a] = v
                    if v > top:
                        top = v
                for a in range(A):
                    out[r, i, s, a] = out[r, i, s, a] - top


@numba.njit(cache=True)
def normalise_rows(expo, probs, cdf):
    """``probs = expo / sum(expo)`` (numpy's pairwise sum) and its running sum, row by row
    (``expo``, ``probs``, ``cdf`` of shape ``(rows, A)``): the second half of
    :func:`rl.actors.softmax_tables`."""
    rows, A = expo.shape
    for k in range(rows):
        total = _numpy_sum(expo[k], 0, A)
        acc = 0.0
        for a in range(A):
            p = expo[k, a] / total
            probs[k, a] = p
            acc = p if a == 0 else acc + p
            cdf[k, a] = acc


def softmax_tables(theta: np.ndarray, phi: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rl.actors.softmax_tables` for ``theta (R, n, S, F, A)``, bit for bit, with one numpy pass
    (the exponential) between two compiled ones."""
    shifted = np.empty(theta.shape[:3] + theta.shape[4:])
    shifted_logits(theta, np.ascontiguousarray(phi), mask, shifted)
    expo = np.exp(shifted)
    probs, cdf = np.empty_like(expo), np.empty_like(expo)
    A = expo.shape[-1]
    normalise_rows(expo.reshape(-1, A), probs.reshape(-1, A), cdf.reshape(-1, A))
    return probs, cdf


@numba.njit(cache=True)
def advantage_weights(q, baseline, nbr, inv_size, discount, rate, out):
    """:meth:`rl.advantage.AdvantageWeights.weights`, bit for bit: ``out[t, r, i] =
    (sum_{j in N_i} (Q_j - b_j)) / |N_i| * gamma^t`` with the baselines ``b`` of the previous
    rollouts, then ``b += rate * (mean_t Q - b)`` in place (``q (T+1, R, n)``, ``baseline (R, n)``)."""
    T1, R, n = q.shape
    W = nbr.shape[1]
    padded = np.zeros(W)
    for t in range(T1):
        for r in range(R):
            for i in range(n):
                for w in range(W):
                    j = nbr[i, w]
                    padded[w] = q[t, r, j] - baseline[r, j] if j < n else 0.0
                out[t, r, i] = _sequential_sum(padded, W) * inv_size[i] * discount[t]
    for r in range(R):
        for i in range(n):
            total = q[0, r, i]
            for t in range(1, T1):
                total += q[t, r, i]
            baseline[r, i] = baseline[r, i] + rate * (total / T1 - baseline[r, i])
