#!/usr/bin/python3
"""check_events.py - assertions on what the agent wrote: exact counts and field values.

usage: check_events.py FILE json|msgpack COMM PORT N
Reads every event in FILE (NDJSON, or concatenated MessagePack maps decoded with
python3-msgpack, independently of the agent's code) and checks that COMM made exactly
N TCP connects over IPv4 and N over IPv6 to PORT, refused, plus N UDP connects, and
that the kernel reported the matching NO_SOCKET drops.
"""
import json
import sys

import msgpack


def events(path, fmt):
    with open(path, "rb") as f:
        if fmt == "json":
            for line in f:
                yield json.loads(line)
        else:
            # strict_map_key=False is not needed: keys are strings; raw=False demands UTF-8.
            yield from msgpack.Unpacker(f, raw=False)


def main():
    path, fmt, comm, port, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    evs = list(events(path, fmt))
    errors = []

    def expect(cond, msg):
        if not cond:
            errors.append(msg)

    common = ["id", "seq", "type", "host", "timestamp_ns", "time", "pid", "tid", "uid", "command", "cgroup_id",
              "cgroup", "container_id", "container_runtime", "systemd_unit"]
    for e in evs:
        missing = [k for k in common if k not in e]
        expect(not missing, f"event {e.get('seq')} lacks {missing}")
    seqs = sorted(e["seq"] for e in evs)
    expect(len(set(seqs)) == len(seqs), "duplicate seq")
    expect(len({e["id"] for e in evs}) == len(evs), "duplicate id")

    mine = [e for e in evs if e["type"] == "connection" and e["command"] == comm]
    for fam, ip in (("ipv4", "127.0.0.1"), ("ipv6", "::1")):
        tcp = [e for e in mine if e["family"] == fam and e["protocol"] == "tcp"]
        expect(len(tcp) == n, f"{fam} tcp connection events: {len(tcp)}, expected {n}")
        for e in tcp:
            expect(e["destination_ip"] == ip, f"destination_ip {e['destination_ip']}")
            expect(e["destination_port"] == port, f"destination_port {e['destination_port']}")
            expect(e["return_code"] == -111, f"return_code {e['return_code']}")
            expect(e["error"] == "ECONNREFUSED", f"error {e['error']}")
            expect(e["socket_type"] == "stream", f"socket_type {e['socket_type']}")
            expect(isinstance(e["pid"], int) and e["pid"] > 0, "pid")
        drops = [e for e in evs if e["type"] == "packet_drop" and e.get("destination_port") == port
                 and e.get("family") == fam]
        expect(len(drops) == n, f"{fam} NO_SOCKET drops to port {port}: {len(drops)}, expected {n}")
        for e in drops:
            expect(e["drop_reason"] == "NO_SOCKET", f"drop_reason {e['drop_reason']}")
            expect(e["protocol"] == "tcp", f"drop protocol {e['protocol']}")
            expect(e["destination_ip"] == ip and e["source_ip"] == ip, "drop addresses")
            expect(e["interface"] == "lo" and e["ifindex"] == 1, f"interface {e['interface']}")
            expect(e["location"].startswith("tcp_v4_rcv+" if fam == "ipv4" else "tcp_v6_rcv+"),
                   f"location {e['location']}")
            expect(isinstance(e["drop_reason_code"], int), "drop_reason_code")
            expect(e["length"] > 0, "length")
    udp = [e for e in mine if e["protocol"] == "udp"]
    expect(len(udp) == n, f"udp connection events: {len(udp)}, expected {n}")
    for e in udp:
        expect(e["return_code"] == 0 and e["socket_type"] == "dgram", "udp connect result")
        expect(e["source_port"] is not None and e["source_port"] > 0, "udp source port known")

    if errors:
        for msg in sorted(set(errors))[:20]:
            print("FAIL:", msg)
        sys.exit(1)
    print(f"ok: {len(evs)} events in {path} ({fmt}); {n}+{n}+{n} connects by {comm} all captured")


main()
