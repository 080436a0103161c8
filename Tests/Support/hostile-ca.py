#!/usr/bin/env python3
"""A hostile ACME CA for dns01's tests: an HTTPS proxy in front of the lab's Pebble that
misbehaves in one way, chosen by --mode. Everything it does not break is Pebble's real answer;
the Host header is passed on unchanged, so Pebble's URLs (and the JWS "url" it checks) name
this proxy.

Modes (Pebble's paths: /dir, /order-plz, /authZ/, /chalZ/, /my-order/, /finalize-order/, /certZ/):
  malformed-json     newOrder answers with truncated JSON
  directory-missing  the directory lacks newOrder
  huge-body          authorizations declare a 10 GiB body and start sending it
  endless-headers    the directory's headers never end
  endless-body       the certificate is a chunked body that never ends
  redirect-loop      finalize answers 307 to itself
  bad-pem            the certificate is a CERTIFICATE block of garbage
  served-chain       the certificate URL serves the file given with --chain
  processing         orders stay "processing" forever
  pending            authorizations stay "pending" forever
  hang-challenges    challenge POSTs are read and never answered

Every request is logged as "METHOD PATH" to --log before it is acted on; --ready is created
once the port is bound. Stopped by SIGTERM.
"""
import argparse
import http.client
import http.server
import json
import ssl
import threading

args = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *values):
        pass

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with open(args.log, "a") as log:
            log.write(f"{self.command} {self.path}\n")
        mode, path = args.mode, self.path

        if mode == "hang-challenges" and self.command == "POST" and path.startswith("/chalZ/"):
            threading.Event().wait()
        if mode == "redirect-loop" and path.startswith("/finalize-order/"):
            location = f"https://{self.headers.get('Host')}{path}"
            return self.answer(307, {"Location": location}, b"")
        if mode == "huge-body" and path.startswith("/authZ/"):
            return self.stream(fixed=10 << 30)
        if mode == "endless-body" and path.startswith("/certZ/"):
            return self.stream(fixed=None)
        if mode == "endless-headers" and path == "/dir":
            return self.endless_headers()

        status, headers, payload = self.forward(body)
        if mode == "malformed-json" and path == "/order-plz" and status < 300:
            payload = b'{"status": "pending", "identifiers": [{"type": "dns", "va'
        elif mode == "directory-missing" and path == "/dir" and status < 300:
            document = json.loads(payload)
            document.pop("newOrder", None)
            payload = json.dumps(document).encode()
        elif mode == "bad-pem" and path.startswith("/certZ/") and status < 300:
            payload = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        elif mode == "served-chain" and path.startswith("/certZ/") and status == 200:
            # Only a real answer is replaced: a badNonce problem (Pebble rejects some nonces)
            # must reach dns01 as such, so it retries.
            with open(args.chain, "rb") as chain:
                payload = chain.read()
        elif mode == "processing" and (path.startswith("/my-order/") or path.startswith("/finalize-order/")) and status == 200:
            document = json.loads(payload)
            document["status"] = "processing"
            document.pop("certificate", None)
            payload = json.dumps(document).encode()
        elif mode == "pending" and path.startswith("/authZ/") and status == 200:
            document = json.loads(payload)
            document["status"] = "pending"
            for challenge in document.get("challenges", []):
                challenge["status"] = "pending"
            payload = json.dumps(document).encode()
        self.answer(status, headers, payload)

    def forward(self, body):
        context = ssl._create_unverified_context()
        connection = http.client.HTTPSConnection("127.0.0.1", args.upstream, context=context, timeout=60)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("connection", "content-length")}
        connection.request(self.command, self.path, body=body if self.command == "POST" else None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        kept = [(name, value) for name, value in response.getheaders()
                if name.lower() not in ("connection", "content-length", "transfer-encoding")]
        connection.close()
        return response.status, kept, payload

    def answer(self, status, headers, payload):
        self.send_response(status)
        for name, value in (headers.items() if isinstance(headers, dict) else headers):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def endless_headers(self):
        self.send_response(200)
        line = "x" * 1000
        try:
            while True:
                self.send_header("X-Filler", line)
                self.flush_headers()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def stream(self, fixed):
        """A body of `fixed` bytes (declared, then sent until the client gives up), or an
        endless chunked one."""
        self.send_response(200)
        self.send_header("Content-Type", "application/pem-certificate-chain" if fixed is None else "application/json")
        if fixed is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(fixed))
        self.end_headers()
        block = b"-----BEGIN CERTIFICATE-----\n" + b"QUFB" * 16384 + b"\n"
        try:
            while True:
                if fixed is None:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                else:
                    self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--chain")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    open(args.ready, "w").close()
    server.serve_forever()


if __name__ == "__main__":
    main()
