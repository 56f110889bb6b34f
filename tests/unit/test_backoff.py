"""The one retry policy: exponential, capped, equal jitter, Retry-After honoured."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cell_monitor.backoff import Backoff


def test_delays_double_up_to_the_maximum() -> None:
    backoff = Backoff(0.5, 4.0, rand=lambda: 1.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.failures == 6


def test_equal_jitter_keeps_half_of_each_delay_fixed() -> None:
    assert Backoff(1, 60, rand=lambda: 0.0).delay(1) == 0.5
    assert Backoff(1, 60, rand=lambda: 1.0).delay(3) == 4
    assert Backoff(1, 60, rand=lambda: 0.5).delay(3) == 3


def test_real_jitter_spreads_clients_between_half_and_the_whole_ceiling() -> None:
    delays = {Backoff(2, 60).delay(3) for _ in range(200)}
    assert all(4 <= d <= 8 for d in delays)
    assert len(delays) > 100  # not in step


def test_a_long_outage_stays_at_the_maximum() -> None:
    backoff = Backoff(1, 60, rand=lambda: 1.0)
    assert backoff.delay(10_000) == 60
    backoff.failures = 10**9
    assert backoff.next() == 60


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(1, 60, rand=lambda: 1.0)
    backoff.next(), backoff.next(), backoff.next()
    backoff.reset()
    assert (backoff.failures, backoff.next()) == (0, 1)


def test_retry_after_is_a_lower_bound() -> None:
    backoff = Backoff(1, 60, rand=lambda: 1.0)
    assert backoff.next(at_least=5) == 5  # the server asked for 5 s
    assert backoff.next(at_least=0.1) == 2  # the backoff is already longer
    assert backoff.next(at_least=None) == 4


def test_a_maximum_below_the_first_delay_caps_it() -> None:
    assert Backoff(0.5, 0.2, rand=lambda: 1.0).next() == 0.2


@pytest.mark.parametrize(("first", "maximum"), [(0, 1), (1, 0), (-1, 5)])
def test_zero_or_negative_delays_are_refused(first: float, maximum: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Backoff(first, maximum)


def test_it_imports_nothing_but_the_standard_library() -> None:
    """The Jupyter server extension imports it on installs without the server's packages."""
    script = (
        "import sys; before = set(sys.modules); import cell_monitor.backoff; "
        "print(sorted(m for m in set(sys.modules) - before "
        "if m.split('.')[0] not in sys.stdlib_module_names and m.split('.')[0] != 'cell_monitor'))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
