"""``bastion.datamodel`` against Pydantic: every model Bastion declares (settings, tool
arguments) gets a Pydantic twin built from the same declaration, and both must agree — on
aliases, defaults, JSON schemas, and on what they accept, produce and report for a battery of
values placed in every field (including the nested settings), down to each error's type,
location, message and input."""

from __future__ import annotations

import copy
import json
import math
import pickle
import types
import typing
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.alias_generators import to_camel as pydantic_to_camel

import bastion.agent.taskforce
import bastion.tools.edit
import bastion.tools.fetch
import bastion.tools.files
import bastion.tools.run_command  # noqa: F401
from bastion.config import Settings
from bastion.datamodel import ConfigDict, Field, Model, ValidationError, field_validator, to_camel
from bastion.tools import ToolArgs


def _all_models(base: type = Model) -> list[type[Model]]:
    out = []
    for sub in base.__subclasses__():
        if sub.__module__.startswith("bastion.") and not sub.__name__.startswith("_"):
            out.append(sub)
        out += _all_models(sub)
    return sorted(set(out), key=lambda c: (c.__module__, c.__name__))


MODELS = _all_models()
_TWINS: dict[type, type[pydantic.BaseModel]] = {}


def _swap(tp: Any) -> Any:
    """``tp`` with every datamodel class replaced by its Pydantic twin."""
    if isinstance(tp, type) and issubclass(tp, Model):
        return twin(tp)
    args = typing.get_args(tp)
    if not args or typing.get_origin(tp) is typing.Literal:
        return tp
    origin = typing.get_origin(tp)
    swapped = tuple(_swap(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[swapped]  # noqa: UP007 - built from a tuple
    return origin[swapped]


def twin(cls: type[Model]) -> type[pydantic.BaseModel]:
    if cls in _TWINS:
        return _TWINS[cls]
    config = dict(cls.model_config)
    if config.get("alias_generator") is to_camel:
        config["alias_generator"] = pydantic_to_camel  # Pydantic's own, to check ours
    fields: dict[str, Any] = {}
    for name, info in cls._compiled().items():
        options: dict[str, Any] = dict(info.bounds, description=info.description)
        if not info.generated_alias and info.alias != name:
            options["alias"] = info.alias
        if info.default_factory is not None:
            options["default_factory"] = info.default_factory
        elif not info.is_required():
            options["default"] = info.default
        fields[name] = (_swap(info.annotation), pydantic.Field(**options))
    validators = {}
    for field_name, attrs in cls.__datamodel_validators__.items():
        for attr in attrs:
            validators[f"{attr}_{field_name}"] = pydantic.field_validator(field_name)(
                _pydantic_validator(getattr(cls, attr)))
    made = pydantic.create_model(cls.__name__, __config__=pydantic.ConfigDict(**config),
                                 __validators__=validators, **fields)
    _TWINS[cls] = made
    return made


def _pydantic_validator(check: Any) -> Any:
    def run(cls: Any, value: Any) -> Any:
        return check(value)
    return run


VALUES: list[Any] = [
    None, True, False, 0, 1, 2, -1, 7, 64, 512, 100_000, 1.5, 5.0, 0.0, -2.5, 1e20, "", "x", "5",
    " 7 ", "+3", "1_000", "1__0", "_1", "5.0", "5.", "5.00", ".5", "05", "1e3", "inf", "yes",
    "No", "off", "true", "system",
    "standard", "full", "auto", "s3", "bubblewrap", "1.2", "127.0.0.53", "*.example.com",
    "a b", "http://proxy:3128", "ftp://x", [], ["a"], [1], ["127.0.0.1", "::1:99"], [None],
    {}, {"a": "b"}, {"a": 1}, {"a": ["b"]}, {"a": []}, {"h": ["A" * 64]}, {"h": ["zz"]},
    {"path": "/x"}, {"path": "/x", "access": "write"}, {"path": 1}, {"extra": 1},
    {"command": "node"}, {1: "x"}, ("a", "b"), "reviewer", "Bad Name", "a" * 65, ["a", "b"],
    {"prompt": "p"}, {"provider": "openai", "temperature": 3},
]


def _outcome(make: Any) -> Any:
    try:
        value = make()
    except (ValidationError, pydantic.ValidationError) as exc:
        return ("error", [(e["type"], tuple(e["loc"]), e["msg"], repr(e["input"]))
                          for e in exc.errors()])
    return ("ok", value.model_dump(mode="json", by_alias=True),
            value.model_dump(exclude_unset=True))


def _field_paths(cls: type[Model], prefix: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """(top model, path of aliases) for every field, nested models included."""
    paths = []
    for info in cls._compiled().values():
        path = (*prefix, info.alias)
        paths.append(path)
        if isinstance(info.annotation, type) and issubclass(info.annotation, Model):
            paths += _field_paths(info.annotation, path)
    return paths


def _nest(path: tuple[str, ...], value: Any, base: dict[str, Any] | None = None) -> dict:
    data: dict[str, Any] = copy.deepcopy(base or {})
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return data


def _base(cls: type[Model]) -> dict[str, Any]:
    """The smallest valid input (required fields filled with strings)."""
    return {i.alias: "x" for i in cls._compiled().values() if i.is_required()}


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_field_agrees_with_pydantic_on_every_value(cls: type[Model]) -> None:
    other = twin(cls)
    for path in _field_paths(cls):
        for value in VALUES:
            data = _nest(path, value, _base(cls))
            ours = _outcome(lambda d=data: cls.model_validate(copy.deepcopy(d)))
            theirs = _outcome(lambda d=data: other.model_validate(copy.deepcopy(d)))
            assert ours == theirs, (path, value)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_aliases_defaults_and_schema_agree(cls: type[Model]) -> None:
    other = twin(cls)
    assert {n: i.alias for n, i in cls.model_fields.items()} == \
        {n: i.alias or n for n, i in other.model_fields.items()}
    base = _base(cls)
    assert _outcome(lambda: cls(**base)) == _outcome(lambda: other(**base))
    # by field name (populate_by_name) and by alias, unknown keys, missing required keys
    by_name = {n: "x" for n, i in cls.model_fields.items() if i.is_required()}
    for data in (by_name, {**base, "noSuchKey": 1}, {}, {"$schema": None}):
        assert _outcome(lambda d=data: cls.model_validate(d)) == \
            _outcome(lambda d=data: other.model_validate(d)), data
    if issubclass(cls, ToolArgs):  # the schema offered to models; settings have none
        assert json.dumps(cls.model_json_schema()) == json.dumps(other.model_json_schema())
    else:
        with pytest.raises(TypeError, match="flat models only"):
            Settings.model_json_schema()


JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6)
                       | st.floats(allow_nan=False) | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), value=JSONISH)
def test_random_values_in_random_settings_fields_agree(data: st.DataObject, value: Any) -> None:
    chosen = data.draw(st.sampled_from(_field_paths(Settings)))
    nested = _nest(chosen, value)
    assert _outcome(lambda: Settings.model_validate(nested)) == \
        _outcome(lambda: twin(Settings).model_validate(nested))


def test_camel_case_aliases_match_pydantic() -> None:
    for name in ("a", "timeout_s", "key_cache_s", "mcp_cpu_seconds", "x_y_z", "already"):
        assert to_camel(name) == pydantic_to_camel(name)


class _Demo(Model):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    count: int = Field(default=1, ge=1)
    names: list[str] = Field(default_factory=list)
    mode: typing.Literal["a", "b"] = "a"

    @field_validator("names")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        if "" in value:
            raise ValueError("blank name")
        return value


def test_assignment_is_validated_and_recorded_as_set() -> None:
    demo = _Demo()
    demo.count = 3
    assert demo.count == 3 and demo.model_dump(exclude_unset=True) == {"count": 3}
    with pytest.raises(ValidationError) as caught:
        demo.count = 0
    assert caught.value.errors()[0]["loc"] == ("count",) and demo.count == 3
    with pytest.raises(ValidationError, match="blank name"):
        demo.names = ["a", ""]
    with pytest.raises(ValidationError, match="no attribute"):
        demo.nope = 1  # type: ignore[attr-defined]


def test_copies_are_independent_and_defaults_are_fresh() -> None:
    first, second = _Demo(), _Demo()
    first.names.append("x")
    assert second.names == []  # a default factory runs per instance
    clone = first.model_copy(update={"count": 9})
    assert (clone.count, first.count) == (9, 1) and clone.model_fields_set == {"count"}
    deep = copy.deepcopy(first)
    deep.names.append("y")
    assert first.names == ["x"] and deep != first and copy.copy(first) == first


def test_models_pickle_with_their_set_fields_and_private_values() -> None:
    settings = Settings.model_validate({"sandbox": {"memoryMb": 4096}})
    settings._layers = {"origin": "user"}
    clone = pickle.loads(pickle.dumps(settings))
    assert clone == settings and clone._layers == {"origin": "user"}
    assert clone.model_dump(exclude_unset=True) == {"sandbox": {"memory_mb": 4096}}
    clone.sandbox.memory_mb = 512  # still validated after the round trip
    with pytest.raises(ValidationError):
        clone.sandbox.memory_mb = 1


def test_a_validator_error_names_the_field_and_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        _Demo.model_validate({"names": ["", "b"], "mode": "c", "zz": 1})
    assert [(e["type"], e["loc"]) for e in caught.value.errors()] == [
        ("value_error", ("names",)), ("literal_error", ("mode",)), ("extra_forbidden", ("zz",))]
    assert "3 validation errors for _Demo" in str(caught.value)


def test_unsupported_annotations_are_refused_at_first_use() -> None:
    class Odd(Model):
        when: complex = 1j

    with pytest.raises(TypeError, match="unsupported annotation"):
        Odd()


def test_a_model_class_costs_no_compilation_until_used() -> None:
    class Lazy(Model):
        a: int = 1

    assert Lazy.__datamodel_compiled__ is False
    assert Lazy().a == 1 and Lazy.__datamodel_compiled__ is True
    assert not math.isnan(Lazy(a=2).a)
