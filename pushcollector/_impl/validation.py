"""Fast push item validation, compiled from the JSON schema.

Checking every item with :mod:`jsonschema` costs hundreds of microseconds,
far more than recording it. Instead, the schema is compiled once into a
single Python expression, such as::

    isinstance(v, dict) and 'filename' in v and isinstance(v['filename'], str)

which answers "valid or not" in about a microsecond. Only when an item is
rejected is :mod:`jsonschema` consulted, to raise a detailed
:class:`jsonschema.ValidationError`.

The compiler understands the keywords the push item schema uses, with the
semantics :mod:`jsonschema` gives them for draft-07, except ``pattern``:
JSON Schema's patterns are ECMA-262 regular expressions, which
:mod:`jsonschema` runs as Python ones (so ``^[0-9a-f]{32}$`` accepts a
trailing newline, and ``\\d`` any Unicode digit). Both the compiled predicate
and the detailed validator run them with ECMA-262's meaning instead (see
:func:`ecma_regex`), as every other validator of the published schema does.
A schema using anything else is refused with :class:`UnsupportedSchema`, so
a change to the schema file can never silently weaken validation: the test
suite fails first.
"""

from __future__ import annotations

import functools
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
        # Like ECMA-262's RegExp.prototype.test, a search, not a full match.
        search = self.constant(ecma_regex(pattern).search)
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


# ECMA-262's \s: its WhiteSpace (the Zs category among them) and LineTerminator.
_ECMA_SPACE = (
    "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)

# What \d, \w and \s stand for inside a character class. They are ASCII in
# ECMA-262, unlike Python's, which also match '٣' or 'é'.
_CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_", "s": _ECMA_SPACE}

# ECMA-262's "." leaves out every line terminator, not only "\n".
_ANY_BUT_LINE_TERMINATORS = "[^\\n\\r\\u2028\\u2029]"

_CONTROL_ESCAPES = frozenset("fnrtv")

# The characters that may be escaped to stand for themselves ("\/" too).
_SYNTAX_CHARACTERS = frozenset("^$\\.*+?()[]{}|/")

_QUANTIFIER = re.compile(r"(?:[*+?]|\{[0-9]+(?:,[0-9]*)?\})\??")
_GROUP_NAME = re.compile(r"<([A-Za-z_$][A-Za-z0-9_$]*)>")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_HEX_BRACED = re.compile(r"\{([0-9A-Fa-f]+)\}")
_LOW_SURROGATE_ESCAPE = re.compile(r"\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
# Lookahead, lookbehind and non-capturing groups mean the same in both.
_SAME_GROUPS = ("(?:", "(?=", "(?!", "(?<=", "(?<!")


@functools.lru_cache(maxsize=None)
def ecma_regex(pattern: str) -> re.Pattern:
    """Compile a JSON Schema pattern, an ECMA-262 regular expression.

    The result searches strings exactly as ECMA-262's ``RegExp`` with the
    ``u`` flag does (as the JSON Schema test suite expects): ``$`` matches
    only at the very end, ``\\d``, ``\\w`` and ``\\b`` are ASCII, ``\\s`` is
    ECMA-262's white space, ``.`` matches no line terminator. The pattern is
    translated to Python's syntax, where that differs (``\\cJ``, ``\\u{...}``,
    ``[^]``, ``(?<name>...)``...).

    Raises:
        UnsupportedSchema: for what Python's re cannot do the same
            (backreferences, ``\\p{...}``, a negated class holding ``\\D``,
            ``\\W`` or ``\\S``), and for what ECMA-262 does not allow (such
            as ``\\A``, ``\\Z``, ``(?i)`` or possessive quantifiers), naming
            the pattern.
    """
    if not isinstance(pattern, str):
        raise UnsupportedSchema("pattern must be a string: %r" % (pattern,))
    try:
        return re.compile(_EcmaTranslator(pattern).translate(), re.ASCII)
    except re.error as error:
        raise UnsupportedSchema(
            "pattern %r has no Python equivalent: %s" % (pattern, error)
        ) from None


class _EcmaTranslator:
    """Translates one ECMA-262 pattern into Python's re syntax.

    ``re.ASCII`` is given when compiling the result: it makes ``\\b`` and
    ``\\B`` ASCII, as in ECMA-262. ``\\d``, ``\\w`` and ``\\s`` are spelled out
    as classes, since ECMA-262's ``\\s`` is not ASCII.
    """

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.index = 0

    def refuse(self, why: str):
        """Raise UnsupportedSchema; never returns."""
        raise UnsupportedSchema("pattern %r is not supported: %s" % (self.pattern, why))

    def translate(self) -> str:
        pattern = self.pattern
        parts = []
        # Whether the last part was a quantifier, which nothing may follow.
        quantified = False
        while self.index < len(pattern):
            char = pattern[self.index]
            quantifier = _QUANTIFIER.match(pattern, self.index)
            if quantifier:
                if quantified:
                    # ECMA-262: nothing to repeat (Python: possessive).
                    self.refuse("a quantifier follows a quantifier")
                parts.append(quantifier[0])
                self.index = quantifier.end()
                quantified = True
                continue
            quantified = False
            if char == "\\":
                parts.append(self.escape(in_class=False))
            elif char == "[":
                parts.append(self.character_class())
            elif char == "(":
                parts.append(self.group())
            elif char == ".":
                parts.append(_ANY_BUT_LINE_TERMINATORS)
                self.index += 1
            elif char == "$":
                # Python's $ also matches before a final newline.
                parts.append("\\Z")
                self.index += 1
            elif char in "{}]":
                # An error with the u flag; Python would read "{,3}" as a
                # quantifier, or take the character itself.
                self.refuse("a lone %r" % char)
            else:
                parts.append(char)
                self.index += 1
        return "".join(parts)

    def group(self) -> str:
        pattern, start = self.pattern, self.index
        if not pattern.startswith("(?", start):
            self.index += 1
            return "("
        for same in _SAME_GROUPS:
            if pattern.startswith(same, start):
                self.index += len(same)
                return same
        name = _GROUP_NAME.match(pattern, start + 2)
        if name is None:
            # (?i), (?P<...>), (?#...), (?>...): Python's, not ECMA-262's.
            self.refuse("unknown group syntax")
        self.index = name.end()
        return "(?P<%s>" % name[1]

    def character_class(self) -> str:
        pattern = self.pattern
        self.index += 1
        negated = pattern.startswith("^", self.index)
        if negated:
            self.index += 1
        if pattern.startswith("]", self.index):
            # ECMA-262's [] matches nothing and [^] anything; in Python a
            # "]" first in a class is the character itself.
            self.index += 1
            return "(?s:.)" if negated else "(?!)"
        members, complements = [], []
        while True:
            if self.index >= len(pattern):
                self.refuse("unterminated character class")
            char = pattern[self.index]
            if char == "]":
                self.index += 1
                break
            if char == "\\":
                letter = pattern[self.index + 1 : self.index + 2]
                if letter in ("D", "W", "S"):
                    complements.append(_CLASS_ESCAPES[letter.lower()])
                    self.index += 2
                else:
                    members.append(self.escape(in_class=True))
            elif char in "[&~|":
                # Escaped, or Python warns of future set operations.
                members.append("\\" + char)
                self.index += 1
            else:
                members.append(char)
                self.index += 1
        body = "".join(members)
        if not complements:
            return "[%s%s]" % ("^" if negated else "", body)
        if negated:
            self.refuse("a negated class holding \\D, \\W or \\S")
        alternatives = ["[%s]" % body] if body else []
        alternatives += ["[^%s]" % complement for complement in complements]
        return "(?:%s)" % "|".join(alternatives)

    def escape(self, in_class: bool) -> str:
        """The Python for the escape at the index, which it moves past."""
        pattern = self.pattern
        start = self.index
        letter = pattern[start + 1 : start + 2]
        self.index = start + 2
        if not letter:
            self.refuse("a lone backslash at the end")
        if letter in _CLASS_ESCAPES:
            members = _CLASS_ESCAPES[letter]
            return members if in_class else "[%s]" % members
        if letter in ("D", "W", "S"):
            return "[^%s]" % _CLASS_ESCAPES[letter.lower()]
        if letter in ("b", "B"):
            # In a class, \b is a backspace, in Python as in ECMA-262.
            if in_class and letter == "B":
                self.refuse("\\B in a character class")
            return "\\" + letter
        if letter in _CONTROL_ESCAPES:
            return "\\" + letter
        if letter == "c":
            control = pattern[start + 2 : start + 3]
            if not (control.isascii() and control.isalpha()):
                self.refuse("\\c not followed by a letter")
            self.index += 1
            return "\\x%02x" % (ord(control) % 32)
        if letter == "0":
            if pattern[start + 2 : start + 3].isdigit():
                self.refuse("an octal escape")
            return "\\x00"
        if letter == "x":
            digits = _HEX2.match(pattern, start + 2)
            if digits is None:
                self.refuse("\\x not followed by two hex digits")
            self.index = digits.end()
            return "\\x" + digits[0]
        if letter == "u":
            return self.unicode_escape(start)
        if letter in _SYNTAX_CHARACTERS or (in_class and letter == "-"):
            return "\\" + letter
        if letter.isdigit() or letter == "k":
            # ECMA-262 lets a backreference to a group that did not take
            # part match the empty string; Python fails the match.
            self.refuse("a backreference")
        # \p{...} (Python's re has no properties), \A, \Z, \a, \e...
        return self.refuse(
            "\\%s is not an ECMA-262 escape Python's re can run" % letter
        )

    def unicode_escape(self, start: int) -> str:
        pattern = self.pattern
        braced = _HEX_BRACED.match(pattern, start + 2)
        if braced is not None:
            code_point = int(braced[1], 16)
            if code_point > 0x10FFFF:
                self.refuse("a code point above U+10FFFF")
            self.index = braced.end()
            return "\\U%08x" % code_point
        digits = _HEX4.match(pattern, start + 2)
        if digits is None:
            self.refuse("\\u not followed by four hex digits or {...}")
        self.index = digits.end()
        code_point = int(digits[0], 16)
        if 0xD800 <= code_point <= 0xDBFF:
            # With the u flag, an escaped surrogate pair is one code point.
            low = _LOW_SURROGATE_ESCAPE.match(pattern, self.index)
            if low is not None:
                self.index = low.end()
                low_half = int(low[1], 16)
                code_point = 0x10000 + ((code_point - 0xD800) << 10) + low_half - 0xDC00
                return "\\U%08x" % code_point
        return "\\u%04x" % code_point


def detailed_validator(schema: dict):
    """A jsonschema validator of the schema, with ECMA-262 patterns.

    It is :class:`jsonschema.Draft7Validator`, except that ``pattern`` is
    searched with :func:`ecma_regex` rather than as a Python regex.
    """
    return _detailed_validator_class()(schema)


@functools.lru_cache(maxsize=None)
def _detailed_validator_class():
    # Imported on first need: jsonschema costs more than recording.
    from jsonschema import Draft7Validator, ValidationError, validators

    def pattern(validator, pattern, instance, schema):
        if validator.is_type(instance, "string") and not ecma_regex(pattern).search(
            instance
        ):
            # jsonschema's own message for this keyword.
            yield ValidationError("%r does not match %r" % (instance, pattern))

    return validators.extend(Draft7Validator, {"pattern": pattern})


class SchemaValidator:
    """Validates batches: the compiled predicate first, jsonschema for errors.

    Both run ``pattern`` as ECMA-262 regular expressions (:func:`ecma_regex`).

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
                error = self.detailed_error(instance)
                if error is not None:
                    raise error

    def detailed_error(self, instance):
        """jsonschema's best error for an instance, or None if it is valid.

        Returns:
            jsonschema.ValidationError | None
        """
        from jsonschema.exceptions import best_match

        if self._detailed is None:
            self._detailed = detailed_validator(self.schema)
        return best_match(self._detailed.iter_errors(instance))
