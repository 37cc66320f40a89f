"""Declarative data models for settings and tool arguments, without Pydantic's start-up cost.

Declared like Pydantic v2 models (annotations, ``Field(default, ge=…, description=…)``,
``model_config``, ``@field_validator``), validated with Pydantic's lax-mode rules and error
shapes, and offering the part of Pydantic's surface Bastion uses (``model_validate``,
``model_dump``, ``model_copy``, ``model_fields``, ``model_json_schema``). Pydantic itself
costs ~60 ms to import and ~30 ms to build Bastion's models on every start; a class here
costs a dictionary walk until first used. ``tests/test_datamodel.py`` checks every model
Bastion declares against a Pydantic twin on the same inputs.
"""

from ._model import ConfigDict, Field, FieldInfo, Model, PrivateAttr, ValidationError, field_validator


def to_camel(name: str) -> str:
    """``snake_case`` → ``snakeCase`` (the settings' on-disk spelling)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


__all__ = ["ConfigDict", "Field", "FieldInfo", "Model", "PrivateAttr", "ValidationError", "field_validator",
           "to_camel"]
