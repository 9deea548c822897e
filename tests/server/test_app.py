"""The service's HTTP API, spoken to a real ``pushcollector serve`` process."""

import json

import requests


def post_items(service, run_id, items, key=None, **kwargs):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(
        "%s/runs/%s/push-items" % (service.url, run_id),
        data=json.dumps(items) if not isinstance(items, bytes) else items,
        headers=headers,
        timeout=60,
        **kwargs,
    )


def test_push_items_are_stored_in_order_and_read_back_as_lines(service, run_id):
    items = [
        {"filename": "a.rpm", "state": "PENDING", "dest": "repo"},
        {"filename": "a.rpm", "state": "PUSHED", "dest": "repo"},
        {"filename": "b.rpm", "state": "NOTFOUND"},
    ]

    answer = post_items(service, run_id, items, key="%s.s.1" % run_id)

    assert answer.status_code == 200
    lines = service.get("/runs/%s/push-items" % run_id).text.splitlines()
    assert [json.loads(line) for line in lines] == items
    assert lines[0] == json.dumps(items[0], sort_keys=True)
