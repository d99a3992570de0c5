"""Rules written for Loihi: Lava's sum-of-products learning rules.

Lava (``lava.magma.core.learning.learning_rule.Loihi2FLearningRule``) writes the change of each
synaptic variable -- weight ``dw``, delay ``dd``, tag ``dt`` -- as a sum of products of

- a dependency, first in each product: ``x0`` (presynaptic spike), ``y0`` (postsynaptic
  spike) or ``uk`` (every 2**k steps);
- traces: ``x1``, ``x2`` (presynaptic), ``y1``, ``y2``, ``y3`` (postsynaptic), each
  increased by its impulse at a spike and decaying with its time constant;
- synaptic variables ``w``, ``d``, ``t``, also as ``sgn(w)`` or ``(w + C)``;
- integer constants ``C``, ``m*2^e`` and ``2^e``.

This module checks the strings as Lava's parser reads them, so that a rule that fails here
would fail in Lava too.
"""

from __future__ import annotations

import dataclasses
import re

from ._base import param
from ._graphview import GraphView
from ._rule import LearningRule
from ._stdp import _check_synapse_local

_TOKEN = re.compile(
    r"(?P<literal>\d+\*2\^[+-]?\d+|2\^[+-]?\d+|\d+)"
    r"|(?P<sgn>sgn\()"
    r"|(?P<dep>x0|y0|u\d)"
    r"|(?P<var>x[12]|y[123]|w|d|t)"
    r"|(?P<op>[+\-*])"
    r"|(?P<open>\()"
    r"|(?P<close>\))"
)
TRACES = ("x1", "x2", "y1", "y2", "y3")


@dataclasses.dataclass
class _Product:
    dependency: str | None = None
    mantissa: int = 1
    exponent: int = 0
    factors: list[str] = dataclasses.field(default_factory=list)
    decimate: int | None = None


def _literal(text: str) -> tuple[int, int]:
    """(mantissa, exponent) of ``m*2^e``, ``2^e`` or ``m``."""
    if "^" in text:
        head, exp = text.split("^")
        mant = int(head[:-2]) if head.endswith("*2") else 1
        return mant, int(exp)
    return int(text), 0


def parse_product_series(text: str) -> list[_Product]:
    """Parse one Lava learning-rule string into its products.

    Raises:
        ValueError: with what is wrong, in Lava's terms.
    """
    expr = re.sub(r"\s+", "", text)
    if not expr:
        raise ValueError("empty expression")
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"unexpected {expr[pos : pos + 8]!r} at character {pos}")
        tokens.append((m.lastgroup or "", m.group()))
        pos = m.end()
    products: list[_Product] = []
    current: _Product | None = None
    expect_factor = True
    i = 0
    while i < len(tokens):
        kind, tok = tokens[i]
        if kind == "op" and tok in "+-" and (current is None or not expect_factor):
            if current is not None:
                products.append(current)
            current = _Product(mantissa=-1 if tok == "-" else 1)
            expect_factor = True
            i += 1
            continue
        if current is None:
            current = _Product()
        if kind == "op":
            if tok != "*" or expect_factor:
                raise ValueError(f"operator {tok!r} where a factor was expected")
            expect_factor = True
            i += 1
            continue
        if kind == "close":
            raise ValueError("')' without its opening bracket")
        if not expect_factor:
            raise ValueError(f"{tok!r} follows a factor without '*', '+' or '-'")
        expect_factor = False
        if kind == "literal":
            mant, exp = _literal(tok)
            current.mantissa *= mant
            current.exponent += exp
        elif kind == "dep":
            if tok.startswith("u"):
                if current.decimate is not None and current.decimate != int(tok[1:]):
                    raise ValueError("uk terms with different k in one product")
                current.decimate = int(tok[1:])
                current.dependency = current.dependency or "u"
            elif current.dependency is None:
                current.dependency = tok
            else:
                current.factors.append(tok)
        elif kind == "var":
            current.factors.append(tok)
        elif kind in ("open", "sgn"):
            depth, j = 1, i + 1
            while j < len(tokens) and depth:
                depth += {"open": 1, "sgn": 1, "close": -1}.get(tokens[j][0], 0)
                j += 1
            if depth:
                raise ValueError("bracket without its closing ')'")
            inner = [t for t in tokens[i + 1 : j - 1]]
            var, sign, mant, exp = _bracket(inner)
            if kind == "sgn":
                if var not in ("w", "d", "t"):
                    raise ValueError("sgn(..) applies only to 'w', 'd' or 't'")
                if sign < 0:
                    raise ValueError("the variable in sgn(..) cannot be negative")
                current.factors.append(f"sgn({var})")
            elif var is None:
                current.mantissa *= mant * sign
                current.exponent += exp
            else:
                current.factors.append(var)
            i = j
            continue
        i += 1
    if current is None or expect_factor:
        raise ValueError("expression ends with an operator")
    products.append(current)
    for p in products:
        if p.dependency is None:
            raise ValueError("a product without a dependency (x0, y0 or uk)")
        mant, exp = p.mantissa, p.exponent
        while abs(mant) > 7 and mant % 2 == 0 and exp < 8:
            mant //= 2
            exp += 1
        if not -8 <= mant < 8:
            raise ValueError(
                f"scaling constant {p.mantissa}*2^{p.exponent} not representable on Loihi "
                "(mantissa in [-8, 7] times 2^e)"
            )
        if not -7 <= exp < 9:
            raise ValueError(f"scaling exponent {exp} outside Loihi's [-7, 8]")
    return products


def _bracket(inner: list[tuple[str, str]]) -> tuple[str | None, int, int, int]:
    """(variable, sign of the variable, mantissa, exponent) of ``(var)``, ``(C)``,
    ``(var +- C)`` or ``(C +- var)``."""
    items = list(inner)
    if not items or items[0] != ("op", "+") and items[0] != ("op", "-"):
        items.insert(0, ("op", "+"))
    if len(items) == 2:
        sign = -1 if items[0][1] == "-" else 1
        kind, tok = items[1]
        if kind in ("var", "dep"):
            return tok, sign, 1, 0
        if kind == "literal":
            mant, exp = _literal(tok)
            return None, sign, mant, exp
    if len(items) == 4 and all(items[k][0] == "op" and items[k][1] in "+-" for k in (0, 2)):
        kinds = (items[1][0], items[3][0])
        if kinds in (("var", "literal"), ("dep", "literal")):
            return items[1][1], -1 if items[0][1] == "-" else 1, 1, 0
        if kinds in (("literal", "var"), ("literal", "dep")):
            return items[3][1], -1 if items[2][1] == "-" else 1, 1, 0
    text = "".join(t for _, t in inner)
    raise ValueError(f"({text}) is not of the form [+-]var[+-]constant")


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LocalRule(LearningRule):
    """A rule in Lava's sum-of-products form, for Loihi (``Loihi2FLearningRule``).

    Trace time constants are in seconds (Lava counts them in time steps: ``x1_tau / dt``);
    impulses and the strings are Lava's. ``t_epoch`` is Lava's learning epoch, in time steps.
    Note that ``dt`` here is Lava's tag learning rule, not a time step.
    """

    kind = "local"

    dw: str | None = param(None, doc="weight change, e.g. '2^-2*x1*y0 - 2^-2*y1*x0'")
    dd: str | None = param(None, doc="delay change (Lava's dd)")
    dt: str | None = param(None, doc="tag change (Lava's dt; not a time step)")
    x1_impulse: float = param(0.0, doc="increase of trace x1 at a presynaptic spike", ge=0)
    x1_tau: float = param(0.0, doc="time constant of trace x1 (0: no decay)", unit="s", ge=0)
    x2_impulse: float = param(0.0, doc="increase of trace x2 at a presynaptic spike", ge=0)
    x2_tau: float = param(0.0, doc="time constant of trace x2", unit="s", ge=0)
    y1_impulse: float = param(0.0, doc="increase of trace y1 at a postsynaptic spike", ge=0)
    y1_tau: float = param(0.0, doc="time constant of trace y1", unit="s", ge=0)
    y2_impulse: float = param(0.0, doc="increase of trace y2 at a postsynaptic spike", ge=0)
    y2_tau: float = param(0.0, doc="time constant of trace y2", unit="s", ge=0)
    y3_impulse: float = param(0.0, doc="increase of trace y3 at a postsynaptic spike", ge=0)
    y3_tau: float = param(0.0, doc="time constant of trace y3", unit="s", ge=0)
    t_epoch: int = param(1, doc="learning epoch: steps between applications", unit="steps", ge=1)
    rng_seed: int | None = param(
        None, doc="seed of Lava's stochastic rounding (fixed point only)", ge=0
    )

    def _check(self) -> None:
        rules = {k: getattr(self, k) for k in ("dw", "dd", "dt") if getattr(self, k) is not None}
        if not rules:
            raise self._fail(
                "no learning rule string", "dw", "at least one of dw, dd, dt", "nothing"
            )
        first: tuple[int, str] | None = None
        for key, text in rules.items():
            try:
                products = parse_product_series(text)
            except ValueError as exc:
                raise self._fail(f"not a Lava learning rule: {exc}", key, got=repr(text)) from None
            for p in products:
                if p.decimate is None:
                    continue
                if first is None:
                    first = (p.decimate, key)
                elif p.decimate != first[0]:
                    raise self._fail(
                        "uk terms with different decimation k",
                        key,
                        f"u{first[0]} as in {first[1]} (one k across dw, dd and dt)",
                        f"u{p.decimate}",
                    )

    def traces(self) -> set[str]:
        """The traces the rule strings use."""
        used: set[str] = set()
        for key in ("dw", "dd", "dt"):
            text = getattr(self, key)
            if text is not None:
                for p in parse_product_series(text):
                    used.update(f for f in p.factors if f in TRACES)
        return used

    def _validate_graph(self, view: GraphView) -> None:
        _check_synapse_local(self, view, "a Lava learning rule")

    def _headline(self) -> str:
        rules = "; ".join(
            f"{k} = {getattr(self, k)}" for k in ("dw", "dd", "dt") if getattr(self, k)
        )
        return f"{rules}; t_epoch {self.t_epoch}, {super()._headline()}"


__all__ = ["LocalRule", "TRACES", "parse_product_series"]
