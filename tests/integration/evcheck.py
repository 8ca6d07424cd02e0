"""evcheck.py - what the integration tests' event checks share: expectations, lookups, the verdict.

    sys.path.insert(0, os.environ["top_srcdir"] + "/tests/integration")
    from evcheck import expect, find, finish
"""
import sys

errors = []


def expect(cond, msg):
    """Remember @msg as a failure unless @cond holds; checking goes on either way."""
    if not cond:
        errors.append(msg)


def find(events, what, **want):
    """The one event of @events whose fields have the values of @want, or None (a failure)."""
    got = [e for e in events if all(e.get(k) == v for k, v in want.items())]
    expect(len(got) == 1, f"{what}: {len(got)} events matching {want}")
    return got[0] if len(got) == 1 else None


def finish(quiet, prefix="FAIL:", unique=False):
    """Exit 1 with the first failures printed (none when @quiet: a poll that may retry), else 0."""
    if not errors:
        sys.exit(0)
    shown = sorted(set(errors)) if unique else errors
    for m in shown[:20] if not quiet else []:
        print(prefix, m)
    sys.exit(1)
