"""Test doubles shared by several test modules."""

import attr


@attr.s(frozen=True)
class FakePushItem:
    """Shaped like pushsource.PushItem, which these tests must not depend on."""

    name = attr.ib()
    state = attr.ib(default="PENDING")
    src = attr.ib(default=None)
    dest = attr.ib(factory=list)
    md5sum = attr.ib(default=None)
    sha256sum = attr.ib(default=None)
    origin = attr.ib(default=None)
    build = attr.ib(default=None)
    signing_key = attr.ib(default=None)
