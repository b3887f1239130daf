"""Which client is this? A Python `websockets` app behind healthgate sees every connection come
from 127.0.0.1 (healthgate's own socket). The platform's edge names the client in request
headers, and healthgate passes the handshake on unchanged: read them there.

It answers each connection with one message, the client's address, then echoes.
"""
import asyncio
import os

import websockets


def client_ip(websocket):
    # websockets >= 14 keeps the handshake in websocket.request; the legacy API (Debian's 10.x)
    # in websocket.request_headers.
    request = getattr(websocket, "request", None)
    headers = request.headers if request is not None else websocket.request_headers
    # X-Real-IP: Railway's edge. Fly-Client-IP: Fly's proxy. X-Forwarded-For is a list that a
    # client can start itself: its last entry is the one the platform's proxy added.
    for name in ("X-Real-IP", "Fly-Client-IP"):
        if headers.get(name):
            return headers[name].strip()
    forwarded = headers.get("X-Forwarded-For")
    if forwarded:
        return forwarded.split(",")[-1].strip()
    return websocket.remote_address[0]


async def handler(websocket, path=None):
    await websocket.send(client_ip(websocket))
    async for message in websocket:
        await websocket.send(message)


async def main():
    port = int(os.environ.get("PORT", "8081"))
    async with websockets.serve(handler, "127.0.0.1", port):
        print(f"client-ip app listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
