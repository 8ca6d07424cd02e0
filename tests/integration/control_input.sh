#!/bin/sh
# control_input.sh - hostile input to the control API and its socket: a socket directory others
# can write is refused; a NUL or bad UTF-8 in a parameter, or a %-encoded path, gets a JSON 400.
. "$(dirname "$0")/control_lib.sh"

# ---- the socket's directory, like sshd's StrictModes ----
# refused_dir DIR WHAT: the agent must not start with its socket in DIR, and must say how to fix it.
refused_dir() {
	SOCK=$1/ctl.sock
	write_conf
	if "$AGENT" -c "$T/agent.conf" >"$T/refused.out" 2>"$T/refused.log"; then
		fail "$2: the agent started"
	fi
	grep -q "refused" "$T/refused.log" || fail "$2: no refusal: $(cat "$T/refused.log")"
	[ ! -e "$SOCK" ] || fail "$2: a socket was created"
}
mkdir -p "$T/other" "$T/open" "$T/grp" "$T/real"
chown 65534 "$T/other"
chmod 0755 "$T/other"
refused_dir "$T/other" "directory owned by another user"
grep -q "chown" "$T/refused.log" || fail "no fix given: $(cat "$T/refused.log")"
chmod 0777 "$T/open"
refused_dir "$T/open" "world-writable directory"
grep -q "chmod go-w" "$T/refused.log" || fail "no fix given: $(cat "$T/refused.log")"
chmod 0770 "$T/grp"
refused_dir "$T/grp" "group-writable directory"
ln -s "$T/real" "$T/link"
refused_dir "$T/link" "symlinked directory"
grep -q "symbolic link" "$T/refused.log" || fail "symlink: $(cat "$T/refused.log")"
# an ancestor another user owns could swap the directory itself
mkdir -p "$T/other/sub"
refused_dir "$T/other/sub" "directory under another user's"

# ---- the agent, with its socket in a fresh 0700 root directory ----
SOCK=$T/ctl.sock
write_conf
start_agent "$T/agent.conf"
expect 200 GET /health

# bad_param PATH: 400 with a JSON error naming the parameter ($2).
bad_param() {
	expect 400 GET "$1"
	jq -e --arg p "$2" '.error | contains($p)' "$T/body" >/dev/null ||
		fail "GET $1: error does not name '$2': $(cat "$T/body")"
}
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for path in /api/events /api/list-connections; do
	bad_param "$path?limit=5%00" limit
	bad_param "$path?pid=1%00abc" pid
	bad_param "$path?since=$NOW%00junk" since
	bad_param "$path?command=ab%00cd" command
	bad_param "$path?command=%ff%fe" command
	bad_param "$path?command=%c0%af" command # an overlong '/'
	bad_param "$path?command=%ed%a0%80" command # a UTF-16 surrogate
done
bad_param "/api/events?type=connection%00x" type
bad_param "/api/events/stream?type=connection%00x" type
bad_param "/api/events/stream?pid=1%00" pid
bad_param "/api/connection-summary?duration_seconds=5%00" duration_seconds
bad_param "/api/connection-summary?pid=%80" pid
expect 400 GET "/api/events?li%00mit=5"
# well-formed UTF-8 is a value like any other
expect 200 GET "/api/events?command=%c3%a9t%c3%a9"

# ---- paths: matched as written, never after %-decoding ----
expect 400 POST "/api/programs/connection%2fdetach"
expect 400 POST "/api/programs/connection%2Fattach"
expect 400 GET "/%68ealth"
expect 400 GET "/health%00"
expect 400 GET "/api/events%3flimit=5"
get /api/programs | jq -e '.programs[] | select(.name == "connection") | .attached' >/dev/null ||
	fail "connection detached by an encoded path"
# a %-escape in the query string is fine
expect 200 GET "/api/events?command=a%62c"

# ---- framing: one JSON 4xx and a close, at once (raw bytes, as curl would not send them) ----
cat >"$T/raw.py" <<'PY'
import json, socket, sys, time
sock, want = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode("latin1").decode("unicode_escape").encode("latin1")
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sock)
t = time.time()
s.sendall(data)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    sys.exit("no close within 2 s: %r" % out[:300])
except ConnectionResetError:
    pass
head, _, body = out.partition(b"\r\n\r\n")
lines = head.decode("latin1").split("\r\n")
if not lines[0].startswith("HTTP/1.1 " + want + " "):
    sys.exit("status line %r, expected %s" % (lines[0], want))
if out.count(b"HTTP/1.1 ") != 1:
    sys.exit("more than one answer: %r" % out[:400])
hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
if hdrs.get("content-type") != "application/json":
    sys.exit("content-type %r" % hdrs.get("content-type"))
err = json.loads(body)["error"]
if not isinstance(err, str) or not err:
    sys.exit("no error text: %r" % body)
if time.time() - t > 1:
    sys.exit("answered after %.1f s" % (time.time() - t))
PY
# raw WANT BYTES (python escapes)
raw() {
	$PY "$T/raw.py" "$SOCK" "$1" "$2" ||
		fail "raw $(printf %.80s "$2"): expected one JSON $1 and a close"
}
raw 400 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'
raw 413 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n'
raw 400 'POST /api/programs/connection/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde'
raw 400 'POST /api/programs/connection/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'
raw 411 'POST /api/programs/connection/attach HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\r\n'
raw 411 'POST /api/programs/connection/attach HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n'
raw 413 'POST /api/programs/connection/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n'
raw 400 '\x00\x01\x02\r\n\r\n'
raw 400 'GET /health HTTP/1.1\rHost: x\r\n\r\n'
raw 400 'GET /health HTTP/1.1\r\nHost: x\x00y\r\n\r\n'
raw 400 'GET /health HTTP/1.1\nHost: x\n\n'
# a body of any bytes after a good header is not the header's business
$PY - "$SOCK" <<'PY' || fail "a binary body was taken for the header"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"POST /api/programs/nosuch/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\x00\r\x01\n")
out = s.recv(4096)
sys.exit(0 if out.startswith(b"HTTP/1.1 404 ") else "got %r" % out[:200])
PY
raw 414 "GET /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
raw 431 "GET /health HTTP/1.1\\r\\nHost: x\\r\\nX: $(head -c 17000 /dev/zero | tr '\0' a)\\r\\n\\r\\n"
# a declared body that never comes: dropped within a few seconds, not the 30 s idle timeout
$PY - "$SOCK" <<'PY' || fail "a body that never came held the connection"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"POST /api/programs/connection/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
s.settimeout(8)
t = time.time()
while s.recv(4096):
    pass
sys.exit(0 if time.time() - t < 6 else 1)
PY

# ---- floods: slots are freed at once, a full server says 503 fast, /health recovers in 1 s ----
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=
write_conf 'max_clients = 16;'
start_agent "$T/agent.conf"
$PY - "$SOCK" 1 <<'PY' || fail "flood"
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s
def health(timeout=1.0):
    s = conn()
    s.settimeout(timeout)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    except BrokenPipeError:
        pass  # answered (a 503) and closed at accept, before we wrote: the answer is there
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except ConnectionResetError:
        pass
    s.close()
    return out.split(b" ")[1].decode() if out else "none"
limit = float(sys.argv[2])
for rnd in range(20):
    held = []
    for i in range(20):
        s = conn()
        kind = i % 4
        try:
            if kind == 1:
                s.sendall(b"GET /hea")  # a header never finished
            elif kind == 2:
                s.sendall(b"GET /api/events/stream HTTP/1.1\r\nHost: x\r\n\r\n")  # holds a slot
            elif kind == 3:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # answer never read
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused with a 503 at once: the server is full, as this flood means it to be
        held.append(s)
    # While flooded: an answer (200 from a reserved slot, or 503) within the limit.
    t = time.time()
    try:
        st = health(limit)
    except socket.timeout:
        sys.exit("round %d: no answer while flooded" % rnd)
    if st not in ("200", "503") or time.time() - t > limit:
        sys.exit("round %d: while flooded: %s after %.2f s" % (rnd, st, time.time() - t))
    for s in held:
        s.close()
    t = time.time()
    while True:
        try:
            st = health(limit)
        except socket.timeout:
            st = "timeout"
        if st == "200":
            break
        if time.time() - t > limit:
            sys.exit("round %d: /health %s %.2f s after the flood" % (rnd, st, time.time() - t))
        time.sleep(0.02)
print("flood: 20 of 20 rounds answered /health within %.0f s while flooded and after" % limit)
PY
get /api/stats | jq -e '.control.refused_early > 0' >/dev/null || fail "refused_early not counted"

echo "PASS"
