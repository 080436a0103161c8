#!/usr/bin/env python3
"""Load test of `dns01 serve`'s /update on loopback: N registrations, each updated once,
all at the same moment (threads, one connection each), twice: a cold round (bcrypt verifies each
key once) and a warm one. Prints requests/s, p50/p99 latency, the provider writes the round
became (from /metrics) and the server's peak RSS (VmHWM of --pid).

    bench/serve-load.py --base http://127.0.0.1:8053 --pid PID [--count 100]

Loopback only; every request is bounded (timeout 180 s) and the script stops by itself.
"""
import argparse, json, threading, time, urllib.request, base64, os

def post(url, body=None, headers=None, timeout=180):
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(url, data=data, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()

def metric(base, name):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
    return -1

def value():
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")

def round_(base, registrations):
    results = [None] * len(registrations)
    barrier = threading.Barrier(len(registrations))
    def work(index, registration):
        barrier.wait()
        start = time.monotonic()
        status, _ = post(base + "/update", {"subdomain": registration["subdomain"], "txt": value()},
                         {"X-Api-User": registration["username"], "X-Api-Key": registration["password"],
                          "Content-Type": "application/json"})
        results[index] = (status, time.monotonic() - start)
    threads = [threading.Thread(target=work, args=(i, r)) for i, r in enumerate(registrations)]
    writes = metric(base, "dns01_serve_provider_writes_total")
    start = time.monotonic()
    for thread in threads: thread.start()
    for thread in threads: thread.join()
    wall = time.monotonic() - start
    writes = metric(base, "dns01_serve_provider_writes_total") - writes
    latencies = sorted(latency for _, latency in results)
    ok = sum(1 for status, _ in results if status == 200)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return dict(ok=ok, total=len(results), wall=wall, rps=len(results) / wall, p50=p(0.5), p99=p(0.99), writes=writes)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    assert "127.0.0.1" in args.base or "localhost" in args.base or "[::1]" in args.base, "loopback only"
    registrations = []
    for _ in range(args.count):
        status, body = post(args.base + "/register")
        assert status == 201, (status, body)
        registrations.append(json.loads(body))
    for name in ("cold", "warm"):
        r = round_(args.base, registrations)
        print(f"{name}: {r['ok']}/{r['total']} ok in {r['wall']:.2f} s, {r['rps']:.1f} req/s, "
              f"p50 {r['p50']*1000:.0f} ms, p99 {r['p99']*1000:.0f} ms, provider writes {r['writes']}")
    if args.pid:
        with open(f"/proc/{args.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM"):
                    print("peak RSS:", line.split(":", 1)[1].strip())

if __name__ == "__main__":
    main()
