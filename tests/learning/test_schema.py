"""The published JSON Schema: current, valid, and in agreement with the rule classes."""

from __future__ import annotations

import copy
import json
import sys

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

import nirbridge.learning as nl
from nirbridge import LearningRuleError
from tests.conftest import REPO

from ._graphs import examples, graphs_with_rules

sys.path.insert(0, str(REPO / "scripts"))
import learning_schema  # noqa: E402

SCHEMA = nl.json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_file_is_current():
    assert learning_schema.SCHEMA_FILE.read_text() == learning_schema.render_schema(), (
        "docs/learning-rule.schema.json is stale: run python scripts/learning_schema.py --write"
    )


def test_schema_reference_in_the_docs_is_current():
    text = learning_schema.DOC_FILE.read_text()
    assert learning_schema.render_doc(text, learning_schema.render_reference()) == text, (
        "docs/learning.md's reference is stale: run python scripts/learning_schema.py --write"
    )


def test_check_flags_stale_files_and_write_fixes_them(tmp_path, capsys):
    schema = tmp_path / "schema.json"
    doc = tmp_path / "doc.md"
    schema.write_text("{}\n")
    doc.write_text(f"# x\n{learning_schema.START}\nold\n{learning_schema.END}\ntail\n")
    args = ["--schema", str(schema), "--doc", str(doc)]
    assert learning_schema.main(["--check", *args]) == 1
    assert "stale" in capsys.readouterr().err
    assert learning_schema.main(["--write", *args]) == 0
    assert learning_schema.main(["--check", *args]) == 0
    assert json.loads(schema.read_text()) == SCHEMA
    assert "### EProp" in doc.read_text() and doc.read_text().endswith("tail\n")


def test_schema_is_valid_draft_2020_12_and_covers_every_class():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    defs = SCHEMA["$defs"]
    for cls in (*nl.RULE_TYPES.values(), nl.Scope, nl.Optimizer, nl.AdamState, nl.Loss,
                nl.Regularizer, nl.Surrogate, nl.EPropSurrogate, nl.TimingDependence,
                nl.WeightDependence):  # fmt: skip
        props = defs[cls.__name__]["properties"]
        assert {f.name for f in cls.fields()} <= set(props), cls
    eprop = defs["EProp"]["properties"]
    assert eprop["kind"] == {"const": "eprop", "description": "kind of learning rule"}
    assert eprop["readout_tau"]["exclusiveMinimum"] == 0
    assert "[s]" in eprop["readout_tau"]["description"]
    assert eprop["variant"]["enum"] == ["online", "bsshslm_2020"]


@pytest.mark.parametrize("kind", list(nl.RULE_TYPES))
def test_example_rules_validate_against_the_schema(kind):
    rule = examples()[kind]
    document = json.loads(json.dumps(rule.to_json()))
    VALIDATOR.validate(document)
    assert nl.rule_from_dict(document) == rule  # the JSON form reads back bit for bit


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_with_rules())
def test_random_rules_validate_against_the_schema(case):
    _, rule = case
    document = json.loads(json.dumps(rule.to_json()))
    VALIDATOR.validate(document)
    assert nl.rule_from_dict(document) == rule


def _broken():
    """(description, document) pairs the schema and the classes must both refuse."""
    ex = {k: r.to_json() for k, r in examples().items()}
    cases = []

    def case(name, kind, change):
        doc = copy.deepcopy(ex[kind])
        change(doc)
        cases.append(pytest.param(doc, id=name))

    case("adam without beta_1", "eprop", lambda d: d["optimizer"].pop("beta_1"))
    case("sgd with beta_1", "eventprop", lambda d: d["optimizer"].update(beta_1=0.9))
    case("negative learning rate", "eventprop", lambda d: d["optimizer"].update(learning_rate=-1))
    case("unknown field", "stdp", lambda d: d.update(tau_plus=0.02))
    case("random feedback without B", "eprop", lambda d: d.pop("B"))
    case("B of one dimension", "eprop", lambda d: d.update(B=[1.0, 2.0]))
    case("symmetric feedback with B", "eprop", lambda d: d.update(feedback="symmetric"))
    case("flag as 2", "eprop", lambda d: d.update(optimize_each_step=2))
    case("atan without alpha", "surrogate_gradient", lambda d: d["surrogate"].update(
        function="atan"))  # fmt: skip
    case("ttfs without tau0", "eventprop", lambda d: d.update(loss={"name": "ttfs"}))
    case("newer schema", "local", lambda d: d.update(schema=2))
    case("wrong kind", "local", lambda d: d.update(kind="stdp"))
    case("no plastic edges", "local", lambda d: d["scope"].update(plastic_edges=[]))
    case("edge of three", "local", lambda d: d["scope"].update(plastic_edges=[["a", "b", "c"]]))
    case("gutig without mu", "stdp", lambda d: d["weight_dependence"].pop("mu_plus"))
    case("regularizers keyed by name", "surrogate_gradient", lambda d: d.update(
        regularizers={"a": d["regularizers"]["0"]}))  # fmt: skip
    case("negative adam v", "surrogate_gradient", lambda d: d["optimizer"]["state"]["0"].update(
        v=[[-1.0] * 8] * 2))  # fmt: skip
    return cases


@pytest.mark.parametrize("document", _broken())
def test_schema_and_classes_refuse_the_same_documents(document):
    assert not VALIDATOR.is_valid(document)
    with pytest.raises(LearningRuleError):
        nl.rule_from_dict(document)


def test_schema_and_classes_accept_the_same_hand_written_forms():
    rule = examples()["surrogate_gradient"]
    document = rule.to_json()
    document["detach_reset"] = True  # JSON booleans for flags
    document["regularizers"] = list(document["regularizers"].values())  # arrays for lists
    document["loss"] = {"name": "mse_voltage"}
    VALIDATOR.validate(document)
    assert nl.rule_from_dict(document) == rule
