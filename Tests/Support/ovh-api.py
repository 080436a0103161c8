#!/usr/bin/env python3
"""A stand-in for OVHcloud's API (/domain/zone), for dns01's tests only.

Implements just what dns01's ovh provider uses, as OVHcloud documents it: the request signing
of https://help.ovhcloud.com/csm/en-api-getting-started-ovhcloud-api (read 2026-12-07) and the
/domain/zone calls of https://eu.api.ovh.com/console/?section=%2Fdomain (read 2026-12-07):

  GET    /1.0/auth/time                                  the server's UNIX time (unsigned)
  POST   /1.0/domain/zone/ZONE/record  {"fieldType", "subDomain", "target", "ttl"}: creates
         one record; 200 with it ({"id", "zone", "subDomain", "fieldType", "target", "ttl"})
  GET    /1.0/domain/zone/ZONE/record?fieldType=&subDomain=   the matching record IDs
  GET    /1.0/domain/zone/ZONE/record/ID                 one record
  DELETE /1.0/domain/zone/ZONE/record/ID                 deletes it: 200, null
  POST   /1.0/domain/zone/ZONE/refresh                   applies the zone's pending changes: 200, null

Records created or deleted are served only after a refresh, as OVH documents: here the refresh
is what writes them into the lab's BIND. Every call but /auth/time is signed: X-Ovh-Application
(the application key, "labOvhApplication" here), X-Ovh-Consumer (the consumer key),
X-Ovh-Timestamp, X-Ovh-Signature = "$1$" + SHA1_hex(AS+"+"+CK+"+"+METHOD+"+"+URL+"+"+BODY+"+"+TSTAMP).
In this lab the token file holds both the application secret and the consumer key (the same
string). Refusals: an unknown application key, 403 {"errorCode": "INVALID_KEY", "httpCode":
"403 Forbidden", "message": "This application key is invalid"}; an unknown consumer key, 403
{"errorCode": "INVALID_CREDENTIAL", ..., "message": "This credential does not exist"}; a wrong
signature, 400 {"errorCode": "INVALID_SIGNATURE", ..., "message": "Invalid signature"}; a
timestamp off by more than 5 minutes, 400 "INVALID_SIGNATURE" too. An unknown zone or record:
404 {"class": "Client::NotFound", "message": "This service does not exist"}; over the rate
limit: 429 {"class": "Client::TooManyRequests", "message": "Too many requests"} with
Retry-After. The lab controls are standin.py's.
"""
import hashlib
import itertools
import time

from standin import Lab, absolute

APPLICATION_KEY = "labOvhApplication"
NOT_FOUND = (404, {"class": "Client::NotFound", "message": "This service does not exist"})


def refusal(status, code, message):
    return status, {"errorCode": code, "httpCode": f"{status} {'Forbidden' if status == 403 else 'Bad Request'}", "message": message}


class OVH:
    name = "ovh-api"

    def __init__(self, lab):
        self.lab = lab
        self.records = {}   # id -> record, as the API shows it
        self.pending = {}   # zone -> [("add"|"delete", record)]
        self.ids = itertools.count(5_000_000_001)

    def count(self):
        return len(self.records)

    def authorized(self, headers, method, url, body):
        if method == "GET" and url.split("?")[0].endswith("/1.0/auth/time"):
            return True
        if headers.get("X-Ovh-Application") != APPLICATION_KEY:
            return refusal(403, "INVALID_KEY", "This application key is invalid")
        if headers.get("X-Ovh-Consumer") != self.lab.token:
            return refusal(403, "INVALID_CREDENTIAL", "This credential does not exist")
        stamp = headers.get("X-Ovh-Timestamp") or ""
        if not stamp.isdigit() or abs(int(stamp) - int(time.time())) > 300:
            return refusal(400, "INVALID_SIGNATURE", "Invalid signature")
        text = "+".join([self.lab.token, self.lab.token, method, url, body.decode(), stamp])
        if headers.get("X-Ovh-Signature") != "$1$" + hashlib.sha1(text.encode()).hexdigest():
            return refusal(400, "INVALID_SIGNATURE", "Invalid signature")
        return True

    def unauthorized(self):
        return refusal(403, "INVALID_CREDENTIAL", "This credential does not exist")

    def throttled(self):
        return 429, {"class": "Client::TooManyRequests", "message": "Too many requests"}

    def route(self, method, parts, query, body):
        if parts == ["1.0", "auth", "time"] and method == "GET":
            return 200, int(time.time())
        if parts[:3] != ["1.0", "domain", "zone"] or len(parts) < 5:
            return NOT_FOUND
        zone, rest = parts[3].lower(), parts[4:]
        if zone not in self.lab.zones:
            return NOT_FOUND
        if rest == ["refresh"] and method == "POST":
            return self.refresh(zone)
        if rest[0] != "record":
            return NOT_FOUND
        if method == "POST" and len(rest) == 1:
            return self.create(zone, body or {})
        if method == "GET" and len(rest) == 1:
            field, sub = (query.get("fieldType") or [None])[0], (query.get("subDomain") or [None])[0]
            return 200, [i for i, r in sorted(self.records.items()) if r["zone"] == zone
                         and (field is None or r["fieldType"] == field) and (sub is None or r["subDomain"] == sub.lower())]
        record = self.records.get(int(rest[1])) if len(rest) == 2 and rest[1].isdigit() else None
        if record is None or record["zone"] != zone:
            return NOT_FOUND
        if method == "GET":
            return 200, record
        if method == "DELETE":
            del self.records[record["id"]]
            self.pending.setdefault(zone, []).append(("delete", record))
            return 200, None
        return NOT_FOUND

    def create(self, zone, item):
        if item.get("fieldType") != "TXT":
            return 400, {"class": "Client::BadRequest", "message": "this stand-in keeps TXT records only"}
        target, ttl = item.get("target"), item.get("ttl", 0)
        if not isinstance(target, str) or not target or not isinstance(ttl, int) or (ttl != 0 and ttl < 60):
            return 400, {"class": "Client::BadRequest", "message": "Invalid target or ttl"}
        record = {"id": next(self.ids), "zone": zone, "subDomain": str(item.get("subDomain", "")).lower(),
                  "fieldType": "TXT", "target": target, "ttl": ttl or 3600}
        self.records[record["id"]] = record
        self.pending.setdefault(zone, []).append(("add", record))
        return 200, record

    def refresh(self, zone):
        changes = self.pending.pop(zone, [])
        adds = [(absolute(r["subDomain"], zone), r["target"], r["ttl"]) for kind, r in changes if kind == "add"]
        deletes = [(absolute(r["subDomain"], zone), r["target"]) for kind, r in changes if kind == "delete"]
        # A value still held by another record (a duplicate) stays served.
        held = {(absolute(r["subDomain"], zone), r["target"]) for r in self.records.values() if r["zone"] == zone}
        deletes = [d for d in deletes if d not in held]
        adds = [a for a in adds if (a[0], a[1]) in held]
        if adds or deletes:
            self.lab.nsupdate(zone, adds=adds, deletes=deletes)
        return 200, None


if __name__ == "__main__":
    lab = Lab(__doc__)
    lab.serve(OVH(lab))
