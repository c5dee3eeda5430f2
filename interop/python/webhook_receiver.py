"""A webhook receiver written with Python's Standard Webhooks and CloudEvents SDKs.

Prints `listening <port>`, then one JSON line per request: whether the signature
verified (standardwebhooks) and the event as the CloudEvents SDK reads it (from_http,
structured or binary mode). Answers 200 when both worked, else 400. Stops after
`--requests` requests.
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from cloudevents.http import from_http
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--requests", type=int, required=True)
    args = parser.parse_args()
    webhook = Webhook(args.secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            report = {"path": self.path}
            try:
                webhook.verify(body, headers)
                report["signature"] = "ok"
            except json.JSONDecodeError:
                # `verify` parses the body as JSON after the signature matched.
                report["signature"] = "ok"
            except WebhookVerificationError as error:
                report["signature"] = f"refused: {error}"
            try:
                event = from_http(headers, body)
                report["attributes"] = {k: str(v) for k, v in event.get_attributes().items()}
                data = event.get_data()
                report["data"] = data.decode("latin-1") if isinstance(data, bytes) else data
            except Exception as error:  # the SDK raises several kinds
                report["attributes"] = None
                report["error"] = f"{type(error).__name__}: {error}"
            ok = report["signature"] == "ok" and report["attributes"] is not None
            self.send_response(200 if ok else 400)
            self.send_header("content-length", "0")
            self.end_headers()
            print(json.dumps(report), flush=True)

        def log_message(self, *_args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    for _ in range(args.requests):
        server.handle_request()


if __name__ == "__main__":
    sys.exit(main())
