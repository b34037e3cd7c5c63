"""htpasswd files made by Apache's real ``htpasswd`` tool, read by BasicAuth.

Every format the tool writes, UTF-8 names and passwords, comments, CRLF,
duplicates, refused formats, and reloading when the file changes.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import bcrypt
import pytest

import wsgimw._htpasswd as htp
from wsgimw._htpasswd import (
    APR1,
    BCRYPT,
    PLAIN,
    SHA1,
    SHA256_CRYPT,
    SHA512_CRYPT,
    Credentials,
    HtpasswdError,
    HtpasswdFile,
    PasswordHash,
    make_dummy,
    make_dummy_of,
    parse_hash,
    parse_htpasswd,
)
from wsgimw.auth import BasicAuth
from wsgimw.testing import Lint, ScriptedApp, call_app

HTPASSWD = shutil.which("htpasswd") or "/usr/bin/htpasswd"
USER = "jörg"
PASSWORD = "pässwörd ✓:x"  # UTF-8, a space and a colon: all allowed


def htpasswd(*args: str) -> str:
    """Run the real tool; return what it printed. Under CI=true a missing
    tool fails the run (the conftest turns skips into failures)."""
    if not os.path.exists(HTPASSWD):  # pragma: no cover - installed for the tests
        pytest.skip("Debian's htpasswd (apache2-utils) is not installed")
    done = subprocess.run(
        [HTPASSWD, *args], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def hash_line(flags: list[str], user: str, password: str) -> str:
    """One ``user:hash`` line as ``htpasswd -n`` prints it."""
    return htpasswd("-n", "-b", *flags, user, password).strip()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def status(auth: BasicAuth, user: str, password: str) -> int:
    outer, inner = Lint(), Lint()
    result = call_app(outer(auth(inner(ScriptedApp()))), headers=basic(user, password))
    outer.verify()
    inner.verify()
    return result.status_code


class Clock:
    """A fake time.monotonic for the reload check."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.5) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(htp, "monotonic", fake)
    return fake


def bump(path: Path, seconds: int = 10) -> None:
    """Move the file's mtime on, so a rewrite within the same clock tick of
    a coarse file system still counts as a change."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


# -- every format htpasswd writes ----------------------------------------------

FORMATS = [
    pytest.param(["-B", "-C", "4"], BCRYPT, id="bcrypt-B"),
    pytest.param(["-m"], APR1, id="apr1-m"),
    pytest.param(["-s"], SHA1, id="sha1-s"),
    pytest.param(["-2", "-r", "1000"], SHA256_CRYPT, id="sha256-crypt-2"),
    pytest.param(["-5", "-r", "1000"], SHA512_CRYPT, id="sha512-crypt-5"),
]


@pytest.mark.parametrize(("flags", "kind"), FORMATS)
def test_each_format_made_by_htpasswd_verifies(
    tmp_path: Path, flags: list[str], kind: str
) -> None:
    path = tmp_path / "users.htpasswd"
    htpasswd("-c", "-b", *flags, str(path), USER, PASSWORD)
    htpasswd("-b", *flags, str(path), "alice", "secret")
    users = parse_htpasswd(path.read_bytes())
    assert {user: h.kind for user, h in users.items()} == {USER: kind, "alice": kind}
    auth = BasicAuth(htpasswd=path)
    assert status(auth, USER, PASSWORD) == 200
    assert status(auth, "alice", "secret") == 200
    assert status(auth, USER, "secret") == 401
    assert status(auth, USER, PASSWORD + "x") == 401
    assert status(auth, "alice", PASSWORD) == 401
    assert status(auth, "nobody", "secret") == 401


def test_bcrypt_default_cost_and_prefix_from_the_tool(tmp_path: Path) -> None:
    line = hash_line(["-B"], "alice", "secret")
    assert line.startswith("alice:$2y$05$")
    parsed = parse_hash(line.partition(":")[2])
    assert (parsed.kind, parsed.cost) == (BCRYPT, 5)


def test_bcrypt_uses_the_first_72_bytes_as_htpasswd_does(tmp_path: Path) -> None:
    password = "ü" * 40  # 80 bytes of UTF-8
    path = tmp_path / "long"
    htpasswd("-c", "-b", "-B", "-C", "4", str(path), "alice", password)
    auth = BasicAuth(htpasswd=path)
    assert status(auth, "alice", password) == 200
    assert status(auth, "alice", "ü" * 36) == 200  # the same 72 bytes
    assert status(auth, "alice", "ü" * 35) == 401


def test_plain_text_needs_allow_plaintext(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    htpasswd("-c", "-b", "-p", str(path), USER, "not 13 chars long")
    with pytest.raises(ValueError, match="allow_plaintext") as info:
        BasicAuth(htpasswd=path)
    message = str(info.value)
    assert f"{path}, line 1: " in message
    assert "htpasswd -p" in message
    assert message.endswith(f"htpasswd -B {path} USER")
    assert "not 13 chars long" not in message
    auth = BasicAuth(htpasswd=path, allow_plaintext=True)
    assert parse_htpasswd(path.read_bytes(), allow_plaintext=True)[USER].kind == PLAIN
    assert status(auth, USER, "not 13 chars long") == 200
    assert status(auth, USER, "not 13 chars lon") == 401


def test_crypt_des_is_refused_with_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "des"
    htpasswd("-c", "-b", "-B", "-C", "4", str(path), "alice", "secret")
    htpasswd("-b", "-d", str(path), "eve", "secret")
    des = path.read_text().splitlines()[1].partition(":")[2]
    for allow in (False, True):
        with pytest.raises(ValueError, match="DES") as info:
            BasicAuth(htpasswd=path, allow_plaintext=allow)
        message = str(info.value)
        assert f"{path}, line 2: crypt() DES" in message
        assert "htpasswd -d" in message
        assert message.endswith(f"re-create the password with htpasswd -B {path} USER")
        assert des not in message


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("$1$saltsalt$abcdefghijklmnopqrstuv", "MD5-crypt ($1$"),
        ("$y$j9T$salt$hash", "yescrypt ($y$)"),
        ("{SSHA}c2VjcmV0c2VjcmV0c2VjcmV0", "salted SHA-1 ({SSHA})"),
        ("$2x$05$" + "a" * 53, "bcrypt $2x$"),
        ("$hunter2$password", "an unknown format"),
        ("{hunter2}x", "an unknown format"),
    ],
)
def test_other_formats_are_refused_and_named_without_the_hash(
    value: str, named: str
) -> None:
    with pytest.raises(HtpasswdError) as info:
        parse_hash(value, allow_plaintext=True)
    message = str(info.value)
    assert named in message
    assert "htpasswd -B" in message
    assert value not in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("", "no password hash"),
        ("$2y$05$tooshort", "malformed bcrypt"),
        ("$2y$03$" + "a" * 53, "bcrypt cost 3"),  # cost below 4
        ("$2b$32$" + "a" * 53, "bcrypt cost 32"),  # cost above 17
        ("$apr1$salt$tooshort", "malformed apr1"),
        ("$5$rounds=10$salt$" + "a" * 43, "malformed sha256-crypt"),
        ("$6$salt$short", "malformed sha512-crypt"),
        ("{SHA}bm90IDIwIGJ5dGVz", "malformed {SHA}"),  # 12 bytes
        ("{SHA}!!!!", "malformed {SHA}"),
        ("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\u00e9", "malformed {SHA}"),  # non-ASCII
        ("{SHA}\u00e95en6G6MezRroT3XKqkdPOmY/BfQ=", "malformed {SHA}"),
        # libpass "config strings": a salt and no checksum, never verifiable
        ("$apr1$abcdefgh$", "malformed apr1"),
        ("$apr1$abcdefgh", "malformed apr1"),
        ("$apr1$$", "malformed apr1"),
        ("$5$saltsalt", "malformed sha256-crypt"),
        ("$5$rounds=1000$salt$", "malformed sha256-crypt"),
        ("$6$salt", "malformed sha512-crypt"),
        ("$6$rounds=5000$salt$", "malformed sha512-crypt"),
        # bcrypt: the 22nd salt character must be one of .Oeu
        ("$2y$04$" + "A" * 53, "malformed bcrypt"),
        ("$2b$05$" + "a" * 21 + "z" + "A" * 31, "malformed bcrypt"),
        ("$2b$05$" + "a" * 21 + "e" + "A" * 30, "malformed bcrypt"),  # 59 chars
        ("$2b$05$" + "a" * 21 + "e" + "A" * 32, "malformed bcrypt"),  # 61 chars
        ("$2b$5$" + "a" * 21 + "e" + "A" * 32, "malformed bcrypt"),
        # bcrypt costs htpasswd never writes
        ("$2y$03$" + "a" * 21 + "e" + "A" * 31, "bcrypt cost 3 is not supported"),
        ("$2y$18$" + "a" * 21 + "e" + "A" * 31, "bcrypt cost 18 is not supported"),
        ("$2b$31$" + "a" * 21 + "u" + "A" * 31, "bcrypt cost 31 is not supported"),
    ],
)
def test_malformed_hashes_are_refused(value: str, what: str) -> None:
    with pytest.raises(HtpasswdError, match="re-create the password") as info:
        parse_hash(value, allow_plaintext=True)
    assert what in str(info.value)


def test_a_bcrypt_cost_above_17_says_what_htpasswd_writes() -> None:
    with pytest.raises(HtpasswdError) as info:
        parse_hash("$2y$31$" + "a" * 21 + "e" + "A" * 31)
    assert str(info.value) == (
        "bcrypt cost 31 is not supported: htpasswd -B -C writes 4 to 17 (each step "
        "doubles the time a check takes); re-create the password with htpasswd -B"
    )


@pytest.mark.parametrize("last", ".Oeu")
def test_every_canonical_bcrypt_salt_is_accepted(last: str) -> None:
    real = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    value = real[:28] + last + real[29:]
    parsed = parse_hash(value)
    assert (parsed.kind, parsed.cost) == (BCRYPT, 4)
    assert parsed.verify(b"secret") is (value == real)
    assert parse_hash("$2y$17$" + real[7:]).cost == 17


def test_sha_crypt_rounds_are_its_cost() -> None:
    line = hash_line(["-5", "-r", "2000"], "alice", "secret")
    parsed = parse_hash(line.partition(":")[2])
    assert (parsed.kind, parsed.cost) == (SHA512_CRYPT, 2000)
    default = parse_hash(hash_line(["-2"], "alice", "secret").partition(":")[2])
    assert (default.kind, default.cost) == (SHA256_CRYPT, 5000)


@pytest.mark.parametrize("flag", ["-2", "-5"])
def test_sha_crypt_rounds_past_ten_million_are_refused(flag: str) -> None:
    # The checksum is only checked at login, so a line with the rounds
    # edited stands for one written with htpasswd -r 20000000 (minutes).
    value = hash_line([flag, "-r", "5000"], "alice", "secret").partition(":")[2]
    at_cap = value.replace("rounds=5000$", "rounds=10000000$")
    assert parse_hash(at_cap).cost == 10_000_000
    with pytest.raises(
        HtpasswdError, match="with 10,000,001 rounds is refused"
    ) as info:
        parse_hash(value.replace("rounds=5000$", "rounds=10000001$"))
    assert f"htpasswd {flag} and -r 5000 to 1000000" in str(info.value)
    assert value.split("$")[-1] not in str(info.value)  # never the hash


def test_hash_repr_never_shows_the_hash() -> None:
    line = hash_line(["-B", "-C", "4"], "alice", "secret")
    value = line.partition(":")[2]
    parsed = parse_hash(value)
    assert repr(parsed) == "<bcrypt hash cost 4>"
    assert repr(parse_hash("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=")) == "<{SHA} hash>"
    credentials = Credentials({"alice": parsed}, cache_seconds=60, cache_size=8)
    assert repr(credentials) == "<Credentials of 1 users>"
    assert value not in repr(BasicAuth(users={"alice": value}))


# -- the file's layout ---------------------------------------------------------------


def test_comments_blank_lines_crlf_and_bom(tmp_path: Path) -> None:
    alice = hash_line(["-B", "-C", "4"], "alice", "secret")
    bob = hash_line(["-m"], "bob", "hunter2")
    path = tmp_path / "crlf"
    path.write_bytes(
        b"\xef\xbb\xbf# team accounts\r\n\r\n"
        + alice.encode()
        + b"\r\n   \r\n  # bob, until June\r\n"
        + bob.encode()
        + b"\r\n"
    )
    users = parse_htpasswd(path.read_bytes())
    assert sorted(users) == ["alice", "bob"]
    auth = BasicAuth(htpasswd=path)
    assert status(auth, "alice", "secret") == 200
    assert status(auth, "bob", "hunter2") == 200


def test_only_spaces_tabs_and_cr_are_stripped() -> None:
    sha = hash_line(["-s"], "x", "secret").partition(":")[2]
    users = parse_htpasswd(f" \t alice:{sha} \t\r\n\u00a0bob:{sha}\n".encode())
    assert sorted(users) == ["alice", "\u00a0bob"]  # a no-break space is kept
    with pytest.raises(HtpasswdError, match=r"line 1: malformed \{SHA\}"):
        parse_htpasswd(f"alice:{sha}\u3000\n".encode())
    with pytest.raises(HtpasswdError, match="line 1: a user name must not"):
        parse_htpasswd(f"\x0balice:{sha}\n".encode())


def test_a_third_field_is_ignored_as_apache_does() -> None:
    line = hash_line(["-s"], "alice", "secret")
    users = parse_htpasswd(f"{line}:admins:Alice Liddell\n".encode())
    assert users["alice"].verify(b"secret")


def test_duplicated_users_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup"
    first = hash_line(["-s"], "alice", "old")
    second = hash_line(["-s"], "alice", "new")
    path.write_text(f"{first}\n# changed\n{second}\n")
    with pytest.raises(
        ValueError, match="line 3: the same user name as on line 1; remove one"
    ):
        BasicAuth(htpasswd=path)


def test_a_line_the_wrong_way_round_never_shows_the_hash() -> None:
    line = hash_line(["-B", "-C", "4"], "alice", "secret")
    user, _, value = line.partition(":")
    with pytest.raises(HtpasswdError, match="f, line 2: not a known hash") as info:
        parse_htpasswd(f"# hash:user\n{value}:{user}\n".encode(), name="f")
    assert value not in str(info.value)
    assert value[7:29] not in str(info.value)
    assert str(info.value).endswith("htpasswd -B f USER")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"alice\n", "line 1: no ':' between user name and hash"),
        (b"# c\n:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n", "line 2: empty user name"),
        (b"al\x01ice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n", "line 1: a user name must"),
        (b"\xff\xfeal:x\n", "line 1: not valid UTF-8"),
        (b"alice:\n", "line 1: no password hash"),
    ],
)
def test_bad_lines_name_their_number(data: bytes, message: str) -> None:
    with pytest.raises(
        HtpasswdError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_htpasswd(data, name="f")


def test_utf8_user_names_from_the_tool(tmp_path: Path) -> None:
    path = tmp_path / "utf8"
    htpasswd("-c", "-b", "-s", str(path), "日本", "パスワード")
    assert "日本" in parse_htpasswd(path.read_bytes())
    assert status(BasicAuth(htpasswd=path), "日本", "パスワード") == 200


# -- construction fails closed --------------------------------------------------------


def test_a_missing_file_fails_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with pytest.raises(ValueError, match="cannot read the htpasswd file") as info:
        BasicAuth(htpasswd=path)
    assert isinstance(info.value.__cause__, OSError)
    assert f"htpasswd -c -B {path} USER" in str(info.value)


def test_a_directory_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        BasicAuth(htpasswd=str(tmp_path))


@pytest.mark.parametrize("data", [b"", b"# nobody yet\n\n"])
def test_a_file_with_no_users_fails_at_construction(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "empty"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="holds no users") as info:
        BasicAuth(htpasswd=path)
    assert f"htpasswd -B {path} USER" in str(info.value)


# -- reloading -------------------------------------------------------------------------


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.htpasswd"
    htpasswd("-c", "-b", "-B", "-C", "4", str(path), "alice", "old")
    return path


def test_a_changed_file_is_reloaded_after_a_second(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    assert status(auth, "alice", "old") == 200
    htpasswd("-b", "-B", "-C", "4", str(users_file), "alice", "new")
    htpasswd("-b", "-s", str(users_file), "bob", "bob's")
    bump(users_file)
    clock.advance(0.5)  # not yet: at most one look a second
    assert status(auth, "alice", "new") == 401
    assert status(auth, "alice", "old") == 200  # still the old table (and cache)
    clock.advance(0.6)
    assert status(auth, "alice", "new") == 200
    assert status(auth, "alice", "old") == 401  # the cache went with the old table
    assert status(auth, "bob", "bob's") == 200
    assert [r.getMessage() for r in records if r.name == "wsgimw.auth"] == [
        "refused GET '/' from ?: wrong user name or password",
        f"reloaded the htpasswd file {users_file}: 2 users",
        "refused GET '/' from ?: wrong user name or password",
    ]


def test_the_file_is_looked_at_once_a_second_at_most(
    users_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    looks: list[str] = []
    real_stat = os.stat

    def counting_stat(path: str) -> os.stat_result:
        looks.append(path)
        return real_stat(path)

    monkeypatch.setattr(os, "stat", counting_stat)
    for _ in range(5):
        assert status(auth, "alice", "old") == 200
    assert looks == []
    clock.advance()
    for _ in range(5):
        assert status(auth, "alice", "old") == 200
    assert looks == [str(users_file)]  # unchanged: one stat, no read


KEEPING = "still using the 1 users read before for now: if this is still so a second from now, every request is refused"


def messages(records: list[logging.LogRecord], level: int) -> list[str]:
    return [r.getMessage() for r in records if r.levelno == level]


def test_a_deleted_file_refuses_everyone_from_the_next_check(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    saved = users_file.read_bytes()
    users_file.unlink()
    clock.advance()
    assert status(auth, "alice", "old") == 200  # maybe being replaced: one more second
    assert messages(records, logging.WARNING) == [
        f"could not reload the htpasswd file {users_file} (cannot read it: No such "
        f"file or directory); {KEEPING}"
    ]
    for _ in range(3):
        clock.advance()
        assert status(auth, "alice", "old") == 401
    assert messages(records, logging.ERROR) == [  # once, not once a second
        f"the htpasswd file {users_file} still cannot be used (cannot read it: No "
        "such file or directory): every request is refused until it can"
    ]
    users_file.write_bytes(saved)  # back, identical: read again all the same
    clock.advance()
    assert status(auth, "alice", "old") == 200
    assert (
        records[-1].getMessage() == f"reloaded the htpasswd file {users_file}: 1 users"
    )


def test_a_file_back_within_a_second_is_never_refused(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    saved = users_file.read_bytes()
    users_file.unlink()
    clock.advance()
    assert status(auth, "alice", "old") == 200
    users_file.write_bytes(saved)
    clock.advance()
    assert status(auth, "alice", "old") == 200
    clock.advance()
    assert status(auth, "alice", "old") == 200
    assert messages(records, logging.ERROR) == []


def test_a_bad_line_refuses_only_its_user(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    htpasswd("-b", "-B", "-C", "4", str(users_file), "mallory", "m")
    auth = BasicAuth(htpasswd=users_file)
    assert status(auth, "mallory", "m") == 200
    htpasswd("-D", str(users_file), "mallory")  # revoke mallory...
    good = users_file.read_text()
    des = hash_line(["-d"], "eve", "secret")  # ...and add a line that is refused
    users_file.write_text(good + des + "\n")
    bump(users_file)
    clock.advance()
    assert status(auth, "mallory", "m") == 401  # the removal applies at once
    assert status(auth, "eve", "secret") == 401
    assert status(auth, "alice", "old") == 200
    clock.advance()  # unchanged: not read or said again
    assert status(auth, "alice", "old") == 200
    warnings = messages(records, logging.WARNING)
    assert warnings == [
        f"reloaded the htpasswd file {users_file}: 1 users; refused the user on line "
        "2 (crypt() DES hashes (htpasswd -d) are not supported: they use only the "
        "first 8 characters of the password and are cracked in minutes; re-create "
        f"the password with htpasswd -B {users_file} USER)"
    ]
    for record in records:  # never a hash in a log line
        assert des.partition(":")[2] not in record.getMessage()
        assert good.partition(":")[2].strip() not in record.getMessage()
    users_file.write_text(good + hash_line(["-s"], "eve", "secret") + "\n")
    bump(users_file, 20)
    clock.advance()
    assert status(auth, "eve", "secret") == 200


def test_several_bad_lines_and_duplicates_refuse_their_users(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    alice = users_file.read_text().strip()
    bob = hash_line(["-s"], "bob", "b")
    carol = hash_line(["-s"], "carol", "c")
    users_file.write_bytes(
        f"{alice}\n{bob}\nno colon here\ncarol:$1$x$y\n{carol}\n{bob}\n".encode()
        + b"\xff:x\n"
    )
    bump(users_file)
    clock.advance()
    assert status(auth, "alice", "old") == 200
    assert status(auth, "bob", "b") == 401  # listed twice: which one is meant?
    assert status(auth, "carol", "c") == 401  # a bad line and a good one
    (warning,) = messages(records, logging.WARNING)
    assert warning.startswith(
        f"reloaded the htpasswd file {users_file}: 1 users; refused the users on "
        "lines 3, 4, 5, 6, 7 (line 3: no ':' between user name and hash"
    )
    assert "; line 5: the same user name as on line 4; remove one" in warning
    assert "; line 7: not valid UTF-8; save the file as UTF-8)" in warning


def test_an_unexpected_error_while_reloading_is_retried(
    users_file: Path,
    clock: Clock,
    records: list[logging.LogRecord],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    htpasswd("-b", "-s", str(users_file), "bob", "b")
    bump(users_file)
    real = htp.parse_hash

    def broken(value: str, *, allow_plaintext: bool = False) -> PasswordHash:
        raise RuntimeError(f"a bug that shows {value}")

    monkeypatch.setattr(htp, "parse_hash", broken)
    clock.advance()
    assert status(auth, "alice", "old") == 200  # no 500; the last users, for now
    assert messages(records, logging.WARNING) == [
        f"could not reload the htpasswd file {users_file} (RuntimeError while "
        f"reading it); {KEEPING}"
    ]
    monkeypatch.setattr(htp, "parse_hash", real)
    clock.advance()  # the file did not change, but it is read again
    assert status(auth, "bob", "b") == 200
    monkeypatch.setattr(htp, "parse_hash", broken)
    htpasswd("-b", "-s", str(users_file), "bob", "b2")
    bump(users_file, 20)
    for _ in range(3):
        clock.advance()
        status(auth, "alice", "old")
    assert status(auth, "alice", "old") == 401  # still failing: fail closed
    assert messages(records, logging.ERROR) == [
        f"the htpasswd file {users_file} still cannot be used (RuntimeError while "
        "reading it): every request is refused until it can"
    ]
    for record in records:
        assert "shows" not in record.getMessage()


def test_a_sha_hash_with_a_stray_character_is_a_bad_line(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    htpasswd("-b", "-B", "-C", "4", str(users_file), "mallory", "m")
    auth = BasicAuth(htpasswd=users_file)
    htpasswd("-D", str(users_file), "mallory")
    with users_file.open("a", encoding="utf-8") as file:
        file.write("bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\u00e9\n")
    bump(users_file)
    clock.advance()
    assert status(auth, "alice", "old") == 200
    assert status(auth, "mallory", "m") == 401
    assert status(auth, "bob", "secret") == 401
    (warning,) = messages(records, logging.WARNING)
    assert "refused the user on line 2 (malformed {SHA} hash" in warning


def test_a_relative_path_survives_a_change_of_directory(
    users_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(users_file.parent)
    auth = BasicAuth(htpasswd=users_file.name)
    assert repr(auth) == f"BasicAuth(htpasswd={users_file.name!r})"
    monkeypatch.chdir("/")  # a daemonizing server, after loading the app
    users_file.write_text(hash_line(["-s"], "bob", "b") + "\n")
    bump(users_file)
    clock.advance()
    assert status(auth, "alice", "old") == 401
    assert status(auth, "bob", "b") == 200


def test_a_hash_that_cannot_be_checked_names_its_line(
    users_file: Path,
    clock: Clock,
    records: list[logging.LogRecord],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    htpasswd("-b", "-s", str(users_file), "bob", "b")
    stored = users_file.read_text().splitlines()[0].partition(":")[2]
    users_file.write_text("# team\n" + users_file.read_text())
    auth = BasicAuth(htpasswd=users_file)

    def broken(password: bytes, stored: bytes) -> bool:
        raise ValueError("Invalid salt")

    monkeypatch.setitem(htp.VERIFY, BCRYPT, broken)
    assert status(auth, "alice", "old") == 401
    assert status(auth, "bob", "b") == 200
    assert messages(records, logging.ERROR) == [
        f"could not check a password against the hash of line 2 of the htpasswd "
        f"file {users_file} (ValueError); the request is refused: re-create that "
        "password with htpasswd -B"
    ]
    assert stored not in repr([r.getMessage() for r in records])


def test_a_file_with_no_users_left_refuses_everyone(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    users_file.write_text("# locked: incident 42\n")
    bump(users_file)
    clock.advance()
    assert status(auth, "alice", "old") == 401
    assert records[0].levelno == logging.WARNING
    assert records[0].getMessage() == (
        f"the htpasswd file {users_file} now holds no users: every request is "
        "refused until one is added"
    )


def test_a_zero_byte_file_is_taken_for_one_being_rewritten_once(
    users_file: Path, clock: Clock, records: list[logging.LogRecord]
) -> None:
    # htpasswd rewrites the file in place: for a moment it is empty.
    auth = BasicAuth(htpasswd=users_file)
    users_file.write_bytes(b"")
    clock.advance()
    assert status(auth, "alice", "old") == 200
    assert messages(records, logging.WARNING) == [
        f"could not reload the htpasswd file {users_file} (it is empty, maybe being "
        f"rewritten); {KEEPING}"
    ]
    clock.advance()  # still empty a second later: no users, as the file says
    assert status(auth, "alice", "old") == 401
    assert messages(records, logging.WARNING)[1:] == [
        f"the htpasswd file {users_file} now holds no users: every request is "
        "refused until one is added"
    ]
    clock.advance()
    assert status(auth, "alice", "old") == 401
    assert len(messages(records, logging.WARNING)) == 2


def test_a_zero_byte_file_rewritten_within_a_second_is_taken(
    users_file: Path, clock: Clock
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    saved = users_file.read_bytes()
    users_file.write_bytes(b"")
    clock.advance()
    assert status(auth, "alice", "old") == 200
    users_file.write_bytes(saved + hash_line(["-s"], "bob", "b").encode() + b"\n")
    bump(users_file)
    clock.advance()
    assert status(auth, "bob", "b") == 200


def test_a_zero_byte_file_put_back_exactly_as_it_was(
    users_file: Path, clock: Clock
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    saved, stat = users_file.read_bytes(), users_file.stat()
    users_file.write_bytes(b"")
    clock.advance()
    assert status(auth, "alice", "old") == 200
    users_file.write_bytes(saved)  # in place: the same inode, size and mtime
    os.utime(users_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    clock.advance()
    assert status(auth, "alice", "old") == 200  # nothing changed: nothing read
    users_file.write_bytes(b"")
    clock.advance()
    assert status(auth, "alice", "old") == 200  # a first look again, not a second


def test_a_file_changing_while_read_is_read_again_later(
    users_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    real_read = htp._read
    writes = iter([hash_line(["-s"], "alice", "half-written")])

    def racing_read(path: str) -> tuple[bytes, tuple[int, int, int, int]]:
        data, signature = real_read(path)
        for line in writes:  # another process writes right after our read
            users_file.write_text(line + "\n")
            bump(users_file, 30)
        return data, signature

    htpasswd("-b", "-s", str(users_file), "alice", "between")
    bump(users_file)
    monkeypatch.setattr(htp, "_read", racing_read)
    clock.advance()
    assert status(auth, "alice", "between") == 401  # not taken: it changed
    assert status(auth, "alice", "old") == 200
    clock.advance()
    assert status(auth, "alice", "half-written") == 200


def test_a_file_that_keeps_changing_is_taken_as_read_at_the_second_look(
    users_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = BasicAuth(htpasswd=users_file)
    real_read = htp._read
    reads = [0]

    def racing_read(path: str) -> tuple[bytes, tuple[int, int, int, int]]:
        data, signature = real_read(path)
        reads[0] += 1
        bump(users_file, 10 * reads[0])  # written again after every read
        return data, signature

    users_file.write_text(hash_line(["-s"], "bob", "b") + "\n")
    bump(users_file)
    monkeypatch.setattr(htp, "_read", racing_read)
    clock.advance()
    assert status(auth, "alice", "old") == 200  # changing: look again later
    clock.advance()
    assert status(auth, "alice", "old") == 401  # still changing: taken as read
    assert status(auth, "bob", "b") == 200


def test_a_busy_lock_never_blocks_a_request(users_file: Path, clock: Clock) -> None:
    file = HtpasswdFile(str(users_file))
    before = file.current()
    htpasswd("-b", "-s", str(users_file), "bob", "x")
    bump(users_file)
    clock.advance()
    assert file._lock.acquire(blocking=False)  # another thread is looking
    try:
        assert file.current() is before
    finally:
        file._lock.release()
    assert file.current() is not before
    assert sorted(file.current().users) == ["alice", "bob"]


def test_a_thread_that_finds_the_check_done_does_not_repeat_it(
    users_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = HtpasswdFile(str(users_file))
    clock.advance()
    real_lock = file._lock

    class Racing:
        """Another thread finishes its check while this one waits for the lock."""

        def acquire(self, blocking: bool = True) -> bool:
            file._next_check = clock.now + 1
            return real_lock.acquire(blocking)

        def release(self) -> None:
            real_lock.release()

    file._lock = Racing()  # type: ignore[assignment]
    monkeypatch.setattr(htp, "_read", None)  # reading now would fail the test
    assert file.current().users.keys() == {"alice"}


def test_concurrent_requests_during_reloads_always_see_a_whole_table(
    users_file: Path, clock: Clock
) -> None:
    auth = BasicAuth(htpasswd=users_file)(ScriptedApp())
    alice = users_file.read_text().strip()
    bob = hash_line(["-s"], "bob", "b")
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        try:
            while not stop.is_set():
                result = call_app(auth, headers=basic("alice", "old"))
                assert result.status_code == 200, result.status
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(20):
            # Scripts should replace the file in one step, as here.
            new = users_file.with_suffix(".new")
            new.write_text(alice + "\n" + (bob + "\n" if n % 2 else ""))
            os.replace(new, users_file)
            clock.advance()
            time.sleep(0.005)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert errors == []


# -- the dummy hash ------------------------------------------------------------------


def test_the_dummy_has_the_most_common_kind_and_cost() -> None:
    bcrypt4 = parse_hash(hash_line(["-B", "-C", "4"], "a", "x").partition(":")[2])
    bcrypt5 = parse_hash(hash_line(["-B", "-C", "5"], "a", "x").partition(":")[2])
    apr1 = parse_hash(hash_line(["-m"], "a", "x").partition(":")[2])
    dummy = make_dummy({"a": bcrypt4, "b": bcrypt5, "c": bcrypt5, "d": apr1})
    assert (dummy.kind, dummy.cost) == (BCRYPT, 5)
    assert not dummy.verify(b"x")
    assert make_dummy({"a": bcrypt5}, dummy) is dummy  # reused: it fits
    assert make_dummy({"a": apr1}, dummy).kind == APR1
    assert make_dummy({}, dummy) is dummy
    assert make_dummy({}).kind == PLAIN


@pytest.mark.parametrize(
    ("kind", "cost"),
    [(BCRYPT, 4), (APR1, 0), (SHA256_CRYPT, 1000), (SHA512_CRYPT, 1000), (SHA1, 0)],
)
def test_dummies_of_each_kind_verify_nothing(kind: str, cost: int) -> None:
    dummy = make_dummy_of(kind, cost)
    assert (dummy.kind, dummy.cost) == (kind, cost)
    assert not dummy.verify(b"")
    assert not dummy.verify(b"secret")


def test_a_password_hash_verifies_bytes() -> None:
    stored = PasswordHash(SHA1, base64.b64decode("5en6G6MezRroT3XKqkdPOmY/BfQ="))
    assert stored.verify(b"secret")
    assert not stored.verify(b"Secret")
