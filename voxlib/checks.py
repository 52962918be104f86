"""Parameter checks written as tables, in the spirit of scikit-learn's ``_parameter_constraints``.

A public function that takes many settings declares, once, what each may be::

    _CONSTRAINTS = {
        "epochs": [Interval(int, 1, None)],
        "mode": [Options({"instance", "batch"})],
        "seed": [Interval(int, 0, None), None],
    }
    check_params(_CONSTRAINTS, {"epochs": epochs, "mode": mode, "seed": seed})

and :func:`check_params` raises one error naming the parameter, the value received and what is
allowed (``"epochs must be an int in [1, inf); got 0"``). A parameter is valid when it satisfies
any constraint of its list. Checks that involve several parameters at once stay in code beside
the table.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Interval", "Options", "Satisfies", "check_params"]


@dataclass(frozen=True)
class Interval:
    """A real or integer number between ``low`` and ``high`` (None = unbounded).

    ``kind`` is ``int`` (integers only; booleans never count) or ``float`` (any real number);
    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __contains__(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not math.isfinite(value):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not left)):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not right)):
            return False
        return True

    def __str__(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        return f"{'an int' if self.kind is int else 'a number'} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (strings, numbers)."""

    values: frozenset

    def __init__(self, values):
        object.__setattr__(self, "values", frozenset(values))

    def __contains__(self, value) -> bool:
        try:
            return not isinstance(value, bool) and value in self.values
        except TypeError:  # unhashable
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=str))


@dataclass(frozen=True)
class Satisfies:
    """Any value for which ``test(value)`` is true; ``description`` says what that means."""

    test: Callable[[Any], bool]
    description: str

    def __contains__(self, value) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return self.description


def _satisfies(value, constraint) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        if constraint is bool:
            return isinstance(value, (bool, np.bool_))
        return isinstance(value, constraint) and not isinstance(value, bool)
    return value in constraint


def _describe(constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return {bool: "True or False", str: "a string"}.get(constraint, f"a {constraint.__name__}")
    return str(constraint)


def check_params(constraints: dict, values: dict, *, error: type[Exception] = ValueError) -> None:
    """Check each of ``values`` against its list of allowed forms in ``constraints``.

    Parameters
    ----------
    constraints : dict[str, list]
        Parameter name → allowed forms: :class:`Interval`, :class:`Options`, :class:`Satisfies`,
        a type (``bool``, ``str``, ...) or ``None`` (the value None). A name absent from the table
        is not checked.
    values : dict[str, Any]
        Parameter name → the value received.
    error : type of Exception, default ValueError
        What to raise (a module's own ValueError subclass).

    Raises
    ------
    error
        For the first parameter, in the order of ``values``, that satisfies none of its forms; the
        message names the parameter, the value and every allowed form.
    """
    for name, value in values.items():
        allowed = constraints.get(name)
        if allowed is None or any(_satisfies(value, c) for c in allowed):
            continue
        wanted = " or ".join(_describe(c) for c in allowed)
        raise error(f"{name} must be {wanted}; got {value!r}")
