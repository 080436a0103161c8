#!/usr/bin/env python3
"""A stand-in for deSEC's DNS API, for dns01's tests only.

Implements just what dns01's desec provider uses, as deSEC documents it in
https://desec.readthedocs.io/en/latest/dns/rrsets.html (read 2026-12-07; authentication,
errors and rate limits from the same manual's Authentication and Rate Limits pages):

  GET   /api/v1/domains/NAME/rrsets/?type=&subname=&cursor=   list RRsets: a JSON array; more
        than 500 without ?cursor= is 400 ("Pagination required"); with it, at most 500 per page
        and a Link header (RFC 8288) with rel="first" and, while more follow, rel="next"
  PATCH /api/v1/domains/NAME/rrsets/   bulk: a JSON array of {"subname", "type", "ttl",
        "records"}; each RRset named is replaced whole, an empty "records" deletes it; all or
        nothing (field errors: 400 with one object per item); 200 with the RRsets left

Authentication is "Authorization: Token TOKEN" (a wrong one: 401 {"detail": "Invalid token."});
an unknown domain: 404 {"detail": "Not found."}; a TTL below the domain's minimum (3600):
400 {"ttl": ["Ensure this value is greater than or equal to 3600."]}; throttled: 429
{"detail": "Request was throttled. Expected available in 1 second."} with Retry-After. TXT
records are quoted character-strings. Records go into the lab's BIND and the lab controls are
standin.py's.
"""
from standin import Lab, absolute

PAGE = 500
MINIMUM_TTL = 3600


class DeSEC:
    name = "desec-api"

    def __init__(self, lab):
        self.lab = lab
        self.rrsets = {}  # (domain, subname, type) -> {"ttl": N, "records": [...]}

    def count(self):
        return sum(len(r["records"]) for r in self.rrsets.values())

    def authorized(self, headers, method, url, body):
        return headers.get("Authorization") == "Token " + self.lab.token

    def unauthorized(self):
        return 401, {"detail": "Invalid token."}

    def throttled(self):
        return 429, {"detail": "Request was throttled. Expected available in 1 second."}

    def route(self, method, parts, query, body):
        if parts[:3] != ["api", "v1", "domains"] or len(parts) != 5 or parts[4] != "rrsets":
            return 404, {"detail": "Not found."}
        domain = parts[3].lower()
        if domain not in self.lab.zones:
            return 404, {"detail": "Not found."}
        if method == "GET":
            return self.list(domain, query)
        if method == "PATCH":
            return self.bulk(domain, body)
        return 405, {"detail": f'Method "{method}" not allowed.'}

    def public(self, domain, key):
        rrset = self.rrsets[key]
        return {"domain": domain, "subname": key[1], "name": absolute(key[1], domain) + ".", "type": key[2],
                "records": rrset["records"], "ttl": rrset["ttl"], "created": "2026-12-07T05:00:00Z", "touched": "2026-12-07T05:00:00Z"}

    def list(self, domain, query):
        rtype = (query.get("type") or [None])[0]
        subname = (query.get("subname") or [None])[0]
        found = [self.public(domain, k) for k in sorted(self.rrsets) if k[0] == domain
                 and (rtype is None or k[2] == rtype) and (subname is None or k[1] == subname)]
        if "cursor" not in query and len(found) > PAGE:
            return 400, {"detail": f"Pagination required. You can query up to {PAGE} items at a time (\"cursor\" query parameter)."}, \
                [("Link", self.links(domain, 0, len(found)))]
        if "cursor" not in query:
            return 200, found
        cursor = (query.get("cursor") or [""])[0]
        start = int(cursor) if cursor.isdigit() else 0
        return 200, found[start:start + PAGE], [("Link", self.links(domain, start, len(found)))]

    @staticmethod
    def links(domain, start, total):
        base = f"https://desec.io/api/v1/domains/{domain}/rrsets/?cursor="
        links = [f'<{base}>; rel="first"']
        if start + PAGE < total:
            links.append(f'<{base}{start + PAGE}>; rel="next"')
        return ", ".join(links)

    def bulk(self, domain, items):
        if not isinstance(items, list):
            return 400, {"non_field_errors": ["Expected a list of items but got type \"dict\"."]}
        errors, changes = [], []
        for item in items:
            error = {}
            if not isinstance(item, dict):
                errors.append({"non_field_errors": ["Invalid data."]})
                continue
            if item.get("type") != "TXT":
                error["type"] = ["This stand-in keeps TXT records only."]
            ttl = item.get("ttl")
            records = item.get("records")
            if not isinstance(records, list) or not all(isinstance(r, str) and len(r) >= 2 and r[0] == '"' and r[-1] == '"' for r in records):
                error["records"] = ["TXT records must be quoted character-strings."]
            key = (domain, str(item.get("subname", "")).lower(), item.get("type"))
            if records and ttl is None and key not in self.rrsets:
                error["ttl"] = ["This field is required."]
            elif ttl is not None and (not isinstance(ttl, int) or ttl < MINIMUM_TTL):
                error["ttl"] = [f"Ensure this value is greater than or equal to {MINIMUM_TTL}."]
            errors.append(error)
            changes.append((key, ttl, records))
        if any(errors):
            return 400, errors
        adds, deletes = [], []
        for key, ttl, records in changes:
            old = self.rrsets.get(key, {"ttl": ttl, "records": []})
            owner = absolute(key[1], domain)
            deletes += [(owner, r) for r in old["records"] if r not in records]
            adds += [(owner, r, ttl or old["ttl"]) for r in dict.fromkeys(records) if r not in old["records"]]
        self.lab.nsupdate(domain, adds=adds, deletes=deletes)
        for key, ttl, records in changes:
            if records:
                self.rrsets[key] = {"ttl": ttl or self.rrsets[key]["ttl"], "records": list(dict.fromkeys(records))}
            else:
                self.rrsets.pop(key, None)
        return 200, [self.public(domain, key) for key, _, records in changes if records]


if __name__ == "__main__":
    lab = Lab(__doc__)
    lab.serve(DeSEC(lab))
