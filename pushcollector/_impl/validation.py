"""Fast push item validation, compiled from the JSON schema.

Checking every item with :mod:`jsonschema` costs hundreds of microseconds,
far more than recording it. Instead, the schema is compiled once into plain
Python predicates that answer "valid or not" in about a microsecond. Only
when an item is rejected is :mod:`jsonschema` consulted, to raise the same
detailed :class:`jsonschema.ValidationError` it always would have.

The compiler understands the keywords the push item schema uses, with the
semantics :mod:`jsonschema` gives them for draft-07. A schema using anything
else is refused with :class:`UnsupportedSchema`, so a change to the schema
file can never silently weaken validation: the test suite fails first.
"""

import re
from typing import Callable, Iterable

Predicate = Callable[[object], bool]

# Keywords that never affect whether an instance is valid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
)

_OBJECT_KEYWORDS = ("properties", "required", "additionalProperties")

# JSON types whose draft-07 meaning is exactly an isinstance() check.
# "integer", "number" and "boolean" are not among them: Python's bool is an
# int, which JSON schema does not agree with.
_PLAIN_TYPES = {
    "string": str,
    "null": type(None),
    "object": dict,
    "array": list,
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword or value the fast validator cannot check."""


def compile_schema(schema) -> Predicate:
    """Compile a JSON schema (draft-07 subset) into a predicate.

    Args:
        schema: a schema as loaded from JSON or YAML.

    Returns:
        A function of one instance returning True exactly when
        :mod:`jsonschema` would find the instance valid.

    Raises:
        UnsupportedSchema: if the schema uses anything this compiler does not
            implement.
    """
    if schema is True:
        return lambda instance: True
    if schema is False:
        return lambda instance: False
    if not isinstance(schema, dict):
        raise UnsupportedSchema("not a schema: %r" % (schema,))

    unknown = set(schema) - _ANNOTATIONS - set(_OBJECT_KEYWORDS) - set(_COMPILERS)
    if unknown:
        raise UnsupportedSchema(
            "schema keywords not supported by the fast validator: %s"
            % ", ".join(sorted(map(str, unknown)))
        )

    checks = [
        compile_keyword(schema[key])
        for key, compile_keyword in _COMPILERS.items()
        if key in schema
    ]
    if any(key in schema for key in _OBJECT_KEYWORDS):
        checks.append(_compile_object(schema))
    return _all_of(checks)


def _all_of(checks) -> Predicate:
    if not checks:
        return lambda instance: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda instance: first(instance) and second(instance)
    return lambda instance: all(check(instance) for check in checks)


def _python_types(type_keyword):
    """The Python classes for a ``type`` keyword, or None if not plain."""
    names = [type_keyword] if isinstance(type_keyword, str) else type_keyword
    if not isinstance(names, list) or not all(name in _PLAIN_TYPES for name in names):
        return None
    return tuple(_PLAIN_TYPES[name] for name in names)


def _compile_type(type_keyword) -> Predicate:
    types = _python_types(type_keyword)
    if types is None:
        raise UnsupportedSchema("unsupported type: %r" % (type_keyword,))
    return lambda instance: isinstance(instance, types)


def _compile_enum(values) -> Predicate:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UnsupportedSchema("only enums of strings are supported: %r" % (values,))
    allowed = frozenset(values)
    return lambda instance: isinstance(instance, str) and instance in allowed


def _compile_pattern(pattern) -> Predicate:
    # jsonschema applies patterns with re.search, so must we.
    search = re.compile(pattern).search
    return (
        lambda instance: not isinstance(instance, str) or search(instance) is not None
    )


def _compile_any_of(subschemas) -> Predicate:
    if not isinstance(subschemas, list) or not subschemas:
        raise UnsupportedSchema("anyOf must be a non-empty list: %r" % (subschemas,))

    # The common "null or string" shape becomes a single isinstance() call.
    if all(isinstance(s, dict) and set(s) == {"type"} for s in subschemas):
        types = [_python_types(s["type"]) for s in subschemas]
        if None not in types:
            union = tuple(t for group in types for t in group)
            return lambda instance: isinstance(instance, union)

    checks = [compile_schema(s) for s in subschemas]
    return lambda instance: any(check(instance) for check in checks)


def _compile_object(schema) -> Predicate:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise UnsupportedSchema("malformed properties or required: %r" % (schema,))
    if not isinstance(additional, bool):
        raise UnsupportedSchema("additionalProperties must be true or false")

    property_checks = tuple(
        (name, compile_schema(subschema)) for name, subschema in properties.items()
    )
    required = tuple(required)
    known = frozenset(properties)

    def check(instance):
        if not isinstance(instance, dict):
            return True  # object keywords say nothing about other types
        for name in required:
            if name not in instance:
                return False
        for name, property_check in property_checks:
            if name in instance and not property_check(instance[name]):
                return False
        if not additional:
            return all(key in known for key in instance)
        return True

    return check


_COMPILERS = {
    "type": _compile_type,
    "enum": _compile_enum,
    "pattern": _compile_pattern,
    "anyOf": _compile_any_of,
}


class SchemaValidator:
    """Validates batches: the compiled predicate first, jsonschema for errors.

    Args:
        schema: the JSON schema (draft-07) to enforce.
    """

    def __init__(self, schema: dict):
        self.schema = schema
        self.is_valid = compile_schema(schema)
        self._detailed = None

    def validate_all(self, instances: Iterable) -> None:
        """Raise for the first invalid instance; return None if all are valid.

        Raises:
            jsonschema.ValidationError: the error jsonschema reports for the
                first invalid instance.
        """
        if all(map(self.is_valid, instances)):
            return
        for instance in instances:
            if not self.is_valid(instance):
                self.raise_detailed_error(instance)

    def raise_detailed_error(self, instance) -> None:
        """Raise jsonschema's best error for an instance the predicate rejected."""
        from jsonschema.exceptions import best_match

        if self._detailed is None:
            from jsonschema import Draft7Validator

            self._detailed = Draft7Validator(self.schema)
        error = best_match(self._detailed.iter_errors(instance))
        if error is not None:
            raise error
