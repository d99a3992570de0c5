"""The machinery every part of a learning rule shares: typed, documented, checked fields.

A part of a rule (:class:`Spec`) is a frozen, keyword-only dataclass whose fields are declared with
:func:`param`: a description, a unit, bounds, choices. From those declarations alone this module
checks values on construction, converts a part to the tree nir's HDF5 writer stores losslessly
(:meth:`Spec.to_dict`) and back (:meth:`Spec.from_dict`), compares parts bit for bit, and
:mod:`._jsonschema` writes the JSON Schema. Fields that only exist for some values of another
field (Adam's ``beta_1`` for ``name="adam"``) are declared once per class in ``_variants``.

Stored forms, one per field type (all round-trip bit-exactly through ``nirbridge.write`` /
``nirbridge.read`` and are read by stock ``nir.read``):

=========================== =========================================================
``float``                   float64 scalar
``int``                     int64 scalar
``bool``                    int64 scalar, 0 or 1
``str``                     UTF-8 string
``np.ndarray``              float64 array (at least 1-D)
``tuple[str, ...]``         1-D array of UTF-8 byte strings (``S`` dtype)
``tuple[tuple[str, str]]``  (n, 2) array of UTF-8 byte strings (``S`` dtype)
a part (``Spec``)           group
``tuple[Spec, ...]``        group of groups named ``"0"``, ``"1"``, ...
=========================== =========================================================

Fields that are None, and empty tuples, are not stored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .._errors import LearningRuleError

_INT_LIMIT = 2**63


def param(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    unit: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[str] | None = None,
    ndim: int | None = None,
    min_items: int | None = None,
) -> Any:
    """Declare a field of a :class:`Spec`.

    Args:
        default: Default value; omitted: the field is required.
        doc: One-line description (used in errors, docs and the JSON Schema).
        unit: Physical unit ("s", "Hz", ...), or None for dimensionless values.
        ge, gt, le, lt: Bounds of a number (each element of an array).
        choices: Allowed values of a string.
        ndim: Number of dimensions of an array.
        min_items: Fewest items of a tuple.
    """
    meta = {
        "doc": doc,
        "unit": unit,
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "choices": tuple(choices) if choices is not None else None,
        "ndim": ndim,
        "min_items": min_items,
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class FieldType:
    """What a field holds, decoded from its annotation.

    ``kind`` is one of "float", "int", "bool", "str", "array", "strs", "pairs", "spec",
    "specs"; ``spec`` is the part class for "spec" and "specs"; ``optional`` says None is
    allowed.
    """

    kind: str
    optional: bool = False
    spec: type[Spec] | None = None


def _field_type(annotation: Any, owner: type) -> FieldType:
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"{owner.__name__}: unsupported union {annotation!r}")
        optional = True
        annotation = args[0]
        origin = typing.get_origin(annotation)
    simple = {float: "float", int: "int", bool: "bool", str: "str", np.ndarray: "array"}
    if annotation in simple:
        return FieldType(simple[annotation], optional)
    if isinstance(annotation, type) and issubclass(annotation, Spec):
        return FieldType("spec", optional, annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            item = args[0]
            if item is str:
                return FieldType("strs", optional)
            if typing.get_origin(item) is tuple and typing.get_args(item) == (str, str):
                return FieldType("pairs", optional)
            if isinstance(item, type) and issubclass(item, Spec):
                return FieldType("specs", optional, item)
    raise TypeError(f"{owner.__name__}: unsupported field type {annotation!r}")


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """A field of a :class:`Spec`: its name, type, declaration and default."""

    name: str
    type: FieldType
    meta: Mapping[str, Any]
    default: Any
    required: bool

    @property
    def doc(self) -> str:
        return self.meta.get("doc", "")

    @property
    def unit(self) -> str | None:
        return self.meta.get("unit")


def is_unset(value: Any) -> bool:
    """None, or an empty tuple: what a field that is not in use holds."""
    return value is None or (isinstance(value, tuple) and len(value) == 0)


class Spec:
    """Base of every part of a learning rule (see the module docstring).

    Subclasses are ``@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)`` with fields
    declared by :func:`param`. They may set ``_variants`` and override :meth:`_check`.
    """

    #: ``{discriminator: {value: (required fields, allowed optional fields)}}``: fields named
    #: for some value of the discriminator must be set (required) or may be set (allowed) for
    #: that value, and must be left unset (None or empty) for every other value.
    _variants: ClassVar[Mapping[str, Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]]] = {}
    _fields_cache: ClassVar[dict[type, tuple[FieldInfo, ...]]] = {}

    # -- declarations ---------------------------------------------------------------------------

    @classmethod
    def fields(cls) -> tuple[FieldInfo, ...]:
        """The declared fields, in declaration order."""
        cached = Spec._fields_cache.get(cls)
        if cached is not None:
            return cached
        hints = typing.get_type_hints(cls)
        out = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            meta = dict(f.metadata)
            ftype = _field_type(hints[f.name], cls)
            if ftype.kind == "str" and f.name in cls._variants and meta.get("choices") is None:
                meta["choices"] = tuple(cls._variants[f.name])
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            default = None if required else f.default
            out.append(FieldInfo(f.name, ftype, meta, default, required))
        result = tuple(out)
        Spec._fields_cache[cls] = result
        return result

    @classmethod
    def _owner(cls) -> dict[str, str]:
        """How errors name this class: ``rule=<kind>`` for a rule, ``part=<class>`` otherwise."""
        kind = getattr(cls, "kind", None)
        return {"rule": kind} if kind else {"part": cls.__name__}

    @classmethod
    def governed(cls, discriminator: str) -> tuple[str, ...]:
        """Fields whose use depends on the value of ``discriminator``."""
        names: list[str] = []
        for required, allowed in cls._variants[discriminator].values():
            for n in (*required, *allowed):
                if n not in names:
                    names.append(n)
        return tuple(names)

    # -- construction ---------------------------------------------------------------------------

    def __post_init__(self) -> None:
        owner = type(self)._owner()
        for info in type(self).fields():
            value = getattr(self, info.name)
            try:
                value = _coerce(value, info)
            except LearningRuleError as exc:
                raise exc.within(
                    info.name, rule=owner.get("rule"), part=owner.get("part")
                ) from None
            object.__setattr__(self, info.name, value)
        for disc, table in type(self)._variants.items():
            choice = getattr(self, disc)
            required, allowed = table[choice]
            for name in required:
                if is_unset(getattr(self, name)):
                    raise LearningRuleError(
                        f"required when {disc} is {choice!r}",
                        **owner,
                        field=name,
                        expected=_describe_field(self, name),
                        got="nothing",
                    )
            for name in type(self).governed(disc):
                if (
                    name not in required
                    and name not in allowed
                    and not is_unset(getattr(self, name))
                ):
                    users = [v for v, (r, a) in table.items() if name in r or name in a]
                    raise LearningRuleError(
                        f"not used when {disc} is {choice!r}",
                        **owner,
                        field=name,
                        expected=f"None (it is for {disc} {' or '.join(map(repr, users))})",
                        got=_short(getattr(self, name)),
                    )
        self._check()

    def _check(self) -> None:
        """Checks across fields; subclasses raise :class:`LearningRuleError`."""

    def _fail(
        self, message: str, field: str | None = None, expected: str | None = None, got: Any = None
    ) -> LearningRuleError:
        return LearningRuleError(
            message,
            **type(self)._owner(),
            field=field,
            expected=expected,
            got=None if got is None else (got if isinstance(got, str) else _short(got)),
        )

    # -- storage --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """This part as nir's HDF5 writer stores it losslessly (unset fields left out)."""
        out: dict[str, Any] = {}
        for info in type(self).fields():
            value = getattr(self, info.name)
            if is_unset(value):
                continue
            out[info.name] = _encode(value, info.type)
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> Spec:
        """Parse a part from its stored form (or its JSON form: lists for arrays).

        Raises:
            LearningRuleError: a field is missing, unknown, or holds the wrong kind of value;
                the message names the field.
        """
        owner = cls._owner()
        if not isinstance(raw, Mapping):
            raise LearningRuleError(
                "not a group of fields", **owner, expected="a mapping", got=_short(raw)
            )
        infos = {info.name: info for info in cls.fields()}
        unknown = sorted(str(k) for k in raw if k not in infos)
        if unknown:
            raise LearningRuleError(
                "unknown field",
                **owner,
                field=unknown[0],
                expected=f"one of {sorted(infos)}",
            )
        kwargs: dict[str, Any] = {}
        for name, info in infos.items():
            if name not in raw:
                if info.required:
                    raise LearningRuleError(
                        "missing", **owner, field=name, expected=_describe(info)
                    )
                continue
            try:
                kwargs[name] = _decode(raw[name], info)
            except LearningRuleError as exc:
                raise exc.within(name, **owner) from None
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        """This part as plain JSON data (lists for arrays): the form the JSON Schema describes."""
        return jsonable(self.to_dict())

    # -- comparison -----------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return trees_equal(self.to_dict(), other.to_dict())  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, json.dumps(self.to_json(), sort_keys=True)))

    # -- display --------------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of every field in use."""
        for info in type(self).fields():
            value = getattr(self, info.name)
            if not is_unset(value):
                yield info.name, value

    def brief(self) -> str:
        """A compact one-line rendering, e.g. ``adam(learning_rate=0.001, beta_1=0.9, ...)``."""
        parts = []
        head = None
        for name, value in self.items():
            if head is None and name in type(self)._variants:
                head = str(value)
                continue
            parts.append(f"{name}={render(value)}")
        body = ", ".join(parts)
        if head is None:
            return body
        return f"{head}({body})" if body else head


# -- values -------------------------------------------------------------------------------------


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} ({value.dtype})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(info: FieldInfo) -> str:
    kinds = {
        "float": "a number",
        "int": "an integer",
        "bool": "true or false (stored 1 or 0)",
        "str": "a string",
        "array": "an array of numbers",
        "strs": "a list of strings",
        "pairs": "a list of (source, target) node-name pairs",
        "spec": f"a {info.type.spec.__name__ if info.type.spec else 'group'}",
        "specs": f"a list of {info.type.spec.__name__ if info.type.spec else 'groups'}",
    }
    text = kinds[info.type.kind]
    bounds = _bounds_text(info.meta)
    if bounds:
        text += f" {bounds}"
    if info.meta.get("choices"):
        text = f"one of {list(info.meta['choices'])}"
    if info.unit:
        text += f" ({info.unit})"
    return text


def _describe_field(spec: Spec, name: str) -> str:
    for info in type(spec).fields():
        if info.name == name:
            return _describe(info)
    return "a value"


def _bounds_text(meta: Mapping[str, Any]) -> str:
    parts = []
    for key, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]:g}")
    return " and ".join(parts)


def _check_text(text: str) -> str:
    if "\x00" in text:
        raise LearningRuleError(
            "contains a NUL character", expected="text without NUL (HDF5 strings end at NUL)"
        )
    try:
        text.encode("utf8")
    except UnicodeEncodeError as exc:
        raise LearningRuleError("not encodable as UTF-8", got=_short(text)) from exc
    return text


def _as_text(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "SUO":
        value = value.item()
    if isinstance(value, (bytes, np.bytes_)):
        try:
            value = bytes(value).decode("utf8")
        except UnicodeDecodeError as exc:
            raise LearningRuleError("not valid UTF-8", got=_short(value)) from exc
    if isinstance(value, (str, np.str_)):
        return _check_text(str(value))
    raise LearningRuleError("wrong kind of value", expected="a string", got=_short(value))


def _as_number(value: Any, kind: str) -> float | int:
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "biuf":
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        expected = "a number" if kind == "float" else "an integer"
        raise LearningRuleError("wrong kind of value", expected=expected, got=_short(value))
    if kind == "int":
        if isinstance(value, (float, np.floating)):
            raise LearningRuleError("wrong kind of value", expected="an integer", got=_short(value))
        number = int(value)
        if abs(number) >= _INT_LIMIT:
            raise LearningRuleError("out of range", expected="|value| < 2**63", got=str(number))
        return number
    result = float(value)
    if not math.isfinite(result):
        raise LearningRuleError("not finite", expected="a finite number", got=_short(value))
    return result


def _check_bounds(values: np.ndarray | float | int, meta: Mapping[str, Any]) -> None:
    arr = np.asarray(values)
    checks = (
        ("gt", lambda a, b: a > b),
        ("ge", lambda a, b: a >= b),
        ("lt", lambda a, b: a < b),
        ("le", lambda a, b: a <= b),
    )
    for key, ok in checks:
        bound = meta.get(key)
        if bound is None:
            continue
        good = ok(arr, bound)
        if not np.all(good):
            bad = arr[~good] if arr.ndim else arr
            where = ""
            if arr.ndim:
                index = tuple(int(i) for i in np.argwhere(~good)[0])
                where = f" at index {index}"
            value = np.asarray(bad).ravel()[0].item()
            raise LearningRuleError(
                "out of range", expected=_bounds_text(meta), got=f"{value!r}{where}"
            )


def _coerce(value: Any, info: FieldInfo) -> Any:
    """Check and normalise a field's value on construction (also accepts stored forms)."""
    ftype, meta = info.type, info.meta
    if value is None:
        if ftype.optional:
            return None
        raise LearningRuleError("missing", expected=_describe(info), got="None")
    kind = ftype.kind
    if kind in ("float", "int"):
        number = _as_number(value, kind)
        _check_bounds(number, meta)
        return number
    if kind == "bool":
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
            return bool(int(value))
        raise LearningRuleError(
            "wrong kind of value", expected="true or false (or 1 or 0)", got=_short(value)
        )
    if kind == "str":
        text = _as_text(value)
        choices = meta.get("choices")
        if choices is not None and text not in choices:
            raise LearningRuleError(
                "unknown value", expected=f"one of {list(choices)}", got=repr(text)
            )
        return text
    if kind == "array":
        return _as_array(value, meta)
    if kind == "strs":
        items = _as_strings(value, 1)
        _check_items(items, meta)
        return items
    if kind == "pairs":
        items = _as_strings(value, 2)
        _check_items(items, meta)
        return items
    if kind == "spec":
        assert ftype.spec is not None
        if isinstance(value, ftype.spec):
            return value
        if isinstance(value, Mapping):
            return ftype.spec.from_dict(value)
        raise LearningRuleError(
            "wrong kind of value", expected=f"a {ftype.spec.__name__}", got=_short(value)
        )
    if kind == "specs":
        assert ftype.spec is not None
        items_raw = _indexed_items(value)
        out = []
        for i, item in enumerate(items_raw):
            try:
                if isinstance(item, ftype.spec):
                    out.append(item)
                elif isinstance(item, Mapping):
                    out.append(ftype.spec.from_dict(item))
                else:
                    raise LearningRuleError(
                        "wrong kind of value",
                        expected=f"a {ftype.spec.__name__}",
                        got=_short(item),
                    )
            except LearningRuleError as exc:
                raise exc.within(f"[{i}]") from None
        result = tuple(out)
        _check_items(result, meta)
        return result
    raise AssertionError(kind)  # pragma: no cover - _field_type admits only the kinds above


def _as_array(value: Any, meta: Mapping[str, Any]) -> np.ndarray:
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise LearningRuleError(
                "not an array", expected="an array of numbers", got=_short(value)
            ) from exc
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and arr.dtype.itemsize > 8):
        raise LearningRuleError(
            "wrong kind of value",
            expected="an array of real numbers",
            got=f"{arr.dtype} data",
        )
    ndim = meta.get("ndim")
    if arr.ndim == 0 or (ndim is not None and arr.ndim != ndim):
        raise LearningRuleError(
            "wrong number of dimensions",
            expected=f"a {ndim}-D array" if ndim is not None else "an array of at least 1-D",
            got=f"shape {arr.shape}",
        )
    out = np.array(arr, dtype=np.float64, copy=True)
    if not np.isfinite(out).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        raise LearningRuleError(
            "not finite", expected="finite numbers", got=f"{out[index]!r} at index {index}"
        )
    _check_bounds(out, meta)
    out.setflags(write=False)
    return out


def _as_strings(value: Any, width: int) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)):
        raise LearningRuleError(
            "wrong kind of value",
            expected="a list of strings" if width == 1 else "a list of (source, target) pairs",
            got=_short(value),
        )
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ()
        if value.dtype.kind not in "SUO":
            raise LearningRuleError(
                "wrong kind of value", expected="strings", got=f"{value.dtype} data"
            )
        if width == 1 and value.ndim != 1:
            raise LearningRuleError(
                "wrong shape", expected="a 1-D list of strings", got=f"shape {value.shape}"
            )
        if width == 2 and (value.ndim != 2 or value.shape[1] != 2):
            raise LearningRuleError(
                "wrong shape", expected="an (n, 2) list of node-name pairs", got=f"{value.shape}"
            )
        value = value.tolist()
    if not isinstance(value, Sequence):
        raise LearningRuleError("wrong kind of value", expected="a list", got=_short(value))
    out: list[Any] = []
    for i, item in enumerate(value):
        try:
            if width == 1:
                out.append(_as_text(item))
            else:
                if (
                    isinstance(item, (str, bytes))
                    or not isinstance(item, Sequence)
                    or len(item) != 2
                ):
                    raise LearningRuleError(
                        "wrong kind of value",
                        expected="a (source, target) pair of node names",
                        got=_short(item),
                    )
                out.append((_as_text(item[0]), _as_text(item[1])))
        except LearningRuleError as exc:
            raise exc.within(f"[{i}]") from None
    return tuple(out)


def _indexed_items(value: Any) -> list[Any]:
    """Items of a stored list of groups ``{"0": ..., "1": ...}``, or of a list."""
    if isinstance(value, Mapping):
        keys = list(value)
        try:
            order = sorted(keys, key=lambda k: int(k))
        except (TypeError, ValueError) as exc:
            raise LearningRuleError(
                "malformed list of groups",
                expected='groups named "0", "1", ...',
                got=_short(keys),
            ) from exc
        if [str(k) for k in order] != [str(i) for i in range(len(order))]:
            raise LearningRuleError(
                "malformed list of groups",
                expected='groups named "0", "1", ... without gaps',
                got=_short(sorted(map(str, keys))),
            )
        return [value[k] for k in order]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise LearningRuleError("wrong kind of value", expected="a list", got=_short(value))


def _check_items(items: tuple[Any, ...], meta: Mapping[str, Any]) -> None:
    least = meta.get("min_items")
    if least is not None and len(items) < least:
        raise LearningRuleError("too few items", expected=f"at least {least}", got=f"{len(items)}")


def _decode(raw: Any, info: FieldInfo) -> Any:
    """A stored value as the field's constructor takes it (checks happen on construction)."""
    kind = info.type.kind
    if kind in ("spec", "specs") and not isinstance(raw, (Mapping, list, tuple)):
        raise LearningRuleError("wrong kind of value", expected=_describe(info), got=_short(raw))
    if kind not in ("spec", "specs") and isinstance(raw, Mapping):
        raise LearningRuleError("wrong kind of value", expected=_describe(info), got="a group")
    return raw


def _encode(value: Any, ftype: FieldType) -> Any:
    kind = ftype.kind
    if kind == "bool":
        return int(value)
    if kind in ("float", "int", "str"):
        return value
    if kind == "array":
        return value
    if kind in ("strs", "pairs"):
        data = (
            [[s.encode("utf8") for s in item] for item in value]
            if kind == "pairs"
            else [s.encode("utf8") for s in value]
        )
        return np.array(data, dtype="S")
    if kind == "spec":
        return value.to_dict()
    if kind == "specs":
        return {str(i): item.to_dict() for i, item in enumerate(value)}
    raise AssertionError(kind)  # pragma: no cover


def jsonable(tree: Any) -> Any:
    """A stored tree as plain JSON data: arrays as (nested) lists, byte strings decoded."""
    if isinstance(tree, Mapping):
        return {str(k): jsonable(v) for k, v in tree.items()}
    if isinstance(tree, np.ndarray):
        if tree.dtype.kind == "S":
            return (
                jsonable(np.char.decode(tree, "utf8").tolist())
                if tree.size
                else ([] if tree.ndim == 1 else [[] for _ in range(tree.shape[0])])
            )
        return tree.tolist()
    if isinstance(tree, (list, tuple)):
        return [jsonable(v) for v in tree]
    if isinstance(tree, (bytes, np.bytes_)):
        return bytes(tree).decode("utf8", "replace")
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def trees_equal(a: Any, b: Any) -> bool:
    """Bit-exact equality of two stored trees (arrays: same dtype, shape and bytes)."""
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        if not (isinstance(a, Mapping) and isinstance(b, Mapping)) or set(a) != set(b):
            return False
        return all(trees_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return bool(a == b)


def render(value: Any) -> str:
    """A short human rendering of a field value (for summaries and ``nirbridge inspect``)."""
    if isinstance(value, Spec):
        return value.brief()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, np.ndarray):
        return f"array {'x'.join(str(s) for s in value.shape)}"
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return "[" + ", ".join(f"{a}->{b}" for a, b in value) + "]"
        if value and isinstance(value[0], Spec):
            return "[" + "; ".join(v.brief() for v in value) + "]"
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


__all__ = [
    "FieldInfo",
    "FieldType",
    "Spec",
    "is_unset",
    "jsonable",
    "param",
    "render",
    "trees_equal",
]
