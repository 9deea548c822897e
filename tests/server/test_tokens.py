"""Tokens files: made by ``token create``, read by ``serve``."""

import pytest

from pushcollector._impl.server.tokens import TokenFileError, Tokens, create_token


def test_tokens_are_known_by_their_hash_with_their_scope(tmp_path):
    path = str(tmp_path / "tokens")
    writer = create_token(path, "pusher", "write")
    reader = create_token(path, "viewer@example.com", "read")
    with open(path, "a") as stream:
        stream.write("\n# a comment, then a blank line\n\n")

    tokens = Tokens.load(path)

    assert len(tokens) == 2
    assert tokens.scope_of(writer) == "write"
    assert tokens.scope_of(reader) == "read"
    assert tokens.scope_of(writer[:-1]) is None
    assert tokens.scope_of("") is None
    assert writer != reader


@pytest.mark.parametrize(
    "line, problem",
    [
        ("pusher write", "expected 'NAME SCOPE sha256:HEX'"),
        ("pusher write sha256:%s extra" % ("0" * 64), "expected 'NAME SCOPE"),
        ("push/er write sha256:%s" % ("0" * 64), "invalid token name 'push/er'"),
        ("pusher admin sha256:%s" % ("0" * 64), "invalid scope 'admin'"),
        ("pusher write md5:%s" % ("0" * 32), "invalid hash"),
        ("pusher write sha256:%s" % ("0" * 63), "invalid hash"),
    ],
)
def test_a_line_that_is_not_an_entry_is_refused_with_its_number(
    tmp_path, line, problem
):
    path = tmp_path / "tokens"
    path.write_text("# tokens\n%s\n" % line)

    with pytest.raises(TokenFileError) as raised:
        Tokens.load(str(path))
    assert str(raised.value).startswith("%s:2: %s" % (path, problem))

    with pytest.raises(TokenFileError):
        create_token(str(path), "another", "read")


def test_create_token_refuses_a_bad_scope(tmp_path):
    with pytest.raises(ValueError, match="invalid scope 'admin'"):
        create_token(str(tmp_path / "tokens"), "x", "admin")
    assert not (tmp_path / "tokens").exists()


def test_the_file_is_followed_without_a_restart(tmp_path, caplog):
    path = str(tmp_path / "tokens")
    kept = create_token(path, "kept", "write")
    tokens = Tokens.load(path)
    added = create_token(path, "added", "read")

    assert tokens.scope_of(added) == "read"

    with open(path) as stream:
        lines = stream.readlines()
    with open(path, "w") as stream:
        stream.writelines(line for line in lines if not line.startswith("kept "))

    assert tokens.scope_of(kept) is None
    assert tokens.scope_of(added) == "read"
    assert len(tokens) == 1


def test_a_broken_or_missing_file_accepts_no_token_until_fixed(tmp_path, caplog):
    path = tmp_path / "tokens"
    token = create_token(str(path), "someone", "write")
    good = path.read_text()
    tokens = Tokens.load(str(path))

    path.write_text(good + "two words\n")
    assert tokens.scope_of(token) is None
    assert "tokens:2: expected 'NAME SCOPE sha256:HEX'; no token is accepted" in (
        caplog.text
    )

    path.unlink()
    assert tokens.scope_of(token) is None

    path.write_text(good)
    assert tokens.scope_of(token) == "write"


def test_tokens_made_in_code_follow_no_file():
    tokens = Tokens([("a", "read", "sha256:" + "0" * 64)])

    assert len(tokens) == 1
    assert tokens.scope_of("x") is None
