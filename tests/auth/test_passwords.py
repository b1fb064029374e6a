"""Passwords are argon2id hashes; a missing user costs a verification too and never matches."""

from __future__ import annotations

from sextant.auth.passwords import generate_password, hash_password, password_problem, verify_password


def test_a_hash_is_argon2id_salted_and_verifies_only_its_password() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$") and first != second  # a random salt each time
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse batterY")
    assert not verify_password("not a hash", "correct horse battery")


def test_no_user_never_matches() -> None:
    assert not verify_password(None, "")
    assert not verify_password(None, "anything at all")


def test_generated_passwords_are_long_random_and_acceptable() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(password_problem(password) is None and len(password) >= 20 for password in passwords)
    assert "10 characters" in (password_problem("short") or "")
