"""The compiled engine of :class:`rl.gsac.GSACTrainer` (``engine="numba"``).

One outer iteration with the kernels of :mod:`rl.kernels` instead of numpy array
passes: the rollout (fused with the wireless environment's step when the
environment is a :class:`~rl.envs.WirelessAccessEnv`, else the environment's own
``step`` with compiled sampling), the critic keys, the working table and TD sweep,
and the actor's gradient step. The random draws, the softmax tables and the
critic's commit (insertion and eviction) are shared with the numpy path, so both
engines produce the same numbers bit for bit; only the hash table's cell layout may
differ (the key -> value map is the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:                                  # pragma: no cover
    from rl.gsac import GSACTrainer

__all__ = ["Engine", "numba_available", "resolve_engine", "iterate_numba"]

Engine = Literal["auto", "numpy", "numba"]


def numba_available() -> bool:
    """True when numba imports."""
    try:
        import numba  # noqa: F401
    except ImportError:                            # pragma: no cover - numba is a dependency
        return False
    return True


def resolve_engine(engine: str) -> str:
    """``"auto"`` -> ``"numba"`` when available, else ``"numpy"``; validates the name.

    >>> resolve_engine("numpy")
    'numpy'
    """
    if engine not in ("auto", "numpy", "numba"):
        raise ValueError(f"engine must be 'auto', 'numpy' or 'numba', got {engine!r}")
    if engine == "auto":
        return "numba" if numba_available() else "numpy"
    if engine == "numba" and not numba_available():
        raise ValueError("engine='numba' needs the numba package (pip install numba)")
    return engine


class NumbaState:
    """Arrays the compiled engine precomputes once per trainer."""

    def __init__(self, trainer: "GSACTrainer") -> None:
        from rl.envs.wireless import WirelessAccessEnv

        critic = trainer.critic
        self.fused_env = type(trainer.env) is WirelessAccessEnv
        self.cols = np.ascontiguousarray(critic._cols)
        if critic.table_kind == "dense":
            self.strides = np.ascontiguousarray(critic._strides)
        else:
            self.m1 = np.ascontiguousarray(critic._mult_t[0].T)
            self.m2 = np.ascontiguousarray(critic._mult_t[1].T)
        self.pcols = np.ascontiguousarray(trainer._pcols)
        self.pstrides = np.ascontiguousarray(trainer._pstrides)
        n = trainer.n_agents
        self.disc_n = trainer._discount / n


def iterate_numba(tr: "GSACTrainer") -> None:
    """One outer iteration of every run of ``tr`` with the compiled kernels."""
    from rl import kernels

    st: NumbaState = tr._numba
    cfg = tr.config
    R, n, T = tr.n_runs, tr.n_agents, cfg.horizon
    streams = tr._streams
    # 1. source domain of each run (as the numpy path)
    if tr.n_sources > 1:
        m = streams.integers(tr.n_sources, size=R)
    else:
        m = np.zeros(R, dtype=np.int64)
    w_hat = tr.w_hat[m]
    phi = tr.features(w_hat)
    probs_tab, cdf_tab = kernels.softmax_tables(tr.theta, phi, tr._mask)
    n_actions = probs_tab.shape[-1]
    cdf_rows = cdf_tab.reshape(-1, n_actions)
    probs_rows = probs_tab.reshape(-1, n_actions)
    post = cfg.critic_timing == "post_transition"
    # 2. rollout
    act_buf = np.empty((T + 1, R, n), dtype=np.int64)
    code_buf = np.empty((T + 1, R, n), dtype=np.int64)
    rew_buf = np.zeros((T + 1, R, n))
    if st.fused_env:
        env = tr.env
        n_state = env.spec.n_state
        state_buf = np.empty((T + 2, R, n_state), dtype=np.int8)
        n_uniform = n + (T + 1) * n + (T + (1 if post else 0)) * 2 * n
        u = streams.random((R, n_uniform))
        arrival = np.ascontiguousarray(tr.domain_factors[m])
        kernels.wireless_rollout(cdf_rows, tr._row_base, st.pcols, st.pstrides, tr.action_counts, env._ap_code_flat,
                                 env._q_flat, env._cell_flat, env._clear_flat, env._row_offset[1] if n > 1 else 0,
                                 env.n_aps, env.deadline, arrival, u, T, post, state_buf, act_buf, rew_buf, code_buf)
    else:
        env, w_env = tr.env, tr.domain_factors[m]
        if R == 1 or (m == m[0]).all():
            env, w_env = tr._source_envs[int(m[0])], None
        states = env.reset(R, streams, domain_factor=w_env)
        state_buf = np.empty((T + 2, R, states.shape[1]), dtype=states.dtype)
        for t in range(T + 1):
            state_buf[t] = states
            u = streams.random((R, n))
            kernels.policy_codes_sample(states, cdf_rows, tr._row_base, st.pcols, st.pstrides, tr.action_counts, u,
                                        code_buf[t], act_buf[t])
            if t < T or post:
                states, rewards = env.step(states, act_buf[t], streams, domain_factor=w_env)
                rew_buf[t] = rewards
        if post:
            state_buf[T + 1] = states
    # 3. critic
    critic = tr.critic
    key_states = state_buf[1:] if post else state_buf[:T + 1]
    dom = np.ascontiguousarray(tr._domain_codes[m])
    alphas, eta = tr._step_sizes(tr.iteration)
    targets = rew_buf if tr.advantage is None else tr.advantage.critic_targets(rew_buf, T)
    if critic.table_kind == "dense":
        keys = np.empty((T + 1, R, n), dtype=np.int64)
        kernels.dense_keys(key_states, act_buf, dom, st.cols, st.strides, critic._agent_base, critic._run_size, keys)
    else:
        keys = np.empty((T + 1, R, n), dtype=np.uint64)
        kernels.hashed_keys(key_states, act_buf, dom, st.cols, st.m1, st.m2, critic._salt, keys)
    if critic.persistent and critic.table_kind == "dense":
        slots = keys
        values = critic.values
        kernels.td_sweep(slots, values, targets, cfg.gamma, alphas)
        q = values[slots]
    else:
        flat = keys.ravel() if critic.table_kind == "hashed" else keys.ravel().astype(np.uint64) + np.uint64(1)
        lookup = critic.persistent
        table = critic._table if lookup else None
        slots, work_keys, work_cells, values = kernels.gather_hashed(
            flat, table.keys if lookup else np.zeros(1, np.uint64), table.values if lookup else np.zeros(1), lookup)
        if not critic.persistent:                  # value() expects the reset critic's keys sorted
            order = np.argsort(work_keys, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            slots, work_keys = rank[slots], work_keys[order]
            if critic.table_kind == "dense":
                work_keys = work_keys - np.uint64(1)
            work_keys = work_keys.astype(np.int64) if critic.table_kind == "dense" else work_keys
            values = values[order]
        slots = slots.reshape(keys.shape)
        kernels.td_sweep(slots, values, targets, cfg.gamma, alphas)
        critic.values = values
        critic._work_keys = work_keys
        if critic.persistent:
            critic._work_cells = work_cells
        q = values[slots]
        if critic.persistent:
            _commit(critic, kernels)
    # 4. actor
    if tr.advantage is None:
        weight = np.empty((T + 1, R, n))
        kernels.reference_weights(q, tr._nbr, st.disc_n, weight)
    else:                                          # AdvantageWeights.weights, compiled
        adv = tr.advantage
        weight = np.empty((T + 1, R, n))
        rate = max(1.0 / (adv.updates + 1), 1.0 / adv.window)
        kernels.advantage_weights(q, adv.baseline, adv._nbr, adv._inv_size, tr._discount, rate, weight)
        adv.updates += 1
    kernels.actor_step(tr.theta.reshape(-1), weight, probs_rows, tr._row_base, code_buf, act_buf,
                       np.ascontiguousarray(phi), eta, tr.theta.shape[2])
    tr.iteration += 1


def _commit(critic, kernels) -> None:
    """:meth:`rl.critics.TabularCritic.commit` with a compiled write-back: the same keys are
    inserted and the same room is made first (eviction to the cap, then growth), so the
    stored key -> value map is the numpy path's."""
    table, values, cells = critic._table, critic.values, critic._work_cells
    new, n_keep = critic.new_keys(cells, values)
    n_new = int(np.count_nonzero(new))
    if n_keep is None and (n_new == 0 or table.size + n_new <= table.max_load * table.keys.size):
        # the common case: no eviction, no growth; stored keys are written back, new ones inserted
        table.size += kernels.commit_hashed(table.keys, table.values, critic._work_keys, cells, values)
        return
    old = cells >= 0                              # eviction or growth moves keys: write back first
    table.values[cells[old]] = values[old]
    if n_keep is not None:
        table.keep_largest(n_keep)
    if table.size + n_new > table.max_load * table.keys.size:
        table._grow(table.size + n_new)
    table.size += kernels.commit_hashed(table.keys, table.values, critic._work_keys[new],
                                        np.full(n_new, -1, dtype=np.int64), values[new])
