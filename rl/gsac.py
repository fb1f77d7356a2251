"""GSAC meta actor-critic (Algorithm 1) and the tabular Scalable Actor-Critic baseline.

One engine serves both: a vectorised tabular localized actor-critic whose inputs
come from a :class:`~causalnet.graph.FactoredGraph` (``inputs="acr"``, GSAC) or from
plain ``kappa``-hop truncation (``inputs="truncation"``, SAC of Qu, Wierman & Li).

Outer iteration ``k`` (for every run at once):

1. each run samples a source domain ``m`` uniformly (its estimated factor ``w_hat^m``
   feeds the actor's features and the critic's domain code; its ``domain_factors[m]``
   is passed to the environment);
2. roll out ``T + 1`` steps ``t = 0..T`` from a reset state, every agent acting with
   its localized softmax policy;
3. critic: for ``t = 1..T``, ``Q_i(x_{t-1}) += alpha_{t-1} (r_i(t-1) + gamma Q_i(x_t) -
   Q_i(x_{t-1}))`` with ``alpha = 1/sqrt((k mod restart) T + t)`` (``critic="persistent"``,
   reference code) or ``h/(t - 1 + t0)`` on a table reset to zero (``critic="reset"``, paper);
4. actor: ``theta_i += eta_k sum_{t=0}^{T} gamma^t (1/n) sum_{j in N_i^kappa} Q_j(x^j_t)
   grad log pi_i(a_i(t) | s_i(t), w_hat)`` with ``eta_k = eta/sqrt((k mod restart) + 1)``
   (``restart=None``: ``eta/sqrt(k + 1)``), the gradient taken at the parameters of
   the rollout.

Runs advanced together are bit-identical to the same runs trained one at a time:
each run owns a ``numpy.random.Generator`` and every random draw of the batch is
split row-wise over the runs' uniform streams (:class:`RunStreams`).
"""

from __future__ import annotations

import logging
import math
import time
import dataclasses
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Literal, Sequence

import numpy as np

from causalnet.graph import FactoredGraph
from rl.advantage import AdvantageWeights, effective_horizon
from rl.actors import (LocalizedSoftmaxPolicy, action_mask, policy_codes, policy_layout, sample_from_cdf,
                       softmax_tables)
from rl.critics import CriticTable, TabularCritic, critic_max_entries
from rl.engine import Engine, NumbaState, iterate_numba, resolve_engine
from rl.features import (ConstantFeatures, DomainFeatures, InputMode, PolynomialFeatures,
                         SourceOneHotFeatures, build_agent_inputs)

__all__ = ["GSACConfig", "GSACResult", "GSACTrainer", "RunStreams", "run_generators", "train_gsac"]

logger = logging.getLogger(__name__)

CriticMode = Literal["persistent", "reset"]
FeatureKind = Literal["constant", "linear", "quadratic", "source_onehot"]
CriticDomain = Literal["auto", "always", "never"]
CriticTiming = Literal["current", "post_transition"]
ActorKind = Literal["advantage", "reference"]
RngLike = int | np.random.SeedSequence | np.random.Generator | None


@dataclass(frozen=True)
class GSACConfig:
    """Hyper-parameters of the localized actor-critic.

    ``gamma`` and ``horizon`` may be left ``None`` and are then filled by :meth:`resolved`
    when a trainer is built, from the environment's declared ``default_gamma`` /
    ``default_horizon`` (built-in systems declare them; any other system must be given
    them, an error says so).

    Attributes
    ----------
    kappa : int
        Neighbourhood radius of the critic and of the actor's gradient.
    gamma : float or None
        Discount factor.
    horizon : int or None
        ``T``: each outer iteration rolls out ``T + 1`` steps and makes ``T`` TD updates.
    actor : "advantage" or "reference"
        ``"advantage"`` (default): advantages ``Q_j - b_j`` (running baseline) over ``N_i^kappa``,
        running reward normalisation, step ``actor_lr / H / sqrt(k + 1)`` with the
        effective horizon ``H = sum_t gamma^t`` (:mod:`rl.advantage`). ``"reference"``:
        the reference SAC actor, raw ``(1/n) sum_j Q_j`` and step ``actor_lr / sqrt(k + 1)``.
    reward_norm : bool
        Advantage actor only: normalise rewards by their running mean and standard
        deviation before the critics see them (makes training invariant to the
        rewards' offset and scale).
    inputs : "acr" or "truncation"
        Input mode (see :func:`rl.features.build_agent_inputs`).
    critic : "persistent" or "reset"
        Persistent table with ``1/sqrt((k mod restart) T + t)`` steps (reference SAC)
        or a table reset every outer iteration with steps ``critic_h / (t + critic_t0)``
        (paper's Algorithm 1).
    critic_h, critic_t0 : float
        Step size constants of the ``"reset"`` critic.
    actor_lr : float
        ``eta``. The advantage actor divides it by the effective horizon
        ``H = sum_{t=0}^{T} gamma^t`` (one rule for every system, see ``docs/gsac.md``).
    restart : int or None
        Step-size restart period (reference: 100). None: no restart (``eta/sqrt(k+1)``
        and ``1/sqrt(k T + t)``).
    features : "constant", "linear", "quadratic" or "source_onehot"
        Domain features of the actor: ``[1]`` (SAC), ``[1, w]`` (GSAC default),
        ``[1, w, w^2]``, or the one-hot code of the nearest source domain (SAC-MTL).
    critic_domain : "auto", "always" or "never"
        Whether the critic key holds the domain code (``"auto"``: when the features
        depend on the domain).
    critic_table : "auto", "dense" or "hashed"
        Critic key backend (see :mod:`rl.critics`).
    dense_limit : int
        Largest per-run key space stored densely under ``critic_table="auto"``.
    critic_memory_mb : float or None
        Memory bound of a hashed persistent critic's table (all agents and runs): at most
        :func:`rl.critics.critic_max_entries` keys are kept, evicting the values nearest 0
        first (see :class:`rl.critics.TabularCritic`). None: unbounded (about 0.9 keys per
        agent per iteration on the wireless benchmark).
    critic_timing : "current" or "post_transition"
        ``"current"``: critic key ``x_t = (s_t, a_t)`` (the algorithm). ``"post_transition"``:
        ``x_t = (s_{t+1}, a_t)``, what the reference code computes in effect (its
        environment updates the state array in place before the key is read).
    """

    kappa: int = 1
    gamma: float | None = None
    horizon: int | None = None
    inputs: InputMode = "acr"
    critic: CriticMode = "persistent"
    critic_h: float = 1.0
    critic_t0: float = 1.0
    actor_lr: float = 5.0
    restart: int | None = 100
    features: FeatureKind = "linear"
    critic_domain: CriticDomain = "auto"
    critic_table: CriticTable = "auto"
    dense_limit: int = 1 << 20
    critic_timing: CriticTiming = "current"
    actor: ActorKind = "advantage"
    reward_norm: bool = True
    critic_memory_mb: float | None = 512.0

    def __post_init__(self) -> None:
        choices = {"inputs": ("acr", "truncation"), "critic": ("persistent", "reset"),
                   "features": ("constant", "linear", "quadratic", "source_onehot"),
                   "critic_domain": ("auto", "always", "never"), "critic_table": ("auto", "dense", "hashed"),
                   "critic_timing": ("current", "post_transition"), "actor": ("advantage", "reference")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("kappa",):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        for name in ("horizon", "dense_limit"):
            v = getattr(self, name)
            if v is None and name == "horizon":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        bad_restart = isinstance(self.restart, bool) or not isinstance(self.restart, (int, np.integer))
        if self.restart is not None and (bad_restart or self.restart < 1):
            raise ValueError(f"restart must be an integer >= 1 or None, got {self.restart!r}")
        if self.gamma is not None and not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {self.gamma!r}")
        if self.critic_memory_mb is not None and (isinstance(self.critic_memory_mb, bool)
                                                  or not float(self.critic_memory_mb) >= 1.0 / 1024):
            raise ValueError(f"critic_memory_mb must be >= 1/1024 (1 KB) or None, got {self.critic_memory_mb!r}")
        if not isinstance(self.reward_norm, (bool, np.bool_)):
            raise ValueError(f"reward_norm must be True or False, got {self.reward_norm!r}")
        for name in ("critic_h", "critic_t0", "actor_lr"):
            if not float(getattr(self, name)) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    @classmethod
    def reference_sac(cls, **changes: Any) -> "GSACConfig":
        """The reference tabular SAC: truncation inputs, constant features, persistent critic,
        reference actor, gamma 0.7, T 10, eta 5 (the values of the reference curve)."""
        base = dict(inputs="truncation", features="constant", critic="persistent", actor="reference",
                    gamma=0.7, horizon=10)
        base.update(changes)
        return cls(**base)

    def resolved(self, env=None) -> "GSACConfig":
        """A copy with ``gamma`` and ``horizon`` filled (see the class docstring).

        Raises
        ------
        ValueError
            ``gamma`` or ``horizon`` is None and ``env`` declares no default for it.

        Examples
        --------
        >>> from rl.envs import WirelessAccessEnv
        >>> cfg = GSACConfig().resolved(WirelessAccessEnv(2, 2, users_per_vertex=1))
        >>> cfg.gamma, cfg.horizon
        (0.7, 10)
        """
        changes: dict[str, Any] = {}
        for name in ("gamma", "horizon"):
            if getattr(self, name) is None:
                value = getattr(env, f"default_{name}", None)
                if value is None:
                    kind = type(env).__name__ if env is not None else "no environment"
                    raise ValueError(f"GSACConfig.{name} is not set and {kind} declares no default_{name}; "
                                     f"give it from your system (for example GSACConfig({name}=...), or "
                                     f"--{name} on the command line); it is never taken from another system")
                changes[name] = value
        return dataclasses.replace(self, **changes) if changes else self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GSACConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``.

        A dict without ``actor`` comes from before the advantage actor existed: it is read
        as ``actor="reference"`` (how it was trained).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown GSACConfig field(s) {unknown}; known: {sorted(known)}")
        if "actor" not in data:
            data = {**data, "actor": "reference"}
        return cls(**data)


@dataclass
class GSACResult:
    """Outcome of :meth:`GSACTrainer.run` / :func:`train_gsac`.

    Attributes
    ----------
    config : GSACConfig
    policies : list of LocalizedSoftmaxPolicy
        Final policy of each run (``w_hat`` set to the evaluation estimate when given,
        else the first source's).
    iterations : int
        Outer iterations done by each run (cumulative over calls).
    eval_iterations : int array, shape (E,)
        Iteration counts at which the policies were evaluated.
    eval_returns, eval_std_err : float arrays, shape (R, E)
        Mean discounted return per agent (and its standard error) of each run.
    train_seconds, eval_seconds : float
        Wall-clock time spent training and evaluating in this call.
    critic_entries : int
        Keys stored by the critic (all runs) at the end.
    """

    config: GSACConfig
    policies: list[LocalizedSoftmaxPolicy]
    iterations: int
    eval_iterations: np.ndarray
    eval_returns: np.ndarray
    eval_std_err: np.ndarray
    train_seconds: float
    eval_seconds: float
    critic_entries: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (policies excluded; use their ``state_dict``)."""
        return {"config": self.config.to_dict(), "iterations": int(self.iterations),
                "eval_iterations": self.eval_iterations.tolist(), "eval_returns": self.eval_returns.tolist(),
                "eval_std_err": self.eval_std_err.tolist(), "train_seconds": self.train_seconds,
                "eval_seconds": self.eval_seconds, "critic_entries": int(self.critic_entries),
                "n_runs": len(self.policies), **self.extra}


# ------------------------------------------------------------------ randomness
class RunStreams:
    """Generator-like uniform streams, one per run, served row-block by row-block.

    Run ``r``'s numbers are exactly the output of ``generators[r].random()`` in order;
    a draw of shape ``(R * b, ...)`` hands each run the next ``b * prod(...)`` numbers
    of its own stream (rows ``r*b .. r*b + b - 1``). A run therefore sees the same
    numbers whether it is advanced alone (``R = 1``) or together with others. The
    streams are prefetched in blocks (``generators[r].random(block)``), which yields the
    same numbers as drawing them one by one.

    Other distributions are derived from the uniforms by inversion: ``integers``
    (``low + floor(u * (high - low))``), ``uniform``, ``standard_normal`` and ``normal``
    (``scipy.special.ndtri``), with scalar parameters. Environments trained through
    :class:`GSACTrainer` must draw arrays whose first axis is the batch through these
    methods.

    >>> gens = [np.random.default_rng(s) for s in (1, 2)]
    >>> x = RunStreams(gens).random((4, 3))
    >>> bool(np.array_equal(x[2:], np.random.default_rng(2).random((2, 3))))
    True
    """

    def __init__(self, generators: Sequence[np.random.Generator], *, block: int = 8192) -> None:
        self.generators = list(generators)
        self.n_runs = len(self.generators)
        self.block = int(block)
        self._buffer = np.empty((self.n_runs, 0))
        self._pos = 0

    def _take(self, size) -> tuple[np.ndarray, tuple[int, ...]]:
        shape = (int(size),) if isinstance(size, (int, np.integer)) else tuple(size) if size is not None else ()
        if not shape or shape[0] % self.n_runs:
            raise ValueError(f"a draw of size {size!r} cannot be split over {self.n_runs} runs; batched "
                             "environments must draw arrays whose first axis is the batch")
        per_run = shape[0] // self.n_runs
        for extent in shape[1:]:
            per_run *= extent
        pos = self._pos
        if pos + per_run > self._buffer.shape[1]:
            fresh = max(self.block, per_run)
            rest = self._buffer[:, pos:]
            self._buffer = np.concatenate([rest, np.stack([g.random(fresh) for g in self.generators])], axis=1)
            pos = 0
        self._pos = pos + per_run
        return self._buffer[:, pos:pos + per_run].reshape(shape), shape

    def random(self, size=None, dtype=np.float64) -> np.ndarray:
        if np.dtype(dtype) != np.float64:
            raise ValueError("RunStreams.random supports float64 only")
        return self._take(size)[0].copy()

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False) -> np.ndarray:
        _scalar_params(low, high)
        if high is None:
            low, high = 0, low
        if endpoint:
            high = high + 1
        u, _ = self._take(size)
        return (low + np.floor(u * (high - low))).astype(dtype)

    def uniform(self, low=0.0, high=1.0, size=None) -> np.ndarray:
        _scalar_params(low, high)
        return low + (high - low) * self._take(size)[0]

    def standard_normal(self, size=None, dtype=np.float64) -> np.ndarray:
        from scipy.special import ndtri

        return ndtri(self._take(size)[0]).astype(dtype)

    def normal(self, loc=0.0, scale=1.0, size=None) -> np.ndarray:
        _scalar_params(loc, scale)
        return loc + scale * self.standard_normal(size)

    def state(self) -> dict[str, Any]:
        """JSON-ready state: the generators' states, the unread prefetched numbers' count."""
        return {"generators": [g.bit_generator.state for g in self.generators],
                "buffer": self._buffer[:, self._pos:].tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state`."""
        for g, s in zip(self.generators, state["generators"]):
            g.bit_generator.state = s
        self._buffer = np.asarray(state["buffer"], dtype=np.float64).reshape(self.n_runs, -1)
        self._pos = 0

    def __getattr__(self, name: str):
        raise AttributeError(f"RunStreams does not support Generator.{name}; environments trained by "
                             "GSACTrainer must draw via random/integers/uniform/standard_normal/normal")


def _scalar_params(*params) -> None:
    for p in params:
        if p is not None and np.ndim(p) != 0:
            raise ValueError("RunStreams supports only scalar distribution parameters")


def run_generators(rng: RngLike | Sequence[RngLike], n_runs: int | None = None) -> list[np.random.Generator]:
    """One generator per run.

    A sequence gives one run per entry (``default_rng`` of each); a single seed with
    ``n_runs`` spawns ``n_runs`` independent children (``SeedSequence.spawn``); a
    single seed without ``n_runs`` is one run.

    >>> len(run_generators(0, 3)), len(run_generators([1, 2]))
    (3, 2)
    """
    if isinstance(rng, (list, tuple)):
        gens = [_generator(r) for r in rng]
        if n_runs is not None and n_runs != len(gens):
            raise ValueError(f"n_runs={n_runs} but {len(gens)} seeds were given")
        if not gens:
            raise ValueError("rng must name at least one run")
        return gens
    if n_runs is None:
        return [_generator(rng)]
    if isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
        raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}")
    if isinstance(rng, np.random.Generator):
        return rng.spawn(n_runs)
    seq = _fresh_seed_sequence(rng) if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
    return [np.random.default_rng(s) for s in seq.spawn(n_runs)]


def _fresh_seed_sequence(seq: np.random.SeedSequence) -> np.random.SeedSequence:
    """A copy of ``seq`` with no children spawned yet: the same SeedSequence always
    yields the same runs, however often it was used before."""
    return np.random.SeedSequence(seq.entropy, spawn_key=seq.spawn_key, pool_size=seq.pool_size)


def _generator(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(_fresh_seed_sequence(rng))
    return np.random.default_rng(rng)


# ------------------------------------------------------------------ trainer
class GSACTrainer:
    """Vectorised localized actor-critic over ``n_runs`` independent runs.

    Parameters
    ----------
    env : NetworkedEnv or duck-typed equivalent
        Training environment (the true one or a discovered model): needs ``spec``,
        ``n_agents``, ``action_counts``, ``domain_factor``, and batched
        ``reset(B, rng, domain_factor=)`` / ``step(states, actions, rng, domain_factor=)``.
    graph : FactoredGraph
        Graph defining the inputs (true or discovered; in truncation mode only its
        spec matters).
    config : GSACConfig
    domain_factors : array, shape (M, n) or (M,), optional
        Factors passed to the environment for each source domain (a 1-d array gives
        one scalar factor per domain, shared by all agents). Default: the
        environment's own (one domain).
    w_hat : array, shape (M, n) or (M,), optional
        Estimated factors the agents see in each source domain. Default: ``domain_factors``.
    features : DomainFeatures, optional
        Overrides ``config.features``.
    rng : seed, Generator, or a sequence of them (one per run)
    n_runs : int, optional
        With a single seed, spawn this many independent runs.
    initial_policy : LocalizedSoftmaxPolicy or array, optional
        Starting parameters (shape ``(n, S, F, A)`` or ``(R, n, S, F, A)``); default zeros
        (uniform policies).
    engine : "auto", "numpy" or "numba"
        ``"numpy"``: the reference array code; ``"numba"``: compiled kernels
        (:mod:`rl.engine`), the same numbers bit for bit; ``"auto"``: numba when it imports.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> trainer = GSACTrainer(env, env.true_graph(), GSACConfig.reference_sac(), rng=[0, 1])
    >>> res = trainer.run(20, eval_every=10, eval_episodes=50)
    >>> res.eval_returns.shape, res.eval_iterations.tolist()
    ((2, 3), [0, 10, 20])
    """

    def __init__(self, env, graph: FactoredGraph, config: GSACConfig | None = None, *,
                 domain_factors: np.ndarray | None = None, w_hat: np.ndarray | None = None,
                 features: DomainFeatures | None = None, rng: RngLike | Sequence[RngLike] = None,
                 n_runs: int | None = None, initial_policy: LocalizedSoftmaxPolicy | np.ndarray | None = None,
                 engine: Engine = "auto") -> None:
        self.engine = resolve_engine(engine)
        config = GSACConfig() if config is None else config
        if not isinstance(config, GSACConfig):
            raise TypeError(f"config must be a GSACConfig, got {type(config).__name__}")
        config = config.resolved(env)
        if not isinstance(graph, FactoredGraph):
            raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
        if graph.spec.n_agents != env.n_agents or graph.spec.n_state != env.spec.n_state:
            raise ValueError("graph and env describe different systems (agent or state counts differ)")
        self.env, self.graph, self.config = env, graph, config
        n = env.n_agents
        self.n_agents = n
        self.domain_factors = self._factor_table(env.domain_factor[None] if domain_factors is None else domain_factors,
                                                 "domain_factors")
        self.w_hat = self.domain_factors.copy() if w_hat is None else self._factor_table(w_hat, "w_hat")
        if self.w_hat.shape != self.domain_factors.shape:
            raise ValueError(f"w_hat has {self.w_hat.shape[0]} domains but domain_factors has "
                             f"{self.domain_factors.shape[0]}")
        self.n_sources = self.domain_factors.shape[0]
        self._gens = run_generators(rng, n_runs)
        self.n_runs = len(self._gens)
        pairs = [g.spawn(2) for g in self._gens]
        self._train_gens = [p[0] for p in pairs]
        self._eval_gens = [p[1] for p in pairs]
        self._streams = RunStreams(self._train_gens)
        # one environment copy per source: stepping without a domain_factor argument is
        # cheaper whenever every run is in the same source domain
        self._source_envs = [env.with_domain_factor(w) for w in self.domain_factors]

        # inputs, features, critic
        self.features = features if features is not None else self._make_features(config.features)
        if config.critic_domain == "auto":
            critic_domain = not isinstance(self.features, ConstantFeatures)
        else:
            critic_domain = config.critic_domain == "always"
        self.inputs, self._domain_codes = build_agent_inputs(graph, kappa=config.kappa, mode=config.inputs,
                                                             critic_domain=critic_domain, source_w_hat=self.w_hat)
        if features is None and isinstance(self.features, PolynomialFeatures):
            self.features = PolynomialFeatures(n, degree=self.features.degree, agents=self.inputs.domain_agents)
        self.critic = TabularCritic(self.inputs.critic_columns, self.inputs.critic_cardinality, n_runs=self.n_runs,
                                    persistent=config.critic == "persistent", table=config.critic_table,
                                    dense_limit=config.dense_limit,
                                    max_entries=None if config.critic_memory_mb is None
                                    else critic_max_entries(config.critic_memory_mb))
        self.advantage: AdvantageWeights | None = None
        if config.actor == "advantage":
            self.advantage = AdvantageWeights(self.inputs.neighborhoods, n_runs=self.n_runs,
                                              reward_norm=config.reward_norm)
        # actor
        self.action_counts = np.asarray(env.action_counts, dtype=np.int64)
        n_actions = int(self.action_counts.max())
        self._pcols, self._pstrides, n_states = policy_layout(self.inputs.policy_columns,
                                                              self.inputs.policy_cardinality)
        n_feat = int(self.features.n_features)
        self.theta = np.zeros((self.n_runs, n, n_states, n_feat, n_actions))
        if initial_policy is not None:
            init = (initial_policy.theta if isinstance(initial_policy, LocalizedSoftmaxPolicy)
                    else np.asarray(initial_policy))
            try:
                self.theta[...] = init
            except ValueError:
                raise ValueError(f"initial_policy has shape {np.shape(init)}; expected {self.theta.shape[1:]} "
                                 f"or {self.theta.shape}") from None
        self._mask = action_mask(self.action_counts, n_actions)
        self._code_matrix = None
        if self.n_runs * env.spec.n_state * n <= 2048:
            self._code_matrix = np.zeros((env.spec.n_state, n), dtype=np.int64)
            for i in range(n):
                for col, stride in zip(self._pcols[i], self._pstrides[i]):
                    self._code_matrix[col, i] += stride
        self._row_base = (np.arange(self.n_runs)[:, None] * n + np.arange(n)[None, :]) * n_states
        self._grad_base = (((self._row_base[:, :, None, None]) * n_feat + np.arange(n_feat)[None, None, :, None])
                           * n_actions + np.arange(n_actions)[None, None, None, :])
        nb_width = max(len(nb) for nb in self.inputs.neighborhoods)
        self._nbr = np.full((n, nb_width), n, dtype=np.int64)
        for i, nb in enumerate(self.inputs.neighborhoods):
            self._nbr[i, :len(nb)] = nb
        self.iteration = 0
        T = config.horizon
        self._discount = config.gamma ** np.arange(T + 1, dtype=np.float64)
        # the advantage actor's step rule: eta / H, H = sum_t gamma^t (see rl.advantage)
        self._actor_scale = (1.0 / effective_horizon(config.gamma, T) if config.actor == "advantage" else 1.0)
        self._numba = NumbaState(self) if self.engine == "numba" else None

    # -------------------------------------------------------------- set-up
    def _factor_table(self, value, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        n = self.n_agents
        if arr.ndim == 1:                      # one scalar factor per domain
            arr = np.repeat(arr[:, None], n, axis=1)
        if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] < 1:
            raise ValueError(f"{name} must have shape (M, {n}) (one row per source domain), got {np.shape(value)}")
        return arr

    def _make_features(self, kind: str) -> DomainFeatures:
        if kind == "constant":
            return ConstantFeatures()
        if kind in ("linear", "quadratic"):
            return PolynomialFeatures(self.n_agents, degree=1 if kind == "linear" else 2)
        return SourceOneHotFeatures(self.w_hat)

    # -------------------------------------------------------------- training
    def _step_sizes(self, k: int) -> tuple[np.ndarray, float]:
        cfg, T = self.config, self.config.horizon
        kk = k if cfg.restart is None else k % cfg.restart
        t = np.arange(1, T + 1, dtype=np.float64)
        if cfg.critic == "persistent":
            alphas = 1.0 / np.sqrt(kk * T + t)
        else:
            alphas = cfg.critic_h / (t - 1.0 + cfg.critic_t0)
        return alphas, cfg.actor_lr * self._actor_scale / math.sqrt(kk + 1)

    def _iterate_once(self) -> None:
        if self._numba is not None:
            iterate_numba(self)
            return
        cfg, env = self.config, self.env
        R, n, T = self.n_runs, self.n_agents, cfg.horizon
        streams = self._streams
        # 1. source domain of each run
        if self.n_sources > 1:
            m = streams.integers(self.n_sources, size=R)
        else:
            m = np.zeros(R, dtype=np.int64)
        w_env, w_hat = self.domain_factors[m], self.w_hat[m]
        phi = self.features(w_hat)                                        # (R, n, F)
        probs_tab, cdf_tab = softmax_tables(self.theta, phi, self._mask)   # (R, n, S, A)
        n_actions = probs_tab.shape[-1]
        cdf_rows = cdf_tab.reshape(-1, n_actions)
        # 2. rollout of T + 1 steps
        post = cfg.critic_timing == "post_transition"
        if R == 1 or (m == m[0]).all():
            env, w_env = self._source_envs[int(m[0])], None
        states = env.reset(R, streams, domain_factor=w_env)
        n_state = states.shape[1]
        state_buf = np.empty((T + 2, R, n_state), dtype=np.int64)
        act_buf = np.empty((T + 1, R, n), dtype=np.int64)
        rew_buf = np.empty((T + 1, R, n))
        code_buf = np.empty((T + 1, R, n), dtype=np.int64)
        for t in range(T + 1):
            state_buf[t] = states
            codes = self._policy_codes(states)
            code_buf[t] = codes
            u = streams.random((R, n))
            actions = sample_from_cdf(cdf_rows[self._row_base + codes], u, self.action_counts)
            act_buf[t] = actions
            if t < T or post:
                states, rewards = env.step(states, actions, streams, domain_factor=w_env)
                rew_buf[t] = rewards
        if post:
            state_buf[T + 1] = states
        # 3. critic
        key_states = state_buf[1:] if post else state_buf[:T + 1]
        dom = np.broadcast_to(self._domain_codes[m][None], (T + 1, R, n))
        rows = np.concatenate([key_states, act_buf, dom], axis=-1)
        slots = self.critic.slots(rows)
        alphas, eta = self._step_sizes(self.iteration)
        targets = rew_buf if self.advantage is None else self.advantage.critic_targets(rew_buf, T)
        self.critic.td_sweep(slots, targets, gamma=cfg.gamma, alphas=alphas)
        q = self.critic.values[slots]                                      # (T+1, R, n)
        self.critic.commit()
        # 4. actor
        self._actor_update(q, eta, probs_tab, phi, code_buf, act_buf)
        self.iteration += 1

    def _actor_update(self, q: np.ndarray, eta: float, probs_tab: np.ndarray, phi: np.ndarray, code_buf: np.ndarray, act_buf: np.ndarray) -> None:
        """The actor step: ``theta_i += eta * sum_t weight_i(t) * phi_i * grad_logits log pi_i``.

        ``weight_i(t)`` is ``gamma^t (1/n) sum_{j in N_i} Q_j(x^j_t)`` for the reference
        actor and ``gamma^t (1/|N_i|) sum_{j in N_i} (Q_j - b_j)`` for the advantage actor
        (:meth:`rl.advantage.AdvantageWeights.weights`, which also updates the running
        baselines ``b_j``). Shapes: ``q``, ``code_buf``, ``act_buf`` ``(T+1, R, n)``;
        ``probs_tab`` ``(R, n, S, A)``; ``phi`` ``(R, n, F)``.
        """
        T1, R, n = q.shape
        if self.advantage is None:
            q_pad = np.concatenate([q, np.zeros((T1, R, 1))], axis=-1)
            weight = q_pad[..., self._nbr].sum(axis=-1) * (self._discount / n)[:, None, None]
        else:
            weight = self.advantage.weights(q, discount=self._discount)
        n_actions = probs_tab.shape[-1]
        pi = probs_tab.reshape(-1, n_actions)[self._row_base + code_buf]   # (T+1, R, n, A)
        score = (np.arange(n_actions) == act_buf[..., None]) - pi          # d log pi / d logits
        contrib = weight[..., None, None] * phi[None, :, :, :, None] * score[..., None, :]
        n_feat = phi.shape[-1]
        index = self._grad_base[None] + (code_buf * (n_feat * n_actions))[..., None, None]
        grad = np.bincount(index.ravel(), weights=contrib.ravel(), minlength=self.theta.size)
        self.theta += eta * grad.reshape(self.theta.shape)

    def _policy_codes(self, states: np.ndarray) -> np.ndarray:
        if self._code_matrix is not None:          # small systems: one integer product is cheapest
            return states @ self._code_matrix
        return policy_codes(states, self._pcols, self._pstrides)

    def iterate(self, iterations: int) -> None:
        """Advance every run by ``iterations`` outer iterations (no evaluation)."""
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
        for _ in range(int(iterations)):
            self._iterate_once()

    # -------------------------------------------------------------- policies
    def policy(self, run: int = 0, *, w_hat: np.ndarray | None = None) -> LocalizedSoftmaxPolicy:
        """A copy of run ``run``'s current policy (``w_hat`` default: the first source's)."""
        if not 0 <= run < self.n_runs:
            raise ValueError(f"run must be in 0..{self.n_runs - 1}, got {run}")
        return LocalizedSoftmaxPolicy(self.theta[run], self.inputs.policy_columns, self.inputs.policy_cardinality,
                                      self.action_counts, self.features,
                                      w_hat=self.w_hat[0] if w_hat is None else w_hat)

    def policies(self, *, w_hat: np.ndarray | None = None) -> list[LocalizedSoftmaxPolicy]:
        """Copies of every run's current policy."""
        return [self.policy(r, w_hat=w_hat) for r in range(self.n_runs)]

    def evaluate(self, env=None, *, episodes: int = 400, w_hat: np.ndarray | None = None,
                 domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean discounted return per agent over ``horizon`` steps of each run's policy.

        Uses :func:`rl.evaluation.discounted_return` with each run's own evaluation
        stream (independent of the training streams). Returns ``(means, std_errs)``,
        each of shape ``(R,)``.
        """
        from rl.evaluation import discounted_return  # local: evaluation imports scipy.stats

        env = self.env if env is None else env
        if w_hat is None:
            w_hat = env.domain_factor if domain_factor is None else domain_factor
        means, errs = np.empty(self.n_runs), np.empty(self.n_runs)
        for r in range(self.n_runs):
            res = discounted_return(env, self.policy(r, w_hat=w_hat), gamma=self.config.gamma,
                                    horizon=self.config.horizon, episodes=episodes, rng=self._eval_gens[r],
                                    batch_size=episodes, domain_factor=domain_factor)
            means[r], errs[r] = res.mean, res.std_err
        return means, errs

    def run(self, iterations: int, *, eval_every: int = 0, eval_episodes: int = 400, eval_env=None,
            eval_w_hat: np.ndarray | None = None, eval_domain_factor: np.ndarray | None = None,
            progress: bool = False, callback: Callable[["GSACTrainer"], None] | None = None,
            on_eval: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> GSACResult:
        """Train for ``iterations`` outer iterations, evaluating every ``eval_every`` of them.

        Evaluation (when ``eval_every > 0``) happens before the first iteration if the
        trainer is fresh and after every iteration count divisible by ``eval_every``
        (the reference schedule: 0, 2000, 4000, ...). After each evaluation,
        ``on_eval(iteration, means, std_errs)`` receives the per-run results (e.g. a
        :meth:`causalnet.progress_log.ProgressLog.training_hook`), then
        ``callback(trainer)`` is called. Returns a :class:`GSACResult`.
        """
        if isinstance(eval_every, bool) or not isinstance(eval_every, (int, np.integer)) or eval_every < 0:
            raise ValueError(f"eval_every must be an integer >= 0, got {eval_every!r}")
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
        eval_iters, eval_means, eval_errs = [], [], []
        eval_seconds = 0.0

        def do_eval() -> None:
            nonlocal eval_seconds
            start = time.perf_counter()
            mean, err = self.evaluate(eval_env, episodes=eval_episodes, w_hat=eval_w_hat,
                                      domain_factor=eval_domain_factor)
            eval_seconds += time.perf_counter() - start
            eval_iters.append(self.iteration)
            eval_means.append(mean)
            eval_errs.append(err)
            logger.info("iteration %d: discounted return %s", self.iteration, np.round(mean, 4).tolist())
            if on_eval is not None:
                on_eval(self.iteration, mean, err)
            if callback is not None:
                callback(self)

        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=int(iterations), desc="gsac", unit="it")
        start = time.perf_counter()
        if eval_every and self.iteration == 0:
            do_eval()
        for _ in range(int(iterations)):
            self._iterate_once()
            if bar is not None:
                bar.update(1)
            if eval_every and self.iteration % eval_every == 0:
                do_eval()
        if bar is not None:
            bar.close()
        total = time.perf_counter() - start
        w_final = eval_w_hat if eval_w_hat is not None else None
        return GSACResult(
            config=self.config, policies=self.policies(w_hat=w_final), iterations=self.iteration,
            eval_iterations=np.asarray(eval_iters, dtype=np.int64),
            eval_returns=np.stack(eval_means, axis=1) if eval_means else np.zeros((self.n_runs, 0)),
            eval_std_err=np.stack(eval_errs, axis=1) if eval_errs else np.zeros((self.n_runs, 0)),
            train_seconds=total - eval_seconds, eval_seconds=eval_seconds,
            critic_entries=self.critic.n_entries())

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything that evolves during training: ``{"arrays": ..., "metadata": ...}``.

        Arrays: ``theta`` and the critic's arrays (prefixed ``critic_``); metadata
        (JSON-ready): iteration, config, and the bit-generator states of every run.
        """
        critic = self.critic.state_dict()
        arrays = {"theta": self.theta.copy(), **{f"critic_{k}": v for k, v in critic.items() if k != "table"}}
        meta = {"iteration": int(self.iteration), "config": self.config.to_dict(), "critic_table": critic["table"],
                "n_runs": self.n_runs,
                "train_rng": self._streams.state(),
                "eval_rng": [g.bit_generator.state for g in self._eval_gens]}
        if self.advantage is not None:
            adv_arrays, adv_meta = self.advantage.state_dict()
            arrays.update({f"advantage_{k}": v for k, v in adv_arrays.items()})
            meta["advantage"] = adv_meta
        return {"arrays": arrays, "metadata": meta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` into a trainer built with the same env, graph and config."""
        meta, arrays = state["metadata"], state["arrays"]
        if meta["config"] != self.config.to_dict():
            raise ValueError("the saved state was produced with a different GSACConfig")
        if meta["n_runs"] != self.n_runs:
            raise ValueError(f"the saved state has {meta['n_runs']} runs, this trainer {self.n_runs}")
        theta = np.asarray(arrays["theta"], dtype=np.float64)
        if theta.shape != self.theta.shape:
            raise ValueError(f"saved theta has shape {theta.shape}, expected {self.theta.shape}")
        self.theta = theta.copy()
        self.critic.load_state_dict({"table": meta["critic_table"],
                                     **{k[len("critic_"):]: v for k, v in arrays.items() if k.startswith("critic_")}})
        if self.advantage is not None:
            self.advantage.load_state_dict({k[len("advantage_"):]: v for k, v in arrays.items()
                                            if k.startswith("advantage_")}, meta["advantage"])
        self._streams.set_state(meta["train_rng"])
        for g, s in zip(self._eval_gens, meta["eval_rng"]):
            g.bit_generator.state = s
        self.iteration = int(meta["iteration"])


def train_gsac(env, graph: FactoredGraph, config: GSACConfig | None = None, *, iterations: int,
               domain_factors: np.ndarray | None = None, w_hat: np.ndarray | None = None,
               features: DomainFeatures | None = None, rng: RngLike | Sequence[RngLike] = None,
               n_runs: int | None = None, initial_policy: LocalizedSoftmaxPolicy | np.ndarray | None = None,
               eval_every: int = 0, eval_episodes: int = 400, eval_env=None, eval_w_hat: np.ndarray | None = None,
               eval_domain_factor: np.ndarray | None = None, progress: bool = False) -> GSACResult:
    """Build a :class:`GSACTrainer` and :meth:`~GSACTrainer.run` it (see both for parameters).

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv(2, 2, users_per_vertex=1)
    >>> res = train_gsac(env, env.true_graph(), GSACConfig(), iterations=10,
    ...                  domain_factors=[0.2, 0.8], rng=0, eval_every=10, eval_episodes=20,
    ...                  eval_env=env.with_domain_factor(0.5))
    >>> res.iterations, res.policies[0].w_hat.tolist()
    (10, [0.5, 0.5, 0.5, 0.5])
    """
    trainer = GSACTrainer(env, graph, config, domain_factors=domain_factors, w_hat=w_hat, features=features,
                          rng=rng, n_runs=n_runs, initial_policy=initial_policy)
    if eval_w_hat is None and eval_env is not None:
        eval_w_hat = eval_env.domain_factor if eval_domain_factor is None else eval_domain_factor
    return trainer.run(iterations, eval_every=eval_every, eval_episodes=eval_episodes, eval_env=eval_env,
                       eval_w_hat=eval_w_hat, eval_domain_factor=eval_domain_factor, progress=progress)
