#!/usr/bin/env python3
"""Independent canonical-JSON oracle for signing's tests.

Reads a JSON array of input strings on stdin and writes a JSON array of
{"in": input, "out": canonical-or-null} on stdout. The canonical form is
CPython's json module:

    json.dumps(obj, ensure_ascii=False, separators=(',', ':'), sort_keys=True)

with numbers parsed exactly (decimal.Decimal) and kept only when they are
integers in [-(2**53)+1, 2**53-1] (the spec's rule), repeated keys,
NaN/Infinity and strings that are not valid Unicode (lone surrogates)
refused. sort_keys orders str keys by code point, as the spec requires.

Regenerate canonical_corpus.golden.json with:
    python3 canonical_gen.py < canonical_corpus.json > canonical_corpus.golden.json
"""
import decimal
import json
import sys

LIMIT = 2**53 - 1


def num(s):
    d = decimal.Decimal(s)
    if not d.is_finite() or d != d.to_integral_value():
        raise ValueError("fraction")
    i = int(d)
    if abs(i) > LIMIT:
        raise ValueError("range")
    return i


def pairs(ps):
    d = {}
    for k, v in ps:
        if k in d:
            raise ValueError("repeated key")
        d[k] = v
    return d


def const(s):
    raise ValueError("constant " + s)


def canonical(s):
    try:
        obj = json.loads(s, parse_float=num, parse_int=num,
                         parse_constant=const, object_pairs_hook=pairs)
        out = json.dumps(obj, ensure_ascii=False, separators=(',', ':'),
                         sort_keys=True)
        out.encode('utf-8')  # lone surrogates fail here
        return out
    except (ValueError, UnicodeEncodeError, RecursionError):
        return None


def main():
    inputs = json.load(sys.stdin)
    res = [{"in": s, "out": canonical(s)} for s in inputs]
    json.dump(res, sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
