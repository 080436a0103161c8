#!/usr/bin/env python3
"""A stand-in for an acme-dns server's HTTP API, for dns01's tests only.

acme-dns (https://github.com/joohoi/acme-dns) is not packaged in Debian, so this implements just
the API its README documents (https://github.com/joohoi/acme-dns/blob/master/README.md, "API",
read 2026-12-07), and nothing else:

  POST /register   optional {"allowfrom": [CIDR, ...]}; 201 {"username", "password",
                   "fulldomain", "subdomain", "allowfrom"}
  POST /update     headers X-Api-User, X-Api-Key; {"subdomain", "txt"}; 200 {"txt"}. The txt
                   must be exactly 43 characters. The subdomain serves the two most recent values
                   ("rolling update of two TXT records", so a name and its wildcard both validate).
  GET  /health     200

The README gives no error bodies; those here are acme-dns's own (its auth.go and api.go): a bad
username, password, subdomain or source address is HTTP 401 {"error": "forbidden"}; a txt that is
not 43 base64url characters is HTTP 400 {"error": "bad_txt"}. There is no delete: acme-dns has
none.

What makes it a test lab and not a fake: the two values of a subdomain are written into the lab's
real BIND primary with an RFC 2136 update (nsupdate with the lab's TSIG key file), as
cloudflare-api.py does, so the secondary picks them up, dns01's propagation wait polls real
servers through the real CNAME, and Pebble validates against real DNS.

Test-only controls, outside acme-dns's API, under /__lab/: GET /__lab/stats (requests per
endpoint), POST /__lab/throttle {"count": N} (answer the next N API requests with HTTP 503 and
Retry-After: 1, as a proxy in front of acme-dns may).
"""
import argparse
import ipaddress
import json
import re
import secrets
import string
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

lock = threading.Lock()
users = {}      # username -> {"password", "subdomain", "allowfrom"}
values = {}     # subdomain -> [older, newer]
stats = {}      # "METHOD /path" -> count
throttle = {"count": 0}
args = None
TXT = re.compile(r"^[A-Za-z0-9_-]{43}$")


def nsupdate(subdomain):
    """Writes the subdomain's values into BIND; raises on failure."""
    host, port = args.primary.rsplit(":", 1)
    name = f"{subdomain}.{args.domain}."
    lines = [f"server {host} {port}", f"zone {args.domain}", f"update delete {name} TXT"]
    for value in values[subdomain]:
        if value:
            lines.append(f'update add {name} 1 TXT "{value}"')
    lines.append("send")
    result = subprocess.run(["nsupdate", "-k", args.tsig_key_file], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"nsupdate failed: {result.stderr.strip()}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("acme-dns-api: " + (fmt % a) + "\n")

    def reply(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self, method):
        path = urlparse(self.path).path
        if path.startswith("/__lab/"):
            return self.lab(method, path)
        raw = self.body()
        with lock:
            key = f"{method} {path}"
            stats[key] = stats.get(key, 0) + 1
            if throttle["count"] > 0:
                throttle["count"] -= 1
                return self.reply(503, {"error": "throttled"}, [("Retry-After", "1")])
        if method == "GET" and path == "/health":
            return self.reply(200)
        if method == "POST" and path == "/register":
            return self.register(raw)
        if method == "POST" and path == "/update":
            return self.update(raw)
        self.reply(404, {"error": "not_found"})

    def register(self, raw):
        allowfrom = []
        if raw:
            try:
                allowfrom = json.loads(raw).get("allowfrom") or []
                for cidr in allowfrom:
                    ipaddress.ip_network(cidr, strict=False)
            except (ValueError, AttributeError):
                return self.reply(400, {"error": "invalid_allowfrom_cidr"})
        alphabet = string.ascii_letters + string.digits + "-_"
        username, subdomain = str(uuid.uuid4()), str(uuid.uuid4())
        password = "".join(secrets.choice(alphabet) for _ in range(40))
        with lock:
            users[username] = {"password": password, "subdomain": subdomain, "allowfrom": allowfrom}
            values[subdomain] = ["", ""]
        self.reply(201, {"allowfrom": allowfrom, "fulldomain": f"{subdomain}.{args.domain}", "password": password,
                         "subdomain": subdomain, "username": username})

    def update(self, raw):
        user = users.get(self.headers.get("X-Api-User") or "")
        try:
            post = json.loads(raw or b"{}")
        except ValueError:
            post = {}
        client = ipaddress.ip_address(self.client_address[0])
        allowed = user is not None and (not user["allowfrom"] or any(
            client in ipaddress.ip_network(cidr, strict=False) for cidr in user["allowfrom"]))
        if not (user and secrets.compare_digest(user["password"], self.headers.get("X-Api-Key") or "")
                and allowed and post.get("subdomain") == user["subdomain"]):
            return self.reply(401, {"error": "forbidden"})
        txt = post.get("txt")
        if not isinstance(txt, str) or not TXT.match(txt):
            return self.reply(400, {"error": "bad_txt"})
        with lock:
            # The older of the two values gives way to the new one.
            values[user["subdomain"]] = [values[user["subdomain"]][1], txt]
            try:
                nsupdate(user["subdomain"])
            except RuntimeError:
                return self.reply(500, {"error": "db_error"})
        self.reply(200, {"txt": txt})

    def lab(self, method, path):
        with lock:
            if method == "GET" and path == "/__lab/stats":
                return self.reply(200, {"requests": stats})
            if method == "POST" and path == "/__lab/throttle":
                throttle["count"] = int(json.loads(self.body() or b"{}").get("count", 0))
                return self.reply(200, {"throttle": throttle["count"]})
        self.reply(404, {})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--domain", required=True, help="the zone the subdomains live in (acme-dns's general.domain)")
    parser.add_argument("--primary", required=True, help="the lab's BIND primary, host:port")
    parser.add_argument("--tsig-key-file", required=True)
    args = parser.parse_args()
    args.domain = args.domain.rstrip(".").lower()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
