"""The Wizard server: GET /health on its port (8765 by default)."""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in ("/health", "/api/dashboard/health"):
            self.send_error(404)
            return
        body = json.dumps({"status": "healthy", "ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(prog="wizard.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--check", action="store_true", help="bind, report and exit")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"wizard: serving /health on {args.host}:{server.server_address[1]}", flush=True)
    if args.check:
        server.server_close()
        return 0
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
