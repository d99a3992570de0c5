"""The JSON Schema of stored learning rules, generated from the field declarations."""

from __future__ import annotations

from typing import Any

from ._base import FieldInfo, Spec
from ._rule import LearningRule
from ._store import METADATA_KEY, RULE_TYPES

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _ref(cls: type[Spec]) -> dict[str, str]:
    return {"$ref": f"#/$defs/{cls.__name__}"}


_BOUNDS = (
    ("ge", "minimum"),
    ("gt", "exclusiveMinimum"),
    ("le", "maximum"),
    ("lt", "exclusiveMaximum"),
)


def _number(meta: Any, kind: str = "number") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind}
    for key, word in _BOUNDS:
        if meta.get(key) is not None:
            schema[word] = meta[key]
    return schema


def _array(meta: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """Nested lists of numbers; any depth (a recursive definition) unless ``ndim`` is set."""
    item = _number(meta)
    ndim = meta.get("ndim")
    if ndim is None:
        suffix = "".join(f"_{k}_{meta[k]:g}" for k, _ in _BOUNDS if meta.get(k) is not None)
        name = f"ndarray{suffix}"
        if name not in defs:
            bounds = f" ({', '.join(k for k in item if k != 'type')})" if suffix else ""
            defs[name] = {
                "description": f"an array of numbers{bounds}, any number of dimensions "
                "(nested lists)",
                "type": "array",
                "items": {"anyOf": [item, {"$ref": f"#/$defs/{name}"}]},
            }
        return {"$ref": f"#/$defs/{name}"}
    schema = item
    for _ in range(ndim):
        schema = {"type": "array", "items": schema}
    return schema


def _description(info: FieldInfo) -> str:
    text = info.doc
    if info.unit:
        text += f" [{info.unit}]"
    return text


def _field_schema(
    info: FieldInfo, pending: list[type[Spec]], defs: dict[str, Any]
) -> dict[str, Any]:
    meta, kind = info.meta, info.type.kind
    schema: dict[str, Any]
    if kind == "float":
        schema = _number(meta)
    elif kind == "int":
        schema = _number(meta, "integer")
    elif kind == "bool":
        schema = {"enum": [0, 1, False, True]}
    elif kind == "str":
        schema = {"type": "string"}
        if meta.get("choices"):
            schema["enum"] = list(meta["choices"])
    elif kind == "array":
        schema = _array(meta, defs)
    elif kind == "strs":
        schema = {"type": "array", "items": {"type": "string"}}
    elif kind == "pairs":
        pair = {"type": "string"}
        schema = {
            "type": "array",
            "items": {"type": "array", "items": pair, "minItems": 2, "maxItems": 2},
        }
    elif kind in ("spec", "specs"):
        assert info.type.spec is not None
        pending.append(info.type.spec)
        if kind == "spec":
            schema = _ref(info.type.spec)
        else:
            schema = {
                "anyOf": [
                    {
                        "type": "object",
                        "patternProperties": {"^(0|[1-9][0-9]*)$": _ref(info.type.spec)},
                        "additionalProperties": False,
                    },
                    {"type": "array", "items": _ref(info.type.spec)},
                ]
            }
    else:  # pragma: no cover - _field_type admits only the kinds above
        raise AssertionError(kind)
    if kind in ("strs", "pairs") and meta.get("min_items") is not None:
        schema["minItems"] = meta["min_items"]
    if "$ref" in schema:
        return {"allOf": [schema], "description": _description(info)}
    schema["description"] = _description(info)
    if info.default is not None and not isinstance(info.default, (tuple, Spec)):
        schema["default"] = int(info.default) if kind == "bool" else info.default
    return schema


def _variant_rules(cls: type[Spec]) -> list[dict[str, Any]]:
    rules = []
    for disc, table in cls._variants.items():
        governed = cls.governed(disc)
        for value, (required, allowed) in table.items():
            forbidden = [n for n in governed if n not in required and n not in allowed]
            then: dict[str, Any] = {}
            if required:
                then["required"] = list(required)
            if forbidden:
                then["properties"] = {n: False for n in forbidden}
            if then:
                rules.append(
                    {
                        "if": {"properties": {disc: {"const": value}}, "required": [disc]},
                        "then": then,
                    }
                )
    return rules


def _class_schema(
    cls: type[Spec], pending: list[type[Spec]], defs: dict[str, Any]
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    if issubclass(cls, LearningRule):
        properties["kind"] = {"const": cls.kind, "description": "kind of learning rule"}
        properties["schema"] = {
            "const": cls.schema,
            "description": "version of this kind's schema (older ones are migrated on read)",
        }
        required += ["kind", "schema"]
    for info in cls.fields():
        properties[info.name] = _field_schema(info, pending, defs)
        if info.required:
            required.append(info.name)
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    schema: dict[str, Any] = {
        "title": cls.__name__,
        "description": " ".join(doc.split()),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    rules = _variant_rules(cls)
    if rules:
        schema["allOf"] = rules
    return schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a stored learning rule.

    It describes ``rule.to_json()`` -- the stored form, the tree under
    ``metadata/nirbridge/learning_rule`` in a ``.nir`` file, with arrays as nested lists --
    and the other documents :func:`rule_from_dict` reads: flags as 0/1 (stored) or
    false/true, lists of parts as groups named "0", "1", ... (stored) or as arrays.
    Generated from the rule classes' field declarations: one definition per class, fields
    with their descriptions, units, bounds and choices, and which fields each variant needs.
    """
    defs: dict[str, Any] = {}
    pending: list[type[Spec]] = list(RULE_TYPES.values())
    while pending:
        cls = pending.pop(0)
        if cls.__name__ in defs:
            continue
        defs[cls.__name__] = _class_schema(cls, pending, defs)
    return {
        "$schema": DRAFT,
        "title": "nirbridge learning rule",
        "description": "A learning rule stored in a NIR file under "
        f"metadata/nirbridge/{METADATA_KEY}. The 'kind' field says which rule it is.",
        "oneOf": [_ref(cls) for cls in RULE_TYPES.values()],
        "$defs": dict(sorted(defs.items())),
    }


__all__ = ["json_schema"]
