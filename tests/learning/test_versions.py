"""Schema versions: older stored rules are migrated, newer ones and unknown kinds fail clearly."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

import nirbridge
import nirbridge.learning as nl
from nirbridge import LearningRuleError

from ._graphs import examples, network


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class STDPv2(nl.STDP):
    """STDP as a later release might define it: schema 2, whose schema 1 called
    ``dendritic_delay_fraction`` ``delay_fraction``."""

    schema = 2
    migrations = {
        1: lambda raw: {
            **{k: v for k, v in raw.items() if k != "delay_fraction"},
            "dendritic_delay_fraction": raw["delay_fraction"],
        }
    }


def schema1_stdp() -> dict:
    raw = examples()["stdp"].to_dict()
    raw["delay_fraction"] = 0.25
    del raw["dendritic_delay_fraction"]
    return raw


def test_older_schema_goes_through_the_migration_hook(monkeypatch):
    monkeypatch.setitem(nl.RULE_TYPES, "stdp", STDPv2)
    rule = nl.rule_from_dict(schema1_stdp())
    assert type(rule) is STDPv2
    assert rule.dendritic_delay_fraction == 0.25
    assert rule.to_dict()["schema"] == 2
    assert nl.rule_from_dict(rule.to_dict()) == rule  # the current schema needs no migration


def test_older_schema_migrates_when_read_from_a_file(monkeypatch, tmp_path):
    graph = network()
    nl.attach(graph, examples()["stdp"])
    nirbridge.write(tmp_path / "old.nir", graph)
    monkeypatch.setitem(nl.RULE_TYPES, "stdp", STDPv2)
    with h5py.File(tmp_path / "old.nir", "r+") as f:
        group = f["node/metadata/nirbridge/learning_rule"]
        group["delay_fraction"] = 0.5
        del group["dendritic_delay_fraction"]
    rule = nl.rule_of(nirbridge.read(tmp_path / "old.nir"))
    assert type(rule) is STDPv2 and rule.dendritic_delay_fraction == 0.5


def test_a_missing_migration_step_is_an_error(monkeypatch):
    @dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
    class STDPv3(nl.STDP):
        schema = 3
        migrations = {2: lambda raw: raw}

    monkeypatch.setitem(nl.RULE_TYPES, "stdp", STDPv3)
    with pytest.raises(LearningRuleError, match="no migration from schema 1 to 2") as info:
        nl.rule_from_dict(schema1_stdp())
    assert info.value.field == "schema"


def test_without_the_migration_the_old_field_is_unknown():
    with pytest.raises(LearningRuleError, match="unknown field") as info:
        nl.rule_from_dict(schema1_stdp())
    assert info.value.field == "delay_fraction"


def test_newer_schema_fails_with_a_clear_message():
    raw = examples()["eprop"].to_dict()
    raw["schema"] = np.int64(2)
    with pytest.raises(LearningRuleError, match=r"schema 2, newer than the schema 1.*upgrade"):
        nl.rule_from_dict(raw)


def test_newer_schema_in_a_file(tmp_path):
    graph = network()
    nl.attach(graph, examples()["eprop"])
    nirbridge.write(tmp_path / "new.nir", graph)
    with h5py.File(tmp_path / "new.nir", "r+") as f:
        group = f["node/metadata/nirbridge/learning_rule"]
        del group["schema"]
        group["schema"] = 7
    back = nirbridge.read(tmp_path / "new.nir")  # the graph itself still reads
    with pytest.raises(LearningRuleError, match="upgrade nirbridge") as info:
        nl.rule_of(back)
    assert info.value.rule == "eprop" and info.value.field == "schema"


@pytest.mark.parametrize(
    ("schema", "message"),
    [(0, "expected >= 1"), ("one", "not an integer"), (1.5, "not an integer"), (-3, ">= 1")],
)
def test_malformed_schema_numbers(schema, message):
    raw = examples()["local"].to_dict()
    raw["schema"] = schema
    with pytest.raises(LearningRuleError, match=message):
        nl.rule_from_dict(raw)


def test_unknown_and_missing_kind():
    raw = examples()["stdp"].to_dict()
    raw["kind"] = "hebbian"
    with pytest.raises(LearningRuleError, match="unknown kind.*'eprop'") as info:
        nl.rule_from_dict(raw)
    assert info.value.field == "kind"
    del raw["kind"]
    with pytest.raises(LearningRuleError, match="missing"):
        nl.rule_from_dict(raw)
    with pytest.raises(LearningRuleError, match="wrong kind"):
        nl.EProp.from_dict(examples()["stdp"].to_dict())
    with pytest.raises(LearningRuleError, match="not a group"):
        nl.rule_from_dict([1, 2])


def test_malformed_stored_fields_are_named():
    raw = examples()["eprop"].to_dict()
    raw["optimizer"]["beta_1"] = "0.9"
    with pytest.raises(LearningRuleError, match="expected a number") as info:
        nl.rule_from_dict(raw)
    assert info.value.field == "optimizer.beta_1" and info.value.rule == "eprop"
    raw = examples()["eprop"].to_dict()
    raw["surrogate"] = 3.0
    with pytest.raises(LearningRuleError, match="EPropSurrogate") as info:
        nl.rule_from_dict(raw)
    assert info.value.field == "surrogate"
    raw = examples()["eprop"].to_dict()
    del raw["feedback"]
    with pytest.raises(LearningRuleError, match="missing") as info:
        nl.rule_from_dict(raw)
    assert info.value.field == "feedback"
    raw = examples()["surrogate_gradient"].to_dict()
    raw["regularizers"] = {"0": raw["regularizers"]["0"], "2": raw["regularizers"]["1"]}
    with pytest.raises(LearningRuleError, match="without gaps") as info:
        nl.rule_from_dict(raw)
    assert info.value.field == "regularizers"
    raw = examples()["surrogate_gradient"].to_dict()
    raw["regularizers"]["1"]["strength"] = -2.0
    with pytest.raises(LearningRuleError, match=">= 0") as info:
        nl.rule_from_dict(raw)
    assert info.value.field == "regularizers[1].strength"
    raw = examples()["eprop"].to_dict()
    raw["optimize_each_step"] = 2
    with pytest.raises(LearningRuleError, match="true or false") as info:
        nl.rule_from_dict(raw)
    assert info.value.field == "optimize_each_step"
