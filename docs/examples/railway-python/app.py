"""A pure Python WebSocket echo app: it knows nothing of HTTP health checks.

It listens on $PORT, which healthgate sets to the backend port, on 127.0.0.1 only: healthgate
reaches it there, and nothing outside the container needs to.
"""
import asyncio
import os
import signal

import websockets


async def echo(websocket, path=None):
    async for message in websocket:
        await websocket.send(message)


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    # healthgate forwards SIGTERM when the platform stops the deploy: close cleanly.
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    port = int(os.environ.get("PORT", "8081"))
    async with websockets.serve(echo, "127.0.0.1", port):
        print(f"python echo app listening on 127.0.0.1:{port}", flush=True)
        await stop


asyncio.run(main())
