"""The model base class: declared like a Pydantic model, compiled on first use.

Defining a class costs a dictionary walk (no annotation is evaluated, nothing is generated);
the first validation of a class resolves its annotations and compiles one checker per field
(:mod:`._types`).
"""

from __future__ import annotations

import copy
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypedDict, TypeVar

from ._types import FAIL, SCHEMA_KEYWORDS, Check, Errors, Loc, compile_type, constrained, error

M = TypeVar("M", bound="Model")

_NO_DEFAULT: Any = object()
_IMMUTABLE = (str, int, float, bool, type(None), tuple, frozenset)


class ConfigDict(TypedDict, total=False):
    """A model's options (Pydantic's names and meanings)."""

    alias_generator: Callable[[str], str]
    populate_by_name: bool
    extra: Literal["forbid", "ignore"]
    validate_assignment: bool


class ValidationError(ValueError):
    """Values that do not fit a model; :meth:`errors` lists each problem like Pydantic."""

    def __init__(self, title: str, errors: Errors) -> None:
        self.title = title
        self._errors = errors
        lines = [f"{len(errors)} validation error{'s' if len(errors) != 1 else ''} for {title}"]
        for err in errors:
            lines += [".".join(str(p) for p in err["loc"]) or "(top level)", f"  {err['msg']}"]
        super().__init__("\n".join(lines))

    def errors(self) -> Errors:
        return [dict(e) for e in self._errors]

    def error_count(self) -> int:
        return len(self._errors)


class FieldInfo:
    """One field: its default (or factory), alias, bounds and description."""

    def __init__(self, default: Any = _NO_DEFAULT, *, default_factory: Callable[[], Any] | None
                 = None, alias: str | None = None, description: str | None = None,
                 **bounds: Any) -> None:
        unknown = set(bounds) - set(SCHEMA_KEYWORDS)
        if unknown:
            raise TypeError(f"Field: unsupported option(s) {sorted(unknown)}")
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.description = description
        self.bounds = bounds
        self.name = ""
        #: the alias came from the model's ``alias_generator`` (not given to ``Field``)
        self.generated_alias = False
        self.annotation: Any = None
        self.check: Check | None = None
        self.schema: dict[str, Any] = {}

    def is_required(self) -> bool:
        return self.default is _NO_DEFAULT and self.default_factory is None

    def make_default(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        if isinstance(self.default, _IMMUTABLE):
            return self.default
        return copy.deepcopy(self.default)


def Field(default: Any = _NO_DEFAULT, **options: Any) -> Any:
    """A field's options, as Pydantic's ``Field`` spells them."""
    return FieldInfo(default, **options)


class _Private:
    def __init__(self, default: Any = None) -> None:
        self.default = default


def PrivateAttr(default: Any = None) -> Any:
    return _Private(default)


def field_validator(*names: str) -> Callable[[Any], Any]:
    """Mark a classmethod ``(cls, value) -> value`` to run after the named fields' type
    checks; a ``ValueError`` it raises becomes a ``value_error`` of that field."""
    def mark(method: Any) -> Any:
        func = getattr(method, "__func__", method)
        func.__datamodel_validates__ = names
        return method
    return mark


def _class_fields(cls: type[Model]) -> dict[str, FieldInfo]:
    fields: dict[str, FieldInfo] = {}
    for base in reversed(cls.__mro__[1:]):
        fields.update(getattr(base, "__datamodel_fields__", {}))
    alias_of = cls.model_config.get("alias_generator")
    for name, annotation in inspect.get_annotations(cls).items():
        if name.startswith("_") or name == "model_config" or "ClassVar" in str(annotation):
            continue
        declared = cls.__dict__.get(name, _NO_DEFAULT)
        info = declared if isinstance(declared, FieldInfo) else FieldInfo(declared)
        info.name = name
        if info.alias is None:
            info.alias, info.generated_alias = (alias_of(name), True) if alias_of else (name, False)
        fields[name] = info
        if name in cls.__dict__:
            delattr(cls, name)  # the instance's value, never the class default, is read
    return fields


def _class_privates(cls: type[Model]) -> dict[str, Any]:
    privates: dict[str, Any] = {}
    for base in reversed(cls.__mro__[1:]):
        privates.update(getattr(base, "__datamodel_privates__", {}))
    for name, value in list(cls.__dict__.items()):
        if isinstance(value, _Private):
            privates[name] = value.default
            delattr(cls, name)
    return privates


class Model:
    """Base class: annotated fields, ``Field(...)`` options, ``model_config`` keys
    ``alias_generator``, ``populate_by_name``, ``extra`` ("forbid" | "ignore") and
    ``validate_assignment``, and the Pydantic methods Bastion uses."""

    model_config: ClassVar[ConfigDict] = ConfigDict()
    __datamodel_fields__: ClassVar[dict[str, FieldInfo]] = {}
    __datamodel_privates__: ClassVar[dict[str, Any]] = {}
    __datamodel_compiled__: ClassVar[bool] = False
    __datamodel_validators__: ClassVar[dict[str, list[str]]] = {}
    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    __slots__ = ("_fields_set", "_private")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__datamodel_fields__ = _class_fields(cls)
        cls.__datamodel_privates__ = _class_privates(cls)
        cls.__datamodel_compiled__ = False
        cls.model_fields = cls.__datamodel_fields__
        validators: dict[str, list[str]] = {}
        for base in reversed(cls.__mro__[1:]):
            for name, attrs in getattr(base, "__datamodel_validators__", {}).items():
                validators.setdefault(name, []).extend(attrs)
        for attr, value in cls.__dict__.items():
            for name in getattr(getattr(value, "__func__", None), "__datamodel_validates__", ()):
                validators.setdefault(name, []).append(attr)
        cls.__datamodel_validators__ = validators

    # -- construction ------------------------------------------------------------------
    def __init__(self, **data: Any) -> None:
        errors: Errors = []
        values = type(self)._check_object(data, (), errors)
        if values is FAIL:
            raise ValidationError(type(self).__name__, errors)
        self._adopt(*values)

    def _adopt(self, values: dict[str, Any], fields_set: set[str]) -> None:
        object.__setattr__(self, "__dict__", values)
        object.__setattr__(self, "_fields_set", fields_set)
        object.__setattr__(self, "_private", {
            name: copy.copy(default) for name, default in type(self).__datamodel_privates__.items()})

    def __getattr__(self, name: str) -> Any:
        private = type(self).__datamodel_privates__
        if name in private:
            return object.__getattribute__(self, "_private")[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def model_validate(cls: type[M], data: Any) -> M:
        if isinstance(data, cls):
            return data
        errors: Errors = []
        values = cls._check_value(data, (), errors)
        if values is FAIL:
            raise ValidationError(cls.__name__, errors)
        return values  # type: ignore[no-any-return]

    @classmethod
    def _check_value(cls, value: Any, loc: Loc, errors: Errors) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            return error(errors, "model_type", loc, "Input should be a valid dictionary or "
                         f"instance of {cls.__name__}", value)
        checked = cls._check_object(value, loc, errors)
        if checked is FAIL:
            return FAIL
        instance = cls.__new__(cls)
        instance._adopt(*checked)
        return instance

    @classmethod
    def _check_object(cls, data: dict[str, Any], loc: Loc, errors: Errors) -> Any:
        fields = cls._compiled()
        by_name = cls.model_config.get("populate_by_name", False) or False
        values: dict[str, Any] = {}
        fields_set: set[str] = set()
        used: set[str] = set()
        before = len(errors)
        for name, info in fields.items():
            key = info.alias if info.alias in data else name if by_name and name in data else None
            if key is None:
                if info.is_required():
                    error(errors, "missing", (*loc, info.alias), "Field required", data)
                else:
                    values[name] = info.make_default()
                continue
            used.add(key)
            fields_set.add(name)
            values[name] = cls._check_field(info, data[key], (*loc, info.alias), errors)
        if cls.model_config.get("extra", "ignore") == "forbid":
            for key, value in data.items():
                if not isinstance(key, str):
                    error(errors, "invalid_key", (*loc, key), "Keys should be strings", key)
                elif key not in used:
                    error(errors, "extra_forbidden", (*loc, key),
                          "Extra inputs are not permitted", value)
        return FAIL if len(errors) > before else (values, fields_set)

    @classmethod
    def _check_field(cls, info: FieldInfo, value: Any, loc: Loc, errors: Errors) -> Any:
        assert info.check is not None
        checked = info.check(value, loc, errors)
        if checked is FAIL:
            return FAIL
        for attr in cls.__datamodel_validators__.get(info.name, ()):
            try:
                checked = getattr(cls, attr)(checked)
            except ValueError as exc:
                return error(errors, "value_error", loc, f"Value error, {exc}", value)
        return checked

    @classmethod
    def _compiled(cls) -> dict[str, FieldInfo]:
        if not cls.__datamodel_compiled__:
            for info in cls.__datamodel_fields__.values():
                if info.check is None:
                    owner = next(c for c in cls.__mro__
                                 if info.name in inspect.get_annotations(c))
                    text = inspect.get_annotations(owner)[info.name]
                    tp = eval(text, vars(sys.modules[owner.__module__])) \
                        if isinstance(text, str) else text  # the class's own source
                    check, schema = compile_type(tp, lambda model: model._check_value)
                    info.annotation, info.check = tp, constrained(check, info.bounds)
                    info.schema = _with_bounds(schema, info.bounds)
            cls.__datamodel_compiled__ = True
        return cls.__datamodel_fields__

    # -- the Pydantic surface Bastion uses -------------------------------------------------
    @property
    def model_fields_set(self) -> set[str]:
        return set(self._fields_set)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).__datamodel_privates__:
            self._private[name] = value
            return
        fields = type(self)._compiled()
        errors: Errors = []
        if name not in fields:
            error(errors, "no_such_attribute", (name,), f"Object has no attribute {name!r}", value)
            raise ValidationError(type(self).__name__, errors)
        if type(self).model_config.get("validate_assignment"):
            value = type(self)._check_field(fields[name], value, (name,), errors)
            if value is FAIL:
                raise ValidationError(type(self).__name__, errors)
        self.__dict__[name] = value
        self._fields_set.add(name)

    def model_copy(self: M, *, update: dict[str, Any] | None = None, deep: bool = False) -> M:
        clone = copy.deepcopy(self) if deep else copy.copy(self)
        for name, value in (update or {}).items():
            clone.__dict__[name] = value
            clone._fields_set.add(name)
        return clone

    def model_dump(self, *, mode: str = "python", by_alias: bool = False,
                   exclude: set[str] | None = None, exclude_unset: bool = False,
                   exclude_none: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, info in type(self).__datamodel_fields__.items():
            if (exclude and name in exclude) or (exclude_unset and name not in self._fields_set):
                continue
            value = self.__dict__[name]
            if exclude_none and value is None:
                continue
            out[info.alias if by_alias and info.alias else name] = _dump(
                value, mode=mode, by_alias=by_alias, exclude_unset=exclude_unset,
                exclude_none=exclude_none)
        return out

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """Pydantic's JSON schema of a flat model (the shape of tool arguments)."""
        properties: dict[str, Any] = {}
        for name, info in cls._compiled().items():
            if "$ref" in json.dumps(info.schema):
                raise TypeError(f"{cls.__name__}.model_json_schema: flat models only")
            prop = dict(info.schema)
            if not info.is_required():
                prop["default"] = _dump(info.make_default(), mode="json", by_alias=True)
            if info.description is not None:
                prop["description"] = info.description
            prop["title"] = name.replace("_", " ").title()
            properties[info.alias or name] = dict(sorted(prop.items()))
        schema: dict[str, Any] = {"properties": properties}
        if cls.model_config.get("extra") == "forbid":
            schema["additionalProperties"] = False
        required = [i.alias or n for n, i in cls.__datamodel_fields__.items() if i.is_required()]
        if required:
            schema["required"] = required
        schema |= {"title": cls.__name__, "type": "object"}
        return dict(sorted(schema.items()))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Model)
        return self.__dict__ == other.__dict__ and self._private == other._private

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({body})"

    def __copy__(self: M) -> M:
        clone = type(self).__new__(type(self))
        object.__setattr__(clone, "__dict__", dict(self.__dict__))
        object.__setattr__(clone, "_fields_set", set(self._fields_set))
        object.__setattr__(clone, "_private", dict(self._private))
        return clone

    def __getstate__(self) -> dict[str, Any]:
        return {"values": self.__dict__, "fields_set": self._fields_set,
                "private": self._private}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", state["values"])
        object.__setattr__(self, "_fields_set", state["fields_set"])
        object.__setattr__(self, "_private", state["private"])

    def __deepcopy__(self: M, memo: dict[int, Any]) -> M:
        clone = type(self).__new__(type(self))
        object.__setattr__(clone, "__dict__", copy.deepcopy(self.__dict__, memo))
        object.__setattr__(clone, "_fields_set", set(self._fields_set))
        object.__setattr__(clone, "_private", copy.deepcopy(self._private, memo))
        return clone


def _with_bounds(schema: dict[str, Any], bounds: dict[str, Any]) -> dict[str, Any]:
    if not bounds:
        return schema
    keywords = {SCHEMA_KEYWORDS[name]: value for name, value in bounds.items()}
    if schema.get("type") == "array" and "minLength" in keywords:
        keywords["minItems"] = keywords.pop("minLength")
    if "anyOf" in schema:  # an optional number: the bounds belong to the number
        first, *rest = schema["anyOf"]
        return {**schema, "anyOf": [dict(sorted({**first, **keywords}.items())), *rest]}
    return dict(sorted({**schema, **keywords}.items()))


def _dump(value: Any, **options: Any) -> Any:
    if isinstance(value, Model):
        return value.model_dump(**options)
    if isinstance(value, (list, tuple)):
        items = [_dump(v, **options) for v in value]
        return items if options.get("mode") == "json" or isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _dump(v, **options) for k, v in value.items()}
    return value
