#!/usr/bin/env python3
"""Junk bodies against a running adloom on loopback (issue 13, finding 3).

Sends, in turn:
  - six concurrent conversions bodies of {"data":[0,0,...]} (about 3.9 MB,
    1.9 million entries each), and
  - one customer-list body of about 400 MB of records,
while a poller asks /healthz every 50 ms. Prints, for each part, how far
the server's resident memory rose above where it was before (sampled from
/proc every 10 ms) and the slowest /healthz answer.

  scripts/junk_bodies.py --url http://127.0.0.1:8080 --token "$ADMIN" --pid "$(pgrep -f 'adloom serve')"

Standard library only. Loopback only, bounded in count and time.
"""

import argparse
import http.client
import json
import threading
import time
import urllib.parse


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Poller(threading.Thread):
    """Asks /healthz every 50 ms; keeps the slowest answer."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.slowest = 0.0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                c = http.client.HTTPConnection(self.host, self.port, timeout=30)
                c.request("GET", "/healthz")
                c.getresponse().read()
                c.close()
            except OSError:
                pass
            self.slowest = max(self.slowest, time.monotonic() - started)
            time.sleep(0.05)


def post(host, port, path, token, body, headers=None):
    c = http.client.HTTPConnection(host, port, timeout=600)
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    h.update(headers or {})
    c.putrequest("POST", path)
    for k, v in h.items():
        c.putheader(k, v)
    c.putheader("Content-Length", str(body.length))
    c.endheaders()
    for piece in body.pieces():
        c.send(piece)
    r = c.getresponse()
    answer = r.read()
    c.close()
    return r.status, answer[:200]


class Repeated:
    """A body made of a prefix, a piece repeated, and a suffix, sent in
    pieces so that this script does not hold 400 MB either."""

    def __init__(self, prefix, piece, times, suffix):
        self.prefix, self.piece, self.times, self.suffix = prefix, piece, times, suffix
        self.length = len(prefix) + len(piece) * times + len(suffix)

    def pieces(self):
        yield self.prefix
        block = self.piece * 4096
        full, rest = divmod(self.times, 4096)
        for _ in range(full):
            yield block
        yield self.piece * rest
        yield self.suffix


def part(name, pid, poller, work):
    """Runs `work` while sampling the server's resident memory every 10 ms."""
    before = rss_kib(pid)
    highest = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            highest[0] = max(highest[0], rss_kib(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    poller.slowest = 0.0
    started = time.monotonic()
    outcomes = work()
    took = time.monotonic() - started
    done.set()
    sampler.join()
    grew = (highest[0] - before) / 1024
    print(f"{name}: {outcomes}; {took:.1f} s; resident memory {before / 1024:.0f} MB before, "
          f"peak +{grew:.0f} MB; slowest /healthz {poller.slowest * 1000:.0f} ms")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--token", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--list-mb", type=int, default=400)
    a = p.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port or 80
    assert host in ("127.0.0.1", "localhost", "::1"), "loopback only"

    c = http.client.HTTPConnection(host, port)
    c.request("POST", "/v5/ad_accounts", json.dumps({"name": "Junk"}),
              {"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"})
    account = json.loads(c.getresponse().read())["id"]
    c.close()

    poller = Poller(host, port)
    poller.start()

    def conversions():
        body = Repeated(b'{"data":[0', b",0", 1_950_000, b"]}")
        results = []

        def one():
            results.append(post(host, port, f"/v5/ad_accounts/{account}/events", a.token, body)[0])

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return f"6 x {body.length / 1e6:.1f} MB conversions bodies answered {sorted(results)}"

    def customer_list():
        record = b"0123456789abcdef0123456789abcdef01234567,"  # 41 bytes: a SHA-1
        times = a.list_mb * 1_000_000 // len(record)
        body = Repeated(b'{"name":"junk","records":"', record, times, b'","list_type":"EMAIL"}')
        status, answer = post(host, port, f"/v5/ad_accounts/{account}/customer_lists", a.token, body)
        return f"a {body.length / 1e6:.0f} MB customer list answered {status}"

    part("conversions", a.pid, poller, conversions)
    part("customer list", a.pid, poller, customer_list)
    poller.stop.set()


if __name__ == "__main__":
    main()
