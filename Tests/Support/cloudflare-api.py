#!/usr/bin/env python3
"""A stand-in for Cloudflare's API v4, for dns01's tests only.

Cloudflare has no emulator, so this implements just the documented endpoints dns01's cloudflare
provider uses, with the documented request and response shapes, and nothing Cloudflare does not
document:

  GET    /client/v4/zones?name=NAME                        list zones (by exact name)
  GET    /client/v4/zones/ZONE_ID/dns_records?type=&name=  list records (exact name)
  POST   /client/v4/zones/ZONE_ID/dns_records              create one record
  DELETE /client/v4/zones/ZONE_ID/dns_records/RECORD_ID    delete one record
  POST   /client/v4/zones/ZONE_ID/dns_records/batch        deletes, patches, puts, posts, in that order

Every response is the v4 envelope {"success", "errors", "messages", "result"}; errors carry
{"code", "message"}. Authentication is "Authorization: Bearer TOKEN" (a wrong one: HTTP 403,
code 10000 "Authentication error"). Creating a record identical to one that exists fails with
code 81058, as Cloudflare's does. Rate limiting answers HTTP 429 with Retry-After.

What makes it a test lab and not a fake: each record created or deleted is written into the lab's
real BIND primary with an RFC 2136 update (nsupdate with the lab's TSIG key file), so the
secondary picks it up, dns01's propagation wait polls real servers, and Pebble validates against
real DNS.

Test-only controls, outside Cloudflare's API, under /__lab/: GET /__lab/stats (requests per
endpoint), POST /__lab/throttle {"count": N} (answer the next N API requests with 429),
POST /__lab/fail {"count": N, "status": S, "errors": [{"code", "message"}]} (answer the next N API
requests with HTTP S and that documented error envelope, whatever its messages say: a hostile or
huge message, as any API may send).
"""
import argparse
import json
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

lock = threading.Lock()
zones = {}      # id -> name
records = {}    # id -> record dict (with zone_id)
stats = {}      # "METHOD /path-shape" -> count
throttle = {"count": 0}
failing = {"count": 0, "status": 400, "errors": []}
args = None


def envelope(result=None, errors=None, status=200):
    body = {"success": not errors, "errors": errors or [], "messages": [], "result": result}
    return status, body


def nsupdate(zone, adds, deletes):
    """Writes the change into BIND; raises on failure."""
    host, port = args.primary.rsplit(":", 1)
    lines = [f"server {host} {port}", f"zone {zone}"]
    for record in deletes:
        lines.append(f"update delete {record['name']}. TXT {quote(record['content'])}")
    for record in adds:
        lines.append(f"update add {record['name']}. {record.get('ttl', 60)} TXT {quote(record['content'])}")
    lines.append("send")
    result = subprocess.run(["nsupdate", "-k", args.tsig_key_file], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"nsupdate failed: {result.stderr.strip()}")


def quote(content):
    # TXT content as Cloudflare shows it may already be quoted; nsupdate wants one quoted string.
    if len(content) >= 2 and content.startswith('"') and content.endswith('"'):
        content = content[1:-1]
    return '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'


def validate_new(zone_id, item):
    if item.get("type") != "TXT":
        return {"code": 9004, "message": "This record type is not supported by this stand-in (TXT only)."}
    name = str(item.get("name", "")).rstrip(".").lower()
    zone = zones[zone_id]
    if not (name == zone or name.endswith("." + zone)):
        return {"code": 9007, "message": "Content for TXT record is invalid: name is not in the zone."}
    if not item.get("content"):
        return {"code": 9005, "message": "Content for TXT record is invalid."}
    for record in records.values():
        if record["zone_id"] == zone_id and record["name"] == name and record["content"] == item["content"]:
            return {"code": 81058, "message": "An identical record already exists."}
    return None


def new_record(zone_id, item):
    name = str(item["name"]).rstrip(".").lower()
    return {"id": secrets.token_hex(16), "zone_id": zone_id, "zone_name": zones[zone_id], "name": name,
            "type": "TXT", "content": item["content"], "ttl": int(item.get("ttl", 1)) if item.get("ttl") else 1,
            "proxiable": False, "proxied": False, "comment": item.get("comment")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("cloudflare-api: " + (fmt % a) + "\n")

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw or b"{}")

    def handle_any(self, method):
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] == ["__lab"]:
            return self.lab(method, parts[1:])
        shape = method + " /" + "/".join("{id}" if len(p) == 32 else p for p in parts)
        with lock:
            stats[shape] = stats.get(shape, 0) + 1
            if throttle["count"] > 0:
                throttle["count"] -= 1
                status, body = envelope(errors=[{"code": 971, "message": "Please wait and consider throttling your request speed"}], status=429)
                return self.reply(status, body, [("Retry-After", "1")])
            if failing["count"] > 0:
                failing["count"] -= 1
                return self.reply(*envelope(errors=failing["errors"], status=failing["status"]))
        if self.headers.get("Authorization") != "Bearer " + args.token:
            status, body = envelope(errors=[{"code": 10000, "message": "Authentication error"}], status=403)
            return self.reply(status, body)
        if parts[:2] != ["client", "v4"]:
            return self.reply(*envelope(errors=[{"code": 7000, "message": "No route for that URI"}], status=404))
        parts = parts[2:]
        query = parse_qs(url.query)
        try:
            with lock:
                status, body = self.route(method, parts, query)
        except RuntimeError as error:
            status, body = envelope(errors=[{"code": 1000, "message": str(error)}], status=500)
        self.reply(status, body)

    def route(self, method, parts, query):
        if method == "GET" and parts == ["zones"]:
            name = (query.get("name") or [""])[0].rstrip(".").lower()
            found = [{"id": i, "name": n, "status": "active"} for i, n in zones.items() if not name or n == name]
            status, body = envelope(found)
            body["result_info"] = {"page": 1, "per_page": 20, "count": len(found), "total_count": len(found), "total_pages": 1}
            return status, body
        if len(parts) < 3 or parts[0] != "zones" or parts[2] != "dns_records":
            return envelope(errors=[{"code": 7000, "message": "No route for that URI"}], status=404)
        zone_id = parts[1]
        if zone_id not in zones:
            return envelope(errors=[{"code": 7003, "message": "Could not route to /zones/" + zone_id + ", perhaps your object identifier is invalid?"}], status=404)
        rest = parts[3:]
        if method == "GET" and not rest:
            name = (query.get("name") or [None])[0]
            rtype = (query.get("type") or [None])[0]
            found = [r for r in records.values() if r["zone_id"] == zone_id
                     and (name is None or r["name"] == name.rstrip(".").lower())
                     and (rtype is None or r["type"] == rtype)]
            status, body = envelope(found)
            body["result_info"] = {"page": 1, "per_page": 100, "count": len(found), "total_count": len(found), "total_pages": 1}
            return status, body
        if method == "POST" and not rest:
            item = self.body()
            error = validate_new(zone_id, item)
            if error:
                return envelope(errors=[error], status=400)
            record = new_record(zone_id, item)
            nsupdate(zones[zone_id], [record], [])
            records[record["id"]] = record
            return envelope(record)
        if method == "DELETE" and len(rest) == 1:
            record = records.get(rest[0])
            if not record or record["zone_id"] != zone_id:
                return envelope(errors=[{"code": 81044, "message": "Record does not exist."}], status=404)
            nsupdate(zones[zone_id], [], [record])
            del records[record["id"]]
            return envelope({"id": record["id"]})
        if method == "POST" and rest == ["batch"]:
            return self.batch(zone_id, self.body())
        return envelope(errors=[{"code": 7000, "message": "No route for that URI"}], status=404)

    def batch(self, zone_id, request):
        deletes, posts = request.get("deletes") or [], request.get("posts") or []
        if request.get("patches") or request.get("puts"):
            return envelope(errors=[{"code": 9000, "message": "patches and puts are not used by dns01 and not implemented here"}], status=400)
        # One database transaction: every operation is checked before anything changes.
        gone = []
        for item in deletes:
            record = records.get(item.get("id"))
            if not record or record["zone_id"] != zone_id:
                return envelope(errors=[{"code": 81044, "message": "Record does not exist."}], status=400)
            gone.append(record)
        created = []
        for item in posts:
            error = validate_new(zone_id, item)
            if error:
                return envelope(errors=[error], status=400)
            record = new_record(zone_id, item)
            if any(r["name"] == record["name"] and r["content"] == record["content"] for r in created):
                return envelope(errors=[{"code": 81058, "message": "An identical record already exists."}], status=400)
            created.append(record)
        nsupdate(zones[zone_id], created, gone)
        for record in gone:
            del records[record["id"]]
        for record in created:
            records[record["id"]] = record
        return envelope({"deletes": gone, "patches": [], "puts": [], "posts": created})

    def lab(self, method, parts):
        with lock:
            if method == "GET" and parts == ["stats"]:
                return self.reply(200, {"requests": stats, "records": len(records)})
            if method == "POST" and parts == ["throttle"]:
                throttle["count"] = int(self.body().get("count", 0))
                return self.reply(200, {"throttle": throttle["count"]})
            if method == "POST" and parts == ["fail"]:
                request = self.body()
                failing.update(count=int(request.get("count", 0)), status=int(request.get("status", 400)),
                               errors=list(request.get("errors", [])))
                return self.reply(200, {"fail": failing["count"]})
        self.reply(404, {})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-file", required=True, help="the one valid API token")
    parser.add_argument("--zone", action="append", default=[], help="a zone name it hosts")
    parser.add_argument("--primary", required=True, help="the lab's BIND primary, host:port")
    parser.add_argument("--tsig-key-file", required=True)
    args = parser.parse_args()
    with open(args.token_file) as handle:
        args.token = handle.read().strip()
    for name in args.zone:
        zones[secrets.token_hex(16)] = name.rstrip(".").lower()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
