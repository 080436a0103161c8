"""The machinery dns01's DNS host API stand-ins share (digitalocean-api.py, hetzner-api.py,
desec-api.py, gandi-api.py, ovh-api.py), for dns01's tests only.

Each stand-in implements only its vendor's documented endpoints and shapes (its own docstring
names the document); this module gives them what is not the vendor's:

- the command line the lab starts them with (--port, --token-file, --zone, --primary,
  --tsig-key-file);
- the RFC 2136 writer: every record a stand-in creates or deletes goes into the lab's real BIND
  primary with nsupdate and the lab's TSIG key, so the secondary picks it up, dns01's
  propagation wait polls real servers, and Pebble validates against real DNS;
- an HTTP/1.1 JSON server that counts requests by path shape and serves the test-only
  controls, outside every vendor's API, under /__lab/: GET /__lab/stats (requests by "METHOD
  /path-shape", and records held), POST /__lab/throttle {"count": N} (answer the next N API
  requests with the vendor's documented 429 and Retry-After: 1), POST /__lab/fail {"count": N,
  "status": S, "body": B} (answer the next N API requests with HTTP S and the JSON body B: a
  vendor error shape holding any text, hostile or huge, as any API may send).

A stand-in is an object with:
  name                       for log lines
  authorized(headers, method, url, body) -> True, or the refusal (status, body), or False
  unauthorized()             -> (status, body) as the vendor answers a wrong credential
  throttled()                -> (status, body) as the vendor answers over its rate limit
  route(method, parts, query, body) -> (status, body) or (status, body, headers); body None: no content
  shape(parts)               -> the path with IDs replaced (optional)
"""
import argparse
import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Lab:
    def __init__(self, description):
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--token-file", required=True, help="the one valid credential (one line, or key=value lines)")
        parser.add_argument("--zone", action="append", default=[], help="a zone name it hosts")
        parser.add_argument("--primary", required=True, help="the lab's BIND primary, host:port")
        parser.add_argument("--tsig-key-file", required=True)
        self.args = parser.parse_args()
        with open(self.args.token_file) as handle:
            self.token = handle.read().strip()
        self.zones = [name.rstrip(".").lower() for name in self.args.zone]
        self.lock = threading.Lock()
        self.stats = {}
        self.throttle = 0
        self.failing = {"count": 0, "status": 400, "body": {}}

    def nsupdate(self, zone, adds=(), deletes=()):
        """Writes one change into BIND: adds are (name, content, ttl), deletes (name, content).
        Raises RuntimeError on failure."""
        host, port = self.args.primary.rsplit(":", 1)
        lines = [f"server {host} {port}", f"zone {zone}"]
        for name, content in deletes:
            lines.append(f"update delete {name.rstrip('.')}. TXT {quote(content)}")
        for name, content, ttl in adds:
            lines.append(f"update add {name.rstrip('.')}. {int(ttl)} TXT {quote(content)}")
        lines.append("send")
        result = subprocess.run(["nsupdate", "-k", self.args.tsig_key_file], input="\n".join(lines) + "\n",
                                capture_output=True, text=True, timeout=10)
        if result.returncode != 0:
            raise RuntimeError(f"nsupdate failed: {result.stderr.strip()}")

    def serve(self, api):
        lab = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *a):
                sys.stderr.write(f"{api.name}: " + (fmt % a) + "\n")

            def reply(self, status, body, headers=()):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                parts = [p for p in url.path.split("/") if p]
                if parts[:1] == ["__lab"]:
                    return self.lab(method, parts[1:], raw)
                shape = method + " /" + "/".join(getattr(api, "shape", default_shape)(parts))
                with lab.lock:
                    lab.stats[shape] = lab.stats.get(shape, 0) + 1
                    if lab.throttle > 0:
                        lab.throttle -= 1
                        status, body = api.throttled()
                        return self.reply(status, body, [("Retry-After", "1")])
                    if lab.failing["count"] > 0:
                        lab.failing["count"] -= 1
                        return self.reply(lab.failing["status"], lab.failing["body"])
                verdict = api.authorized(self.headers, method, self.full_url(), raw)
                if verdict is not True:
                    return self.reply(*(verdict if isinstance(verdict, tuple) else api.unauthorized()))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self.reply(400, {"error": "the body is not JSON"})
                try:
                    with lab.lock:
                        answer = api.route(method, parts, parse_qs(url.query, keep_blank_values=True), body)
                except RuntimeError as error:
                    answer = (500, {"error": str(error)})
                self.reply(*answer)

            def full_url(self):
                return f"http://{self.headers.get('Host')}{self.path}"

            def lab(self, method, parts, raw):
                request = json.loads(raw or b"{}")
                with lab.lock:
                    if method == "GET" and parts == ["stats"]:
                        return self.reply(200, {"requests": lab.stats, "records": api.count()})
                    if method == "POST" and parts == ["throttle"]:
                        lab.throttle = int(request.get("count", 0))
                        return self.reply(200, {"throttle": lab.throttle})
                    if method == "POST" and parts == ["fail"]:
                        lab.failing.update(count=int(request.get("count", 0)), status=int(request.get("status", 400)),
                                           body=request.get("body", {}))
                        return self.reply(200, {"fail": lab.failing["count"]})
                self.reply(404, {})

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

            def do_PUT(self):
                self.handle_any("PUT")

            def do_PATCH(self):
                self.handle_any("PATCH")

            def do_DELETE(self):
                self.handle_any("DELETE")

        server = ThreadingHTTPServer(("127.0.0.1", self.args.port), Handler)
        server.daemon_threads = True
        print("ready", flush=True)
        server.serve_forever()


def quote(content):
    """One TXT character-string as nsupdate reads it (quotes the vendor kept are taken off)."""
    if len(content) >= 2 and content.startswith('"') and content.endswith('"'):
        content = content[1:-1]
    return '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_shape(parts):
    """IDs (all digits, or 16+ hex characters) become {id} in the request counts."""
    return ["{id}" if re.fullmatch(r"[0-9]+|[0-9a-f]{16,}", p) else p for p in parts]


def relative(name, zone):
    """A record's name relative to its zone ("" at the apex), or None outside it."""
    name = name.rstrip(".").lower()
    if name == zone:
        return ""
    if name.endswith("." + zone):
        return name[: -len(zone) - 1]
    return None


def absolute(subname, zone):
    return zone if subname in ("", "@") else f"{subname}.{zone}"
