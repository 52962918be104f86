"""voxlib.checks: declarative parameter tables."""
from __future__ import annotations

import numpy as np
import pytest

from voxlib.checks import Interval, Options, Satisfies, check_params

TABLE = {
    "epochs": [Interval(int, 1, None)],
    "rate": [Interval(float, 0, 1, closed="neither")],
    "mode": [Options({"instance", "batch"})],
    "seed": [Interval(int, 0, None), None],
    "flag": [bool],
    "size": [Satisfies(lambda v: len(v) == 2 and all(int(x) == x > 0 for x in v), "a (height, width) pair")],
}
GOOD = {"epochs": 3, "rate": 0.5, "mode": "batch", "seed": None, "flag": np.bool_(True), "size": (64, 128)}


def test_valid_values_pass_and_unknown_names_are_not_checked():
    check_params(TABLE, GOOD | {"not_in_table": object()})
    check_params(TABLE, {"seed": 0, "epochs": np.int64(2), "rate": 1e-9})


@pytest.mark.parametrize("name, value, words", [
    ("epochs", 0, r"epochs must be an int in \[1, inf\); got 0"),
    ("epochs", 2.0, "an int"),
    ("epochs", True, "got True"),                       # booleans are not numbers here
    ("rate", 1.0, r"a number in \(0, 1\)"),
    ("rate", float("nan"), "got nan"),
    ("mode", "stream", "one of 'batch', 'instance'; got 'stream'"),
    ("mode", ["batch"], "got \\['batch'\\]"),           # unhashable values are refused, not crashed on
    ("seed", -1, "seed must be an int in \\[0, inf\\) or None"),
    ("flag", 1, "flag must be True or False"),
    ("size", (64,), "size must be a \\(height, width\\) pair"),
])
def test_each_bad_value_names_parameter_value_and_what_is_allowed(name, value, words):
    with pytest.raises(ValueError, match=words):
        check_params(TABLE, GOOD | {name: value})


def test_the_error_type_is_the_callers():
    class MyError(ValueError):
        pass
    with pytest.raises(MyError, match="epochs"):
        check_params(TABLE, {"epochs": -3}, error=MyError)


def test_interval_bounds_are_open_or_closed_as_declared():
    assert 0 in Interval(int, 0, 3) and 3 in Interval(int, 0, 3)
    assert 0 not in Interval(int, 0, 3, closed="right") and 3 not in Interval(int, 0, 3, closed="left")
    assert str(Interval(float, None, 2.5, closed="right")) == "a number in (-inf, 2.5]"
