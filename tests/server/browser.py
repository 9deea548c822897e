"""A real browser for the tests of the web view: headless Chromium, driven
through its command line, and a small reader of the DOM it renders.

Chromium comes from the distribution (``apt-get install chromium``). Each
call starts a browser with a profile of its own, loads one URL, and either
prints the DOM once the page has loaded (``--dump-dom``) or takes a
screenshot. Nothing is kept between calls: no cookies, no cache, no
credentials.
"""

import html.parser
import os
import shutil
import subprocess
import tempfile

#: Where the distribution installs it, and the names it may have on PATH.
CHROMIUM_PATHS = ("/usr/bin/chromium", "chromium", "chromium-browser")

# A bound, not a measurement: a browser that has not rendered a page of
# the local service in two minutes is broken.
BROWSER_TIMEOUT = 120

_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The service is local: a proxy of the environment must not be asked.
    "--no-proxy-server",
    "--hide-scrollbars",
)


def find_chromium():
    """The path of a Chromium executable, or None if there is none."""
    for candidate in CHROMIUM_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """Chromium failed to load a page."""


class Browser:
    """Headless Chromium at ``executable``."""

    def __init__(self, executable):
        self.executable = executable

    def _run(self, url, *args):
        with tempfile.TemporaryDirectory(prefix="pc-chromium-") as profile:
            completed = subprocess.run(
                [
                    self.executable,
                    *_FLAGS,
                    "--user-data-dir=" + profile,
                    *args,
                    url,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                timeout=BROWSER_TIMEOUT,
                env=dict(os.environ, HOME=profile),
            )
        if completed.returncode != 0:
            raise BrowserError(
                "chromium failed on %s (status %d): %s"
                % (url, completed.returncode, completed.stderr.decode(errors="replace"))
            )
        return completed.stdout

    def dom(self, url):
        """The DOM of the page at ``url`` once loaded, as a :class:`Element`."""
        return parse(self._run(url, "--dump-dom").decode("utf-8"))

    def screenshot(self, url, path, width=1280, height=1400):
        """A PNG of the page at ``url`` in a window of that size, at ``path``."""
        self._run(
            url,
            "--screenshot=%s" % os.path.abspath(path),
            "--window-size=%d,%d" % (width, height),
        )
        if not os.path.exists(path):
            raise BrowserError("chromium wrote no screenshot of %s" % url)


# -- Reading the DOM --------------------------------------------------------

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class Element:
    """An element of a parsed document: ``tag``, ``attrs`` (a dict) and
    ``children`` (elements and strings)."""

    def __init__(self, tag, attrs, parent=None):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []

    def __repr__(self):
        return "<%s %r>" % (self.tag, self.attrs)

    @property
    def text(self):
        """All the text below this element, as it is."""
        return "".join(
            child if isinstance(child, str) else child.text for child in self.children
        )

    @property
    def words(self):
        """The text with runs of white space made one space, and trimmed."""
        return " ".join(self.text.split())

    def iter(self):
        """This element and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag=None, class_=None, **attrs):
        """The elements below (and including) this one with that tag, that
        class among their classes, and those attributes."""
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and (class_ is None or class_ in element.attrs.get("class", "").split())
            and all(element.attrs.get(name) == value for name, value in attrs.items())
        ]

    def find(self, tag=None, class_=None, **attrs):
        """The first element :meth:`find_all` would give, or None."""
        found = self.find_all(tag, class_, **attrs)
        return found[0] if found else None

    def by_id(self, element_id):
        """The element of that id, or None."""
        return self.find(id=element_id)


class _TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, [(name, value or "") for name, value in attrs])
        element.parent = self.current
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.current = self.current.parent

    def handle_endtag(self, tag):
        element = self.current
        while element is not self.root and element.tag != tag:
            element = element.parent
        if element is not self.root:
            self.current = element.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(text):
    """A document's HTML as a tree of :class:`Element`, from its root."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root
