#!/usr/bin/env python3
"""A stand-in for the Hetzner Cloud API's DNS RRSet actions, for dns01's tests only.

Implements just what dns01's hetzner provider uses, as Hetzner documents it in
https://docs.hetzner.cloud/reference/cloud#zone-rrset-actions (read 2026-12-07; errors and rate
limits from the same reference's Errors and Rate Limiting sections):

  POST /v1/zones/ID_OR_NAME/rrsets/RR_NAME/RR_TYPE/actions/add_records
       {"ttl": N, "records": [{"value": V, "comment": C}]}: adds the values to the RRSet,
       creating it if missing; 201 {"action": {... "command": "add_rrset_records" ...}}
  POST /v1/zones/ID_OR_NAME/rrsets/RR_NAME/RR_TYPE/actions/remove_records
       {"records": [{"value": V}]}: removes the values; an RRSet left empty is deleted;
       201 {"action": {... "command": "remove_rrset_records" ...}}

The zone is named by ID or name; RR_NAME is relative to it, "@" at its apex. TXT values are
quoted character-strings ("\"text\""); an RRSet holds each value once. Authentication is
"Authorization: Bearer TOKEN" (a wrong one: 401 {"error": {"code": "unauthorized", "message":
"unable to authenticate", "details": {}}}); an unknown zone or RRSet: 404 "not_found"; bad input:
422 "invalid_input"; over the limit: 429 "rate_limit_exceeded" with Retry-After. Actions are
answered finished ("success"): the records are in BIND before the answer. Records go into the
lab's BIND and the lab controls are standin.py's.
"""
import itertools

from standin import Lab, absolute


def error(status, code, message):
    return status, {"error": {"code": code, "message": message, "details": {}}}


class Hetzner:
    name = "hetzner-api"

    def __init__(self, lab):
        self.lab = lab
        self.zone_ids = {name: 1000 + index for index, name in enumerate(lab.zones)}
        self.rrsets = {}  # (zone, name, type) -> {"ttl": N, "values": [V]}
        self.actions = itertools.count(5_000_001)

    def count(self):
        return sum(len(r["values"]) for r in self.rrsets.values())

    def authorized(self, headers, method, url, body):
        return headers.get("Authorization") == "Bearer " + self.lab.token

    def unauthorized(self):
        return error(401, "unauthorized", "unable to authenticate")

    def throttled(self):
        return error(429, "rate_limit_exceeded", "limit of 3600 requests per hour reached")

    def shape(self, parts):
        if len(parts) >= 5 and parts[3] == "rrsets":
            return parts[:2] + ["{zone}", "rrsets", "{name}"] + parts[5:]
        return parts

    def zone(self, key):
        for name, number in self.zone_ids.items():
            if key.lower() == name or key == str(number):
                return name
        return None

    def route(self, method, parts, query, body):
        if not (method == "POST" and len(parts) == 8 and parts[:2] == ["v1", "zones"] and parts[3] == "rrsets" and parts[6] == "actions"):
            return error(404, "not_found", "not found")
        zone = self.zone(parts[2])
        if zone is None:
            return error(404, "not_found", "zone not found")
        rr_name, rr_type, action = parts[4].lower(), parts[5], parts[7]
        if rr_type != "TXT":
            return error(422, "invalid_input", "this stand-in keeps TXT records only")
        records = (body or {}).get("records")
        if not isinstance(records, list) or not records:
            return error(422, "invalid_input", "invalid input in field 'records'")
        values = []
        for record in records:
            value = record.get("value") if isinstance(record, dict) else None
            if not isinstance(value, str) or len(value) < 2 or not (value.startswith('"') and value.endswith('"')):
                return error(422, "invalid_input", "invalid input in field 'records': TXT values must be quoted")
            values.append(value)
        key = (zone, rr_name, rr_type)
        owner = absolute(rr_name, zone)
        if action == "add_records":
            ttl = (body or {}).get("ttl") or 3600
            if not isinstance(ttl, int) or ttl < 60:
                return error(422, "invalid_input", "invalid input in field 'ttl'")
            rrset = self.rrsets.setdefault(key, {"ttl": ttl, "values": []})
            new = [v for v in dict.fromkeys(values) if v not in rrset["values"]]
            if new:
                self.lab.nsupdate(zone, adds=[(owner, v, rrset["ttl"]) for v in new])
            rrset["values"] += new
            return self.action("add_rrset_records", zone)
        if action == "remove_records":
            rrset = self.rrsets.get(key)
            if rrset is None:
                return error(404, "not_found", "rrset not found")
            gone = [v for v in dict.fromkeys(values) if v in rrset["values"]]
            if gone:
                self.lab.nsupdate(zone, deletes=[(owner, v) for v in gone])
            rrset["values"] = [v for v in rrset["values"] if v not in gone]
            if not rrset["values"]:
                del self.rrsets[key]
            return self.action("remove_rrset_records", zone)
        return error(404, "not_found", "not found")

    def action(self, command, zone):
        return 201, {"action": {"id": next(self.actions), "command": command, "status": "success", "progress": 100,
                                "started": "2026-12-07T05:00:00+00:00", "finished": "2026-12-07T05:00:00+00:00",
                                "resources": [{"id": self.zone_ids[zone], "type": "zone"}], "error": None}}


if __name__ == "__main__":
    lab = Lab(__doc__)
    lab.serve(Hetzner(lab))
