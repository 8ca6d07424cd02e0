"""nmhttp.py - one HTTP/1.1 request over the agent's control socket, for the tests' Python parts."""
import json
import socket


def request(sock_path, path, method="GET", timeout=5.0):
    """Send one request (Connection: close) and read the answer to its end.

    Returns (status, body); raises socket.timeout when the agent is silent for timeout s."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, body


def sink_stats(sock_path, sink):
    """The sink's map in /api/stats."""
    status, body = request(sock_path, "/api/stats")
    if status != 200:
        raise RuntimeError(f"/api/stats: {status} {body[:200]!r}")
    return next(x for x in json.loads(body)["sinks"] if x["name"] == sink)
