#!/usr/bin/env python3
"""Secrets never in logs (issue 12 part 5, docs/security.md).

Run by deploy/test.sh after every test: looks for every secret the suite
used in every file the suite wrote. The secrets are
  * each HMAC key file (*.key) found under WORK (the quickstart's), and
  * each line NAME<TAB>VALUE of WORK/secrets/registry, where the tests put
    the keys and passwords they make (tests/integration/lib.sh
    t_register_secret, tests/include/hf_it.h hf_it_register_secret),
each looked for as its raw bytes, in hex (lower and upper case) and in
base64 (standard and URL-safe); a key that is itself base64 or hex text is
also looked for as the bytes it decodes to (raw, hex, base64). The files
are every regular file under WORK (logs, service data, spools) except the
key files and the registry, and the extra files given (the CTest logs).
A self-test first plants a secret in a scratch file and requires the scan
to find it. Exit status: 0 clean, 1 a secret was found (file and form
printed, never the secret) or a file could not be read, 2 usage or nothing
to look for (unless --allow-none: a partial run that made no secret).
Usage: secrets_check.py [--allow-none] WORK [EXTRA_FILE...]
"""
import base64
import binascii
import os
import subprocess
import sys
import tempfile

CHUNK = 8 << 20
MIN_LEN = 8


def forms(value):
    """(form name, bytes) for every encoding of one secret."""
    out = []

    def add(prefix, raw):
        out.append((prefix + "raw", raw))
        out.append((prefix + "hex", binascii.hexlify(raw)))
        out.append((prefix + "HEX", binascii.hexlify(raw).upper()))
        out.append((prefix + "base64", base64.b64encode(raw).rstrip(b"=")))
        out.append((prefix + "base64url", base64.urlsafe_b64encode(raw).rstrip(b"=")))

    add("", value)
    for name, decode in (("base64-decoded ", base64.b64decode), ("hex-decoded ", bytes.fromhex)):
        try:
            raw = decode(value.decode("ascii"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            continue
        if len(raw) >= MIN_LEN:
            add(name, raw)
    return [(n, b) for n, b in out if len(b) >= MIN_LEN]


def load_secrets(work):
    secrets, skip = [], set()
    registry = os.path.join(work, "secrets")
    skip.add(os.path.realpath(registry))
    reg = os.path.join(registry, "registry")
    if os.path.exists(reg):
        with open(reg, "rb") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip(b"\n")
                if not line:
                    continue
                name, _, value = line.partition(b"\t")
                secrets.append(("%s (registry line %d)" % (name.decode(errors="replace"), n), value))
    for root, dirs, files in os.walk(work):
        if os.path.realpath(root) in skip:
            dirs[:] = []
            continue
        for fn in files:
            if fn.endswith(".key"):
                path = os.path.join(root, fn)
                with open(path, "rb") as f:
                    value = f.read().rstrip(b"\r\n")
                secrets.append(("key file " + os.path.relpath(path, work), value))
                skip.add(os.path.realpath(path))
    return [(name, value) for name, value in secrets if len(value) >= MIN_LEN], skip


def scan_file(path, patterns, longest):
    """Names of the patterns found in one file, read in overlapping chunks."""
    found = set()
    tail = b""
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                buf = tail + chunk
                for label, pat in patterns:
                    if label not in found and pat in buf:
                        found.add(label)
                tail = buf[-(longest - 1):] if longest > 1 else b""
    except FileNotFoundError:
        return set()  # removed while the scan ran (a service's temporary file)
    except PermissionError:
        return None  # unreadable: reported, and the check fails
    return found


def anchor(pat):
    """The longest piece of a pattern without a newline or NUL (what grep -F takes)."""
    pieces = [p for chunk in pat.split(b"\n") for p in chunk.split(b"\0")]
    return max(pieces, key=len)


def scan(work, extra, secrets, skip):
    """One grep -F pass (Aho-Corasick, fast over gigabytes) picks the files
    holding any pattern's anchor; those are then searched for the whole
    patterns. Kafka's preallocated sparse offset/time indexes hold offsets
    only and are not read."""
    patterns = [("%s as %s" % (name, form), b) for name, value in secrets
                for form, b in forms(value)]
    longest = max(len(p) for _, p in patterns)
    anchors = sorted({anchor(p) for _, p in patterns if len(anchor(p)) >= 6})
    paths, unreadable, size = [], [], 0
    for root, dirs, fnames in os.walk(work):
        if os.path.realpath(root) in skip:
            dirs[:] = []
            continue
        for fn in fnames:
            if not fn.endswith((".index", ".timeindex")):
                paths.append(os.path.join(root, fn))
    paths.extend(extra)
    files = []
    for path in paths:
        if os.path.realpath(path) in skip or os.path.islink(path) or not os.path.isfile(path):
            continue
        if not os.access(path, os.R_OK):
            unreadable.append(path)
            continue
        files.append(path)
        size += os.path.getsize(path)
    candidates = set()
    with tempfile.NamedTemporaryFile() as pf:
        pf.write(b"\n".join(anchors) + b"\n")
        pf.flush()
        for i in range(0, len(files), 500):
            # LC_ALL=C: in a UTF-8 locale grep -F matches binary files
            # (PostgreSQL pages, Kafka segments) about a thousand times slower
            # (the stop-18 CI run spent over 50 minutes here)
            r = subprocess.run(["grep", "-F", "-a", "-l", "-Z", "-s", "-f", pf.name, "--"]
                               + files[i:i + 500], stdout=subprocess.PIPE,
                               env=dict(os.environ, LC_ALL="C"))
            if r.returncode > 1 and not r.stdout:
                # 2: an error (a file vanished mid-scan is fine, others are not)
                lost = [f for f in files[i:i + 500] if os.path.exists(f)
                        and not os.access(f, os.R_OK)]
                unreadable.extend(lost)
            candidates.update(p.decode() for p in r.stdout.split(b"\0") if p)
    hits = []
    for path in sorted(candidates):
        found = scan_file(path, patterns, longest)
        if found is None:
            unreadable.append(path)
            continue
        hits.extend((path, label) for label in sorted(found))
    return hits, len(files), size, unreadable, len(patterns)


def self_test():
    with tempfile.TemporaryDirectory() as d:
        secret = b"c2VsZi10ZXN0LXNlY3JldC0xMjM0NTY3ODkw"
        os.mkdir(os.path.join(d, "secrets"))
        with open(os.path.join(d, "secrets", "registry"), "wb") as f:
            f.write(b"selftest\t" + secret + b"\n")
        with open(os.path.join(d, "app.log"), "wb") as f:
            f.write(b"line one\nkey=" + binascii.hexlify(base64.b64decode(secret)) + b"\n")
        with open(os.path.join(d, "clean.log"), "wb") as f:
            f.write(b"nothing here\n")
        secrets, skip = load_secrets(d)
        hits = scan(d, [], secrets, skip)[0]
        want = [(os.path.join(d, "app.log"), "selftest (registry line 1) as base64-decoded hex")]
        if hits != want:
            print("secrets_check: self-test failed: %r" % (hits,), file=sys.stderr)
            sys.exit(2)


def main():
    args = sys.argv[1:]
    allow_none = bool(args) and args[0] == "--allow-none"
    if allow_none:
        args = args[1:]
    if not args or not os.path.isdir(args[0]):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    work = args[0]
    self_test()
    secrets, skip = load_secrets(work)
    if not secrets:
        print("secrets_check: no secrets registered under %s: nothing to look for" % work,
              file=sys.stderr)
        return 0 if allow_none else 2
    hits, files, size, unreadable, npat = scan(work, args[1:], secrets, skip)
    for path in unreadable:
        print("secrets_check: could not read %s" % path, file=sys.stderr)
    for path, label in hits:
        print("secrets_check: FOUND %s in %s" % (label, path))
    print("secrets_check: %d secrets (%d forms) looked for in %d files (%.1f MB): %s"
          % (len(secrets), npat, files, size / 1e6,
             "%d found" % len(hits) if hits else "none found"))
    return 1 if hits or unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
