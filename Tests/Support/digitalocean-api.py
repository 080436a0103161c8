#!/usr/bin/env python3
"""A stand-in for DigitalOcean's API v2 domain records, for dns01's tests only.

Implements just what dns01's digitalocean provider uses, as DigitalOcean documents it in
https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records (read 2026-12-07;
pagination and errors from the same reference's Introduction: Links & Pagination, Rate Limit,
Errors):

  GET    /v2/domains/DOMAIN/records?type=&name=&per_page=&page=  list (name: fully qualified;
         per_page 20 by default, at most 200; links.pages.next while more pages follow; meta.total)
  POST   /v2/domains/DOMAIN/records            create one record: 201 {"domain_record": {...}}
  DELETE /v2/domains/DOMAIN/records/RECORD_ID  delete one record: 204, no body

Authentication is "Authorization: Bearer TOKEN" (a wrong one: 401 {"id": "unauthorized",
"message": "Unable to authenticate you."}); an unknown domain or record: 404 {"id": "not_found",
"message": "The resource you were accessing could not be found."}; a bad record: 422
{"id": "unprocessable_entity", ...}; over the burst limit: 429 {"id": "too_many_requests",
"message": "API Rate limit exceeded."} with Retry-After. Record names are relative to the
domain, "@" at its apex. Records go into the lab's BIND and the lab controls are standin.py's.
"""
import itertools

from standin import Lab, absolute, relative

NOT_FOUND = (404, {"id": "not_found", "message": "The resource you were accessing could not be found."})


class DigitalOcean:
    name = "digitalocean-api"

    def __init__(self, lab):
        self.lab = lab
        self.records = {}  # id -> record (with "domain")
        self.ids = itertools.count(10_000_001)

    def count(self):
        return len(self.records)

    def authorized(self, headers, method, url, body):
        return headers.get("Authorization") == "Bearer " + self.lab.token

    def unauthorized(self):
        return 401, {"id": "unauthorized", "message": "Unable to authenticate you."}

    def throttled(self):
        return 429, {"id": "too_many_requests", "message": "API Rate limit exceeded."}

    def route(self, method, parts, query, body):
        if parts[:2] != ["v2", "domains"] or len(parts) < 4 or parts[3] != "records":
            return NOT_FOUND
        domain, rest = parts[2].lower(), parts[4:]
        if domain not in self.lab.zones:
            return NOT_FOUND
        if method == "GET" and not rest:
            return self.list(domain, query)
        if method == "POST" and not rest:
            return self.create(domain, body or {})
        if method == "DELETE" and len(rest) == 1:
            record = self.records.get(int(rest[0])) if rest[0].isdigit() else None
            if not record or record["domain"] != domain:
                return NOT_FOUND
            self.lab.nsupdate(domain, deletes=[(absolute(record["name"], domain), record["data"])])
            del self.records[record["id"]]
            return 204, None
        return NOT_FOUND

    def list(self, domain, query):
        try:
            per_page = int((query.get("per_page") or ["20"])[0])
            page = int((query.get("page") or ["1"])[0])
        except ValueError:
            return 400, {"id": "bad_request", "message": "page and per_page must be numbers"}
        if not 1 <= per_page <= 200 or page < 1:
            return 400, {"id": "bad_request", "message": "per_page must be between 1 and 200"}
        name = (query.get("name") or [None])[0]
        rtype = (query.get("type") or [None])[0]
        found = [self.public(r) for r in sorted(self.records.values(), key=lambda r: r["id"]) if r["domain"] == domain
                 and (rtype is None or r["type"] == rtype)
                 and (name is None or absolute(r["name"], domain) == name.rstrip(".").lower())]
        chunk = found[(page - 1) * per_page: page * per_page]
        pages = {}
        base = f"https://api.digitalocean.com/v2/domains/{domain}/records?per_page={per_page}"
        if page * per_page < len(found):
            pages["next"] = f"{base}&page={page + 1}"
            pages["last"] = f"{base}&page={(len(found) + per_page - 1) // per_page}"
        if page > 1:
            pages["first"] = f"{base}&page=1"
            pages["prev"] = f"{base}&page={page - 1}"
        return 200, {"domain_records": chunk, "links": {"pages": pages}, "meta": {"total": len(found)}}

    def create(self, domain, item):
        if item.get("type") != "TXT":
            return 422, {"id": "unprocessable_entity", "message": "this stand-in keeps TXT records only"}
        name = str(item.get("name", "")).lower()
        if name.endswith("." + domain + ".") or name == domain + ".":
            name = relative(name, domain) or "@"
        if not name or name.endswith("."):
            return 422, {"id": "unprocessable_entity", "message": "Name is invalid"}
        data = item.get("data")
        if not isinstance(data, str) or not data:
            return 422, {"id": "unprocessable_entity", "message": "Data needs to be a string"}
        ttl = item.get("ttl", 1800)
        if not isinstance(ttl, int) or ttl < 30:
            return 422, {"id": "unprocessable_entity", "message": "TTL must be at least 30"}
        record = {"id": next(self.ids), "domain": domain, "type": "TXT", "name": name, "data": data, "priority": None,
                  "port": None, "ttl": ttl, "weight": None, "flags": None, "tag": None}
        self.lab.nsupdate(domain, adds=[(absolute(name, domain), data, ttl)])
        self.records[record["id"]] = record
        return 201, {"domain_record": self.public(record)}

    @staticmethod
    def public(record):
        return {k: v for k, v in record.items() if k != "domain"}


if __name__ == "__main__":
    lab = Lab(__doc__)
    lab.serve(DigitalOcean(lab))
