"""The plain-Python tails behind the boundaries: exact, and never further from the truth
than SciPy (which tests may import; the package does not, except for fractional priors)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from fractions import Fraction
from math import comb
from pathlib import Path

import pytest
from scipy import special, stats

from aewatch.safety import boundary_cache
from aewatch.safety.boundaries import pocock
from aewatch.safety.exact import BinomialCdf, beta_sf, binomial_cdf, binomial_pmf, ndtr, ndtri
from aewatch.safety.rules import _BUILT, check_boundaries, parse_rule

RATES = (0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 1 / 3, 0.5, 0.77, 0.99)


def _exact_cdf(x: int, n: int, p: float) -> Fraction:
    q = Fraction(p)
    return sum((comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(x + 1)), Fraction(0))


def test_binomial_cdf_is_the_exact_value_correctly_rounded() -> None:
    for n, p in itertools.product((1, 2, 7, 36, 60), RATES):
        for x in range(n + 1):
            assert binomial_cdf(x, n, p) == float(_exact_cdf(x, n, p)), (x, n, p)


def test_binomial_cdf_agrees_with_scipy_to_a_few_units_in_the_last_place() -> None:
    for n, p in itertools.product((5, 36, 100, 500), RATES):
        ours = BinomialCdf(n, p)
        for x in range(n + 1):
            theirs = float(stats.binom.cdf(x, n, p))
            # (below 1e-200 SciPy itself drifts: 6.5132448139e-290 for 6.5132448141e-290)
            assert ours.at(x) == pytest.approx(theirs, rel=1e-13, abs=1e-200), (x, n, p)


def test_binomial_pmf_sums_to_one_and_matches_scipy() -> None:
    for n, p in itertools.product((1, 3, 6, 12), (0.0, *RATES, 1.0)):
        pmf = binomial_pmf(n, p)
        assert sum(pmf) == pytest.approx(1.0)
        for k, value in enumerate(pmf):
            assert value == pytest.approx(float(stats.binom.pmf(k, n, p)), rel=1e-14, abs=1e-300)


def test_quantile_search_is_the_smallest_count_reaching_the_level() -> None:
    cdf = BinomialCdf(36, 0.15)
    for q in (1e-9, 0.01, 0.5, 0.9, 0.999, 1 - 1e-12):
        r = cdf.quantile(q)
        assert cdf.at(r) >= q
        assert r == 0 or cdf.at(r - 1) < q
        assert r == int(stats.binom.ppf(q, 36, 0.15))


def test_beta_tail_with_whole_number_parameters_is_exact() -> None:
    for a, b, t in itertools.product((1, 2, 5, 13), (1, 3, 8, 30), (0.1, 0.2, 0.3, 0.9)):
        exact = _exact_cdf(a - 1, a + b - 1, t)
        assert beta_sf(t, float(a), float(b)) == float(exact)
        assert beta_sf(t, a, b) == pytest.approx(float(stats.beta.sf(t, a, b)), rel=1e-13)


def test_beta_tail_with_a_fractional_prior_is_scipys() -> None:
    for a, b, t in itertools.product((0.5, 0.6, 4.6), (1.5, 2.4, 9.4), (0.1, 0.2, 0.3)):
        assert beta_sf(t, a, b) == float(stats.beta.sf(t, a, b))


def test_normal_distribution_and_quantile_agree_with_scipy() -> None:
    for p in (1e-12, 1e-6, 0.001, 0.0034, 0.01, 0.05, 0.1, 0.3, 0.5, 0.7, 0.95, 0.999999):
        assert ndtri(p) == pytest.approx(float(special.ndtri(p)), rel=2e-15)
    for x in (-8.0, -3.1, -1.0, -0.5, 0.0, 0.3, 0.71, 1.5, 4.0):
        assert ndtr(x) == pytest.approx(float(special.ndtr(x)), rel=1e-15)


def test_building_the_trials_boundaries_imports_neither_numpy_nor_scipy() -> None:
    program = (
        "import sys\n"
        "from aewatch.safety.boundaries import pocock, fixed, bayesian\n"
        "from aewatch.safety.operating import operating_characteristics\n"
        "for b in (pocock(0.15, 0.3, 36, 0.1), fixed(1, None, 36), bayesian(0.2, 0.9, 1, 1, 36)):\n"
        "    operating_characteristics(b, [0.15, 0.3])\n"
        "print(sorted(m for m in ('numpy', 'scipy', 'pandas') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _trial_rule() -> object:
    table = {"name": "g3", "method": "pocock", "p0": 0.15, "p1": 0.3, "alpha": 0.1}
    return parse_rule({**table, "window_days": 90}, n_max=36, build=False)


def test_the_daemon_files_a_built_boundary_and_a_restart_reads_it_back(tmp_path: Path) -> None:
    rule = _trial_rule()
    _BUILT.clear()
    check_boundaries([rule], cache=tmp_path, write=True)
    (filed,) = tmp_path.glob("*.json")
    assert json.loads(filed.read_text())["digest"] == pocock(0.15, 0.3, 36, 0.1).digest
    _BUILT.clear()  # a new process
    design = rule.design_key()
    assert boundary_cache.load(tmp_path, "pocock", design) == pocock(0.15, 0.3, 36, 0.1)


def test_a_damaged_cache_file_is_never_trusted(tmp_path: Path) -> None:
    rule = _trial_rule()
    _BUILT.clear()
    check_boundaries([rule], cache=tmp_path, write=True)
    (filed,) = tmp_path.glob("*.json")
    document = json.loads(filed.read_text())
    document["boundary"]["stop_at"][20] += 3  # a laxer boundary would miss a signal
    filed.write_text(json.dumps(document))
    assert boundary_cache.load(tmp_path, "pocock", rule.design_key()) is None
    filed.write_text("{ not json")
    assert boundary_cache.load(tmp_path, "pocock", rule.design_key()) is None
    _BUILT.clear()
    assert rule.boundary() == pocock(0.15, 0.3, 36, 0.1)


def test_another_design_never_reads_this_designs_file(tmp_path: Path) -> None:
    rule = _trial_rule()
    _BUILT.clear()
    check_boundaries([rule], cache=tmp_path, write=True)
    other = dict(rule.design_key()) | {"alpha": 0.05}
    assert boundary_cache.load(tmp_path, "pocock", tuple(sorted(other.items()))) is None
