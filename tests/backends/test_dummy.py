import jsonschema
import pytest

from pushcollector import Collector


def test_dummy_accepts_everything_and_writes_nothing(in_tmp_dir):
    collector = Collector.get("dummy")
    assert (
        collector.update_push_items([{"filename": "f", "state": "PUSHED"}]).result()
        is None
    )
    assert collector.attach_file("f", "x").result() is None
    assert collector.append_file("f", b"x").result() is None
    assert list(in_tmp_dir.iterdir()) == []


def test_dummy_still_validates():
    with pytest.raises(jsonschema.ValidationError):
        Collector.get("dummy").update_push_items([{"filename": "f"}])
