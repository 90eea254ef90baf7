#!/usr/bin/env python3
"""Independent signed-JSON oracle for signing's tests: CPython's json module
for canonical JSON (as canonical_gen.py) and libolm's Ed25519 (Debian
python3-olm 3.2.13) for signatures, following spec appendices
"Signing JSON".

Input (stdin): {"verify": [{"json": obj, "user": u, "key_id": k, "key": pub}],
                "sign": [{"json": obj, "user": u, "device": d}]}
Output: {"verify": [true|"error"], "sign": [{"json": signed, "key": ed25519}]}
"verify" checks sicher's signatures; "sign" signs with a new libolm account
(whose Ed25519 key is returned and is also written into keys["ed25519:<d>"]
before signing) for sicher to verify.
"""
import json
import sys

import olm


def canonical(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(',', ':'), sort_keys=True)


def signing_bytes(obj):
    rest = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return canonical(rest)


def main():
    inp = json.load(sys.stdin)
    out = {"verify": [], "sign": []}
    for v in inp.get("verify", []):
        try:
            sig = v["json"]["signatures"][v["user"]][v["key_id"]]
            olm.ed25519_verify(v["key"], signing_bytes(v["json"]), sig)
            out["verify"].append(True)
        except Exception as e:  # noqa: BLE001 - report any failure
            out["verify"].append("error: %s" % e)
    for s in inp.get("sign", []):
        acct = olm.Account()
        ed = acct.identity_keys["ed25519"]
        obj = s["json"]
        obj.setdefault("keys", {})["ed25519:" + s["device"]] = ed
        sig = acct.sign(signing_bytes(obj))
        obj.setdefault("signatures", {}).setdefault(s["user"], {})["ed25519:" + s["device"]] = sig
        out["sign"].append({"json": obj, "key": ed})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
