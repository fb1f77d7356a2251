"""Exact references for linear-quadratic control: Riccati optima and exact policy costs.

Every function works on a :class:`rl.envs.lqr.LinearSystem` ``x' = A x + B u + b +
noise`` (noise covariance ``W``, initial state ``N(mu0, S0)``) with cost per step
``x'Qx + u'Ru``, and on **affine feedback** policies ``u = K x + k`` (the sign is
absorbed in ``K``). Criteria:

* **discounted** (``0 < gamma < 1``): ``J = E sum_{t>=0} gamma^t (x_t'Qx_t + u_t'Ru_t)``;
* **finite horizon** ``T``: the same sum over ``t = 0..T-1`` (no terminal cost);
* **average** (``gamma = 1``): ``lim (1/T) E sum_{t<T} (...)``, independent of ``x_0``.

The affine load term is handled exactly by augmenting the state with a constant
``1``: ``z = [x; 1]``, ``z' = [[A, b], [0, 1]] z + [B; 0] u``. With discounting the
constant mode has modulus ``sqrt(gamma) < 1``, so :func:`scipy.linalg.solve_discrete_are`
applies to the scaled augmented pair and returns the optimal affine controller
(``optimal_discounted``). The exact cost of any affine policy is a discrete
Lyapunov equation (``policy_cost``); its gradient with respect to the gain has the
closed form ``2 (R G + gamma B'P F) Y`` used by :func:`best_decentralized_feedback`
(L-BFGS over the entries a sparsity pattern allows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize

from rl.envs.lqr import LinearSystem

__all__ = ["DOUBLING_MIN_SIZE", "AffinePolicy", "FiniteHorizonSolution", "average_cost",
           "best_decentralized_feedback", "finite_horizon_cost", "finite_horizon_riccati", "optimal_average",
           "optimal_discounted", "policy_cost", "solve_dare", "solve_dlyap"]


@dataclass(frozen=True)
class AffinePolicy:
    """A deterministic affine feedback ``u = K x + k``.

    Attributes
    ----------
    K : array, shape (n, m)
    k : array, shape (n,)
    cost : float
        Its exact cost under the criterion it was computed for (``nan`` if unknown).
    """

    K: np.ndarray
    k: np.ndarray
    cost: float = float("nan")

    def __call__(self, states: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Actions of a batch of states ``(B, m) -> (B, n)``."""
        return np.asarray(states, dtype=np.float64) @ self.K.T + self.k


@dataclass(frozen=True)
class FiniteHorizonSolution:
    """Time-varying optimal affine policy of a finite horizon: ``u_t = K[t] x + k[t]``."""

    K: np.ndarray
    k: np.ndarray
    cost: float


#: Systems larger than this use the doubling iterations (matrix products) instead of
#: scipy's Schur/QZ-based solvers, which are an order of magnitude slower at 1000 states.
DOUBLING_MIN_SIZE = 300


# ------------------------------------------------------------------ helpers
def solve_dlyap(a: np.ndarray, q: np.ndarray, *, tol: float = 1e-13, max_iter: int = 100) -> np.ndarray:
    """``X = a X a' + q`` for a stable ``a`` (spectral radius < 1).

    Small systems use :func:`scipy.linalg.solve_discrete_lyapunov`; larger ones Smith's
    squared iteration ``X <- X + A X A'``, ``A <- A^2`` (``X = sum_k a^k q a'^k`` after
    ``2^j`` terms), which needs only matrix products.

    >>> a = np.array([[0.5, 0.2], [0.0, 0.3]])
    >>> x = solve_dlyap(a, np.eye(2))
    >>> bool(np.allclose(x, a @ x @ a.T + np.eye(2)))
    True
    """
    a = np.asarray(a, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if a.shape[0] < DOUBLING_MIN_SIZE:
        return scipy.linalg.solve_discrete_lyapunov(a, q)
    x, ak = q.copy(), a.copy()
    for _ in range(int(max_iter)):
        if not np.all(np.isfinite(ak)) or np.max(np.abs(ak)) > 1e100:
            break
        step = ak @ x @ ak.T
        x = x + step
        ak = ak @ ak
        if np.max(np.abs(step)) <= tol * max(np.max(np.abs(x)), 1e-300):
            return 0.5 * (x + x.T)
    raise np.linalg.LinAlgError("Smith iteration did not converge: the matrix is not stable")


def solve_dare(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray, *, tol: float = 1e-12,
               max_iter: int = 100) -> np.ndarray:
    """Stabilising solution of ``X = a'Xa - a'Xb (r + b'Xb)^{-1} b'Xa + q``.

    Small systems use :func:`scipy.linalg.solve_discrete_are`; larger ones the
    structure-preserving doubling algorithm (``A_{k+1} = A_k (I + G_k H_k)^{-1} A_k``,
    ``G_{k+1} = G_k + A_k (I + G_k H_k)^{-1} G_k A_k'``, ``H_{k+1} = H_k + A_k' H_k
    (I + G_k H_k)^{-1} A_k`` from ``A_0 = a``, ``G_0 = b r^{-1} b'``, ``H_0 = q``; ``H_k -> X``
    quadratically), which needs only products and solves.

    >>> x = solve_dare(np.array([[1.0]]), np.array([[1.0]]), np.array([[1.0]]), np.array([[1.0]]))
    >>> round(float(x[0, 0]), 6)                   # the golden ratio
    1.618034
    """
    a, b, q, r = (np.asarray(m, dtype=np.float64) for m in (a, b, q, r))
    if a.shape[0] < DOUBLING_MIN_SIZE:
        return scipy.linalg.solve_discrete_are(a, b, q, r)
    n = a.shape[0]
    A, G, H = a.copy(), b @ np.linalg.solve(r, b.T), q.copy()
    eye = np.eye(n)
    for _ in range(int(max_iter)):
        W = eye + G @ H
        WA = np.linalg.solve(W, A)                 # (I + G H)^{-1} A
        WG = np.linalg.solve(W, G)                 # (I + G H)^{-1} G
        H_new = H + A.T @ H @ WA
        G = G + A @ WG @ A.T
        A = A @ WA
        done = np.max(np.abs(H_new - H)) <= tol * max(np.max(np.abs(H_new)), 1e-300)
        H = 0.5 * (H_new + H_new.T)
        if done:
            return H
    raise RuntimeError("the doubling iteration for the Riccati equation did not converge")


def _check_gamma(gamma: float, *, allow_one: bool = False) -> float:
    g = float(gamma)
    if not (0.0 < g < 1.0 or (allow_one and g == 1.0)):
        raise ValueError(f"gamma must lie in (0, 1{']' if allow_one else ')'}, got {gamma!r}")
    return g


def _augmented(sys: LinearSystem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(A_aug, B_aug, Q_aug, W_aug, Z0)`` of the state ``z = [x; 1]``."""
    m = sys.n_state
    A = np.zeros((m + 1, m + 1))
    A[:m, :m], A[:m, m], A[m, m] = sys.A, sys.offset, 1.0
    B = np.vstack([sys.B, np.zeros((1, sys.n_input))])
    Q = np.zeros((m + 1, m + 1))
    Q[:m, :m] = sys.Q
    W = np.zeros((m + 1, m + 1))
    W[:m, :m] = sys.noise_cov
    mu = np.append(sys.init_mean, 1.0)
    Z0 = np.outer(mu, mu)
    Z0[:m, :m] += sys.init_cov
    return A, B, Q, W, Z0


def _gain(policy: AffinePolicy | tuple[np.ndarray, np.ndarray], sys: LinearSystem) -> np.ndarray:
    K, k = (policy.K, policy.k) if isinstance(policy, AffinePolicy) else policy
    K = np.asarray(K, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if K.shape != (sys.n_input, sys.n_state) or k.shape != (sys.n_input,):
        raise ValueError(f"policy has K {K.shape} and k {k.shape}; expected ({sys.n_input}, {sys.n_state}) "
                         f"and ({sys.n_input},)")
    return np.hstack([K, k[:, None]])


def _discounted_terms(sys: LinearSystem, G: np.ndarray, gamma: float):
    """Closed-loop pieces of the discounted cost of ``u = G z``; None when unstable."""
    A, B, Q, W, Z0 = _augmented(sys)
    F = A + B @ G
    large = F.shape[0] >= DOUBLING_MIN_SIZE         # there a diverging Smith iteration is the stability test
    if not large and np.max(np.abs(np.linalg.eigvals(F))) * np.sqrt(gamma) >= 1.0 - 1e-12:
        return None
    M = Q + G.T @ sys.R @ G
    S = Z0 + gamma / (1.0 - gamma) * W
    try:
        P = solve_dlyap(np.sqrt(gamma) * F.T, M)
    except np.linalg.LinAlgError:
        return None
    return A, B, F, P, S


# ------------------------------------------------------------------ discounted
def policy_cost(sys: LinearSystem, policy: AffinePolicy | tuple[np.ndarray, np.ndarray], *,
                gamma: float) -> float:
    """Exact discounted cost ``E sum_t gamma^t (x'Qx + u'Ru)`` of ``u = K x + k`` (inf if it diverges).

    With ``z = [x; 1]`` and ``F = A_aug + B_aug [K, k]``, the value matrix ``P`` solves
    ``P = Q_aug + G'RG + gamma F'PF`` and the cost is ``tr(P (Z0 + gamma W/(1-gamma)))``.

    Examples
    --------
    >>> from rl.envs.lqr import NetworkedLQREnv
    >>> sys = NetworkedLQREnv(2, noise_std=0.0, init_std=1.0, domain_factor=0.0).linear_system()
    >>> # u = -0.9 x makes x(t+1) = 0.1 x1 + 0.1 x0 ...: cost above the optimum
    >>> policy_cost(sys, (-0.9 * np.eye(2), np.zeros(2)), gamma=0.9) > optimal_discounted(sys, gamma=0.9).cost
    True
    """
    gamma = _check_gamma(gamma)
    terms = _discounted_terms(sys, _gain(policy, sys), gamma)
    if terms is None:
        return float("inf")
    P, S = terms[3], terms[4]
    return float(np.sum(P * S))


def optimal_discounted(sys: LinearSystem, *, gamma: float) -> AffinePolicy:
    """Centralized optimal affine controller of the discounted criterion (augmented DARE).

    Solves ``scipy.linalg.solve_discrete_are(sqrt(gamma) A_aug, sqrt(gamma) B_aug, Q_aug, R)``;
    the optimal gain is ``G = -(R + gamma B'PB)^{-1} gamma B'PA`` on ``z = [x; 1]`` and the
    optimal cost ``tr(P (Z0 + gamma W / (1 - gamma)))``: no policy, centralized or not,
    does better.

    Examples
    --------
    >>> from rl.envs.lqr import NetworkedLQREnv
    >>> sys = NetworkedLQREnv(1, a=1.0, coupling=0.0, c=1.0, rho=1.0, noise_std=0.0,
    ...                       domain_factor=0.0).linear_system()
    >>> opt = optimal_discounted(sys, gamma=0.999999)
    >>> round(float(opt.K[0, 0]), 4)       # golden-ratio gain of the scalar problem
    -0.618
    """
    gamma = _check_gamma(gamma)
    A, B, Q, W, Z0 = _augmented(sys)
    s = np.sqrt(gamma)
    P = solve_dare(s * A, s * B, Q, sys.R)
    G = -np.linalg.solve(sys.R + gamma * B.T @ P @ B, gamma * B.T @ P @ A)
    m = sys.n_state
    cost = float(np.sum(P * (Z0 + gamma / (1.0 - gamma) * W)))
    return AffinePolicy(K=G[:, :m], k=G[:, m], cost=cost)


def finite_horizon_riccati(sys: LinearSystem, *, horizon: int, gamma: float = 1.0) -> FiniteHorizonSolution:
    """Time-varying optimal affine policy and cost of ``sum_{t<T} gamma^t (x'Qx + u'Ru)``.

    Backward recursion on ``z = [x; 1]`` from ``P_T = 0``:
    ``G_t = -(R + gamma B'P_{t+1}B)^{-1} gamma B'P_{t+1}A``, ``P_t = Q + G_t'RG_t + gamma
    (A + BG_t)'P_{t+1}(A + BG_t)``, ``c_t = gamma (c_{t+1} + tr(P_{t+1} W))``; the optimal
    cost is ``tr(P_0 Z0) + c_0``.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    gamma = _check_gamma(gamma, allow_one=True)
    A, B, Q, W, Z0 = _augmented(sys)
    m, n = sys.n_state, sys.n_input
    P = np.zeros_like(A)
    c = 0.0
    Ks, ks = np.empty((horizon, n, m)), np.empty((horizon, n))
    for t in range(horizon - 1, -1, -1):
        G = -np.linalg.solve(sys.R + gamma * B.T @ P @ B, gamma * B.T @ P @ A)
        F = A + B @ G
        c = gamma * (c + float(np.sum(P * W)))
        P = Q + G.T @ sys.R @ G + gamma * F.T @ P @ F
        Ks[t], ks[t] = G[:, :m], G[:, m]
    return FiniteHorizonSolution(K=Ks, k=ks, cost=float(np.sum(P * Z0)) + c)


def finite_horizon_cost(sys: LinearSystem, K: np.ndarray, k: np.ndarray, *, horizon: int,
                        gamma: float = 1.0) -> float:
    """Exact cost over ``T`` steps of ``u_t = K_t x + k_t`` (``K`` of shape ``(T, n, m)`` or ``(n, m)``).

    Propagates the second moment ``Z_{t+1} = F_t Z_t F_t' + W`` of ``z = [x; 1]``.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    gamma = _check_gamma(gamma, allow_one=True)
    K = np.broadcast_to(np.asarray(K, dtype=np.float64), (horizon, sys.n_input, sys.n_state))
    k = np.broadcast_to(np.asarray(k, dtype=np.float64), (horizon, sys.n_input))
    A, B, Q, W, Z = _augmented(sys)
    total = 0.0
    for t in range(horizon):
        G = np.hstack([K[t], k[t][:, None]])
        total += gamma ** t * float(np.sum((Q + G.T @ sys.R @ G) * Z))
        F = A + B @ G
        Z = F @ Z @ F.T + W
    return total


# ------------------------------------------------------------------ average cost
def average_cost(sys: LinearSystem, policy: AffinePolicy | tuple[np.ndarray, np.ndarray]) -> float:
    """Exact long-run average cost per step of ``u = K x + k`` (inf if the closed loop is unstable).

    Stationary covariance ``X = F X F' + W`` and mean ``mu = (I - F)^{-1} (B k + b)``
    with ``F = A + B K``; the cost is ``tr((Q + K'RK) X) + mu'Q mu + u_bar'R u_bar``.
    """
    G = _gain(policy, sys)
    m = sys.n_state
    K, k = G[:, :m], G[:, m]
    F = sys.A + sys.B @ K
    if np.max(np.abs(np.linalg.eigvals(F))) >= 1.0 - 1e-12:
        return float("inf")
    X = solve_dlyap(F, sys.noise_cov)
    mu = np.linalg.solve(np.eye(m) - F, sys.B @ k + sys.offset)
    u_bar = K @ mu + k
    return float(np.sum((sys.Q + K.T @ sys.R @ K) * X) + mu @ sys.Q @ mu + u_bar @ sys.R @ u_bar)


def optimal_average(sys: LinearSystem) -> AffinePolicy:
    """Centralized optimum of the average cost: DARE gain plus the optimal steady state.

    The cost splits into a fluctuation part, minimised by the DARE gain
    ``K = -(R + B'PB)^{-1} B'PA`` with value ``tr(P W)``, and a mean part, the static
    problem ``min x'Qx + u'Ru`` s.t. ``x = A x + B u + b`` (solved by its KKT system);
    ``k = u_bar - K x_bar`` makes ``x_bar`` the closed loop's fixed point.
    """
    m, n = sys.n_state, sys.n_input
    P = solve_dare(sys.A, sys.B, sys.Q, sys.R)
    K = -np.linalg.solve(sys.R + sys.B.T @ P @ sys.B, sys.B.T @ P @ sys.A)
    # KKT of the steady state: variables (x, u, lambda)
    kkt = np.zeros((2 * m + n, 2 * m + n))
    kkt[:m, :m], kkt[m:m + n, m:m + n] = 2 * sys.Q, 2 * sys.R
    E = np.hstack([np.eye(m) - sys.A, -sys.B])
    kkt[m + n:, :m + n], kkt[:m + n, m + n:] = E, E.T
    rhs = np.concatenate([np.zeros(m + n), sys.offset])
    sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    x_bar, u_bar = sol[:m], sol[m:m + n]
    k = u_bar - K @ x_bar
    cost = float(np.sum(P * sys.noise_cov) + x_bar @ sys.Q @ x_bar + u_bar @ sys.R @ u_bar)
    return AffinePolicy(K=K, k=k, cost=cost)


# ------------------------------------------------------------------ decentralized
def best_decentralized_feedback(sys: LinearSystem, pattern: np.ndarray, *, gamma: float,
                                initial: AffinePolicy | None = None, max_iter: int = 500,
                                tol: float = 1e-10) -> AffinePolicy:
    """Best affine policy whose gain ``K`` is zero outside ``pattern``, by L-BFGS on the exact cost.

    Parameters
    ----------
    sys : LinearSystem
    pattern : bool array, shape (n, m)
        Which state coordinates each input may read (e.g. the policy ACR). The offset
        ``k`` is always free.
    gamma : float
        Discount factor of the criterion (see :func:`policy_cost`).
    initial : AffinePolicy, optional
        Starting point (must give a finite cost); default zero gain and offset when
        that is stable, else the centralized optimum restricted to the pattern.
    max_iter, tol : L-BFGS settings.

    Returns
    -------
    AffinePolicy
        A local optimum (the problem is non-convex in general); ``cost`` is exact.
    """
    gamma = _check_gamma(gamma)
    n, m = sys.n_input, sys.n_state
    pattern = np.asarray(pattern, dtype=bool)
    if pattern.shape != (n, m):
        raise ValueError(f"pattern has shape {pattern.shape}; expected ({n}, {m})")
    mask = np.hstack([pattern, np.ones((n, 1), dtype=bool)])
    if initial is None:
        initial = AffinePolicy(np.zeros((n, m)), np.zeros(n))
        if not np.isfinite(policy_cost(sys, initial, gamma=gamma)):
            opt = optimal_discounted(sys, gamma=gamma)
            initial = AffinePolicy(np.where(pattern, opt.K, 0.0), opt.k)
    G0 = _gain(initial, sys)
    if not np.isfinite(policy_cost(sys, initial, gamma=gamma)):
        raise ValueError("the initial policy has infinite cost (closed loop unstable under the discount)")
    scale = max(1.0, policy_cost(sys, initial, gamma=gamma))

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        G = np.zeros((n, m + 1))
        G[mask] = theta
        terms = _discounted_terms(sys, G, gamma)
        if terms is None:
            return 1e30, np.zeros_like(theta)
        A, B, F, P, S = terms
        Y = solve_dlyap(np.sqrt(gamma) * F, S)
        grad = 2.0 * (sys.R @ G + gamma * B.T @ P @ F) @ Y
        return float(np.sum(P * S)) / scale, grad[mask] / scale

    res = scipy.optimize.minimize(fun, G0[mask], jac=True, method="L-BFGS-B",
                                  options={"maxiter": int(max_iter), "ftol": tol, "gtol": 1e-9})
    G = np.zeros((n, m + 1))
    G[mask] = res.x
    policy = AffinePolicy(G[:, :m], G[:, m])
    return AffinePolicy(policy.K, policy.k, cost=policy_cost(sys, policy, gamma=gamma))
