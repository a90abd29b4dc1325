"""The HTTP storage node: a Starlette app over a DirectoryStore, served by uvicorn."""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import sys
from typing import TextIO

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from storage.base import DEFAULT_MAX_BLOB_SIZE, check_prefix
from storage.directory import DirectoryStore
from storage.errors import BlobTooLarge, IntegrityError, StorageUserError

API_VERSION = 1  # reported by /health; bump on an incompatible change of the routes below
# Starlette reads a served file 64 KB at a time, each read a hop to a worker thread: 1 MiB
# halves the node's CPU per 1 MB blob (benchmarks/blobs.py) for 1 MiB of buffer per request.
_FILE_CHUNK = 1024 * 1024


def create_app(store: DirectoryStore, *, token: str | None = None) -> Starlette:
    """The node's ASGI app: GET/HEAD/PUT /blobs/{cid}, POST /blobs, GET /blobs?prefix=, /health."""
    expected_auth = f"Bearer {token}".encode() if token else None

    async def health(request: Request) -> Response:
        healthy = os.access(store.root / "blobs", os.W_OK)
        document = {
            "status": "ok" if healthy else "storage directory unavailable",
            "api": API_VERSION,
            "max_size": store.max_size,
            "write_token": expected_auth is not None,
        }
        return JSONResponse(document, status_code=200 if healthy else 503)

    async def blobs(request: Request) -> Response:
        if request.method == "POST":
            return await _put(request, None)
        try:
            prefix = check_prefix(request.query_params.get("prefix", ""))
        except StorageUserError as exc:
            return _error(400, str(exc))
        lines = (cid + "\n" for cid in store.list(prefix))
        return StreamingResponse(lines, media_type="text/plain")

    async def blob(request: Request) -> Response:
        cid = request.path_params["cid"]
        try:
            path = store.path_for(cid)
        except StorageUserError as exc:
            return _error(400, str(exc))
        if request.method == "PUT":
            return await _put(request, cid)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return _error(404, f"blob {cid} not found")
        # Served as stored, unverified: clients check every byte against the CID.
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        response = FileResponse(
            path, stat_result=stat, media_type="application/octet-stream", headers=headers
        )
        response.chunk_size = _FILE_CHUNK
        return response

    async def _put(request: Request, expected: str | None) -> Response:
        given = request.headers.get("authorization", "").encode()
        if expected_auth is not None and not hmac.compare_digest(given, expected_auth):
            return _error(401, "writes need a valid bearer token", {"WWW-Authenticate": "Bearer"})
        length = request.headers.get("content-length")
        if length is not None and not length.isdigit():
            return _error(400, "malformed Content-Length")
        if length is not None and int(length) > store.max_size:
            return _error(413, f"blob of {length} bytes exceeds the limit of {store.max_size}")
        try:
            writer = store.open_writer()
        except OSError as exc:
            return _error(507, f"cannot store: {exc.strerror}")
        with writer:
            try:
                async for chunk in request.stream():
                    writer.write(chunk)
                cid = await run_in_threadpool(writer.commit, expected_cid=expected)
            except BlobTooLarge as exc:
                return _error(413, str(exc))
            except IntegrityError as exc:
                return _error(422, str(exc))
            except ClientDisconnect:
                return _error(400, "client disconnected before the end of the blob")
            except OSError as exc:
                return _error(507, f"cannot store: {exc.strerror}")
        return JSONResponse({"cid": cid, "size": writer.size}, status_code=201)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/blobs", blobs, methods=["GET", "POST"]),
        Route("/blobs/{cid}", blob, methods=["GET", "HEAD", "PUT"]),
    ]
    return Starlette(routes=routes)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def serve(
    *,
    directory: str,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    max_size: int = DEFAULT_MAX_BLOB_SIZE,
    fsync: bool = True,
    log_level: str = "warning",
    out: TextIO = sys.stdout,
) -> int:
    """Run a node until interrupted; the first line on `out` is `storage node listening on URL`."""
    store = DirectoryStore(directory, max_size=max_size, fsync=fsync)
    sock = _listen(host, port)
    url = f"http://{_url_host(host)}:{sock.getsockname()[1]}"
    if token is None and not _is_loopback(host):
        print(f"storage: warning: {url} accepts writes from anyone (no --token)", file=sys.stderr)
    config = uvicorn.Config(
        create_app(store, token=token),
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        lifespan="off",
        server_header=False,
    )
    print(f"storage node listening on {url}", file=out, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise StorageUserError(f"port must be between 0 and 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise StorageUserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise StorageUserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
