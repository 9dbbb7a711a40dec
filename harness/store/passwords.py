"""Password hashes as the directory stores them (salted PBKDF2-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import os

ITERATIONS = 1000
"""Deliberately low: a lab directory provisions 100,000 accounts; real ones use far more."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = os.urandom(8) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return f"pbkdf2-sha256${ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2-sha256":
        return False
    again = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(again.hex(), digest)
