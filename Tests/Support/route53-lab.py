#!/usr/bin/env python3
"""Route 53 for dns01's tests: moto's emulator of the API, and nameservers that serve it.

moto emulates Route 53's API but serves no DNS. Route 53's own nameservers answer from each hosted
zone's record sets; here a mirror does the same for the lab: it reads the TXT record sets of every
hosted zone from moto every 100 ms and writes each change into the lab's BIND primary with an
RFC 2136 update, so the secondary follows, dns01's propagation wait polls real servers, and
Pebble validates through real DNS.

  route53-lab.py serve --port P --zone NAME... --primary HOST:PORT --tsig-key-file F
      runs moto's server on 127.0.0.1:P, creates the hosted zones, prints
      "ready NAME=ID ..." and mirrors until killed. GET /__lab/stats (outside Route 53's API)
      counts the API requests whose User-Agent is dns01's, by method and path shape.
  route53-lab.py put --endpoint URL --zone-id ID --name NAME --value V...
      sets a TXT record set in moto directly (a value someone else put there).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

os.environ.setdefault("AWS_ACCESS_KEY_ID", "lab")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "lab")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402

stats = {}
lock = threading.Lock()


def client(endpoint):
    return boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1")


def unquote(value):
    # A TXT value in Route 53 is one or more quoted strings: "abc" or "ab" "cd".
    parts, current, inside, escaped = [], "", False, False
    for ch in value:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\" and inside:
            escaped = True
        elif ch == '"':
            if inside:
                parts.append(current)
                current = ""
            inside = not inside
        elif inside:
            current += ch
    return "".join(parts) if parts else value


def quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def txt_sets(r53, zone_id):
    sets = {}
    kwargs = {"HostedZoneId": zone_id}
    while True:
        page = r53.list_resource_record_sets(**kwargs)
        for rrset in page["ResourceRecordSets"]:
            if rrset["Type"] == "TXT":
                name = rrset["Name"].rstrip(".").lower()
                sets[name] = {unquote(r["Value"]) for r in rrset.get("ResourceRecords", [])}
        if not page.get("IsTruncated"):
            return sets
        kwargs["StartRecordName"] = page["NextRecordName"]
        kwargs["StartRecordType"] = page["NextRecordType"]


def nsupdate(args, zone, adds, deletes):
    host, port = args.primary.rsplit(":", 1)
    lines = [f"server {host} {port}", f"zone {zone}"]
    lines += [f"update delete {name}. TXT {quote(value)}" for name, value in deletes]
    lines += [f"update add {name}. 60 TXT {quote(value)}" for name, value in adds]
    lines.append("send")
    result = subprocess.run(["nsupdate", "-k", args.tsig_key_file], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        sys.stderr.write(f"route53-lab: nsupdate failed: {result.stderr}\n")


def counting(app):
    shape = re.compile(r"/(hostedzone|change)/[^/?]+")

    def wrapper(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/__lab/stats":
            with lock:
                body = json.dumps({"requests": stats}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if "dns01" in environ.get("HTTP_USER_AGENT", ""):
            key = environ.get("REQUEST_METHOD", "?") + " " + shape.sub(r"/\1/{id}", path)
            with lock:
                stats[key] = stats.get(key, 0) + 1
        return app(environ, start_response)
    return wrapper


def serve(args):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = counting(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    endpoint = f"http://127.0.0.1:{args.port}"
    r53 = client(endpoint)
    zones = {}
    for name in args.zone:
        name = name.rstrip(".").lower()
        created = r53.create_hosted_zone(Name=name + ".", CallerReference=f"dns01-lab-{name}-{time.time()}")
        zones[name] = created["HostedZone"]["Id"].split("/")[-1]
    print("ready " + " ".join(f"{n}={i}" for n, i in zones.items()), flush=True)
    mirrored = {name: {} for name in zones}
    while True:
        for zone, zone_id in zones.items():
            try:
                now = txt_sets(r53, zone_id)
            except Exception as error:  # a transient error: try again next round
                sys.stderr.write(f"route53-lab: {error}\n")
                continue
            before = mirrored[zone]
            adds = [(n, v) for n, values in now.items() for v in values - before.get(n, set())]
            deletes = [(n, v) for n, values in before.items() for v in values - now.get(n, set())]
            if adds or deletes:
                nsupdate(args, zone, adds, deletes)
                mirrored[zone] = now
        time.sleep(0.1)


def put(args):
    client(args.endpoint).change_resource_record_sets(HostedZoneId=args.zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": args.name, "Type": "TXT", "TTL": 60,
                              "ResourceRecords": [{"Value": quote(v)} for v in args.value]}}]})


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--zone", action="append", default=[])
    s.add_argument("--primary", required=True)
    s.add_argument("--tsig-key-file", required=True)
    p = sub.add_parser("put")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--zone-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--value", action="append", required=True)
    args = parser.parse_args()
    serve(args) if args.command == "serve" else put(args)


if __name__ == "__main__":
    main()
