#!/usr/bin/env python3
"""Writes foreign-hashes.json: password hashes made by Werkzeug and bcrypt, for
crates/auth-core/tests/foreign_hashes.rs.

    python3 -m venv /tmp/hashvenv
    /tmp/hashvenv/bin/pip install 'werkzeug==3.1.*' 'bcrypt==5.*'
    /tmp/hashvenv/bin/python make-foreign-hashes.py

Salts are random, so every run writes different hashes; any run's output is a valid test file.
Each vector is checked with the library that made it before it is written.
"""

import hashlib
import hmac
import json
import pathlib
import platform
import sys
import unicodedata
from importlib.metadata import version

import bcrypt
from werkzeug.security import check_password_hash, gen_salt, generate_password_hash

OUT = pathlib.Path(__file__).with_name("foreign-hashes.json")

# The cross-check the issue asks for, verbatim: Werkzeug 3.1 with an explicit
# `pbkdf2:sha256:600000` (Werkzeug 2.3 and 3.0's default) and the salt `abcdefghijklmnop`.
CROSS_CHECK = (
    "pbkdf2:sha256:600000$abcdefghijklmnop$"
    "0d1a4641f1a9aad40c6e7dc993181b8ac3db35a661fe79bae81fe32cf3306dce"
)

vectors = []


def add(fmt, password, stored, note=""):
    vectors.append({"format": fmt, "password": password, "hash": stored, "note": note})


def werkzeug(fmt, password, method, note="", hashed=None):
    """generate_password_hash(hashed or password, method), checked with check_password_hash."""
    stored = generate_password_hash(hashed if hashed is not None else password, method)
    assert check_password_hash(stored, hashed if hashed is not None else password)
    add(fmt, password, stored, note)


def legacy(digest, password, salt_length):
    """Werkzeug < 2.3's `<digest>$salt$hex`, which Werkzeug 3 can neither make nor check:
    computed exactly as its `_hash_internal` did for a salted method,
    `hmac.new(salt.encode("utf-8"), password.encode("utf-8"), method).hexdigest()`."""
    salt = gen_salt(salt_length)
    digest_hex = hmac.new(salt.encode("utf-8"), password.encode("utf-8"), digest).hexdigest()
    add(
        f"legacy-hmac:{digest}",
        password,
        f"{digest}${salt}${digest_hex}",
        "computed with Python's hmac as Werkzeug < 2.3 did; Werkzeug 3 cannot make these",
    )


def bcrypt_hash(password, rounds, prefix="$2b$", note="", hashed=None):
    data = (hashed if hashed is not None else password).encode("utf-8")
    stored = bcrypt.hashpw(data, bcrypt.gensalt(rounds=rounds)).decode("ascii")
    assert bcrypt.checkpw(data, stored.encode("ascii"))
    # $2a$, $2b$ and $2y$ name one algorithm (they differ only in bugs of other
    # implementations that these passwords do not reach), so rewriting the prefix is valid.
    stored = prefix + stored[len("$2b$"):]
    assert bcrypt.checkpw(data, stored.encode("ascii"))
    add("bcrypt", password, stored, note)


# --- Werkzeug pbkdf2 -------------------------------------------------------------------------
werkzeug("pbkdf2:sha1", "correct horse battery staple", "pbkdf2:sha1:1000",
         "Werkzeug 0.9-0.14's default digest, at a small iteration count")
werkzeug("pbkdf2:sha256", "pässwörd ☕ 密码 🔑", "pbkdf2:sha256:1000", "non-ASCII password")
werkzeug("pbkdf2:sha512", "Tr0ub4dor&3", "pbkdf2:sha512:1000")
werkzeug("pbkdf2:sha256", "hunter2 hunter2", "pbkdf2",
         "Werkzeug 3.1's pbkdf2 default: sha256, 1,000,000 iterations")
assert check_password_hash(CROSS_CHECK, "correct horse")
add("pbkdf2:sha256", "correct horse", CROSS_CHECK,
    "the issue's cross-check vector, verbatim (Werkzeug 3.1, pbkdf2:sha256:600000)")
werkzeug("pbkdf2:sha256", "ﬁnance ｃｏｆｆｅｅ", "pbkdf2:sha256:1000",
         "hashed from the NFKC form 'finance coffee': verifies through the NFKC fallback",
         hashed=unicodedata.normalize("NFKC", "ﬁnance ｃｏｆｆｅｅ"))

# --- Werkzeug scrypt -------------------------------------------------------------------------
werkzeug("scrypt", "ｆｕｌｌｗｉｄｔｈ ｐａｓｓ", "scrypt",
         "Werkzeug 3.1's default method and parameters (32768:8:1); hashed as typed, "
         "whose NFKC form differs")
werkzeug("scrypt", "Grüße aus Köln", "scrypt:16384:8:2", "p > 1")

# --- Werkzeug < 2.3 legacy salted HMAC -------------------------------------------------------
legacy("sha1", "default", 8)
legacy("sha256", "Ünïcödé pass phrase", 16)
legacy("sha512", "sha512 legacy", 16)

# --- bcrypt ----------------------------------------------------------------------------------
bcrypt_hash("correct horse battery staple", 4)
bcrypt_hash("mot de passe élégant", 5, prefix="$2a$", note="$2a$ prefix")
bcrypt_hash("ｐａｓｓｗｏｒｄ 2y", 4, prefix="$2y$", note="$2y$ prefix (PHP); fullwidth, hashed as typed")
bcrypt_hash("hunter2 hunter2", 12, note="bcrypt's default cost")
LONG = "The quick brown fox jumps over the lazy dog; ünïcödé and more words to pass 72 bytes"
assert len(LONG.encode("utf-8")) > 72
bcrypt_hash(LONG, 4, hashed=LONG.encode("utf-8")[:72].decode("utf-8"),
            note="longer than 72 bytes: hashed from its first 72 bytes, which is what bcrypt "
                 "(pyca/bcrypt < 5, OpenBSD, PHP) did with the whole password; pyca/bcrypt 5 "
                 "refuses to hash it instead")

OUT.write_text(
    json.dumps(
        {
            "generated_by": {
                "script": "make-foreign-hashes.py",
                "python": platform.python_version(),
                "werkzeug": version("werkzeug"),
                "bcrypt": version("bcrypt"),
            },
            "vectors": vectors,
        },
        ensure_ascii=False,
        indent=2,
    )
    + "\n",
    encoding="utf-8",
)
print(f"wrote {len(vectors)} vectors to {OUT}", file=sys.stderr)
