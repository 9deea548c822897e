"""The web view of ``pushcollector serve``, loaded by a real browser from a
real service: what the pages show, and what they refuse.

Pages are read as headless Chromium renders them (the DOM after loading);
statuses and headers, which a rendered DOM does not show, with requests.
"""

import base64
import datetime
import os
import shutil
import urllib.parse

import pytest
import requests
import sqlalchemy as sa

from pushcollector._impl.server.pages import CONTENT_SECURITY_POLICY, TAIL_BYTES
from pushcollector._impl.store import database_url
from pushcollector._impl.store.tables import runs

from .service import ServiceProcess
from .test_app import admin, post_items, send_file

SCREENSHOTS = "PUSHCOLLECTOR_SCREENSHOTS"

HOSTILE = [
    "<img src=x onerror=\"document.title='pwned'\">",
    "<script>document.title='pwned'</script>",
    '"><svg onload="document.title=\'pwned\'">',
    "&lt;b&gt;not bold&lt;/b&gt; & <!-- -->",
]


def base_of(service):
    """The root of a service's pages: its API URL without ``/api``."""
    return service.url[: -len("/api")]


def page(service, path, **kwargs):
    return requests.get(base_of(service) + path, timeout=60, **kwargs)


def quoted(filename):
    return "/".join(urllib.parse.quote(part, safe="") for part in filename.split("/"))


def set_times(service, run_id, created_ago, updated_ago):
    """Make a run look as if it was created and last written so many
    seconds ago: the pages tell a run still receiving by its last write."""
    now = datetime.datetime.now(datetime.timezone.utc)
    engine = sa.create_engine(database_url(service.db))
    try:
        with engine.begin() as connection:
            connection.execute(
                runs.update()
                .where(runs.c.name == run_id)
                .values(
                    created_at=now - datetime.timedelta(seconds=created_ago),
                    updated_at=now - datetime.timedelta(seconds=updated_ago),
                )
            )
    finally:
        engine.dispose()


def rows_of(section):
    """The cells' text of each row of the body of a section's table."""
    return [
        [cell.words for cell in row.find_all("td")]
        for row in section.find("tbody").find_all("tr")
    ]


def refresh_of(document):
    meta = document.find("meta", **{"http-equiv": "refresh"})
    return None if meta is None else meta.attrs["content"]


@pytest.fixture
def fresh_service(tmp_path):
    """A service of its own, on SQLite: the list shows only this test's runs."""
    with ServiceProcess("sqlite:///%s" % (tmp_path / "pages.db")) as running:
        yield running


# -- The list of runs --------------------------------------------------------


def test_the_list_shows_runs_newest_first_with_verdict_counts_and_times(
    fresh_service, browser
):
    took = {"r-seconds": 4.2, "r-tens": 42, "r-minutes": 185, "r-hours": 7300}
    for run_id in took:
        post_items(fresh_service.url, run_id, [{"filename": "a", "state": "PUSHED"}])
    post_items(
        fresh_service.url,
        "r-failed",
        [
            {"filename": "a", "state": "PUSHED"},
            {"filename": "b", "state": "NOTFOUND"},
            {"filename": "c", "state": "NOTFOUND"},
        ],
    )
    for run_id, seconds in took.items():
        set_times(fresh_service, run_id, seconds + 3600, 3600)

    document = browser.dom(base_of(fresh_service) + "/")

    rows = {
        row.find("td", class_="name").words: row
        for row in document.by_id("runs").find("tbody").find_all("tr")
    }
    assert list(rows) == ["r-failed", "r-hours", "r-minutes", "r-tens", "r-seconds"]
    failed = rows["r-failed"]
    assert failed.find("a").attrs["href"] == "/runs/r-failed"
    assert failed.find("td", class_="verdict").words == "failed"
    assert failed.find("td", class_="states").words == "NOTFOUND 2 PUSHED 1"
    assert failed.find("td", class_="activity").words == "receiving"
    assert rows["r-hours"].find("td", class_="verdict").words == "passed"
    assert {
        name: row.find("td", class_="took").words
        for name, row in rows.items()
        if name != "r-failed"
    } == {
        "r-hours": "2 h 01 min",
        "r-minutes": "3 min 05 s",
        "r-tens": "42 s",
        "r-seconds": "4.2 s",
    }
    assert rows["r-hours"].find("td", class_="activity").words == "idle"
    assert rows["r-hours"].find("td", class_="started").words.endswith(" UTC")
    # A run is receiving: the list reloads itself.
    assert refresh_of(document) == "10"


def test_the_list_is_paged_and_idle_lists_do_not_reload(fresh_service, browser):
    names = ["run-%02d" % number for number in range(52)]
    for name in names:
        post_items(fresh_service.url, name, [{"filename": "a", "state": "PUSHED"}])
        set_times(fresh_service, name, 7200, 3600)
    base = base_of(fresh_service)

    first = browser.dom(base + "/")
    following = first.find("a", rel="next").attrs["href"]
    second = browser.dom(base + following)
    beyond = browser.dom(base + "/?page=9")

    def shown(document):
        return [row.find("td").words for row in document.find_all("tr", class_="run")]

    assert following == "/?page=2"
    assert shown(first) + shown(second) == names[::-1]
    assert len(shown(first)) == 50
    assert first.find("nav", class_="pager").words.startswith("1–50 of 52 runs")
    assert second.find("a", rel="prev").attrs["href"] == "/"
    assert second.find("a", rel="next") is None
    assert shown(beyond) == []
    assert beyond.find("p", class_="empty").words == "No runs on this page."
    assert beyond.find("a", rel="prev").attrs["href"] == "/?page=2"
    assert refresh_of(first) is None


def test_an_empty_service_says_so(fresh_service, browser):
    document = browser.dom(base_of(fresh_service) + "/")

    assert document.find("p", class_="empty").words == "No runs yet."
    assert document.find("nav", class_="pager") is None


# -- A run ---------------------------------------------------------------------


RUN_ITEMS = [
    {"filename": "a.rpm", "state": "PENDING", "dest": "repo"},
    {"filename": "a.rpm", "state": "PUSHED", "dest": "repo"},
    {"filename": "b.rpm", "state": "NOTFOUND", "dest": "repo"},
    {"filename": "c.rpm", "state": "UPLOADFAILED"},
    {"filename": "d.rpm", "state": "PENDING", "dest": "other"},
    {"filename": "e.rpm", "state": "EXISTS", "dest": "repo"},
]


def test_a_run_shows_its_verdict_chart_items_and_files(service, browser, run_id):
    post_items(service.url, run_id, RUN_ITEMS)
    send_file(service.url, run_id, "push.log", b"pushing a.rpm\n")
    send_file(service.url, run_id, "logs/b c.log", b"x" * 2048, method="PUT")

    document = browser.dom(base_of(service) + "/runs/" + run_id)

    assert document.find("title").words == "Run %s · pushcollector" % run_id
    heading = document.find("h1")
    assert heading.find("span", class_="run-name").words == run_id
    assert heading.find("span", class_="fail").words == "failed"
    assert heading.find("span", class_="receiving").words == "receiving"
    facts = {
        name: document.by_id(name).words
        for name in (
            "records",
            "push-items",
            "unsuccessful-count",
            "unfinished-count",
            "file-count",
        )
    }
    assert facts == {
        "records": "6",
        "push-items": "5",
        "unsuccessful-count": "2",
        "unfinished-count": "1",
        "file-count": "2",
    }
    chart = document.by_id("chart")
    assert chart.tag == "svg"
    bars = {
        bar.attrs["data-state"]: (
            bar.attrs["class"],
            bar.find("text", class_="count").words,
        )
        for bar in chart.find_all("g", class_="bar")
    }
    assert bars == {
        "EXISTS": ("bar ok", "1"),
        "NOTFOUND": ("bar bad", "1"),
        "PENDING": ("bar pending", "1"),
        "PUSHED": ("bar ok", "1"),
        "UPLOADFAILED": ("bar bad", "1"),
    }
    # Every bar is drawn, the widest the longest.
    widths = [int(rect.attrs["width"]) for rect in chart.find_all("rect")]
    assert widths == [480] * 5
    assert rows_of(document.by_id("unsuccessful")) == [
        ["b.rpm", "repo", "NOTFOUND"],
        ["c.rpm", "none", "UPLOADFAILED"],
    ]
    assert rows_of(document.by_id("unfinished")) == [["d.rpm", "other", "PENDING"]]
    files = document.by_id("files")
    assert [[row[0], row[1], row[3]] for row in rows_of(files)] == [
        ["logs/b c.log", "2.0 KiB", "raw"],
        ["push.log", "14 bytes", "raw"],
    ]
    links = [link.attrs["href"] for link in files.find_all("a")]
    assert links == [
        "/runs/%s/files/logs/b%%20c.log" % run_id,
        "/runs/%s/files/logs/b%%20c.log?raw=1" % run_id,
        "/runs/%s/files/push.log" % run_id,
        "/runs/%s/files/push.log?raw=1" % run_id,
    ]
    assert refresh_of(document) == "10"


def test_a_run_with_lines_not_delivered_shows_them_and_fails(service, browser, run_id):
    post_items(service.url, run_id, [{"filename": "a.rpm", "state": "PUSHED"}])
    passed = browser.dom(base_of(service) + "/runs/" + run_id)
    declared = requests.put(
        "%s/runs/%s/bad-lines" % (service.url, run_id),
        json=[{"line": 2, "reason": "not valid JSON"}],
        timeout=60,
    )

    document = browser.dom(base_of(service) + "/runs/" + run_id)

    assert declared.status_code == 200
    assert passed.by_id("bad-lines") is None
    assert passed.find("h1").find("span", class_="pass").words == "passed"
    assert document.find("h1").find("span", class_="fail").words == "failed"
    assert document.by_id("bad-lines").words == "1"


def test_a_run_without_items_or_files_says_so(service, browser, run_id):
    send_file(service.url, run_id, "only.log", b"")
    set_times(service, run_id, 600, 600)

    document = browser.dom(base_of(service) + "/runs/" + run_id)

    assert document.find("h1").find("span", class_="pass").words == "passed"
    assert document.by_id("chart") is None
    assert document.by_id("states").find("p").words == "No push items recorded."
    assert document.by_id("unsuccessful").find("p", class_="empty").words == "None."
    assert document.by_id("unfinished").find("p", class_="empty").words == "None."
    assert refresh_of(document) is None
    assert document.find("span", class_="idle").words == "idle"


def failures(count):
    """Items f000.rpm... failing NOTFOUND (even) and UPLOADFAILED (odd), to
    repo-0, -1 and -2 in turn, then as many PENDING items p000.rpm..."""
    made = [
        {
            "filename": "f%03d.rpm" % number,
            "state": "NOTFOUND" if number % 2 == 0 else "UPLOADFAILED",
            "dest": "repo-%d" % (number % 3),
        }
        for number in range(count)
    ]
    made += [
        {"filename": "p%03d.rpm" % number, "state": "PENDING"}
        for number in range(count)
    ]
    return made


def test_the_tables_are_filtered_sorted_and_paged_by_their_links(
    service, browser, run_id
):
    post_items(service.url, run_id, failures(250))
    base = base_of(service)
    path = "/runs/%s" % run_id

    first = browser.dom(base + path)
    filtered = browser.dom(
        base + path + "?state=NOTFOUND&sort=filename&order=desc&page=2"
    )

    unsuccessful = first.by_id("unsuccessful")
    assert [row[0] for row in rows_of(unsuccessful)] == [
        "f%03d.rpm" % number for number in range(100)
    ]
    assert unsuccessful.find("nav").words.startswith("1–100 of 250 items")
    section = filtered.by_id("unsuccessful")
    assert [row[0] for row in rows_of(section)] == [
        "f%03d.rpm" % number for number in range(48, -1, -2)
    ]
    assert section.find("h2").words == "Unsuccessful items (125 matching)"
    assert section.find("nav").words.startswith("101–125 of 125 items")
    assert section.find("a", rel="prev").attrs["href"] == (
        path + "?state=NOTFOUND&sort=filename&order=desc#unsuccessful"
    )
    # The form keeps what is chosen; the other table's parameters are
    # kept by its hidden fields.
    form = section.find("form")
    assert form.attrs["action"] == path + "#unsuccessful"
    assert form.find("select").find("option", selected="").attrs["value"] == "NOTFOUND"
    assert [field.attrs["name"] for field in form.find_all("input")] == ["q"]

    # Following the links of the headings: by dest, then reversed.
    headings = {
        link.words: link.attrs["href"]
        for link in first.by_id("unsuccessful").find("thead").find_all("a")
    }
    assert headings["Dest"] == path + "?sort=dest#unsuccessful"
    by_dest = browser.dom(base + headings["Dest"]).by_id("unsuccessful")
    dests = [row[1] for row in rows_of(by_dest)]
    assert dests == ["repo-0"] * 84 + ["repo-1"] * 16
    reverse = by_dest.find("th", class_="sorted").find("a").attrs["href"]
    assert reverse == path + "?sort=dest&order=desc#unsuccessful"
    reversed_rows = rows_of(browser.dom(base + reverse).by_id("unsuccessful"))
    assert reversed_rows[0] == ["f248.rpm", "repo-2", "NOTFOUND"]

    # A text filter, and the other table's paging, at once.
    both = browser.dom(base + path + "?q=F24&sort=state&pending_page=3")
    assert rows_of(both.by_id("unsuccessful")) == [
        ["f240.rpm", "repo-0", "NOTFOUND"],
        ["f242.rpm", "repo-2", "NOTFOUND"],
        ["f244.rpm", "repo-1", "NOTFOUND"],
        ["f246.rpm", "repo-0", "NOTFOUND"],
        ["f248.rpm", "repo-2", "NOTFOUND"],
        ["f241.rpm", "repo-1", "UPLOADFAILED"],
        ["f243.rpm", "repo-0", "UPLOADFAILED"],
        ["f245.rpm", "repo-2", "UPLOADFAILED"],
        ["f247.rpm", "repo-1", "UPLOADFAILED"],
        ["f249.rpm", "repo-0", "UPLOADFAILED"],
    ]
    pending = both.by_id("unfinished")
    assert [row[0] for row in rows_of(pending)] == [
        "p%03d.rpm" % number for number in range(200, 250)
    ]
    assert pending.find("a", rel="first").attrs["href"] == (
        path + "?q=F24&sort=state#unfinished"
    )
    hidden = {
        field.attrs["name"]: field.attrs["value"]
        for field in pending.find("form").find_all("input", type="hidden")
    }
    assert hidden == {"q": "F24", "sort": "state"}
    nothing = browser.dom(base + path + "?q=zzz&state=CHECKSUM").by_id("unsuccessful")
    assert nothing.find("p", class_="empty").words == "No items match."
    assert nothing.find("option", selected="").attrs["value"] == "CHECKSUM"


# -- Files ---------------------------------------------------------------------


def test_the_files_of_a_run_are_paged(service, browser, run_id):
    names = ["logs/%03d.log" % number for number in range(205)]
    for name in names:
        send_file(service.url, run_id, name, b"x")
    base = base_of(service)
    path = "/runs/%s" % run_id

    first = browser.dom(base + path + "?q=nothing")
    following = first.by_id("files").find("a", rel="next").attrs["href"]
    second = browser.dom(base + following)
    last = browser.dom(base + path + "?files_page=3")
    beyond = browser.dom(base + path + "?files_page=4")

    def shown(document):
        return [row[0] for row in rows_of(document.by_id("files"))]

    assert following == path + "?q=nothing&files_page=2#files"
    assert shown(first) == names[:100]
    assert shown(second) == names[100:200]
    assert shown(last) == names[200:]
    assert first.by_id("files").find("h2").words == "Files (205)"
    assert first.by_id("files").find("nav").words.startswith("1–100 of 205 files")
    assert last.by_id("files").find("nav").words.startswith("201–205 of 205 files")
    assert last.by_id("files").find("a", rel="next") is None
    assert last.by_id("files").find("a", rel="prev").attrs["href"] == (
        path + "?files_page=2#files"
    )
    assert beyond.by_id("files").find("p", class_="empty").words == (
        "No files on this page."
    )
    # The tables' links keep the page of files.
    table = second.by_id("unsuccessful").find("form")
    hidden = {
        field.attrs["name"]: field.attrs["value"]
        for field in table.find_all("input", type="hidden")
    }
    assert hidden == {"files_page": "2"}


def test_a_log_is_shown_as_text_and_a_large_one_tailed(service, browser, run_id):
    send_file(service.url, run_id, "logs/push.log", b"first line\nsecond line\n")
    lines = [b"line %06d %s\n" % (number, b"x" * 80) for number in range(4000)]
    for start in range(0, 4000, 1000):
        send_file(service.url, run_id, "big.log", b"".join(lines[start : start + 1000]))
    base = base_of(service) + "/runs/%s/files/" % run_id

    small = browser.dom(base + "logs/push.log")
    big = browser.dom(base + "big.log")

    assert small.find("h1").words == "logs/push.log"
    assert small.by_id("log").text == "first line\nsecond line\n"
    assert small.by_id("tailed") is None
    assert small.by_id("raw").attrs["href"] == "/runs/%s/files/logs/push.log?raw=1" % (
        run_id
    )
    assert refresh_of(small) == "10"
    shown = big.by_id("log").text.encode()
    whole = b"".join(lines)
    assert len(whole) > TAIL_BYTES
    assert whole.endswith(shown) and len(shown) <= TAIL_BYTES
    # From the first whole line.
    assert shown.startswith(b"line ") and whole[: -len(shown)].endswith(b"\n")
    assert len(shown) > TAIL_BYTES - len(lines[0])
    assert big.by_id("tailed").words == (
        "This file is 363.3 KiB: only its last 256.0 KiB are shown, from the"
        " first whole line."
    )
    raw = page(service, "/runs/%s/files/big.log?raw=1" % run_id)
    assert raw.content == whole
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"] == "attachment; filename*=UTF-8''big.log"


def test_a_file_that_is_not_utf8_is_shown_with_replacement_characters(
    service, browser, run_id
):
    send_file(service.url, run_id, "bin", b"ok \xff\xfe\n")
    set_times(service, run_id, 600, 600)

    document = browser.dom(base_of(service) + "/runs/%s/files/bin" % run_id)

    assert document.by_id("log").text == "ok \ufffd\ufffd\n"
    assert refresh_of(document) is None


# -- Hostile names -------------------------------------------------------------


def test_hostile_names_are_shown_as_text_and_run_nothing(service, browser, run_id):
    post_items(
        service.url,
        run_id,
        [{"filename": name, "state": "NOTFOUND", "dest": name} for name in HOSTILE],
    )
    for name in HOSTILE:
        send_file(service.url, run_id, quoted(name), name.encode())
    base = base_of(service)

    pages = [browser.dom(base + "/runs/" + run_id)]
    pages += [
        browser.dom(base + "/runs/%s/files/%s" % (run_id, quoted(name)))
        for name in HOSTILE
    ]
    pages.append(
        browser.dom(base + "/runs/%s?q=%s" % (run_id, urllib.parse.quote(HOSTILE[0])))
    )

    run_page = pages[0]
    assert rows_of(run_page.by_id("unsuccessful")) == [
        [name, name, "NOTFOUND"] for name in HOSTILE
    ]
    assert sorted(
        link.text for link in run_page.by_id("files").find_all("td", class_="filename")
    ) == sorted(HOSTILE)
    for name, file_page in zip(HOSTILE, pages[1:]):
        assert file_page.find("h1").text == name
        assert file_page.by_id("log").text == name
        assert file_page.find("title").text == "%s of run %s · pushcollector" % (
            name,
            run_id,
        )
    assert pages[-1].by_id("unsuccessful").find("input", name="q").attrs["value"] == (
        HOSTILE[0]
    )
    assert len(rows_of(pages[-1].by_id("unsuccessful"))) == 1
    for document in pages:
        # Nothing ran, nothing was made of the names but text.
        assert document.find("title").text.endswith(" · pushcollector")
        assert document.find_all("script") == []
        assert document.find_all("img") == []
        assert document.find_all("b") == []
        assert [svg.attrs.get("id") for svg in document.find_all("svg")] in (
            [],
            ["chart"],
        )
        assert not [
            element
            for element in document.iter()
            if any(name.startswith("on") for name in element.attrs)
        ]


# -- Headers, errors, refusals -------------------------------------------------


def test_every_page_has_a_strict_policy(service, run_id):
    post_items(service.url, run_id, RUN_ITEMS)
    send_file(service.url, run_id, "push.log", b"x\n")

    answers = [
        page(service, path)
        for path in (
            "/",
            "/runs/" + run_id,
            "/runs/%s/files/push.log" % run_id,
            "/runs/%s/files/push.log?raw=1" % run_id,
            "/static/pushcollector.css",
            "/runs/missing-run",
            "/runs/%s?page=0" % run_id,
            "/no/such/page",
        )
    ]

    assert [answer.status_code for answer in answers] == [200] * 5 + [404, 400, 404]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert answers[0].headers["content-type"] == "text/html; charset=utf-8"
    assert answers[4].headers["content-type"] == "text/css; charset=utf-8"
    assert "<style" not in answers[1].text and " style=" not in answers[1].text


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/runs/{run_id}", 200, None),
        ("/runs/missing-run", 404, "There is no run missing-run."),
        ("/runs/{run_id}/files/nope.log", 404, "Run {run_id} has no file nope.log."),
        (
            "/runs/{run_id}/files/nope.log?raw=1",
            404,
            "Run {run_id} has no file nope.log.",
        ),
        ("/runs/.hidden", 400, "invalid run id '.hidden'"),
        ("/runs/{run_id}/files/a/%2E%2E/b", 400, "invalid filename"),
        ("/runs/{run_id}/files/a?raw=2", 400, "Invalid raw '2': one of 1."),
        ("/runs/{run_id}?page=0", 400, "Invalid page '0': a page number from 1"),
        ("/runs/{run_id}?page=%C2%B2", 400, "Invalid page '²'"),
        ("/runs/{run_id}?pending_page=x", 400, "Invalid pending_page 'x'"),
        ("/runs/{run_id}?pending_page=" + "9" * 5000, 400, "Invalid pending_page"),
        ("/?page=" + "9" * 5000, 400, "Invalid page '99999"),
        ("/?page=-1", 400, "Invalid page '-1'"),
        ("/runs/{run_id}?sort=size", 400, "Invalid sort 'size': one of seq,"),
        ("/runs/{run_id}?pending_order=up", 400, "Invalid pending_order 'up'"),
        ("/runs/{run_id}?state=PUSHED", 400, "Invalid state 'PUSHED': one of UNKNOWN"),
        ("/runs/{run_id}?q=" + "x" * 201, 400, "Invalid q: longer than 200"),
        ("/nothing/here", 404, "There is no page /nothing/here."),
    ],
)
def test_client_mistakes_get_an_error_page(service, run_id, path, status, message):
    post_items(service.url, run_id, RUN_ITEMS[:1])

    answer = page(service, path.format(run_id=run_id))

    assert answer.status_code == status
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    if message is not None:
        error = answer.text.split('id="error"', 1)[1]
        assert message.format(run_id=run_id) in error.replace("&#39;", "'")


def test_an_error_page_renders_in_the_browser(service, browser):
    document = browser.dom(base_of(service) + "/runs/missing-run")

    assert document.find("h1").words == "Not found"
    assert document.by_id("error").words == "There is no run missing-run."
    assert document.by_id("error").attrs["data-status"] == "404"


def test_other_methods_are_refused_with_a_page(service):
    answer = requests.post(base_of(service) + "/", timeout=60)
    api = requests.delete(service.url + "/runs", timeout=60)

    assert answer.status_code == 405
    assert "Method POST is not allowed here." in answer.text
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "GET" in answer.headers["allow"]
    # The API still answers in JSON.
    assert api.json() == {"error": "method DELETE not allowed here"}


def test_an_unreachable_database_is_answered_with_a_503_page(postgres_server, run_id):
    url = postgres_server.create_database()
    name = url.rsplit("/", 1)[1]
    with ServiceProcess(url) as running:
        post_items(running.url, run_id, RUN_ITEMS)
        admin(postgres_server, "ALTER DATABASE %s ALLOW_CONNECTIONS false" % name)
        admin(
            postgres_server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = '%s'" % name,
        )
        refused = page(running, "/runs/" + run_id)
        admin(postgres_server, "ALTER DATABASE %s ALLOW_CONNECTIONS true" % name)
        accepted = page(running, "/runs/" + run_id)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "The database is unavailable; try again." in refused.text
    assert accepted.status_code == 200


# -- Tokens --------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded_pages(tmp_path_factory, tokens):  # noqa: F811
    db = tmp_path_factory.mktemp("guarded-pages") / "pages.db"
    with ServiceProcess("sqlite:///%s" % db, "--tokens", tokens["path"]) as running:
        yield running


def basic(password, user="anyone"):
    pair = ("%s:%s" % (user, password)).encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def test_pages_want_a_token_when_the_service_has_tokens(
    guarded_pages, tokens, run_id  # noqa: F811
):
    post_items(
        guarded_pages.url,
        run_id,
        RUN_ITEMS,
        headers={"Authorization": "Bearer " + tokens["write"]},
    )
    path = "/runs/" + run_id

    def status(headers):
        return page(guarded_pages, path, headers=headers).status_code

    refused = page(guarded_pages, path)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Basic realm="pushcollector"'
    assert refused.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "Log in with a token of this service as the password" in refused.text
    assert status(basic(tokens["read"])) == 200
    assert status(basic(tokens["write"], user="")) == 200
    assert status({"Authorization": "Bearer " + tokens["read"]}) == 200
    assert status(basic("pct_wrong")) == 401
    assert status(basic(tokens["read"].upper())) == 401
    assert status(basic("")) == 401
    assert status({"Authorization": "Basic !!!"}) == 401
    assert (
        status({"Authorization": "Basic " + base64.b64encode(b"\xff:x").decode()})
        == 401
    )
    assert status({"Authorization": "Bearer pct_wrong"}) == 401
    assert status({"Authorization": "Digest x"}) == 401
    for other in ("/", path + "/files/x", path + "?raw=1"):
        assert page(guarded_pages, other).status_code == 401
    # The stylesheet is no secret: the login page is styled.
    assert page(guarded_pages, "/static/pushcollector.css").status_code == 200


def test_a_browser_logs_in_with_the_token_as_password(
    guarded_pages, tokens, browser, run_id  # noqa: F811
):
    post_items(
        guarded_pages.url,
        run_id,
        RUN_ITEMS,
        headers={"Authorization": "Bearer " + tokens["write"]},
    )
    address = base_of(guarded_pages).split("://", 1)[1]

    without = browser.dom("http://%s/runs/%s" % (address, run_id))
    logged_in = browser.dom(
        "http://viewer:%s@%s/runs/%s"
        % (urllib.parse.quote(tokens["read"], safe=""), address, run_id)
    )

    # Chromium, headless, has no one to ask for credentials: it shows
    # nothing of the run.
    assert without.find("span", class_="run-name") is None
    assert run_id not in without.text
    assert logged_in.find("span", class_="run-name").words == run_id
    assert len(rows_of(logged_in.by_id("unsuccessful"))) == 2


# -- Screenshots for the documentation -----------------------------------------


def test_screenshots_of_every_page(fresh_service, browser, tmp_path):
    """Screenshots of the pages of a realistic push, into
    $PUSHCOLLECTOR_SCREENSHOTS (for the documentation) or a temporary
    directory."""
    import random

    rng = random.Random(2026)
    packages = ["bash", "curl", "glibc", "httpd", "kernel", "openssl", "podman"]
    arches = ["x86_64", "aarch64", "noarch"]
    items = []
    for number in range(600):
        package = rng.choice(packages)
        filename = "%s-%d.%d-%d.el9.%s.rpm" % (
            package,
            rng.randint(1, 9),
            rng.randint(0, 30),
            number,
            rng.choice(arches),
        )
        dest = "rhel-9-for-x86_64-%s-rpms" % rng.choice(["baseos", "appstream"])
        items.append({"filename": filename, "state": "PENDING", "dest": dest})
        roll = rng.random()
        if roll < 0.04:
            final = "NOTFOUND"
        elif roll < 0.07:
            final = "UPLOADFAILED"
        elif roll < 0.09:
            final = "CHECKSUM"
        elif roll < 0.11:
            continue
        elif roll < 0.2:
            final = "EXISTS"
        else:
            final = "PUSHED"
        items.append({"filename": filename, "state": final, "dest": dest})
    old_run = "20261126T081502.204812Z-0b7c5e91d2aa"
    run = "20261126T093102.118422Z-6be1f0a34c2d"
    post_items(
        fresh_service.url,
        old_run,
        [dict(item, state="PUSHED") for item in items[:120:2]],
    )
    set_times(fresh_service, old_run, 4600, 4312)
    post_items(fresh_service.url, run, items)
    log = "".join(
        "2026-11-26 09:31:%02d INFO %s %s\n"
        % (number % 60, item["state"].lower(), item["filename"])
        for number, item in enumerate(items[:400])
    )
    send_file(fresh_service.url, run, "push.log", log.encode())
    send_file(fresh_service.url, run, "pulp/tasks.json", b'{"tasks": []}\n')
    set_times(fresh_service, run, 1931, 2)

    directory = os.environ.get(SCREENSHOTS) or str(tmp_path)
    os.makedirs(directory, exist_ok=True)
    base = base_of(fresh_service)
    shots = {
        "runs.png": ("/", 700),
        "run.png": ("/runs/" + run, 1400),
        "run-filtered.png": (
            "/runs/%s?state=NOTFOUND&sort=filename&order=desc" % run,
            1400,
        ),
        "log.png": ("/runs/%s/files/push.log" % run, 900),
    }
    for name, (path, height) in shots.items():
        browser.screenshot(base + path, os.path.join(tmp_path, name), height=height)
        if directory != str(tmp_path):
            shutil.copyfile(os.path.join(tmp_path, name), os.path.join(directory, name))

    for name in shots:
        with open(os.path.join(tmp_path, name), "rb") as png:
            data = png.read()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        # A blank page would compress to a few kilobytes.
        assert len(data) > 20_000, name
