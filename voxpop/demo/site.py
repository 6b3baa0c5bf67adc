"""A small local HTTP server that serves canned responses: for tests and the offline demo.

Run it alone::

    python -m voxpop.demo.site --root DIR [--host 127.0.0.1] [--port 0]

The first line it prints on stdout is its base URL (``http://127.0.0.1:PORT``). From Python use
:func:`start_site` (a subprocess; returns ``(base_url, stop)``) or :func:`write_routes` to write a site.

Site format (everything lives in ``DIR``):

``DIR/routes.json``
    A JSON object mapping a request target to a response or a list of responses::

        {
          "/latest.json": {"body": "latest.json"},
          "/appreviews/10?cursor=*&json=1": {"status": 200, "body": "steam/page1.json",
                                              "headers": {"Content-Type": "application/json"}},
          "/t/5.json": [{"status": 429, "headers": {"Retry-After": "1"}, "times": 1},
                        {"body": "t5.json", "delay_s": 0.2}]
        }

    Keys are ``path`` or ``path?query``. The query is compared as a set of decoded ``name=value``
    pairs, so parameter order and percent-encoding (``%2A`` vs ``*``) do not matter. A request
    matches the key with its exact path and query first; failing that, a key with the bare path
    (no ``?``) answers any query on that path.

    A response is an object with:

    - ``status`` (default 200) and ``headers`` (default ``Content-Type`` guessed from the body file);
    - ``body``: a file name relative to ``DIR`` (or ``text``: an inline string; or ``json``: an
      inline JSON value); no body gives an empty one;
    - ``delay_s``: sleep this long before answering (slow responses, timeouts);
    - ``times``: answer this way only the first N times this route is hit, then fall through to the
      next response of the list (``429``-then-``200`` and ``500``-then-``200`` cases). The last
      response of a list answers every later hit whatever its ``times``;
    - ``match_body``: only for requests whose body (POST) contains this string, e.g. a continuation
      token in a form-encoded RPC body; responses without it match any body.

    GET, HEAD and POST are answered the same way (a POST's body only matters for ``match_body``).

``DIR/robots.txt``
    Served at ``/robots.txt`` when present (a missing one is a 404, which crawlers read as allow-all).

Any other path that names a file under ``DIR`` is served as that file; everything else is a 404.
``GET /__hits__`` returns the list of requests served so far (target, method, User-Agent, Authorization),
for tests that check what a crawler asked for (or did not ask for, e.g. robots-disallowed paths).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

ROUTES_FILE = "routes.json"
HITS_PATH = "/__hits__"


def _query_key(query: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(parse_qsl(query, keep_blank_values=True)))


class Site:
    """The routes of one site directory and how often each response has been used."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        routes_path = self.root / ROUTES_FILE
        raw = json.loads(routes_path.read_text(encoding="utf-8")) if routes_path.exists() else {}
        self.exact: dict[tuple[str, tuple[tuple[str, str], ...]], list[dict[str, Any]]] = {}
        self.by_path: dict[str, list[dict[str, Any]]] = {}
        for target, spec in raw.items():
            responses = spec if isinstance(spec, list) else [spec]
            path, sep, query = target.partition("?")
            if sep:
                self.exact[(path, _query_key(query))] = responses
            else:
                self.by_path[path] = responses
        self.used: dict[int, int] = {}
        self.hits: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def pick(self, path: str, query: str, body: str = "") -> dict[str, Any] | None:
        """The response for a request, consuming one use of a ``times``-limited response."""
        responses = self.exact.get((path, _query_key(query)))
        if responses is None:
            responses = self.by_path.get(path)
        if responses is None:
            return None
        responses = [r for r in responses if not r.get("match_body") or str(r["match_body"]) in body]
        if not responses:
            return None
        with self.lock:
            for index, response in enumerate(responses):
                times = response.get("times")
                last = index == len(responses) - 1
                key = id(response)
                if times is None or last or self.used.get(key, 0) < int(times):
                    self.used[key] = self.used.get(key, 0) + 1
                    return response
        return responses[-1]

    def body_of(self, response: Mapping[str, Any]) -> tuple[bytes, str]:
        """The body bytes of a response spec and a default content type for it."""
        if "json" in response:
            return json.dumps(response["json"]).encode("utf-8"), "application/json"
        if "text" in response:
            return str(response["text"]).encode("utf-8"), "text/plain; charset=utf-8"
        name = response.get("body")
        if not name:
            return b"", "text/plain; charset=utf-8"
        path = (self.root / name).resolve()
        if self.root not in path.parents or not path.is_file():
            raise FileNotFoundError(name)
        return path.read_bytes(), _guess_type(path)

    def static(self, path: str) -> Path | None:
        """A file under the root named by a URL path, if there is one."""
        candidate = (self.root / path.lstrip("/")).resolve()
        if candidate.is_file() and self.root in candidate.parents and candidate.name != ROUTES_FILE:
            return candidate
        return None


def _guess_type(path: Path) -> str:
    if path.suffix == ".json":
        return "application/json"
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return guessed + ("; charset=utf-8" if guessed.startswith("text/") else "")


def make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``site``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "voxpop-demo-site/0.1"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

        def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(body)))
            # One request per connection: a client closing down never waits on an idle keep-alive.
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:  # noqa: N802 - stdlib API
            self.do_GET()

        def do_POST(self) -> None:  # noqa: N802 - stdlib API; token, session and RPC endpoints are POSTs
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            self.answer(unquote_plus(body))

        def do_GET(self) -> None:  # noqa: N802 - stdlib API
            self.answer("")

        def answer(self, request_body: str) -> None:
            parts = urlsplit(self.path)
            if parts.path == HITS_PATH:
                with site.lock:
                    body = json.dumps(site.hits).encode("utf-8")
                self._send(200, body, {"Content-Type": "application/json"})
                return
            with site.lock:
                site.hits.append({"target": self.path, "user_agent": self.headers.get("User-Agent", ""),
                                  "at": f"{time.time():.3f}", "method": self.command,
                                  "authorization": self.headers.get("Authorization", ""),
                                  "body": request_body[:2000]})
            response = site.pick(parts.path, parts.query, request_body)
            if response is None:
                static = site.static(parts.path)
                if static is None:
                    self._send(404, b"not found\n", {"Content-Type": "text/plain; charset=utf-8"})
                else:
                    self._send(200, static.read_bytes(), {"Content-Type": _guess_type(static)})
                return
            if response.get("delay_s"):
                time.sleep(float(response["delay_s"]))
            try:
                body, content_type = site.body_of(response)
            except FileNotFoundError as exc:
                self._send(500, f"demo_site: missing body file {exc}\n".encode(), {"Content-Type": "text/plain"})
                return
            headers = {"Content-Type": content_type, **dict(response.get("headers") or {})}
            self._send(int(response.get("status", 200)), body, headers)

    return Handler


def serve(root: str | Path, host: str = "127.0.0.1", port: int = 0,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve ``root`` until interrupted; ``ready`` gets the base URL once listening."""
    site = Site(Path(root))
    server = ThreadingHTTPServer((host, port), make_handler(site))
    server.daemon_threads = True
    base_url = f"http://{host}:{server.server_address[1]}"
    if ready:
        ready(base_url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def start_site(root: str | Path, host: str = "127.0.0.1", timeout_s: float = 15.0) -> tuple[str, Callable[[], None]]:
    """Start the server on ``root`` in a subprocess on a free port; return ``(base_url, stop)``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxpop.demo.site", "--root", str(root), "--host", host, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.stdout is not None
    line_box: list[str] = []
    reader = threading.Thread(target=lambda: line_box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    line = line_box[0].strip() if line_box else ""
    if not line.startswith("http"):
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise RuntimeError(f"demo_site did not start on {root}: {err.strip()[-500:]}")

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

    return line, stop


def write_routes(root: str | Path, routes: Mapping[str, Any], robots: str | None = None) -> Path:
    """Write a site directory from ``{target: body or response spec}``.

    A value that is a ``dict`` with a ``"__response__": True`` marker, or a list of such dicts, is
    written as a response spec (its ``json``/``text``/``body`` kept as given); any other value is the
    body itself: ``bytes``/``str`` written as a file, anything else as JSON.
    """
    root = Path(root)
    (root / "bodies").mkdir(parents=True, exist_ok=True)
    table: dict[str, Any] = {}
    for n, (target, value) in enumerate(routes.items()):
        if isinstance(value, dict) and value.get("__response__"):
            table[target] = {k: v for k, v in value.items() if k != "__response__"}
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and v.get("__response__") for v in value):
            table[target] = [{k: v for k, v in item.items() if k != "__response__"} for item in value]
            continue
        if isinstance(value, bytes | str):
            name = f"bodies/{n:05d}.txt"
            data = value if isinstance(value, bytes) else value.encode("utf-8")
            (root / name).write_bytes(data)
            table[target] = {"body": name}
        else:
            name = f"bodies/{n:05d}.json"
            (root / name).write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
            table[target] = {"body": name, "headers": {"Content-Type": "application/json"}}
    (root / ROUTES_FILE).write_text(json.dumps(table, indent=1, ensure_ascii=False), encoding="utf-8")
    if robots is not None:
        (root / "robots.txt").write_text(robots, encoding="utf-8")
    return root


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: serve a site directory and print the base URL first."""
    parser = argparse.ArgumentParser(prog="python -m voxpop.demo.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="site directory (routes.json, robots.txt, bodies)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    if not Path(args.root).is_dir():
        parser.error(f"--root {args.root}: not a directory")

    def announce(url: str) -> None:
        sys.stdout.write(url + "\n")
        sys.stdout.flush()

    serve(args.root, args.host, args.port, ready=announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
