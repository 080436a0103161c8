#!/usr/bin/env python3
"""A stand-in for Gandi's LiveDNS API v5, for dns01's tests only.

Implements just what dns01's gandi provider uses, as Gandi documents it in
https://api.gandi.net/docs/livedns/ (read 2026-12-07; authentication with personal access
tokens and errors from https://api.gandi.net/docs/authentication/ and
https://api.gandi.net/docs/reference/):

  GET    /v5/livedns/domains/FQDN/records?rrset_type=TXT   the domain's records of that type:
         [{"rrset_name", "rrset_type", "rrset_ttl", "rrset_values", "rrset_href"}]
  PUT    /v5/livedns/domains/FQDN/records/NAME/TYPE  {"rrset_ttl", "rrset_values"}: replaces
         the RRset's values (creating it); 201 {"message": "DNS Record Created"}
  DELETE /v5/livedns/domains/FQDN/records/NAME/TYPE  deletes the RRset: 204

NAME is relative to the domain, "@" at its apex; TXT values are quoted character-strings.
Authentication is "Authorization: Bearer PAT" (a wrong one: 401 {"code": 401, "message":
"The server could not verify that you are authorized to access the document you requested.",
"object": "HTTPUnauthorized", "cause": "Unauthorized"}); an unknown domain or RRset: 404
{"code": 404, "message": "The resource could not be found.", "object": "HTTPNotFound",
"cause": "Not Found"}; bad input: 400 with "errors": [{"location", "name", "description"}];
over the rate limit: 429 with Retry-After. Records go into the lab's BIND and the lab
controls are standin.py's.
"""
from standin import Lab, absolute


def error(status, message, obj, cause, errors=None):
    body = {"code": status, "message": message, "object": obj, "cause": cause}
    if errors:
        body["errors"] = errors
    return status, body


NOT_FOUND = error(404, "The resource could not be found.", "HTTPNotFound", "Not Found")


class Gandi:
    name = "gandi-api"

    def __init__(self, lab):
        self.lab = lab
        self.rrsets = {}  # (domain, name, type) -> {"ttl": N, "values": [...]}

    def count(self):
        return sum(len(r["values"]) for r in self.rrsets.values())

    def authorized(self, headers, method, url, body):
        return headers.get("Authorization") == "Bearer " + self.lab.token

    def unauthorized(self):
        return error(401, "The server could not verify that you are authorized to access the document you requested.",
                     "HTTPUnauthorized", "Unauthorized")

    def throttled(self):
        return error(429, "Too many requests.", "HTTPTooManyRequests", "Too Many Requests")

    def shape(self, parts):
        return parts[:5] + ["{name}"] + parts[6:] if len(parts) > 5 else parts

    def route(self, method, parts, query, body):
        if parts[:3] != ["v5", "livedns", "domains"] or len(parts) < 5 or parts[4] != "records":
            return NOT_FOUND
        domain, rest = parts[3].lower(), parts[5:]
        if domain not in self.lab.zones:
            return NOT_FOUND
        if method == "GET" and not rest:
            rtype = (query.get("rrset_type") or [None])[0]
            return 200, [{"rrset_name": k[1], "rrset_type": k[2], "rrset_ttl": r["ttl"], "rrset_values": r["values"],
                          "rrset_href": f"https://api.gandi.net/v5/livedns/domains/{domain}/records/{k[1]}/{k[2]}"}
                         for k, r in sorted(self.rrsets.items()) if k[0] == domain and (rtype is None or k[2] == rtype)]
        if len(rest) != 2:
            return NOT_FOUND
        key = (domain, rest[0].lower(), rest[1])
        owner = absolute(key[1], domain)
        if key[2] != "TXT":
            return error(400, "Bad Request", "HTTPBadRequest", "Bad Request",
                         [{"location": "path", "name": "rrset_type", "description": "this stand-in keeps TXT records only"}])
        if method == "PUT":
            body = body or {}
            values, ttl = body.get("rrset_values"), body.get("rrset_ttl", 10800)
            problems = []
            if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
                problems.append({"location": "body", "name": "rrset_values", "description": "Must be a non-empty list of strings"})
            if not isinstance(ttl, int) or not 300 <= ttl <= 2592000:
                problems.append({"location": "body", "name": "rrset_ttl", "description": "Must be between 300 and 2592000"})
            if problems:
                return error(400, "Bad Request", "HTTPBadRequest", "Bad Request", problems)
            values = list(dict.fromkeys(v if v.startswith('"') and v.endswith('"') and len(v) >= 2 else f'"{v}"' for v in values))
            old = self.rrsets.get(key, {"values": []})["values"]
            self.lab.nsupdate(domain, adds=[(owner, v, ttl) for v in values if v not in old],
                              deletes=[(owner, v) for v in old if v not in values])
            self.rrsets[key] = {"ttl": ttl, "values": values}
            return 201, {"message": "DNS Record Created"}
        if method == "DELETE":
            rrset = self.rrsets.pop(key, None)
            if rrset is None:
                return NOT_FOUND
            self.lab.nsupdate(domain, deletes=[(owner, v) for v in rrset["values"]])
            return 204, None
        return error(405, "Method Not Allowed", "HTTPMethodNotAllowed", "Method Not Allowed")


if __name__ == "__main__":
    lab = Lab(__doc__)
    lab.serve(Gandi(lab))
