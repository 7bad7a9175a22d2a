#!/usr/bin/env python3
"""Helpers for the operations-endpoint tests (stdlib only).

  ops_http.py metrics URL                 print the scrape as JSON: [[name, {labels}, value], ...]
  ops_http.py hostile HOST PORT MAXCONN TIMEOUT_S
                                          hostile requests against the endpoint; exits non-zero
                                          with the first failed expectation

Every loop here is bounded in count and time and talks to 127.0.0.1 only.
"""
import json
import re
import socket
import sys
import time
import urllib.request

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    out = []
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = LINE.match(line)
        if not m:
            raise SystemExit(f'unparsable metrics line: {line!r}')
        labels = {k: v for k, v in LABEL.findall(m.group(3) or '')}
        out.append([m.group(1), labels, float(m.group(4))])
    return out


def fail(msg):
    print(f'FAIL: {msg}', file=sys.stderr)
    sys.exit(1)


def raw(host, port, data, read_timeout=5.0, chunks=None):
    """Send bytes, return what comes back until the server closes or the
    timeout passes (b'' when the connection was refused or reset)."""
    s = socket.create_connection((host, port), timeout=5)
    s.settimeout(read_timeout)
    got = b''
    try:
        try:
            for c in chunks or [data]:
                s.sendall(c)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server answered and closed before reading everything
        while len(got) < 1 << 20:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return got


def status_of(resp):
    m = re.match(rb'HTTP/1\.[01] (\d{3})', resp)
    return int(m.group(1)) if m else None


def healthy(host, port):
    r = raw(host, port, b'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    if status_of(r) != 200 or not r.endswith(b'ok\n'):
        fail(f'/healthz did not answer 200 ok after the previous probe: {r[:200]!r}')


def hostile(host, port, maxconn, timeout_s):
    port = int(port)
    maxconn = int(maxconn)
    timeout_s = float(timeout_s)
    probes = 0

    def expect(name, req, statuses, **kw):
        nonlocal probes
        r = raw(host, port, req, **kw)
        st = status_of(r)
        if st not in statuses:
            fail(f'{name}: expected status in {statuses}, got {st}: {r[:300]!r}')
        healthy(host, port)
        probes += 1
        return r

    # methods other than GET and HEAD: 405 with Allow
    for m in [b'POST', b'PUT', b'DELETE', b'PATCH', b'OPTIONS', b'TRACE', b'CONNECT',
              b'PROPFIND', b'BREW']:
        r = expect(f'method {m.decode()}', m + b' /metrics HTTP/1.1\r\nHost: x\r\n'
                   b'Content-Length: 0\r\nConnection: close\r\n\r\n', {405})
        if b'\r\nAllow: GET, HEAD\r\n' not in r:
            fail(f'405 to {m.decode()} without Allow: GET, HEAD: {r[:300]!r}')
    # a POST announcing a 1 GiB body is answered at once, before any of it
    expect('POST announcing a large body', b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: '
           + str(1 << 30).encode() + b'\r\n\r\n' + b'x' * 1000, {405})
    # and one that sends a 1 MiB body: refused or cut off, the server stays up
    expect('POST with a 1 MiB body', b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: '
           + str(1 << 20).encode() + b'\r\n\r\n' + b'x' * (1 << 20), {405, None})
    # a chunked body of garbage
    expect('chunked garbage', b'POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked'
           b'\r\n\r\nzz\r\n' + b'\xff' * 5000, {405, 400, None})
    # unknown paths, odd paths
    expect('unknown path', b'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', {404})
    expect('traversal', b'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close'
           b'\r\n\r\n', {404, 400})
    expect('encoded NUL', b'GET /metrics%00.html HTTP/1.1\r\nHost: x\r\nConnection: close'
           b'\r\n\r\n', {404, 400})
    expect('query string', b'GET /healthz?x=1&y=%ff HTTP/1.1\r\nHost: x\r\nConnection: close'
           b'\r\n\r\n', {200})
    # oversized request line and headers: refused, server stays up
    expect('64 KiB URL', b'GET /' + b'a' * 65536 + b' HTTP/1.1\r\nHost: x\r\n\r\n',
           {414, 431, 400, 413, None})
    expect('64 KiB header', b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'b' * 65536
           + b'\r\n\r\n', {431, 413, 400, None})
    expect('2000 headers', b'GET /metrics HTTP/1.1\r\nHost: x\r\n'
           + b''.join(b'X-H%d: v\r\n' % i for i in range(2000)) + b'\r\n',
           {431, 413, 400, None})
    # garbage: binary, no request line, HTTP/0.9, bad versions
    expect('binary garbage', bytes(range(256)) * 40, {400, None})
    expect('newlines only', b'\r\n' * 5000, {400, None})
    expect('HTTP/0.9', b'GET /\r\n\r\n', {400, 505, None, 200})
    expect('bad version', b'GET / HTTP/9.9\r\nHost: x\r\n\r\n', {505, 400, None})
    expect('no host', b'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', {400, 200})
    expect('TLS hello on plain HTTP', b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'
           + b'\x00' * 500, {400, None})
    expect('header without colon', b'GET /healthz HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n',
           {400, 200, None})
    expect('pipelined requests', b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' * 50
           + b'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', {200})
    # HEAD: headers, no body
    r = raw(host, port, b'HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    head, _, rest = r.partition(b'\r\n\r\n')
    if status_of(r) != 200 or rest:
        fail(f'HEAD /metrics: expected 200 without a body, got {r[:300]!r}')
    if b'text/plain; version=0.0.4' not in head:
        fail(f'HEAD /metrics: no exposition content type: {head!r}')

    # many connections at once: more than max_connections are closed, the
    # server serves again once they are gone
    socks = []
    for _ in range(maxconn * 4):
        try:
            s = socket.create_connection((host, port), timeout=2)
            socks.append(s)
        except OSError:
            break
    time.sleep(0.5)
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b'':
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    if len(socks) > maxconn and closed < len(socks) - maxconn - 1:
        fail(f'{len(socks)} connections held, {closed} closed by the server: the limit of '
             f'{maxconn} is not enforced')
    for s in socks:
        s.close()
    time.sleep(0.3)
    healthy(host, port)
    # slowloris: a request that never ends is closed after the timeout
    s = socket.create_connection((host, port), timeout=timeout_s + 10)
    s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n')
    t0 = time.time()
    try:
        while time.time() - t0 < timeout_s + 8:
            if s.recv(4096) == b'':
                break
    except (socket.timeout, ConnectionResetError):
        pass
    took = time.time() - t0
    s.close()
    if took > timeout_s + 5:
        fail(f'a half-sent request was kept open {took:.1f} s (timeout {timeout_s} s)')
    healthy(host, port)
    # a burst of ordinary scrapes
    for _ in range(200):
        with urllib.request.urlopen(f'http://{host}:{port}/metrics', timeout=5) as resp:
            if resp.status != 200:
                fail(f'/metrics: {resp.status}')
    print(f'hostile: {probes} probes, {len(socks)} connections ({closed} closed by the '
          f'server), slow request closed after {took:.1f} s, 200 scrapes')


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'metrics':
        with urllib.request.urlopen(sys.argv[2], timeout=10) as resp:
            print(json.dumps(parse_metrics(resp.read().decode())))
    elif len(sys.argv) == 6 and sys.argv[1] == 'hostile':
        hostile(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
