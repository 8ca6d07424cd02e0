#!/usr/bin/python3
"""siem_validate.py - every ECS and OCSF document the agent wrote, checked against the definitions.

usage: siem_validate.py DATA_DIR NATIVE.ndjson ECS_FILE ecs json|msgpack [OCSF_FILE ocsf json|msgpack ...]

DATA_DIR holds ecs-8.11-fields.json and ocsf-1.1-network-activity.json (tests/data). Each document
is checked on its own (field names, data types, allowed values and enums, required attributes and
constraints), then against the native event of the same seq: one document per native event, with
the same addresses, ports, process and type. Prints a summary per file; exit 1 on any error.
Standard library and python3-msgpack only, independent of the agent's code.
"""
import calendar
import datetime
import ipaddress
import json
import sys
import time

import msgpack


def read_docs(path, fmt):
    with open(path, "rb") as f:
        if fmt == "json":
            return [json.loads(line) for line in f]
        return list(msgpack.Unpacker(f, raw=False))


def flatten(doc, prefix=""):
    """Dotted leaf names of nested objects; arrays are leaves (ECS keyword arrays)."""
    for k, v in doc.items():
        if isinstance(v, dict):
            yield from flatten(v, prefix + k + ".")
        else:
            yield prefix + k, v


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_ip(v):
    try:
        ipaddress.ip_address(v)
        return True
    except (TypeError, ValueError):
        return False


def is_date(v):
    if not isinstance(v, str) or not v.endswith("Z"):
        return False
    try:
        # nanoseconds: Python takes microseconds, so cut the fraction to 6 digits
        head, _, frac = v[:-1].partition(".")
        datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
        return frac == "" or frac.isdigit()
    except ValueError:
        return False


ECS_TYPES = {
    "keyword": lambda v: isinstance(v, str),
    "match_only_text": lambda v: isinstance(v, str),
    "long": is_int,
    "ip": is_ip,
    "date": is_date,
}


def check_ecs(doc, defs, errors):
    fields = defs["fields"]
    custom = defs["custom_prefix"]
    flat = dict(flatten(doc))
    for name in defs["required"] + ["event.kind", "event.action", "event.outcome", "event.id",
                                    "event.dataset", "event.module", "host.name"]:
        if name not in flat:
            errors.append(f"ECS: missing {name}")
    for name, value in flat.items():
        if name.startswith(custom):
            continue
        d = fields.get(name)
        if d is None:
            errors.append(f"ECS: {name} is not an ECS {defs['version']} field (nor {custom}*)")
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and "array" not in d.get("normalize", []):
            # any ECS field may hold an array, but ours hold one value unless normalized
            errors.append(f"ECS: {name} is an array")
        if "array" in d.get("normalize", []) and not isinstance(value, list):
            errors.append(f"ECS: {name} must be an array")
        for v in values:
            if not ECS_TYPES[d["type"]](v):
                errors.append(f"ECS: {name} = {v!r} is not of type {d['type']}")
            elif "allowed" in d and v not in d["allowed"]:
                errors.append(f"ECS: {name} = {v!r} is not an allowed value")
    # categorization: the event types ECS expects with each category
    for cat in flat.get("event.category", []):
        expected = defs["expected_event_types"].get(cat)
        for t in flat.get("event.type", []):
            if expected is not None and t not in expected:
                errors.append(f"ECS: event.type {t} is not expected with category {cat}")
    if flat.get("event.kind") == "event" and "event.category" not in flat:
        errors.append("ECS: an event without event.category")


def ocsf_value_ok(v, t, defs):
    kind = defs["types"][t]
    if kind == "int":
        return is_int(v)
    if kind == "str":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "port":
        return is_int(v) and 0 <= v <= 65535
    if kind == "ip":
        return is_ip(v)
    return True


def check_ocsf_object(obj, attrs, constraints, where, defs, errors):
    if not isinstance(obj, dict):
        errors.append(f"OCSF: {where} is not an object")
        return
    for name, a in attrs.items():
        if a["requirement"] == "required" and name not in obj:
            errors.append(f"OCSF: {where}{name} is required")
    for name, value in obj.items():
        a = attrs.get(name)
        if a is None:
            errors.append(f"OCSF: {where}{name} is not an attribute here")
            continue
        values = value if a.get("is_array") else [value]
        if a.get("is_array") and not isinstance(value, list):
            errors.append(f"OCSF: {where}{name} must be an array")
            continue
        for v in values:
            t = a["type"]
            if t.startswith("object:"):
                oname = t[len("object:"):]
                if oname == "unmapped":
                    if not isinstance(v, dict):
                        errors.append(f"OCSF: {where}{name} is not an object")
                    continue
                o = defs["objects"][oname]
                check_ocsf_object(v, o["attributes"], o.get("constraints", {}),
                                  f"{where}{name}.", defs, errors)
            elif not ocsf_value_ok(v, t, defs):
                errors.append(f"OCSF: {where}{name} = {v!r} is not {t}")
            elif "enum" in a and str(v) not in a["enum"]:
                errors.append(f"OCSF: {where}{name} = {v!r} is not in its enum")
            elif "enum" in a and a.get("sibling") in obj and obj[a["sibling"]] != a["enum"][str(v)]:
                errors.append(f"OCSF: {where}{a['sibling']} = {obj[a['sibling']]!r} is not the "
                              f"caption of {name} {v} ({a['enum'][str(v)]!r})")
    for name in constraints.get("at_least_one", []):
        if name in obj:
            break
    else:
        if constraints.get("at_least_one"):
            errors.append(f"OCSF: {where or 'event: '}needs one of {constraints['at_least_one']}")


def check_ocsf(doc, defs, errors):
    classes = {c["uid"]: (n, c) for n, c in defs["classes"].items()}
    uid = doc.get("class_uid")
    if uid not in classes:
        errors.append(f"OCSF: class_uid {uid!r} is not a class here")
        return
    name, cls = classes[uid]
    attrs, constraints = {}, {}
    chain = [cls]
    while "extends" in chain[-1]:
        chain.append(defs["classes"][chain[-1]["extends"]])
    for c in reversed(chain):  # the class's own definitions override its parent's
        attrs.update(c["attributes"])
        constraints.update(c.get("constraints", {}))
    check_ocsf_object(doc, attrs, constraints, "", defs, errors)
    if doc.get("category_uid") != cls["category_uid"]:
        errors.append(f"OCSF: category_uid {doc.get('category_uid')} is not {name}'s")
    if doc.get("class_name", cls["caption"]) != cls["caption"]:
        errors.append(f"OCSF: class_name {doc.get('class_name')!r}")
    if doc.get("category_name", defs["categories"][str(cls["category_uid"])]) != \
            defs["categories"][str(cls["category_uid"])]:
        errors.append(f"OCSF: category_name {doc.get('category_name')!r}")
    if is_int(doc.get("activity_id")) and doc.get("type_uid") != uid * 100 + doc["activity_id"]:
        errors.append(f"OCSF: type_uid {doc.get('type_uid')} is not class_uid * 100 + activity_id")
    if doc.get("metadata", {}).get("version") != defs["version"]:
        errors.append(f"OCSF: metadata.version is not {defs['version']}")
    caption = attrs["activity_id"]["enum"].get(str(doc.get("activity_id")))
    if "type_name" in doc and doc["type_name"] != f"{cls['caption']}: {caption}":
        errors.append(f"OCSF: type_name {doc['type_name']!r}")


def native_of(doc, schema):
    if schema == "ecs":
        return doc.get("event", {}).get("sequence")
    return doc.get("metadata", {}).get("sequence")


def cross_check(doc, n, schema, errors):
    """The mapped document says what the native event said."""
    def same(what, got, want):
        if got != want:
            errors.append(f"{schema} seq {n['seq']}: {what} is {got!r}, native says {want!r}")

    g = (lambda *path: _get(doc, path))
    if schema == "ecs":
        same("event.dataset", g("event", "dataset"), "ebpf_netmon." + n["type"])
        same("event.id", g("event", "id"), n["id"])
        same("@timestamp", g("@timestamp"), n["time"])
        same("host.name", g("host", "name"), n["host"])
        if n["type"] != "loss":
            same("source.ip", g("source", "ip"), n.get("source_ip"))
            same("source.port", g("source", "port"), n.get("source_ip") and n.get("source_port"))
            same("destination.ip", g("destination", "ip"), n.get("destination_ip"))
            same("destination.port", g("destination", "port"),
                 n.get("destination_ip") and n.get("destination_port"))
        same("process.pid", g("process", "pid"), n.get("pid"))
        same("user.id", g("user", "id"), None if n.get("uid") is None else str(n["uid"]))
        same("ebpf_netmon.type", g("ebpf_netmon", "type"), n["type"])
    else:
        same("metadata.uid", g("metadata", "uid"), n["id"])
        same("metadata.log_name", g("metadata", "log_name"), n["type"])
        head, _, frac = n["time"][:-1].partition(".")
        ms = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac[:3])
        if g("time") != ms:
            errors.append(f"ocsf seq {n['seq']}: time {g('time')} is not {n['time']} in ms")
        if n["type"] != "loss":
            same("src_endpoint.ip", g("src_endpoint", "ip"), n.get("source_ip"))
            same("dst_endpoint.ip", g("dst_endpoint", "ip"), n.get("destination_ip"))
            same("dst_endpoint.port", g("dst_endpoint", "port"),
                 n.get("destination_ip") and n.get("destination_port"))
        same("actor.process.pid", g("actor", "process", "pid"), n.get("pid"))
        same("device.hostname", g("device", "hostname"), n["host"])
        same("unmapped.type", g("unmapped", "type"), n["type"])


def _get(doc, path):
    for k in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(k)
    return doc


def main():
    data, native_path, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    ecs_defs = json.load(open(f"{data}/ecs-8.11-fields.json"))
    ocsf_defs = json.load(open(f"{data}/ocsf-1.1-network-activity.json"))
    native = {e["seq"]: e for e in read_docs(native_path, "json")}
    failed = False
    for i in range(0, len(rest), 3):
        path, schema, fmt = rest[i:i + 3]
        docs = read_docs(path, fmt)
        errors, seen, by_type = [], set(), {}
        for d in docs:
            derr = []
            if schema == "ecs":
                check_ecs(d, ecs_defs, derr)
            else:
                check_ocsf(d, ocsf_defs, derr)
            seq = native_of(d, schema)
            if seq not in native:
                derr.append(f"{schema}: sequence {seq!r} has no native event")
            elif seq in seen:
                derr.append(f"{schema}: sequence {seq} twice")
            else:
                seen.add(seq)
                cross_check(d, native[seq], schema, derr)
                t = native[seq]["type"]
                by_type[t] = by_type.get(t, 0) + 1
            if derr and len(errors) < 40:
                errors += derr + ["  in " + json.dumps(d)[:600]]
        missing = set(native) - seen
        if missing:
            errors.append(f"{schema}: {len(missing)} native events have no document, e.g. "
                          f"{sorted(missing)[:5]}")
        print(f"{path}: {len(docs)} {schema} documents ({fmt}) checked: "
              + ", ".join(f"{t} {n}" for t, n in sorted(by_type.items())))
        for e in errors:
            print("  " + e)
        failed |= bool(errors)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
