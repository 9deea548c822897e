"""One rule for the values of push items, checked once for every backend."""

import datetime
import decimal
import enum
import json
import math
import pickle

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pushcollector
from pushcollector import Collector, PushItemValueError
from pushcollector._impl.jsonvalues import (
    INT_MAX,
    INT_MIN,
    MAX_NESTING,
    _plainly_json,
    json_problem,
)
from pushcollector.testing import MemoryCollector

from .fakes import FakePushItem

BASE = "https://collector.example.com/api"


def item(**extra):
    return {"filename": "f", "state": "PUSHED", **extra}


def nested_lists(levels, leaf=1):
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def circular_dict():
    value = {"a": 1}
    value["self"] = value
    return value


def circular_list():
    value = [1]
    value.append(value)
    return value


class Color(enum.IntEnum):
    RED = 1


class Tag(str, enum.Enum):
    RED = "red"


class Text(str):
    pass


# (item, the path of the error, its problem): nothing of the call may be
# recorded by any backend, and the error says where and what.
REFUSED = [
    (item(extra=math.nan), ("extra",), "NaN is not JSON"),
    (item(extra=math.inf), ("extra",), "Infinity is not JSON"),
    (item(extra=-math.inf), ("extra",), "-Infinity is not JSON"),
    (item(extra={"a": [1, 2, math.nan]}), ("extra", "a", 2), "NaN is not JSON"),
    (item(extra={1, 2}), ("extra",), "a value of type set is not JSON"),
    (item(extra=frozenset()), ("extra",), "a value of type frozenset is not JSON"),
    (item(extra=b"bytes"), ("extra",), "a value of type bytes is not JSON"),
    (item(extra=bytearray()), ("extra",), "a value of type bytearray is not JSON"),
    (item(extra=object()), ("extra",), "a value of type object is not JSON"),
    (
        item(extra=decimal.Decimal("1.5")),
        ("extra",),
        "a value of type Decimal is not JSON",
    ),
    (
        item(extra=[datetime.date(2026, 1, 1)]),
        ("extra", 0),
        "a value of type date is not JSON",
    ),
    (
        item(extra="a\ud800"),
        ("extra",),
        "str holds a lone surrogate, '\\ud800' at index 1, which is not Unicode text",
    ),
    (
        item(extra=["ok", ("é", "\udfff")]),
        ("extra", 1, 1),
        "str holds a lone surrogate, '\\udfff' at index 0, which is not Unicode text",
    ),
    (
        {"filename": "f\udc80", "state": "PUSHED"},
        ("filename",),
        "str holds a lone surrogate, '\\udc80' at index 1, which is not Unicode text",
    ),
    (
        item(extra={"k\udc80": 1}),
        ("extra",),
        "key 'k\\udc80' holds a lone surrogate, '\\udc80' at index 1, "
        "which is not Unicode text",
    ),
    (
        item(**{"\ud83d": 1}),
        (),
        "key '\\ud83d' holds a lone surrogate, '\\ud83d' at index 0, "
        "which is not Unicode text",
    ),
    (
        item(extra={1: "one"}),
        ("extra",),
        "key 1 (int) is not a str: JSON keys are strings",
    ),
    (
        {"filename": "f", "state": "PUSHED", None: "x"},
        (),
        "key None (NoneType) is not a str: JSON keys are strings",
    ),
    (
        item(extra={"a": {True: 1}}),
        ("extra", "a"),
        "key True (bool) is not a str: JSON keys are strings",
    ),
    (
        item(extra={1.5: 1}),
        ("extra",),
        "key 1.5 (float) is not a str: JSON keys are strings",
    ),
    (
        item(extra={("a", "b"): 1}),
        ("extra",),
        "key ('a', 'b') (tuple) is not a str: JSON keys are strings",
    ),
    (item(extra=circular_dict()), ("extra", "self"), "a circular reference"),
    (item(extra=circular_list()), ("extra", 1), "a circular reference"),
    (
        item(extra=nested_lists(MAX_NESTING)),
        ("extra",) + (0,) * (MAX_NESTING - 1),
        "nested deeper than 100 levels",
    ),
    (
        item(extra=INT_MAX + 1),
        ("extra",),
        "an int of 65 bits is out of range: JSON integers here have at most "
        "64 bits (-2**63 to 2**64 - 1)",
    ),
    (item(extra=[INT_MIN - 1]), ("extra", 0), "an int of 64 bits is out of range"),
    (item(extra=10**5000), ("extra",), "an int of 16610 bits is out of range"),
]
REFUSED_IDS = [
    "nan",
    "inf",
    "-inf",
    "nested-nan",
    "set",
    "frozenset",
    "bytes",
    "bytearray",
    "object",
    "decimal",
    "date",
    "surrogate",
    "nested-surrogate",
    "surrogate-filename",
    "surrogate-key",
    "surrogate-item-key",
    "int-key",
    "none-item-key",
    "bool-key",
    "float-key",
    "tuple-key",
    "circular-dict",
    "circular-list",
    "too-deep",
    "int-too-big",
    "int-too-small",
    "int-huge",
]

circular_item = item()
circular_item["me"] = circular_item


@pytest.mark.parametrize("bad, path, problem", REFUSED, ids=REFUSED_IDS)
def test_values_that_are_not_json_are_refused(bad, path, problem):
    with pytest.raises(PushItemValueError) as error:
        Collector.get("dummy").update_push_items([item(), item(), bad])
    assert (error.value.index, error.value.path) == (2, path)
    assert error.value.problem.startswith(problem)
    where = "".join("[%r]" % step for step in path)
    assert str(error.value) == "push item 2: %s%s" % (
        where + ": " if where else "",
        error.value.problem,
    )


def test_the_message_names_the_item_and_the_path():
    bad = item(extra={"a": [1, 2, math.nan]})
    with pytest.raises(
        PushItemValueError,
        match=r"^push item 3: \['extra'\]\['a'\]\[2\]: NaN is not JSON$",
    ):
        Collector.get("dummy").update_push_items([item(), item(), item(), bad])


def test_an_item_holding_itself_is_refused():
    with pytest.raises(PushItemValueError, match=r"\['me'\]: a circular reference"):
        Collector.get("dummy").update_push_items([circular_item])


def test_nesting_far_beyond_the_recursion_limit_is_refused():
    with pytest.raises(PushItemValueError, match="nested deeper than 100 levels"):
        Collector.get("dummy").update_push_items([item(extra=nested_lists(100_000))])


def test_the_index_is_the_callers_when_push_items_make_several_dicts():
    items = [
        FakePushItem(name="a", dest=["r1", "r2", "r3"]),
        item(extra=math.nan),
        FakePushItem(name="b\ud800", dest=["r1", "r2"]),
    ]
    with pytest.raises(PushItemValueError) as error:
        Collector.get("dummy").update_push_items(items)
    assert (error.value.index, error.value.path) == (1, ("extra",))
    with pytest.raises(PushItemValueError) as error:
        Collector.get("dummy").update_push_items([items[0], items[2]])
    assert (error.value.index, error.value.path) == (1, ("filename",))


def test_the_schema_is_checked_first():
    # A value the schema refuses keeps raising what it raised in 1.3.0.
    with pytest.raises(jsonschema.ValidationError):
        Collector.get("dummy").update_push_items(
            [{"filename": math.nan, "state": "PUSHED"}]
        )


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -1,
        INT_MAX,
        INT_MIN,
        1.5,
        -0.0,
        1e308,
        "",
        "é😀\u2028",
        [],
        (),
        ("a", ["b", ("c",)]),
        {},
        {"é": {"😀": [None]}},
        nested_lists(MAX_NESTING - 1),
        Color.RED,
        Tag.RED,
        Text("x"),
    ],
)
def test_json_values_are_accepted(value):
    Collector.get("dummy").update_push_items([item(extra=value)]).result()


def test_a_value_used_twice_is_not_circular():
    shared = {"a": [1]}
    batch = [item(one=shared, two=[shared, shared]), item(three=shared)]
    Collector.get("dummy").update_push_items(batch).result()


def test_the_error_is_a_type_error_and_a_value_error():
    # Backends raised TypeError for some of these values, ValueError for
    # others: callers catching either still catch it.
    assert issubclass(PushItemValueError, TypeError)
    assert issubclass(PushItemValueError, ValueError)
    assert pushcollector.PushItemValueError is PushItemValueError


def test_the_error_pickles_whole():
    error = PushItemValueError(4, ("extra", 0), "NaN is not JSON")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.index, copy.path, copy.problem) == (4, ("extra", 0), "NaN is not JSON")
    assert str(copy) == str(error) == "push item 4: ['extra'][0]: NaN is not JSON"


# Every backend refuses the same items, before it sees them ---------------


@pytest.fixture
def http_service(requests_mock, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", BASE)
    requests_mock.post(BASE + "/runs/", status_code=201)
    return requests_mock


@pytest.mark.parametrize("bad, path, problem", REFUSED, ids=REFUSED_IDS)
def test_every_backend_refuses_alike_and_records_nothing(
    in_tmp_dir, http_service, bad, path, problem
):
    memory = MemoryCollector()
    Collector.register_backend("memory", lambda: memory)
    batch = [item(extra="fine"), bad]
    for name in ("local", "memory", "http", "dummy"):
        with Collector.get(name) as collector:
            with pytest.raises(PushItemValueError) as error:
                collector.update_push_items(batch)
            assert (error.value.index, error.value.path) == (1, path)
    assert list(in_tmp_dir.iterdir()) == []
    assert http_service.request_history == []
    assert memory.items == []


def test_memory_stores_what_local_stores(in_tmp_dir):
    batch = [
        item(
            tags=("a", "b"),
            color=Color.RED,
            tag=Tag.RED,
            text=Text("x"),
            nested={"t": (1, (2.5, None))},
            big=INT_MAX,
            unicode="é😀",
        )
    ]
    memory = MemoryCollector()
    Collector.register_backend("memory", lambda: memory)
    Collector.get("memory").update_push_items(batch).result()
    Collector.get("local").update_push_items(batch).result()

    pushitems = in_tmp_dir / "artifacts" / "latest" / "pushitems.jsonl"
    written = [json.loads(line) for line in pushitems.read_text().splitlines()]
    assert memory.items == written
    assert memory.items[0]["tags"] == ["a", "b"]
    assert [type(memory.items[0][key]) for key in ("color", "tag", "text")] == [
        int,
        str,
        str,
    ]


# The quick check and the detailed one agree with json ------------------


def json_oracle(value):
    """Whether value keeps the rule, asked of json itself where it can tell."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return False
    return (
        json.loads(text) == as_read_back(value)
        and depth(value) <= MAX_NESTING
        and ints_in_range(value)
    )


def as_read_back(value):
    if isinstance(value, dict):
        return {key: as_read_back(member) for key, member in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_read_back(member) for member in value]
    return value


def depth(value):
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, (list, tuple)):
        return 1 + max(map(depth, value), default=0)
    return 0


def ints_in_range(value):
    if isinstance(value, dict):
        return all(map(ints_in_range, value.values()))
    if isinstance(value, (list, tuple)):
        return all(map(ints_in_range, value))
    return not isinstance(value, int) or INT_MIN <= value <= INT_MAX


texts = st.text(max_size=4) | st.sampled_from(["\ud800", "a\udfff", "é", "😀"])
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([INT_MAX, INT_MAX + 1, INT_MIN, INT_MIN - 1])
    | st.floats()
    | texts
    | st.sampled_from([Color.RED, Tag.RED, Text("t"), b"b", {1}, object()])
)
keys = texts | st.integers() | st.none() | st.booleans() | st.floats()
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=2000)
@given(st.dictionaries(keys, values, max_size=4))
def test_quick_and_detailed_checks_agree_with_json(value):
    keeps_the_rule = json_oracle(value)
    assert _plainly_json(value, 1) == keeps_the_rule
    assert (json_problem(value) is None) == keeps_the_rule


@pytest.mark.parametrize(
    "value", [nested_lists(MAX_NESTING + 1), circular_dict(), circular_list()]
)
def test_quick_and_detailed_checks_agree_on_depth(value):
    assert not _plainly_json(value, 1)
    assert json_problem(value) is not None
    assert _plainly_json(nested_lists(MAX_NESTING), 1)
    assert json_problem(nested_lists(MAX_NESTING)) is None


def test_a_value_that_is_not_a_container():
    assert json_problem(1) is None
    assert json_problem(math.nan) == ((), "NaN is not JSON")
