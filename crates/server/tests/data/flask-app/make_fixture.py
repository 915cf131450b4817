#!/usr/bin/env python3
"""Builds the Flask fixture for crates/web/tests/flask_import.rs:

- flask.db: app.py's SQLite database with the users below, created through the app's own model
  (Werkzeug's generate_password_hash: its default, scrypt, and pbkdf2:sha256), plus one user
  whose hash is in the legacy `sha256$salt$hex` form of Werkzeug < 2.3;
- users.csv and users.jsonl: `SELECT username, password_hash FROM user ORDER BY id`, the export
  `wristband user import` reads.

Every user is logged in through the app's /login (Flask's test client) before anything is
written, except the legacy one, which Werkzeug 3 can no longer check: its hash is checked
with Python's hmac exactly as Werkzeug < 2.3 computed it.

    python3 -m venv /tmp/flaskvenv
    /tmp/flaskvenv/bin/pip install 'flask==3.1.*' 'flask-sqlalchemy==3.1.*'
    /tmp/flaskvenv/bin/python make_fixture.py

Salts are random, so every run writes different hashes; any run's output is a valid fixture.
"""

import csv
import hmac
import json
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
DB = HERE / "flask.db"
os.environ["FLASK_DATABASE_URI"] = "sqlite:///" + str(DB)

from werkzeug.security import gen_salt  # noqa: E402

from app import User, app, db  # noqa: E402

# (username, password, Werkzeug method or None for its default, or "legacy-sha256").
# The plaintext passwords are test data, listed in README.md too.
USERS = [
    ("alice", "correct horse battery staple", None),
    ("Bob", "Tr0ub4dor&3 is not enough", None),
    ("carol", "pässwörd mit Ümläuten 🔑", "pbkdf2:sha256"),
    ("józef", "Zażółć gęślą jaźń", "pbkdf2:sha256:600000"),
    ("dave", "hunter2", "legacy-sha256"),
    # Flask apps often use e-mail addresses as names; Wristband's names cannot hold '@', so
    # the import reports this row and imports the others.
    ("eve@example.com", "eve's long passphrase", None),
]


def legacy_sha256(password):
    """Werkzeug < 2.3's salted `sha256` method: HMAC-SHA256 with the salt as key."""
    salt = gen_salt(12)
    digest = hmac.new(salt.encode(), password.encode(), "sha256").hexdigest()
    return f"sha256${salt}${digest}"


def main():
    if DB.exists():
        DB.unlink()
    with app.app_context():
        db.create_all()
        for username, password, method in USERS:
            user = User(username=username)
            if method == "legacy-sha256":
                user.password_hash = legacy_sha256(password)
            else:
                user.set_password(password, method)
            db.session.add(user)
        db.session.commit()
        rows = [(u.username, u.password_hash) for u in User.query.order_by(User.id)]

    client = app.test_client()
    for username, password, method in USERS:
        if method == "legacy-sha256":
            continue
        answer = client.post("/login", data={"username": username, "password": password})
        assert answer.status_code == 302, (username, answer.status_code)
        wrong = client.post("/login", data={"username": username, "password": password + "x"})
        assert wrong.status_code == 401, username
    for (username, stored), (_, password, method) in zip(rows, USERS):
        if method == "legacy-sha256":
            _, salt, digest = stored.split("$")
            assert hmac.compare_digest(
                digest, hmac.new(salt.encode(), password.encode(), "sha256").hexdigest()
            )

    with open(HERE / "users.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["username", "password_hash"])
        writer.writerows(rows)
    with open(HERE / "users.jsonl", "w", encoding="utf-8") as f:
        for username, stored in rows:
            f.write(json.dumps({"username": username, "password_hash": stored}) + "\n")
    print(f"wrote {DB.name}, users.csv, users.jsonl: {len(rows)} users", file=sys.stderr)


if __name__ == "__main__":
    main()
