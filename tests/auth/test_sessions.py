"""Session cookies are signed and dated; CSRF tokens belong to one session."""

from __future__ import annotations

import pytest

from sextant.auth.sessions import SessionCodec, SessionData


def test_a_session_survives_its_cookie_and_nothing_else_does() -> None:
    codec = SessionCodec("k" * 40)
    session = SessionCodec.signed_in(7, 3)
    cookie = codec.dumps(session)
    assert codec.loads(cookie) == session
    assert codec.loads(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None  # tampered
    assert SessionCodec("other" * 10).loads(cookie) is None  # another project's key
    assert codec.loads("") is None and codec.loads(None) is None and codec.loads("garbage") is None


def test_an_old_cookie_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    codec = SessionCodec("k" * 40, max_age=60)
    cookie = codec.dumps(SessionCodec.signed_in(1, 0))
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    assert codec.loads(cookie) is None


def test_a_csrf_token_is_valid_for_its_own_session_only() -> None:
    codec = SessionCodec("k" * 40)
    mine, theirs = SessionCodec.anonymous(), SessionCodec.anonymous()
    token = codec.csrf_token(mine)
    assert codec.csrf_valid(mine, token)
    assert not codec.csrf_valid(theirs, token)
    assert not codec.csrf_valid(mine, None) and not codec.csrf_valid(mine, "") and not codec.csrf_valid(mine, "x.y")
    assert not SessionCodec("other" * 10).csrf_valid(mine, token)
    # Signing in starts a new session id, so a token from before sign-in stops working.
    signed_in = SessionCodec.signed_in(1, 0)
    assert not codec.csrf_valid(signed_in, token)


def test_sessions_of_the_same_user_get_distinct_ids() -> None:
    assert SessionCodec.signed_in(1, 0).session_id != SessionCodec.signed_in(1, 0).session_id
    assert SessionData("abc").user_id is None


def test_notices_are_signed() -> None:
    codec = SessionCodec("k" * 40)
    assert codec.notice_loads(codec.notice_dumps("Saved.")) == "Saved."
    assert codec.notice_loads("Saved.") is None
