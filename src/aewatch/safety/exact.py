"""Binomial probabilities, binomial and beta tails and the normal quantile in plain Python.

The stopping boundaries need only a few special functions, and importing SciPy for them
costs more than a second of every command's start-up (while the arithmetic takes
milliseconds). Here each probability is computed **exactly** and rounded once:

* a float rate ``p`` is a dyadic rational ``m / 2**e``, so ``C(n, k) m**k (2**e - m)**(n - k)``
  is an integer and ``P(X <= x)`` is a ratio of integers; Python's integer division rounds
  it correctly to the nearest float. SciPy (Boost) and R (TOMS 708) approximate the same
  numbers to a few units in the last place; a correctly rounded value is never further
  from the truth than theirs.
* the Beta posterior tail with whole-number parameters is a binomial tail
  (``Pr(Beta(a, b) > t) = P(Bin(a + b - 1, t) <= a - 1)``), so it is exact too. A prior with
  fractional parameters has no such identity: that design alone asks SciPy's incomplete
  beta (imported on first use).
* the normal distribution function is ``erf``/``erfc`` from the C library (as Cephes'
  ``ndtr``); its quantile is Wichura's AS241 (Applied Statistics 37, 1988), accurate to
  about 1e-16.
"""

from __future__ import annotations

import bisect
import math
from functools import lru_cache

_SQRT1_2 = math.sqrt(0.5)


def dyadic(p: float) -> tuple[int, int]:
    """``p`` as ``(m, e)`` with ``p == m / 2**e`` exactly (every finite float is one)."""
    m, d = float(p).as_integer_ratio()
    return m, d.bit_length() - 1


def binomial_pmf(n: int, p: float) -> list[float]:
    """``[P(X = 0), …, P(X = n)]`` for X ~ Bin(n, p), each correctly rounded."""
    m, e = dyadic(p)
    rest = (1 << e) - m
    scale = 1 << (e * n)
    return [math.comb(n, k) * m**k * rest ** (n - k) / scale for k in range(n + 1)]


class BinomialCdf:
    """``P(X <= x)`` for X ~ Bin(n, p), x = 0, 1, …, built exactly up to the x asked for.

    The running sum of the integer terms is kept, so asking for x + 1 after x costs one
    term; a quantile search near the middle of a large n never builds the far tail.
    """

    def __init__(self, n: int, p: float) -> None:
        if not 0.0 < p < 1.0:
            raise ValueError(f"rate must be strictly between 0 and 1, got {p!r}")
        self.n = n
        self._m, e = dyadic(p)
        self._rest = (1 << e) - self._m
        self._scale = 1 << (e * n)
        self._term = self._rest**n  # C(n, 0) m**0 rest**n
        self._sum = self._term
        self.values = [self._sum / self._scale]

    def at(self, x: int) -> float:
        """``P(X <= x)``; 1.0 from x = n on (correctly rounded below that)."""
        if x >= self.n:
            return 1.0
        while len(self.values) <= x:
            k = len(self.values) - 1  # T(k+1) = T(k) (n - k) m / ((k + 1) rest), exact
            self._term = self._term * (self.n - k) * self._m // ((k + 1) * self._rest)
            self._sum += self._term
            self.values.append(self._sum / self._scale)
        return self.values[x]

    def quantile(self, q: float) -> int:
        """The smallest x with ``P(X <= x) >= q`` (n when none below n reaches q)."""
        while self.values[-1] < q and len(self.values) < self.n:
            self.at(len(self.values))
        if self.values[-1] < q:
            return self.n
        return bisect.bisect_left(self.values, q)


@lru_cache(maxsize=4096)
def binomial_cdf(x: int, n: int, p: float) -> float:
    """``P(X <= x)`` for X ~ Bin(n, p), correctly rounded (0 <= p <= 1)."""
    if x < 0:
        return 0.0
    if x >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return BinomialCdf(n, p).at(x)


def beta_sf(t: float, a: float, b: float) -> float:
    """``Pr(Y > t)`` for Y ~ Beta(a, b): exact for whole-number a, b; SciPy's otherwise."""
    if not (a > 0 and b > 0):
        raise ValueError(f"Beta parameters must be > 0, got ({a}, {b})")
    if t <= 0.0:
        return 1.0
    if t >= 1.0:
        return 0.0
    if float(a).is_integer() and float(b).is_integer():
        # Y > t  <=>  fewer than a of a + b - 1 uniforms fall below t.
        return binomial_cdf(int(a) - 1, int(a) + int(b) - 1, float(t))
    from scipy.special import betaincc  # fractional prior only (start-up cost ~1 s)

    return float(betaincc(a, b, t))


def ndtr(x: float) -> float:
    """Standard normal distribution function (Cephes' formulation with libm erf/erfc)."""
    z = x * _SQRT1_2
    if abs(z) < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(z)
    tail = 0.5 * math.erfc(abs(z))
    return 1.0 - tail if z > 0 else tail


def ndtri(p: float) -> float:
    """Standard normal quantile, Wichura's AS241 (PPND16): about 1e-16 relative error."""
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"probability must be between 0 and 1, got {p!r}")
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (
            (
                (
                    (
                        (
                            (
                                (2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
                                + 6.7265770927008700853e4
                            )
                            * r
                            + 4.5921953931549871457e4
                        )
                        * r
                        + 1.3731693765509461125e4
                    )
                    * r
                    + 1.9715909503065514427e3
                )
                * r
                + 1.3314166789178437745e2
            )
            * r
            + 3.3871328727963666080e0
        ) * q
        den = (
            (
                (
                    (
                        (
                            (5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
                            + 3.9307895800092710610e4
                        )
                        * r
                        + 2.1213794301586595867e4
                    )
                    * r
                    + 5.3941960214247511077e3
                )
                * r
                + 6.8718700749205790830e2
            )
            * r
            + 4.2313330701600911252e1
        ) * r + 1.0
        return num / den
    r = math.sqrt(-math.log(p if q < 0.0 else 1.0 - p))
    if r <= 5.0:
        r -= 1.6
        num = (
            (
                (
                    (
                        (
                            (7.7454501427834140764e-4 * r + 2.2723844989269184583e-2) * r
                            + 2.4178072517745061177e-1
                        )
                        * r
                        + 1.2704582524523683826e0
                    )
                    * r
                    + 3.6478483247632045005e0
                )
                * r
                + 5.7694972214606914055e0
            )
            * r
            + 4.6303378461565452959e0
        ) * r + 1.4234371107496835773e0
        den = (
            (
                (
                    (
                        (
                            (1.0507500716444168432e-9 * r + 5.4759380849953449460e-4) * r
                            + 1.5198666563616457197e-2
                        )
                        * r
                        + 1.4810397642748007459e-1
                    )
                    * r
                    + 6.8976733498510000455e-1
                )
                * r
                + 1.6763848301838038494e0
            )
            * r
            + 2.0531916266377588219e0
        ) * r + 1.0
    else:
        r -= 5.0
        num = (
            (
                (
                    (
                        (
                            (2.0103343992922881327e-7 * r + 2.7115555687434875782e-5) * r
                            + 1.2426609473880784386e-3
                        )
                        * r
                        + 2.6532189526576123093e-2
                    )
                    * r
                    + 2.9656057182850489123e-1
                )
                * r
                + 1.7848265399172913358e0
            )
            * r
            + 5.4637849111641143699e0
        ) * r + 6.6579046435011037772e0
        den = (
            (
                (
                    (
                        (
                            (2.0442631033899397856e-15 * r + 1.4215117583164458887e-7) * r
                            + 1.8463183175100546818e-5
                        )
                        * r
                        + 7.8686913114561329059e-4
                    )
                    * r
                    + 1.4875361290850614853e-2
                )
                * r
                + 1.3692988092273580531e-1
            )
            * r
            + 5.9983220655588793769e-1
        ) * r + 1.0
    x = num / den
    return -x if q < 0.0 else x
