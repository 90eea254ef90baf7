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

Input {"cross": [user, ...]} instead builds cross-signing keys with libolm's
PkSigning (see cross()).
"""
import json
import sys

import olm


def canonical(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(',', ':'), sort_keys=True)


def signing_bytes(obj):
    rest = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return canonical(rest)


def sign_obj(obj, user, key_name, sign):
    sig = sign(signing_bytes(obj))
    obj.setdefault("signatures", {}).setdefault(user, {})["ed25519:" + key_name] = sig
    return obj


def cross_signing_key(user, usage, pub):
    return {"user_id": user, "usage": [usage], "keys": {"ed25519:" + pub: pub}}


def cross(users):
    """Cross-signing keys for each user (libolm PkSigning), a device per user
    signed by its libolm account and by the user's self-signing key, and
    each user's master key signed by the first user's user-signing key."""
    out = {}
    first_usk = None
    for user in users:
        msk, ssk, usk = (olm.PkSigning(olm.PkSigning.generate_seed()) for _ in range(3))
        keys = {u: cross_signing_key(user, u, k.public_key)
                for u, k in (("master", msk), ("self_signing", ssk), ("user_signing", usk))}
        sign_obj(keys["self_signing"], user, msk.public_key, msk.sign)
        sign_obj(keys["user_signing"], user, msk.public_key, msk.sign)
        acct = olm.Account()
        ids = acct.identity_keys
        dev = {"user_id": user, "device_id": "DEV", "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
               "keys": {"curve25519:DEV": ids["curve25519"], "ed25519:DEV": ids["ed25519"]}}
        sign_obj(dev, user, "DEV", acct.sign)
        sign_obj(dev, user, ssk.public_key, ssk.sign)
        dev["unsigned"] = {"device_display_name": "libolm device"}
        if first_usk is None:
            first_usk = (user, usk)
        else:
            sign_obj(keys["master"], first_usk[0], first_usk[1].public_key, first_usk[1].sign)
        keys["device"] = dev
        out[user] = keys
    return out


def main():
    inp = json.load(sys.stdin)
    if "cross" in inp:
        json.dump(cross(inp["cross"]), sys.stdout, ensure_ascii=False)
        return
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
