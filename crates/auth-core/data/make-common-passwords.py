#!/usr/bin/env python3
"""Regenerate common-passwords.txt.gz, Wristband's common/breached-password blocklist.

Sources (both pure-Python wheels from PyPI, pinned and checked by SHA-256):

  * Django 5.2.19 (BSD-3-Clause), file django/contrib/auth/common-passwords.txt.gz:
    Django's CommonPasswordValidator list (20,000 common passwords curated by
    Royce Williams, already lower-cased and deduplicated by Django; 19,640 lines).
  * zxcvbn 4.5.0 (MIT), module zxcvbn/frequency_lists.py, key "passwords":
    the 30,000-entry password frequency list zxcvbn ships. Only that list is used;
    the name, surname, Wikipedia and TV/film word lists are not passwords.

Each entry is lower-cased (str.lower()), stripped, NFKC-normalised
(unicodedata.normalize('NFKC', s)), and empty entries are dropped. The union is
deduplicated, sorted by code point, written one per line as UTF-8 with "\\n"
line endings, and gzip'd with mtime 0 and no embedded file name, so the output
is byte-for-byte reproducible for the same inputs and Python's zlib.

Every entry written is a fixed point of both NFKC-then-lowercase and
lowercase-then-NFKC, so a checker may normalise a candidate in either order.

How to run (needs Python 3.8+ and network access to PyPI through pip):

    python3 crates/auth-core/data/make-common-passwords.py

which runs `pip download --no-deps django==5.2.19 zxcvbn==4.5.0` into a
temporary directory. To use wheels you already have:

    python3 make-common-passwords.py --django-wheel django-5.2.19-py3-none-any.whl \\
        --zxcvbn-wheel zxcvbn-4.5.0-py2.py3-none-any.whl [--output PATH]

The default output is common-passwords.txt.gz next to this script. The script
prints the entry counts that README.md records.
"""

import argparse
import ast
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

DJANGO_VERSION = "5.2.19"
DJANGO_WHEEL = "django-5.2.19-py3-none-any.whl"
DJANGO_SHA256 = "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00"
DJANGO_MEMBER = "django/contrib/auth/common-passwords.txt.gz"

ZXCVBN_VERSION = "4.5.0"
ZXCVBN_WHEEL = "zxcvbn-4.5.0-py2.py3-none-any.whl"
ZXCVBN_SHA256 = "2b6eed621612ce6d65e6e4c7455b966acee87d0280e257956b1f06ccc66bd5ff"
ZXCVBN_MEMBER = "zxcvbn/frequency_lists.py"
ZXCVBN_LIST = "passwords"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def check_wheel(path, expected):
    got = sha256_file(path)
    if got != expected:
        sys.exit(f"{path}: SHA-256 {got} does not match the pinned {expected}")


def download(tmp):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "-d", tmp, f"django=={DJANGO_VERSION}", f"zxcvbn=={ZXCVBN_VERSION}"],
        check=True,
    )
    return os.path.join(tmp, DJANGO_WHEEL), os.path.join(tmp, ZXCVBN_WHEEL)


def django_entries(wheel):
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read(DJANGO_MEMBER))
    return raw.decode("utf-8").splitlines()


def zxcvbn_entries(wheel):
    """Read FREQUENCY_LISTS["passwords"] without importing or executing the module.

    The module is `FREQUENCY_LISTS = {"name": "a,b,c".split(","), ...}`; take the
    string literal apart with ast.
    """
    with zipfile.ZipFile(wheel) as z:
        source = z.read(ZXCVBN_MEMBER).decode("utf-8")
    tree = ast.parse(source)
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "FREQUENCY_LISTS" for t in node.targets):
            continue
        for key, value in zip(node.value.keys, node.value.values):
            if not (isinstance(key, ast.Constant) and key.value == ZXCVBN_LIST):
                continue
            # "a,b,c".split(",")
            if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                    and value.func.attr == "split"
                    and isinstance(value.func.value, ast.Constant)
                    and len(value.args) == 1 and isinstance(value.args[0], ast.Constant)):
                return value.func.value.value.split(value.args[0].value)
            # a plain list of strings
            return [ast.literal_eval(e) for e in value.elts]
    sys.exit(f"{wheel}: no FREQUENCY_LISTS[{ZXCVBN_LIST!r}] in {ZXCVBN_MEMBER}")


def normalise(s):
    return unicodedata.normalize("NFKC", s.lower().strip())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--django-wheel")
    ap.add_argument("--zxcvbn-wheel")
    ap.add_argument("--output", default=os.path.join(here, "common-passwords.txt.gz"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dj, zx = args.django_wheel, args.zxcvbn_wheel
        if not dj or not zx:
            dl_dj, dl_zx = download(tmp)
            dj, zx = dj or dl_dj, zx or dl_zx
        check_wheel(dj, DJANGO_SHA256)
        check_wheel(zx, ZXCVBN_SHA256)
        sources = {"django": django_entries(dj), "zxcvbn": zxcvbn_entries(zx)}

    entries = set()
    for name, items in sources.items():
        normed = {normalise(s) for s in items} - {""}
        print(f"{name}: {len(items)} raw, {len(normed)} distinct after normalisation")
        entries |= normed

    for e in entries:
        # Stable under either normalisation order, no line breaks inside.
        assert e == unicodedata.normalize("NFKC", e).lower() == unicodedata.normalize("NFKC", e.lower()), e
        assert e == e.strip() and "\n" not in e and "\r" not in e, e

    body = "".join(e + "\n" for e in sorted(entries)).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(body)
    with open(args.output, "wb") as f:
        f.write(buf.getvalue())

    lengths = [len(e) for e in entries]  # code points
    print(f"total entries: {len(entries)}")
    for n in (8, 10, 12, 16, 20):
        print(f"entries with >= {n} code points: {sum(1 for l in lengths if l >= n)}")
    print(f"longest entry: {max(lengths)} code points")
    print(f"non-ASCII entries: {sum(1 for e in entries if not e.isascii())}")
    print(f"wrote {args.output}: {len(buf.getvalue())} bytes gzip, {len(body)} bytes plain, "
          f"sha256 {hashlib.sha256(buf.getvalue()).hexdigest()}")


if __name__ == "__main__":
    main()
