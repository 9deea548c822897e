"""Fast push item validation, compiled from the JSON schema.

Checking every item with :mod:`jsonschema` costs hundreds of microseconds,
far more than recording it. Instead, the schema is compiled once into a
single Python expression, such as::

    isinstance(v, dict) and 'filename' in v and isinstance(v['filename'], str)

which answers "valid or not" in about a microsecond. Only when an item is
rejected is :mod:`jsonschema` consulted, to raise the same detailed
:class:`jsonschema.ValidationError` it always would have.

The compiler understands the keywords the push item schema uses, with the
semantics :mod:`jsonschema` gives them for draft-07. A schema using anything
else is refused with :class:`UnsupportedSchema`, so a change to the schema
file can never silently weaken validation: the test suite fails first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

Predicate = Callable[[object], bool]

# Keywords that never affect whether an instance is valid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
)

_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties"})

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
    compiler = _ExpressionCompiler()
    expression = compiler.expression(schema, "v")
    return eval("lambda v: " + expression, compiler.constants)


class _ExpressionCompiler:
    """Turns a schema into a Python expression about a subject expression.

    Values the expression needs (type tuples, enum sets, compiled patterns)
    are bound to generated names in :attr:`constants`; only those names and
    the repr() of property names ever appear in the generated source.
    """

    def __init__(self):
        self.constants = {
            "__builtins__": {"isinstance": isinstance, "str": str, "dict": dict}
        }

    def constant(self, value) -> str:
        name = "_%d" % len(self.constants)
        self.constants[name] = value
        return name

    def expression(self, schema, subject: str) -> str:
        if isinstance(schema, bool):
            return repr(schema)
        if not isinstance(schema, dict):
            raise UnsupportedSchema("not a schema: %r" % (schema,))

        unknown = set(schema) - _ANNOTATIONS - _OBJECT_KEYWORDS - set(_KEYWORDS)
        if unknown:
            raise UnsupportedSchema(
                "schema keywords not supported by the fast validator: %s"
                % ", ".join(sorted(map(str, unknown)))
            )

        checks = [
            compile_keyword(self, schema[keyword], subject)
            for keyword, compile_keyword in _KEYWORDS.items()
            if keyword in schema
        ]
        if _OBJECT_KEYWORDS.intersection(schema):
            checks.append(self.object_keywords(schema, subject))
        return _all_of(checks)

    def type_keyword(self, type_keyword, subject: str) -> str:
        types = _python_types(type_keyword)
        if types is None:
            raise UnsupportedSchema("unsupported type: %r" % (type_keyword,))
        return "isinstance(%s, %s)" % (subject, self.constant(types))

    def enum_keyword(self, values, subject: str) -> str:
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise UnsupportedSchema(
                "only enums of strings are supported: %r" % (values,)
            )
        return "(isinstance(%s, str) and %s in %s)" % (
            subject,
            subject,
            self.constant(frozenset(values)),
        )

    def pattern_keyword(self, pattern, subject: str) -> str:
        # jsonschema applies patterns with re.search, so must we.
        search = self.constant(re.compile(pattern).search)
        return "(not isinstance(%s, str) or %s(%s) is not None)" % (
            subject,
            search,
            subject,
        )

    def any_of_keyword(self, subschemas, subject: str) -> str:
        if not isinstance(subschemas, list) or not subschemas:
            raise UnsupportedSchema(
                "anyOf must be a non-empty list: %r" % (subschemas,)
            )

        # The common "null or string" shape becomes a single isinstance().
        if all(isinstance(s, dict) and set(s) == {"type"} for s in subschemas):
            types = [_python_types(s["type"]) for s in subschemas]
            if None not in types:
                union = tuple(t for group in types for t in group)
                return "isinstance(%s, %s)" % (subject, self.constant(union))

        alternatives = [self.expression(s, subject) for s in subschemas]
        return "(%s)" % " or ".join(alternatives)

    def object_keywords(self, schema, subject: str) -> str:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        additional = schema.get("additionalProperties", True)
        if not isinstance(properties, dict) or not isinstance(required, list):
            raise UnsupportedSchema("malformed properties or required: %r" % (schema,))
        if not isinstance(additional, bool):
            raise UnsupportedSchema("additionalProperties must be true or false")

        checks = ["%r in %s" % (name, subject) for name in required]
        for name, subschema in properties.items():
            value = "%s[%r]" % (subject, name)
            checks.append(
                "(%r not in %s or %s)"
                % (name, subject, self.expression(subschema, value))
            )
        if not additional:
            known = self.constant(frozenset(properties))
            checks.append("%s.issuperset(%s)" % (known, subject))
        # Object keywords say nothing about instances of other types.
        return "(not isinstance(%s, dict) or %s)" % (subject, _all_of(checks))


_KEYWORDS = {
    "type": _ExpressionCompiler.type_keyword,
    "enum": _ExpressionCompiler.enum_keyword,
    "pattern": _ExpressionCompiler.pattern_keyword,
    "anyOf": _ExpressionCompiler.any_of_keyword,
}


def _all_of(checks) -> str:
    return "(%s)" % " and ".join(checks) if checks else "True"


def _python_types(type_keyword):
    """The Python classes for a ``type`` keyword, or None if not plain."""
    names = [type_keyword] if isinstance(type_keyword, str) else type_keyword
    if not isinstance(names, list) or not all(name in _PLAIN_TYPES for name in names):
        return None
    return tuple(_PLAIN_TYPES[name] for name in names)


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
