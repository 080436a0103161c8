#!/usr/bin/env python3
"""A stand-in for Google Cloud DNS API v1 and Google's OAuth 2.0 token endpoint, for dns01's
tests only.

Google has no Cloud DNS emulator, so this implements just the documented calls dns01's google
provider makes, with the documented request and response shapes, and nothing Google does not
document (read 2026-12-07):

  https://cloud.google.com/dns/docs/reference/rest/v1/managedZones/list
  https://cloud.google.com/dns/docs/reference/rest/v1/resourceRecordSets/list
  https://cloud.google.com/dns/docs/reference/rest/v1/changes/create
  https://developers.google.com/identity/protocols/oauth2/service-account#httprest
  RFC 7523 (JWT bearer grant), RFC 6749 §5.2 (token errors)

  POST /token                                                  JWT bearer grant -> access token
  GET  /dns/v1/projects/P/managedZones?dnsName=&pageToken=     list managed zones (paged)
  GET  /dns/v1/projects/P/managedZones/Z/rrsets?name=&type=    list record sets (exact name)
  POST /dns/v1/projects/P/managedZones/Z/changes               {additions, deletions}, atomic

The token endpoint checks the assertion as Google does: RS256 signature against the service
account's public key (openssl, since Python's stdlib has no RSA), iss = the account, aud = this
token URI, the Cloud DNS scope, iat/exp within an hour; else HTTP 400 {"error": "invalid_grant",
"error_description": ...}. The API wants "Authorization: Bearer TOKEN" (else HTTP 401,
UNAUTHENTICATED). Errors are {"error": {"code", "message", "status", "errors": [{"domain",
"reason", "message"}]}}. A change whose deletions do not match the current sets exactly fails
with 412 conditionNotMet; one adding a set that exists with 409 alreadyExists; nothing of a
failed change is applied. Rate limiting answers 429 RESOURCE_EXHAUSTED with Retry-After.

What makes it a test lab and not a fake: each change is written into the lab's real BIND primary
with an RFC 2136 update (nsupdate with the lab's TSIG key file), so the secondary picks it up,
dns01's propagation wait polls real servers, and Pebble validates against real DNS.

Test-only controls, outside Google's API, under /__lab/: GET /__lab/stats (requests per
endpoint), POST /__lab/throttle {"count": N} (answer the next N requests with 429),
POST /__lab/fail {"count": N, "status": S, "message": M} (answer the next N API requests with
HTTP S and Google's error shape holding M).
"""
import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SCOPE = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
lock = threading.Lock()
zones = {}      # managed zone name -> dns name ("example.test.")
rrsets = {}     # (zone name, rrset name, type) -> rrset dict
tokens = set()
stats = {}
throttle = {"count": 0}
failing = {"count": 0, "status": 400, "message": ""}
changes = {"next": 1}
args = None


def error(status, message, reason, state):
    return status, {"error": {"code": status, "message": message, "status": state,
                              "errors": [{"domain": "global", "reason": reason, "message": message}]}}


def nsupdate(zone, adds, deletes):
    """Writes the change into BIND; raises on failure."""
    host, port = args.primary.rsplit(":", 1)
    lines = [f"server {host} {port}", f"zone {zone}"]
    for rrset in deletes:
        for data in rrset["rrdatas"]:
            lines.append(f"update delete {rrset['name']} TXT {data}")
    for rrset in adds:
        for data in rrset["rrdatas"]:
            lines.append(f"update add {rrset['name']} {rrset.get('ttl', 300)} TXT {data}")
    lines.append("send")
    result = subprocess.run(["nsupdate", "-k", args.tsig_key_file], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"nsupdate failed: {result.stderr.strip()}")


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_assertion(assertion, token_uri):
    """None if the JWT is one Google would take, else the error_description."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
    try:
        header, claims, signature = json.loads(b64url(parts[0])), json.loads(b64url(parts[1])), b64url(parts[2])
    except ValueError:
        return "Invalid JWT: could not be decoded."
    if header.get("alg") != "RS256":
        return "Invalid JWT: alg must be RS256."
    with tempfile.NamedTemporaryFile() as sig:
        sig.write(signature)
        sig.flush()
        verified = subprocess.run(["openssl", "dgst", "-sha256", "-verify", args.public_key, "-signature", sig.name],
                                  input=(parts[0] + "." + parts[1]).encode(), capture_output=True, timeout=10)
    if verified.returncode != 0:
        return "Invalid JWT Signature."
    if claims.get("iss") != args.client_email:
        return "Invalid grant: account not found"
    if claims.get("aud") != token_uri:
        return "Invalid JWT: Failed audience check."
    if SCOPE not in str(claims.get("scope", "")).split():
        return "Invalid OAuth scope or ID token audience provided."
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or iat > now + 60 or exp < now or exp - iat > 3600:
        return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
    return None


def valid_rrdata(data):
    return isinstance(data, str) and data.startswith('"') and data.endswith('"') and len(data) >= 2 \
        and "\n" not in data and '"' not in data[1:-1] and "\\" not in data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("google-api: " + (fmt % a) + "\n")

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def raw_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self, method):
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] == ["__lab"]:
            return self.lab(method, parts[1:])
        shape = list(parts)
        for i, part in enumerate(parts[:-1]):
            if part in ("projects", "managedZones"):
                shape[i + 1] = "{" + ("project" if part == "projects" else "zone") + "}"
        shape = method + " /" + "/".join(shape)
        body = self.raw_body()
        with lock:
            stats[shape] = stats.get(shape, 0) + 1
            if throttle["count"] > 0:
                throttle["count"] -= 1
                status, answer = error(429, "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute'.",
                                       "rateLimitExceeded", "RESOURCE_EXHAUSTED")
                return self.reply(status, answer, [("Retry-After", "1")])
        if parts == ["token"] and method == "POST":
            return self.token(body)
        with lock:
            if failing["count"] > 0:
                failing["count"] -= 1
                return self.reply(*error(failing["status"], failing["message"], "invalid", "INVALID_ARGUMENT"))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in tokens:
            return self.reply(*error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                                     "unauthorized", "UNAUTHENTICATED"))
        if parts[:4] != ["dns", "v1", "projects", args.project] or len(parts) < 5 or parts[4] != "managedZones":
            return self.reply(*error(403, "The caller does not have permission", "forbidden", "PERMISSION_DENIED"))
        try:
            with lock:
                status, answer = self.route(method, parts[5:], parse_qs(url.query), body)
        except RuntimeError as failure:
            status, answer = error(500, str(failure), "backendError", "INTERNAL")
        self.reply(status, answer)

    def token(self, body):
        form = parse_qs(body.decode("utf-8", "replace"))
        grant = (form.get("grant_type") or [""])[0]
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.reply(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + grant})
        problem = check_assertion((form.get("assertion") or [""])[0], args.token_uri)
        if problem:
            return self.reply(400, {"error": "invalid_grant", "error_description": problem})
        token = "ya29." + secrets.token_urlsafe(32)
        with lock:
            tokens.add(token)
        self.reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def route(self, method, rest, query, body):
        if method == "GET" and rest == []:
            wanted = (query.get("dnsName") or [None])[0]
            found = [{"kind": "dns#managedZone", "name": n, "dnsName": d, "id": str(abs(hash(n)) % 10**18),
                      "visibility": "public", "nameServers": ["ns1.example.test."]}
                     for n, d in sorted(zones.items()) if wanted is None or d == wanted]
            start = int((query.get("pageToken") or ["0"])[0])
            page = found[start:start + args.page_size]
            answer = {"kind": "dns#managedZonesListResponse", "managedZones": page}
            if start + args.page_size < len(found):
                answer["nextPageToken"] = str(start + args.page_size)
            return 200, answer
        zone = rest[0] if rest else None
        if zone not in zones:
            return error(404, f"The 'parameters.managedZone' resource named '{zone}' does not exist.", "notFound", "NOT_FOUND")
        if method == "GET" and rest[1:] == ["rrsets"]:
            name = (query.get("name") or [None])[0]
            rtype = (query.get("type") or [None])[0]
            if rtype and not name:
                return error(400, "Invalid value for 'parameters.type': type requires name", "invalid", "INVALID_ARGUMENT")
            found = [dict(s) for (z, n, t), s in sorted(rrsets.items())
                     if z == zone and (name is None or n == name.lower()) and (rtype is None or t == rtype)]
            return 200, {"kind": "dns#resourceRecordSetsListResponse", "rrsets": found}
        if method == "POST" and rest[1:] == ["changes"]:
            return self.change(zone, json.loads(body or b"{}"))
        return error(404, "Not Found", "notFound", "NOT_FOUND")

    def change(self, zone, request):
        additions, deletions = request.get("additions") or [], request.get("deletions") or []
        dns_name = zones[zone]
        after = {k: v for k, v in rrsets.items() if k[0] == zone}
        for index, item in enumerate(deletions):
            key = (zone, str(item.get("name", "")).lower(), item.get("type"))
            current = after.get(key)
            if current is None or current["rrdatas"] != item.get("rrdatas") or \
                    ("ttl" in item and current["ttl"] != item["ttl"]):
                return error(412, f"Precondition not met for 'entity.change.deletions[{index}]'", "conditionNotMet", "FAILED_PRECONDITION")
            del after[key]
        for index, item in enumerate(additions):
            name = str(item.get("name", "")).lower()
            if item.get("type") != "TXT":
                return error(400, f"Invalid value for 'entity.change.additions[{index}].type': only TXT in this stand-in", "invalid", "INVALID_ARGUMENT")
            if not name.endswith(".") or not (name == dns_name or name.endswith("." + dns_name)):
                return error(400, f"Invalid value for 'entity.change.additions[{index}].name': '{name}'", "invalid", "INVALID_ARGUMENT")
            datas = item.get("rrdatas") or []
            if not datas or not all(valid_rrdata(d) for d in datas):
                return error(400, f"Invalid value for 'entity.change.additions[{index}].rrdata'", "invalid", "INVALID_ARGUMENT")
            key = (zone, name, "TXT")
            if key in after:
                return error(409, f"The resource 'entity.change.additions[{index}]' named '{name} (TXT)' already exists", "alreadyExists", "ALREADY_EXISTS")
            after[key] = {"kind": "dns#resourceRecordSet", "name": name, "type": "TXT",
                          "ttl": int(item.get("ttl") or 300), "rrdatas": list(datas)}
        gone = [rrsets[(zone, str(d["name"]).lower(), d["type"])] for d in deletions]
        made = [after[(zone, str(a["name"]).lower(), "TXT")] for a in additions]
        nsupdate(dns_name.rstrip("."), made, gone)
        for key in [k for k in rrsets if k[0] == zone]:
            del rrsets[key]
        rrsets.update(after)
        number = changes["next"]
        changes["next"] += 1
        return 200, {"kind": "dns#change", "id": str(number), "status": "done", "additions": made, "deletions": gone,
                     "startTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}

    def lab(self, method, parts):
        with lock:
            if method == "GET" and parts == ["stats"]:
                return self.reply(200, {"requests": stats, "rrsets": len(rrsets)})
            request = json.loads(self.raw_body() or b"{}")
            if method == "POST" and parts == ["throttle"]:
                throttle["count"] = int(request.get("count", 0))
                return self.reply(200, {"throttle": throttle["count"]})
            if method == "POST" and parts == ["fail"]:
                failing.update(count=int(request.get("count", 0)), status=int(request.get("status", 400)),
                               message=str(request.get("message", "")))
                return self.reply(200, {"fail": failing["count"]})
        self.reply(404, {})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key-file", required=True, help="the service account key whose tokens it grants")
    parser.add_argument("--zone", action="append", default=[], help="a zone name it hosts")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--primary", required=True, help="the lab's BIND primary, host:port")
    parser.add_argument("--tsig-key-file", required=True)
    args = parser.parse_args()
    with open(args.key_file) as handle:
        key = json.load(handle)
    args.client_email, args.project, args.token_uri = key["client_email"], key["project_id"], key["token_uri"]
    args.public_key = os.path.join(os.path.dirname(os.path.abspath(args.key_file)), "public.pem")
    subprocess.run(["openssl", "pkey", "-pubout", "-out", args.public_key], input=key["private_key"].encode(),
                   check=True, capture_output=True)
    for name in args.zone:
        zones[name.rstrip(".").lower().replace(".", "-")] = name.rstrip(".").lower() + "."
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
