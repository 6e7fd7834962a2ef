import math

import pytest
import torch

from forge_lib import fmt, show


@pytest.mark.parametrize("value, text", [
    (227.0412, "227.0"), (24400.3, "24,400"), (1.6234567, "1.623"), (0.5, "0.5000"),
    (1e-7, "1.000e-07"), (2.688e43, "2.688e+43"), (3, "3"), (123456, "123,456"),
    (math.inf, "inf"), (math.nan, "nan"), (0.0, "0"), (-3.14159, "-3.142"),
    (torch.tensor(10.0), "10.00"),
])
def test_fmt_four_significant_digits(value, text):
    assert fmt(value) == text


def test_fmt_rejects_multi_element_tensors():
    with pytest.raises(ValueError, match="single number"):
        fmt(torch.zeros(2))


def test_show_aligns_names(capsys):
    show(a=1.0, long_name=2)
    assert capsys.readouterr().out == "a         = 1.000\nlong_name = 2\n"
