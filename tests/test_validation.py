"""The fast validator must accept and reject exactly what jsonschema does."""

import copy
import json
import os
import random
import shutil
import subprocess
import sys

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pushcollector._impl.inputs import push_item_validator
from pushcollector._impl.schema import SCHEMA_PATH, push_item_schema
from pushcollector._impl.validation import (
    SchemaValidator,
    UnsupportedSchema,
    compile_schema,
    detailed_validator,
    ecma_regex,
)

GENERATE_SCHEMA_JSON = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "scripts",
    "generate_schema_json.py",
)

SCHEMA = push_item_schema()
# jsonschema, with the patterns of JSON Schema (ECMA-262) rather than Python's.
REFERENCE = detailed_validator(SCHEMA)
IS_VALID = push_item_validator().is_valid
STATES = SCHEMA["properties"]["state"]["enum"]

MD5 = "0123456789abcdef0123456789abcdef"
SHA256 = MD5 * 2

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
hex_digits = "0123456789abcdef"
# Near misses Python's re would take for hex: a final newline, digits of
# other scripts ("٣", "３").
hexish = st.one_of(
    st.sampled_from(
        [
            MD5,
            SHA256,
            MD5 + "\n",
            SHA256 + "\n",
            MD5.upper(),
            MD5[:-1],
            MD5[:-1] + "\n",
            MD5[:-1] + "٣",
            "٣" * 32,
            "３" * 64,
        ]
    ),
    st.text(hex_digits, min_size=31, max_size=33),
    st.text(hex_digits, min_size=63, max_size=65),
    st.text(hex_digits + "ABCDEFxyz\n\r٣３\u2028", min_size=30, max_size=66),
    st.builds(lambda digest, end: digest + end, st.just(MD5), st.text(max_size=2)),
)
nullable_string = st.none() | st.text() | st.just("x" * 100_000) | any_json
checksums = (
    st.none()
    | st.dictionaries(
        st.sampled_from(["md5", "sha256", "sha1", "MD5"]) | st.integers() | st.none(),
        hexish | any_json,
        max_size=3,
    )
    | any_json
)
state = (
    st.sampled_from(STATES)
    | st.sampled_from(["pushed", "DONE", "", " PUSHED"])
    | any_json
)
extra_keys = st.dictionaries(
    st.text(max_size=6) | st.integers() | st.booleans() | st.none(),
    any_json,
    max_size=3,
)
push_item_like = st.builds(
    lambda extra, fields: {**extra, **fields},
    extra_keys,
    st.fixed_dictionaries(
        {},
        optional={
            "filename": nullable_string,
            "state": state,
            "src": nullable_string,
            "dest": nullable_string,
            "checksums": checksums,
            "origin": nullable_string,
            "build": nullable_string,
            "signing_key": nullable_string,
        },
    ),
)
unknown_keys = st.dictionaries(
    st.text(max_size=6).map(lambda key: "x-" + key), any_json, max_size=3
)
valid_push_item = st.builds(
    lambda extra, fields: {**extra, **fields},
    unknown_keys,
    st.fixed_dictionaries(
        {
            "filename": st.text(),
            "state": st.sampled_from(STATES),
        },
        optional={
            key: st.none() | st.text()
            for key in ("src", "dest", "origin", "build", "signing_key")
        }
        | {
            "checksums": st.none()
            | st.fixed_dictionaries(
                {},
                optional={
                    "md5": st.text(hex_digits, min_size=32, max_size=32),
                    "sha256": st.text(hex_digits, min_size=64, max_size=64),
                },
            )
        },
    ),
)


@settings(max_examples=2000)
@given(push_item_like | any_json)
def test_fast_path_agrees_with_jsonschema(instance):
    assert IS_VALID(instance) == REFERENCE.is_valid(instance)


@settings(max_examples=500)
@given(valid_push_item)
def test_valid_items_are_accepted(item):
    assert REFERENCE.is_valid(item)
    assert IS_VALID(item)


@pytest.mark.parametrize(
    "checksums, python_takes_it",
    [
        ({"md5": MD5 + "\n"}, True),
        ({"sha256": SHA256 + "\n"}, True),
        ({"md5": "\n" + MD5}, False),
        ({"md5": MD5[:-1] + "٣"}, False),
    ],
)
def test_checksums_python_would_take_are_refused(checksums, python_takes_it):
    # The schema's "^[0-9a-f]{32}$" with Python's re.search (as jsonschema
    # applies it) takes a final newline; ECMA-262, JSON Schema's dialect,
    # does not, and neither must the fast path or the detailed error.
    item = {"filename": "f", "state": "PUSHED", "checksums": checksums}
    assert jsonschema.Draft7Validator(SCHEMA).is_valid(item) == python_takes_it
    assert not IS_VALID(item)
    with pytest.raises(jsonschema.ValidationError) as error:
        push_item_validator().validate_all([item])
    assert error.value.validator == "pattern"
    assert list(error.value.absolute_path) == ["checksums", *checksums]


@pytest.mark.parametrize(
    "item",
    [
        {"filename": "f", "state": "PUSHED", "checksums": {"md5": MD5 + "\n"}},
        {"filename": "f", "state": True},
        {"filename": "f", "state": "PUSHED", "src": 0},
        {"filename": "f", "state": "PUSHED", "checksums": {"md5": MD5, 1: MD5}},
        {"filename": "f", "state": "PUSHED", "checksums": []},
        {"filename": "f", "state": "PUSHED", 1: "non-string keys are extra keys"},
        {"filename": "f"},
        [],
        "PUSHED",
    ],
)
def test_edge_cases_agree(item):
    assert IS_VALID(item) == REFERENCE.is_valid(item)


def test_the_json_schema_is_the_yaml_schema():
    # The package loads the JSON copy; the commented YAML file is the source.
    with open(SCHEMA_PATH, encoding="utf-8") as yaml_file:
        from_yaml = yaml.safe_load(yaml_file)
    from_json = dict(SCHEMA)
    assert from_json.pop("$comment").startswith("Generated from pushitem.yaml")
    assert from_json == from_yaml


def test_the_json_schema_is_as_generated():
    done = subprocess.run(
        [sys.executable, GENERATE_SCHEMA_JSON, "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_shipped_schema_is_draft7_and_compiles():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    compile_schema(SCHEMA)


def test_a_change_to_the_schema_changes_the_fast_path():
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["state"]["enum"].append("QUEUED")
    schema["required"].append("dest")
    is_valid = compile_schema(schema)
    assert is_valid({"filename": "f", "state": "QUEUED", "dest": None})
    assert not is_valid({"filename": "f", "state": "QUEUED"})


@pytest.mark.parametrize(
    "schema",
    [
        {"minLength": 1},
        {"type": "integer"},
        {"type": ["string", "number"]},
        {"enum": [1, 2]},
        {"enum": "PUSHED"},
        {"anyOf": []},
        {"properties": {"a": {"format": "uri"}}},
        {"properties": []},
        {"additionalProperties": {"type": "string"}},
        {"anyOf": [{"type": "string", "maxLength": 3}]},
        "not a schema",
    ],
)
def test_unsupported_schemas_are_refused(schema):
    with pytest.raises(UnsupportedSchema):
        compile_schema(schema)


@pytest.mark.parametrize(
    "schema, accepted, rejected",
    [
        (True, [1, None], []),
        ({"required": ["a"]}, ["x", {"a": 1}], [{}]),
        (False, [], [1, None]),
        ({"title": "annotations only"}, [1, "x"], []),
        ({"type": ["string", "null"]}, ["x", None], [1]),
        (
            {"type": "string", "enum": ["a", "bb"], "pattern": "^.$"},
            ["a"],
            ["bb", "c", 1],
        ),
        (
            {"anyOf": [{"type": "string", "pattern": "^a"}, {"type": "array"}]},
            ["ab", []],
            ["ba", None],
        ),
        ({"pattern": "^\\d+$"}, ["123", 1], ["12\n", "١٢٣", "１２", "1a"]),
        ({"pattern": "^\\w$"}, ["a", "_"], ["é", "ß", "\n"]),
        ({"pattern": "^\\s$"}, [" ", "\u00a0", "\ufeff", "\u2028"], ["\x1c", "a"]),
        ({"pattern": "^a.c$"}, ["abc", "a😀c"], ["a\nc", "a\rc", "a\u2028c"]),
        (
            {
                "type": "object",
                "properties": {"a": {}},
                "additionalProperties": False,
                "required": ["a"],
            },
            [{"a": 1}],
            [{"a": 1, "b": 2}, {}, "x"],
        ),
    ],
)
def test_compiled_schemas(schema, accepted, rejected):
    is_valid = compile_schema(schema)
    reference = detailed_validator(schema)
    for instance in accepted:
        assert reference.is_valid(instance) and is_valid(instance)
    for instance in rejected:
        assert not reference.is_valid(instance) and not is_valid(instance)


def test_validate_all_raises_for_the_first_invalid_instance():
    validator = SchemaValidator({"type": "string", "pattern": "^ok"})
    validator.validate_all(["ok", "okay"])
    with pytest.raises(jsonschema.ValidationError) as error:
        validator.validate_all(["ok", 1, "bad"])
    assert error.value.instance == 1


def test_jsonschema_has_the_last_word():
    # Were the predicate ever stricter than jsonschema, the item is accepted.
    validator = SchemaValidator({"type": "string"})
    validator.is_valid = lambda instance: False
    validator.validate_all(["fine"])


# ECMA-262 patterns -----------------------------------------------------------

# (pattern, string, whether ECMA-262's RegExp(pattern, "u").test(string)):
# each checked against node when it is installed (see below).
ECMA_CASES = [
    ("^[0-9a-f]{32}$", MD5, True),
    ("^[0-9a-f]{32}$", MD5 + "\n", False),
    ("^a$", "a\n", False),
    ("a$", "a\nb", False),
    ("^a", "b\na", False),
    ("^\\d$", "7", True),
    ("^\\d$", "٣", False),
    ("^\\d$", "３", False),
    ("^\\D$", "٣", True),
    ("^\\w+$", "abc_09", True),
    ("^\\w$", "é", False),
    ("^\\W$", "é", True),
    ("\\bx", "éx", True),
    ("\\Bx", "éx", False),
    ("^\\s$", "\u00a0", True),
    ("^\\s$", "\ufeff", True),
    ("^\\s$", "\u2029", True),
    ("^\\s$", "\x1c", False),
    ("^\\S$", "\x1c", True),
    ("^[\\s]$", "\u3000", True),
    ("^[\\d]$", "٣", False),
    ("^[\\w-]+$", "a-b", True),
    ("^.$", "\n", False),
    ("^.$", "\r", False),
    ("^.$", "\u2028", False),
    ("^.$", "😀", True),
    ("^[\\s\\S]$", "\n", True),
    ("^[\\S]$", "\n", False),
    ("^[a\\D]$", "5", False),
    ("^[a\\D]$", "b", True),
    ("^[^]$", "\n", True),
    ("[]", "a", False),
    ("^\\cJ$", "\n", True),
    ("^\\x41\\u0042\\u{43}$", "ABC", True),
    ("^\\u{1F600}$", "😀", True),
    ("^\\ud83d\\ude00$", "😀", True),
    ("^\\0$", "\0", True),
    ("^[\\b]$", "\b", True),
    ("^\\/$", "/", True),
    ("^[a\\-z]$", "-", True),
    ("^[a\\-z]$", "m", False),
    ("^(?<y>ab)+$", "abab", True),
    ("(?<=a)b", "ab", True),
    ("(?<!a)b", "ab", False),
    ("^a{2}$", "aa", True),
    ("^a{2,}?$", "aaa", True),
    ("^[&&]$", "&", True),
    ("^[|~[]+$", "|~[", True),
    ("^\\f\\n\\r\\t\\v$", "\f\n\r\t\v", True),
]


@pytest.mark.parametrize("pattern, string, matches", ECMA_CASES)
def test_patterns_search_as_ecma_262(pattern, string, matches):
    assert (ecma_regex(pattern).search(string) is not None) == matches


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_ecma_cases_are_what_node_says():
    assert run_in_node([(pattern, string) for pattern, string, _ in ECMA_CASES]) == [
        matches for _, _, matches in ECMA_CASES
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_patterns_agree_with_node_on_many_strings():
    patterns = sorted({pattern for pattern, _, _ in ECMA_CASES})
    rng = random.Random(13)
    alphabet = "aAbxz09_-/]{},.&|~ \n\r\t\v\f\x00\x08\x1c\u00a0\u2028\ufeff٣３éß😀"
    strings = ["", MD5, MD5 + "\n"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        for _ in range(300)
    ]
    cases = [(pattern, string) for pattern in patterns for string in strings]
    expected = run_in_node(cases)
    actual = [
        ecma_regex(pattern).search(string) is not None for pattern, string in cases
    ]
    disagreements = [
        case for case, ours, node in zip(cases, actual, expected) if ours != node
    ]
    assert disagreements == []


def run_in_node(cases):
    """Whether RegExp(pattern, "u").test(string), for each case, from node."""
    script = (
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(cases.map(([p, s]) => new RegExp(p, 'u').test(s))));"
    )
    done = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "pattern",
    [
        "(a)\\1",
        "(?<a>x)\\k<a>",
        "\\p{L}",
        "\\P{L}",
        "(?i)a",
        "(?P<a>x)",
        "(?#comment)",
        "(?>a)",
        "a*+",
        "a++",
        "a?+",
        "a{2}+",
        "\\A",
        "\\Z",
        "\\z",
        "\\a",
        "\\e",
        "\\-",
        "[^\\D]",
        "[^a\\S]",
        "[\\B]",
        "\\u{110000}",
        "\\u12",
        "\\x4",
        "\\c1",
        "\\01",
        "[a",
        "a\\",
        "(?<=a+)b",
        "*",
        "^[]]$",
        "x{,3}",
        "a}",
        "a{",
        1,
    ],
)
def test_patterns_python_cannot_run_alike_are_refused(pattern):
    with pytest.raises(UnsupportedSchema, match="pattern"):
        ecma_regex(pattern)
    with pytest.raises(UnsupportedSchema):
        compile_schema({"pattern": pattern})


def test_detailed_errors_use_ecma_262_patterns():
    validator = SchemaValidator({"type": "string", "pattern": "^\\d$"})
    validator.validate_all(["1"])
    with pytest.raises(jsonschema.ValidationError) as error:
        validator.validate_all(["1", "1\n"])
    assert error.value.message == "'1\\n' does not match '^\\\\d$'"
    # Instances that are not strings are not the pattern's business.
    assert detailed_validator({"pattern": "^a$"}).is_valid(1)
