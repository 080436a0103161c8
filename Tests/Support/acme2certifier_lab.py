"""WSGI entry for the test lab's acme2certifier (Sources/TestLab/TestLab+ACME2Certifier.swift).

Two things around acme2certifier's own WSGI application, nothing inside it:

- acme2certifier asks the DNS servers of `[DEFAULT] dns_server_list`, a JSON list of IP
  addresses, always on port 53 (dnspython's default). The lab's BIND secondary listens on a
  free loopback port instead, so every dnspython resolver is made to use A2C_LAB_DNS_PORT.
- Every ACME request is written to A2C_LAB_REQUEST_LOG, one JSON object a line: method, path
  and the JWS payload decoded (acme2certifier stores neither `replaces` nor the raw payload,
  and the tests check what dns01 sent).
"""

import base64
import io
import json
import os
import threading

import dns.resolver

_PORT = int(os.environ["A2C_LAB_DNS_PORT"])
_LOG = os.environ["A2C_LAB_REQUEST_LOG"]
_LOG_LOCK = threading.Lock()
_MAX_BODY = 1 << 20
_reset = dns.resolver.BaseResolver.reset


def _reset_with_lab_port(self):
    _reset(self)
    self.port = _PORT


dns.resolver.BaseResolver.reset = _reset_with_lab_port

from acme2certifier.share.acme2certifier_wsgi import application as _acme2certifier  # noqa: E402


def _payload(body):
    """The JWS payload of a flattened JSON serialization as JSON ("" for POST-as-GET)."""
    try:
        encoded = json.loads(body)["payload"]
        if encoded == "":
            return ""
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return json.loads(raw)
    except (ValueError, KeyError, TypeError):
        return None


def application(environ, start_response):
    entry = {"method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO")}
    if environ.get("REQUEST_METHOD") == "POST":
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), _MAX_BODY)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        entry["payload"] = _payload(body)
    with _LOG_LOCK, open(_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    return _acme2certifier(environ, start_response)
