#!/usr/bin/env python3
"""A stand-in for Azure DNS (Azure Resource Manager, api-version 2018-05-01), the Microsoft
identity platform's token endpoint and Azure's managed identity endpoint, for dns01's tests only.

Azure has no DNS emulator, so this implements just the documented calls dns01's azure provider
makes, with the documented request and response shapes, and nothing Microsoft does not document
(read 2026-12-07):

  https://learn.microsoft.com/en-us/rest/api/dns/zones/list
  https://learn.microsoft.com/en-us/rest/api/dns/zones/list-by-resource-group
  https://learn.microsoft.com/en-us/rest/api/dns/record-sets/get
  https://learn.microsoft.com/en-us/rest/api/dns/record-sets/create-or-update
  https://learn.microsoft.com/en-us/rest/api/dns/record-sets/delete
  https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
  https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token
  https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling

  POST /TENANT/oauth2/v2.0/token                       client credentials grant (client secret)
  GET  /metadata/identity/oauth2/token?api-version=2018-02-01&resource=   (header Metadata: true)
  GET  /subscriptions/S[/resourceGroups/G]/providers/Microsoft.Network/dnszones   (paged: nextLink)
  GET|PUT|DELETE /subscriptions/S/resourceGroups/G/providers/Microsoft.Network/dnsZones/Z/TXT/REL

Every ARM call wants ?api-version=2018-05-01 and "Authorization: Bearer TOKEN" (else HTTP 401
InvalidAuthenticationToken). Errors are {"error": {"code", "message"}}. A PUT or DELETE whose
If-Match is not the set's etag, or a PUT with If-None-Match: * on an existing set, fails with 412
PreconditionFailed. Getting or deleting an absent set answers 404 NotFound (GET) or 204 (DELETE).
Token errors are RFC 6749 §5.2 ({"error", "error_description", "error_codes"}) with Entra's
AADSTS texts. Throttling answers 429 TooManyRequests with Retry-After. ARM paths are
case-insensitive ("dnszones" and "dnsZones").

What makes it a test lab and not a fake: each record set written or deleted is written into the
lab's real BIND primary with an RFC 2136 update (nsupdate with the lab's TSIG key file), so the
secondary picks it up, dns01's propagation wait polls real servers, and Pebble validates against
real DNS.

Test-only controls, outside Azure's API, under /__lab/: GET /__lab/stats (requests per
endpoint), POST /__lab/throttle {"count": N} (answer the next N requests with 429),
POST /__lab/fail {"count": N, "status": S, "code": C, "message": M} (answer the next N ARM
requests with HTTP S and ARM's error shape).
"""
import argparse
import json
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlparse

lock = threading.Lock()
zones = {}      # zone name -> resource group
rrsets = {}     # (zone, relative name lowercased) -> {"etag", "ttl", "values": [[chunks]]}
tokens = set()
stats = {}
throttle = {"count": 0}
failing = {"count": 0, "status": 400, "code": "BadRequest", "message": ""}
args = None
ARM_SCOPE = "https://management.azure.com/.default"
ARM_RESOURCE = "https://management.azure.com/"


def arm_error(status, code, message):
    return status, {"error": {"code": code, "message": message}}


def nsupdate(zone, name, old, new, ttl):
    """Replaces the TXT values at name in BIND; raises on failure."""
    host, port = args.primary.rsplit(":", 1)
    lines = [f"server {host} {port}", f"zone {zone}"]
    for value in old:
        lines.append(f"update delete {name}. TXT {txt(value)}")
    for value in new:
        lines.append(f"update add {name}. {ttl} TXT {txt(value)}")
    lines.append("send")
    result = subprocess.run(["nsupdate", "-k", args.tsig_key_file], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"nsupdate failed: {result.stderr.strip()}")


def txt(chunks):
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def fqdn(zone, relative):
    return zone if relative == "@" else f"{relative}.{zone}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("azure-api: " + (fmt % a) + "\n")

    def reply(self, status, body=None, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
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
        parts = [unquote(p) for p in url.path.split("/") if p]
        if parts[:1] == ["__lab"]:
            return self.lab(method, parts[1:])
        lower = [p.lower() for p in parts]
        shape = list(parts)
        for i, part in enumerate(lower[:-1]):
            if part in ("subscriptions", "resourcegroups", "dnszones", "txt"):
                shape[i + 1] = {"subscriptions": "{sub}", "resourcegroups": "{rg}", "dnszones": "{zone}", "txt": "{name}"}[part]
        if len(parts) == 3 and lower[1:] == ["oauth2", "v2.0"] or (len(parts) == 4 and lower[1:] == ["oauth2", "v2.0", "token"]):
            shape[0] = "{tenant}"
        shape = method + " /" + "/".join(shape)
        body = self.raw_body()
        query = parse_qs(url.query)
        with lock:
            stats[shape] = stats.get(shape, 0) + 1
            if throttle["count"] > 0:
                throttle["count"] -= 1
                return self.reply(*arm_error(429, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:01:00."),
                                  [("Retry-After", "1")])
        if len(parts) == 4 and lower[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
            return self.client_credentials(parts[0], body)
        if lower == ["metadata", "identity", "oauth2", "token"] and method == "GET":
            return self.managed_identity(query)
        with lock:
            if failing["count"] > 0:
                failing["count"] -= 1
                return self.reply(*arm_error(failing["status"], failing["code"], failing["message"]))
        if (query.get("api-version") or [""])[0] != "2018-05-01":
            return self.reply(*arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in tokens:
            return self.reply(*arm_error(401, "InvalidAuthenticationToken", "The access token is invalid."))
        if lower[:2] != ["subscriptions", args.subscription]:
            return self.reply(*arm_error(404, "SubscriptionNotFound", f"The subscription '{parts[1] if len(parts) > 1 else ''}' could not be found."))
        try:
            with lock:
                status, answer, headers = self.route(method, parts[2:], lower[2:], query, body, url)
        except RuntimeError as failure:
            status, answer, headers = 500, {"error": {"code": "InternalServerError", "message": str(failure)}}, ()
        self.reply(status, answer, headers)

    def grant(self, expires_in):
        token = "eyJ0eXAi." + secrets.token_urlsafe(32)
        with lock:
            tokens.add(token)
        return token

    def client_credentials(self, tenant, body):
        form = parse_qs(body.decode("utf-8", "replace"))
        field = lambda name: (form.get(name) or [""])[0]
        if tenant != args.tenant:
            return self.reply(400, {"error": "invalid_request", "error_description": f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", "error_codes": [90002]})
        if field("grant_type") != "client_credentials":
            return self.reply(400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: The app requested an unsupported grant type.", "error_codes": [70003]})
        if field("scope") != ARM_SCOPE:
            return self.reply(400, {"error": "invalid_scope", "error_description": f"AADSTS1002012: The provided value for scope {field('scope')} is not valid.", "error_codes": [1002012]})
        if field("client_id") != args.client_id:
            return self.reply(400, {"error": "unauthorized_client", "error_description": f"AADSTS700016: Application with identifier '{field('client_id')}' was not found in the directory '{tenant}'.", "error_codes": [700016]})
        if field("client_secret") != args.secret:
            return self.reply(401, {"error": "invalid_client", "error_description": f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{args.client_id}'.", "error_codes": [7000215]})
        self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": self.grant(3599)})

    def managed_identity(self, query):
        if self.headers.get("Metadata") != "true":
            return self.reply(400, {"error": "invalid_request", "error_description": "Required metadata header not specified"})
        if (query.get("resource") or [""])[0] != ARM_RESOURCE or (query.get("api-version") or [""])[0] != "2018-02-01":
            return self.reply(400, {"error": "invalid_resource", "error_description": "AADSTS500011: The resource principal was not found."})
        now = int(time.time())
        self.reply(200, {"access_token": self.grant(86399), "client_id": args.client_id, "expires_in": "86399",
                         "expires_on": str(now + 86399), "ext_expires_in": "86399", "not_before": str(now),
                         "resource": ARM_RESOURCE, "token_type": "Bearer"})

    def route(self, method, parts, lower, query, body, url):
        # Zones - List / List By Resource Group
        if method == "GET" and (lower == ["providers", "microsoft.network", "dnszones"] or
                                (len(lower) == 5 and lower[0] == "resourcegroups" and lower[2:] == ["providers", "microsoft.network", "dnszones"])):
            group = parts[1] if lower[0] == "resourcegroups" else None
            found = [{"id": f"/subscriptions/{args.subscription}/resourceGroups/{g}/providers/Microsoft.Network/dnszones/{z}",
                      "name": z, "type": "Microsoft.Network/dnszones", "etag": "00000002-0000-0000-0000-000000000000",
                      "location": "global", "tags": {},
                      "properties": {"maxNumberOfRecordSets": 10000, "numberOfRecordSets": 2, "zoneType": "Public",
                                     "nameServers": ["ns1-01.azure-dns.com."]}}
                     for z, g in sorted(zones.items()) if group is None or g.lower() == group.lower()]
            if group is not None and group.lower() not in {g.lower() for g in zones.values()}:
                return 404, {"error": {"code": "ResourceGroupNotFound", "message": f"Resource group '{group}' could not be found."}}, ()
            start = int((query.get("$skipToken") or ["0"])[0])
            answer = {"value": found[start:start + args.page_size]}
            if start + args.page_size < len(found):
                answer["nextLink"] = f"http://127.0.0.1:{args.port}{url.path}?api-version=2018-05-01&$skipToken={start + args.page_size}"
            return 200, answer, ()
        if len(lower) != 8 or lower[0] != "resourcegroups" or lower[2:5] != ["providers", "microsoft.network", "dnszones"] or lower[6] != "txt":
            return 404, {"error": {"code": "NotFound", "message": "The requested resource was not found."}}, ()
        group, zone, relative = parts[1], lower[5], lower[7]
        if zones.get(zone, "").lower() != group.lower():
            return 404, {"error": {"code": "ResourceNotFound", "message": f"The Resource 'Microsoft.Network/dnszones/{zone}' under resource group '{group}' was not found."}}, ()
        key = (zone, relative)
        current = rrsets.get(key)
        if_match, if_none = self.headers.get("If-Match"), self.headers.get("If-None-Match")
        precondition = {"error": {"code": "PreconditionFailed", "message": "The condition in the precondition header is not satisfied: the record set has been modified."}}
        if method == "GET":
            if current is None:
                return 404, {"error": {"code": "NotFound", "message": f"The resource record '{relative}' does not exist in resource group '{group}' of subscription '{args.subscription}'."}}, ()
            return 200, self.shape(group, zone, relative, current), ()
        if method == "DELETE":
            if if_match and (current is None or current["etag"] != if_match):
                return 412, precondition, ()
            if current is None:
                return 204, None, ()
            nsupdate(zone, fqdn(zone, relative), current["values"], [], current["ttl"])
            del rrsets[key]
            return 200, None, ()
        if method == "PUT":
            if (if_match and (current is None or current["etag"] != if_match)) or (if_none == "*" and current is not None):
                return 412, precondition, ()
            request = json.loads(body or b"{}")
            props = request.get("properties") or {}
            values = [r.get("value") for r in props.get("TXTRecords") or []]
            if not values or not all(isinstance(v, list) and v and all(isinstance(c, str) and 0 < len(c) <= 255 and "\n" not in c for c in v) for v in values):
                return 400, {"error": {"code": "BadRequest", "message": "The value of TXTRecords is invalid."}}, ()
            ttl = int(props.get("TTL") or 3600)
            nsupdate(zone, fqdn(zone, relative), current["values"] if current else [], values, ttl)
            record = {"etag": str(secrets.token_hex(4)) + "-0000-0000-0000-000000000000", "ttl": ttl, "values": values}
            rrsets[key] = record
            return (201 if current is None else 200), self.shape(group, zone, relative, record), ()
        return 405, {"error": {"code": "MethodNotAllowed", "message": "The requested method is not allowed."}}, ()

    def shape(self, group, zone, relative, record):
        return {"id": f"/subscriptions/{args.subscription}/resourceGroups/{group}/providers/Microsoft.Network/dnszones/{zone}/TXT/{relative}",
                "name": relative, "type": "Microsoft.Network/dnszones/TXT", "etag": record["etag"],
                "properties": {"metadata": {}, "TTL": record["ttl"], "fqdn": fqdn(zone, relative) + ".",
                               "provisioningState": "Succeeded", "TXTRecords": [{"value": v} for v in record["values"]]}}

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
                               code=str(request.get("code", "BadRequest")), message=str(request.get("message", "")))
                return self.reply(200, {"fail": failing["count"]})
        self.reply(404, {})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--secret-file", required=True, help="the one valid client secret")
    parser.add_argument("--subscription", required=True)
    parser.add_argument("--resource-group", required=True)
    parser.add_argument("--zone", action="append", default=[], help="a zone name it hosts")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--primary", required=True, help="the lab's BIND primary, host:port")
    parser.add_argument("--tsig-key-file", required=True)
    args = parser.parse_args()
    args.subscription = args.subscription.lower()
    with open(args.secret_file) as handle:
        args.secret = handle.read().strip()
    for name in args.zone:
        zones[name.rstrip(".").lower()] = args.resource_group
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
