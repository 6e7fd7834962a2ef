import json
import math

import pytest
import torch

from forge_lib import fmt, show
from forge_lib.metrics.fmt import AUDIT_ENV, rounding_margin


@pytest.mark.parametrize("value, text", [
    (227.0412, "227.0"), (24400.3, "24,400"), (1.6234567, "1.623"), (0.5, "0.5000"),
    (1e-7, "1.000e-07"), (2.688e43, "2.688e+43"), (3, "3"), (123456, "123,456"),
    (math.inf, "inf"), (math.nan, "nan"), (0.0, "0"), (-3.14159, "-3.142"),
    (torch.tensor(10.0), "10.00"),
    # four significant digits at every magnitude; ints are counts and stay exact
    (148_906.3, "148,900"), (148_906, "148,906"), (-148_906.3, "-148,900"),
    (9_999.7, "10,000"), (99_999.6, "100,000"), (999_999.7, "1.000e+06"), (9.99951, "10.00"),
    (0.000123456, "0.0001235"), (0.0000999999, "0.0001000"), (0.00000999999, "1.000e-05"),
])
def test_fmt_four_significant_digits(value, text):
    assert fmt(value) == text


def test_fmt_digits_argument():
    assert fmt(148_906.3, 2) == "150,000"
    assert fmt(0.07001499, 3) == "0.0700"
    with pytest.raises(ValueError, match="positive int"):
        fmt(1.0, 0)


def test_fmt_rejects_multi_element_tensors():
    with pytest.raises(ValueError, match="single number"):
        fmt(torch.zeros(2))


def test_show_aligns_names(capsys):
    show(a=1.0, long_name=2)
    assert capsys.readouterr().out == "a         = 1.000\nlong_name = 2\n"


@pytest.mark.parametrize("value, digits, margin", [
    (0.0700149, 4, 1e-7 / 0.0700149),    # the edge 0.070015 is 1e-7 away
    (0.0700151, 4, 1e-7 / 0.0700151),    # the same edge from above
    (0.07001, 4, 0.5e-5 / 0.07001),      # a printed value itself: half a unit from both edges
    (9.99951, 4, 0.01e-3 / 9.99951),     # the edge 9.9995 just below a power of ten
    (10.00004, 4, 0.00054 / 10.00004),   # ... seen from above, closer than 10.005
    (-227.04, 4, 0.01 / 227.04),         # the sign does not matter
])
def test_rounding_margin(value, digits, margin):
    assert rounding_margin(value, digits) == pytest.approx(margin, rel=1e-6)


def test_rounding_margin_against_brute_force():
    # The margin is the distance to the nearest value whose printed text differs.
    for value in (0.0123449, 3.14159, 27.0849, 148_906.3, 9.9996):
        margin = rounding_margin(value, 4)
        step = value * margin
        assert fmt(value * (1 + 0.9 * margin)) == fmt(value) or fmt(value * (1 - 0.9 * margin)) == fmt(value)
        moved = {fmt(value + 1.01 * step), fmt(value - 1.01 * step)}
        assert moved - {fmt(value)}, f"no edge within 1.01x the margin of {value}"


def test_audit_logs_each_rounded_value(tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv(AUDIT_ENV, str(log))
    fmt(0.0700149)
    fmt(90.0, 5)
    fmt(7)  # an int is exact: nothing rounded, nothing logged
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["text"] for r in records] == ["0.07001", "90.000"]
    assert records[0]["margin"] == pytest.approx(1.43e-6, rel=1e-2) and not records[0]["exact"]
    assert records[1]["exact"]  # printed exactly: no edge to worry about


def test_no_audit_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(AUDIT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    fmt(0.0700149)
    assert list(tmp_path.iterdir()) == []
