"""A loopback HTTP server implementing the part of Cloudflare's API v4 the SDK uses for DNS.

Endpoints (under ``/client/v4``): ``GET /zones`` (``name``, ``page``, ``per_page``),
``GET/POST /zones/{id}/dns_records`` (filters ``type``, ``name``/``name.exact``,
``name.contains``/``name.startswith``/``name.endswith``, case-insensitive),
``GET/PUT/PATCH/DELETE /zones/{id}/dns_records/{rid}`` and ``POST
/zones/{id}/dns_records/batch`` (deletes, patches, puts, posts in that order, all or nothing).
Every answer uses the v4 envelope; pages past the end answer ``result: []``.

Records are TXT, NS, A and AAAA (what spfmanager publishes: SPF, and a subdomain's delegation
with its glue), checked as the API checks them: A/AAAA content must be an address of that
family (stored in its short form), NS content a host name (stored without trailing dot, case
kept), the TTL 1 (automatic) or 60..86400, and only A/AAAA may be ``proxied``.

Auth is a bearer token: none gives 401, an unknown one 403 (code 10000), a read-only one 403
(code 9109) on writes. :meth:`FakeCloudflare.fail` queues faults for the next requests: an
HTTP status (429 with ``Retry-After``, 500, …; its error message may quote the request's
``{authorization}`` header, as a server reflecting credentials would), a raw body (a 200
that is not the v4 envelope: a proxy's HTML page, JSON of another shape) or a hang that
never answers. State lives in memory behind a lock.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/client/v4"
MAX_PER_PAGE = 5000
TYPES = ("TXT", "NS", "A", "AAAA")
PROXIABLE = ("A", "AAAA")
NOW = "2024-01-01T00:00:00.000000Z"


class FaultKind(Enum):
    STATUS = "status"  # answer with an HTTP error status and an error envelope
    HANG = "hang"  # accept the request, never answer, close after ``seconds``
    BODY = "body"  # answer ``status`` (say 200) with ``body`` as ``content_type``


@dataclass(frozen=True)
class Fault:
    """One programmed failure, consumed by the next request matching ``method``/``path``."""

    kind: FaultKind = FaultKind.STATUS
    status: int = 500
    retry_after: int | None = None
    seconds: float = 2.0
    method: str | None = None
    path_contains: str | None = None
    message: str | None = None  # STATUS: the error message; "{authorization}" is replaced
    body: bytes = b""  # BODY: the raw answer
    content_type: str = "application/json"

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeCloudflare:
    """The server and its state. Use as a context manager, or call start()/stop()."""

    def __init__(self, token: str = "test-token", *, readonly_tokens: tuple[str, ...] = ()):
        self.tokens = {token}
        self.readonly_tokens = set(readonly_tokens)
        self.lock = threading.Lock()
        self.zones: dict[str, str] = {}  # id -> name
        self.records: dict[str, dict[str, dict[str, Any]]] = {}  # zone id -> record id -> rec
        self.faults: deque[Fault] = deque()
        self.requests: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle and test helpers ------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"

    def start(self) -> FakeCloudflare:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeCloudflare:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_zone(self, name: str) -> str:
        with self.lock:
            zone_id = uuid.uuid4().hex
            self.zones[zone_id] = name
            self.records[zone_id] = {}
            return zone_id

    def add_record(
        self,
        zone_id: str,
        name: str,
        content: str,
        ttl: int = 1,
        rtype: str = "TXT",
        *,
        proxied: bool = False,
    ) -> str:
        with self.lock:
            body = {"name": name, "type": rtype, "content": content, "ttl": ttl}
            if proxied:
                body["proxied"] = True
            return str(self._create(zone_id, body)["id"])

    def contents(self, zone_id: str, name: str, rtype: str = "TXT") -> list[str]:
        """Contents of the ``rtype`` records at ``name``, sorted."""
        with self.lock:
            return sorted(
                r["content"]
                for r in self.records[zone_id].values()
                if r["name"] == name and r["type"] == rtype
            )

    def fail(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def writes(self) -> list[tuple[str, str]]:
        with self.lock:
            return [r for r in self.requests if r[0] != "GET"]

    # -- request handling ----------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        return Handler

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.matches(method, path):
                    self.faults.remove(fault)
                    return fault
        return None

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        url = urlsplit(req.path)
        method = req.command
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        fault = self._take_fault(method, url.path)
        headers: dict[str, str] = {}
        try:
            if fault is not None and fault.kind is FaultKind.HANG:
                time.sleep(fault.seconds)
                req.close_connection = True
                return
            if fault is not None and fault.kind is FaultKind.BODY:
                self._send(req, fault.status, fault.body, fault.content_type, headers)
                return
            if fault is not None:
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                code = 971 if fault.status == 429 else 10500
                message = (fault.message or "injected HTTP {status}").format(
                    status=fault.status, authorization=req.headers.get("Authorization", "")
                )
                raise ApiError(fault.status, code, message)
            self._authorize(req.headers.get("Authorization"), method)
            body = json.loads(raw) if raw else {}
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            status, payload = self._route(method, url.path, query, body)
        except ApiError as exc:
            status = exc.status
            payload = envelope(
                None, success=False, errors=[{"code": exc.code, "message": exc.message}]
            )
        except (ValueError, KeyError) as exc:
            status = 400
            payload = envelope(
                None, success=False, errors=[{"code": 1004, "message": f"bad request: {exc}"}]
            )
        self._send(req, status, json.dumps(payload).encode(), "application/json", headers)

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str],
    ) -> None:
        try:
            req.send_response(status)
            for key, value in headers.items():
                req.send_header(key, value)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except OSError:  # the client gave up (timeout)
            pass

    def _authorize(self, header: str | None, method: str) -> None:
        if not header or not header.startswith("Bearer "):
            raise ApiError(401, 10001, "Unable to authenticate request")
        token = header.removeprefix("Bearer ")
        if token in self.readonly_tokens:
            if method != "GET":
                raise ApiError(403, 9109, "Unauthorized to access requested resource")
            return
        if token not in self.tokens:
            raise ApiError(403, 10000, "Authentication error")

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        if not path.startswith(PREFIX + "/"):
            raise ApiError(404, 7000, "No route for that URI")
        parts = path[len(PREFIX) + 1 :].strip("/").split("/")
        with self.lock:
            if parts == ["zones"] and method == "GET":
                zones = [
                    zone_json(i, n)
                    for i, n in self.zones.items()
                    if "name" not in query or n == query["name"].lower()
                ]
                return 200, paginate(zones, query)
            if len(parts) < 3 or parts[0] != "zones" or parts[2] != "dns_records":
                raise ApiError(404, 7000, "No route for that URI")
            zone_id = parts[1]
            if zone_id not in self.zones:
                raise ApiError(404, 7003, "Could not route to /zones/" + zone_id)
            if len(parts) == 3 and method == "GET":
                return 200, paginate(self._select(zone_id, query), query)
            if len(parts) == 3 and method == "POST":
                return 200, envelope(self._create(zone_id, body))
            if parts[3:] == ["batch"] and method == "POST":
                return 200, envelope(self._batch(zone_id, body))
            if len(parts) == 4:
                return 200, envelope(self._one(method, zone_id, parts[3], body))
        raise ApiError(405, 10405, "Method not allowed")

    def _select(self, zone_id: str, query: dict[str, str]) -> list[dict[str, Any]]:
        tests = {
            "name": str.__eq__,
            "name.exact": str.__eq__,
            "name.contains": str.__contains__,
            "name.startswith": str.startswith,
            "name.endswith": str.endswith,
        }
        filters = [(test, query[key].lower()) for key, test in tests.items() if key in query]
        return [
            copy.deepcopy(r)
            for r in self.records[zone_id].values()
            if all(test(r["name"], value) for test, value in filters)
            and query.get("type", r["type"]) == r["type"]
        ]

    def _create(self, zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
        record = record_json(f"{next(self._ids):032x}", zone_id, self.zones[zone_id], body)
        self.records[zone_id][record["id"]] = record
        return copy.deepcopy(record)

    def _one(self, method: str, zone_id: str, record_id: str, body: dict[str, Any]) -> Any:
        records = self.records[zone_id]
        if record_id not in records:
            raise ApiError(404, 81044, "Record does not exist.")
        if method == "GET":
            return copy.deepcopy(records[record_id])
        if method == "DELETE":
            del records[record_id]
            return {"id": record_id}
        if method == "PUT":
            records[record_id] = record_json(record_id, zone_id, self.zones[zone_id], body)
        elif method == "PATCH":
            merged = {**records[record_id], **body}
            records[record_id] = record_json(record_id, zone_id, self.zones[zone_id], merged)
        else:
            raise ApiError(405, 10405, "Method not allowed")
        return copy.deepcopy(records[record_id])

    def _batch(self, zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Deletes, patches, puts, posts, in one transaction: on any error nothing changes."""
        saved = copy.deepcopy(self.records[zone_id])
        try:
            result: dict[str, list[Any]] = {
                "deletes": [
                    self._one("DELETE", zone_id, d["id"], {}) for d in body.get("deletes", [])
                ],
                "patches": [
                    self._one("PATCH", zone_id, p["id"], p) for p in body.get("patches", [])
                ],
                "puts": [self._one("PUT", zone_id, p["id"], p) for p in body.get("puts", [])],
                "posts": [self._create(zone_id, p) for p in body.get("posts", [])],
            }
        except (ApiError, KeyError):
            self.records[zone_id] = saved
            raise
        return result


def envelope(
    result: Any,
    *,
    success: bool = True,
    errors: list[dict[str, Any]] | None = None,
    result_info: dict[str, int] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "success": success,
        "errors": errors or [],
        "messages": [],
        "result": result,
    }
    if result_info is not None:
        payload["result_info"] = result_info
    return payload


def paginate(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    page = max(1, int(query.get("page", 1)))
    per_page = min(MAX_PER_PAGE, max(1, int(query.get("per_page", 100))))
    chunk = items[(page - 1) * per_page : page * per_page]
    total_pages = -(-len(items) // per_page)
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": total_pages,
    }
    return envelope(chunk, result_info=info)


def zone_json(zone_id: str, name: str) -> dict[str, Any]:
    return {
        "id": zone_id,
        "name": name,
        "status": "active",
        "paused": False,
        "type": "full",
        "development_mode": 0,
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": None,
        "original_registrar": None,
        "original_dnshost": None,
        "created_on": NOW,
        "modified_on": NOW,
        "activated_on": NOW,
        "account": {"id": "0" * 32, "name": "test"},
        "owner": {"id": None, "name": None, "type": "user"},
        "plan": {"id": "0" * 32, "name": "Free Website"},
        "meta": {"step": 2, "phishing_detected": False},
        "permissions": ["#dns_records:edit"],
    }


def record_json(record_id: str, zone_id: str, zone: str, body: dict[str, Any]) -> dict[str, Any]:
    name = str(body["name"]).rstrip(".").lower()
    if name != zone and not name.endswith("." + zone):
        raise ApiError(400, 9007, f"{name} is not in zone {zone}")
    rtype = str(body.get("type", "TXT"))
    if rtype not in TYPES:
        raise ApiError(400, 9000, f"this fake stores {', '.join(TYPES)} records, not {rtype}")
    content = check_content(rtype, str(body.get("content", "")))
    ttl = int(body.get("ttl", 1))
    if ttl != 1 and not 60 <= ttl <= 86400:
        raise ApiError(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1")
    proxied = body.get("proxied", False)
    if proxied is not False and (proxied is not True or rtype not in PROXIABLE):
        raise ApiError(400, 9004, f"{rtype} record for {name} cannot be proxied")
    return {
        "id": record_id,
        "zone_id": zone_id,
        "zone_name": zone,
        "name": name,
        "type": rtype,
        "content": content,
        "ttl": ttl,
        "proxiable": rtype in PROXIABLE,
        "proxied": proxied,
        "comment": body.get("comment"),
        "tags": body.get("tags", []),
        "settings": {},
        "meta": {},
        "created_on": NOW,
        "modified_on": NOW,
    }


def check_content(rtype: str, content: str) -> str:
    """``content`` as stored for an ``rtype`` record, or the API's 400."""
    if rtype == "TXT":
        if len(content) > 2048:
            raise ApiError(400, 9100, "Content for TXT record is invalid: longer than 2048")
        return content
    if rtype == "NS":
        host = content.rstrip(".")
        labels = host.split(".")
        if len(labels) < 2 or not all(0 < len(label) <= 63 for label in labels):
            raise ApiError(400, 9100, f"Content for NS record is invalid: {content!r}")
        return host
    try:
        address = ipaddress.ip_address(content)
    except ValueError:
        address = None
    if address is None or address.version != (4 if rtype == "A" else 6):
        family = "IPv4" if rtype == "A" else "IPv6"
        raise ApiError(400, 9005, f"Content for {rtype} record must be a valid {family} address")
    return str(address)
