"""Why a second server cannot answer health checks on the app's port.

The classic workaround for a WebSocket app that fails its platform's HTTP health check is a
small HTTP server in a thread, on the same $PORT. This script shows what the kernel does with it:

1. Without SO_REUSEPORT the second bind fails with EADDRINUSE: the health server never starts.
2. With SO_REUSEPORT on both sockets the bind succeeds, and the kernel hands each new
   connection to one of the two listeners by a hash of its addresses: WebSocket clients land on
   the health server, health checks land on the app, at random.

Only the Python standard library; loopback only; the port is chosen at run time.
Run: python3 docs/examples/same-port/same-port.py
"""
import errno
import socket
import threading

CONNECTIONS = 200


def listener(port, reuseport):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def serve(sock, name):
    """Answers every connection with the server's name, then closes it."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            conn.sendall(name.encode())


def main():
    # 1. The app owns the port; the health server's bind fails.
    app = listener(0, reuseport=False)
    port = app.getsockname()[1]
    try:
        listener(port, reuseport=False)
        print("second bind without SO_REUSEPORT: succeeded (unexpected)")
    except OSError as err:
        name = errno.errorcode.get(err.errno, str(err.errno))
        print(f"second bind without SO_REUSEPORT: {name} ({err.strerror})")
    app.close()

    # 2. Both set SO_REUSEPORT: both bind, and the kernel splits the clients between them.
    app = listener(0, reuseport=True)
    port = app.getsockname()[1]
    health = listener(port, reuseport=True)
    for sock, name in ((app, "app"), (health, "health")):
        threading.Thread(target=serve, args=(sock, name), daemon=True).start()
    counts = {"app": 0, "health": 0}
    for _ in range(CONNECTIONS):
        with socket.create_connection(("127.0.0.1", port)) as client:
            counts[client.recv(16).decode()] += 1
    print(
        f"with SO_REUSEPORT, {CONNECTIONS} connections to port {port}: "
        f"{counts['app']} reached the app, {counts['health']} reached the health server"
    )
    for sock in (app, health):
        sock.close()


if __name__ == "__main__":
    main()
