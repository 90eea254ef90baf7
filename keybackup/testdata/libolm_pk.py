#!/usr/bin/python3
"""libolm oracle for keybackup tests: reads a JSON list of operations on
stdin, runs them through Debian's python3-olm (libolm 3.2.13) and writes a
JSON list of results to stdout. Randomness is injected by replacing
olm.pk.URANDOM for one call, as the key or ephemeral key must be fixed.

Operations (hex for raw bytes, base64 as libolm prints it):
  {"op": "encrypt", "recipient": b64, "eph": hex, "plaintext": hex}
      -> {"ephemeral", "ciphertext", "mac"}
  {"op": "decrypt", "priv": hex, "ephemeral", "ciphertext", "mac"}
      -> {"public_key", "plaintext": hex} or {"error"}
  {"op": "pickle", "priv": hex, "passphrase"} -> {"public_key", "pickle"}
  {"op": "unpickle", "pickle", "passphrase"} -> {"public_key"} or {"error"}
  {"op": "sign", "seed": hex, "message": hex} -> {"public_key", "signature"}
"""
import json
import sys

import olm
import olm.pk


def with_random(data, fn):
    saved = olm.pk.URANDOM
    olm.pk.URANDOM = lambda n: data[:n]
    try:
        return fn()
    finally:
        olm.pk.URANDOM = saved


def decryption(priv_hex):
    return with_random(bytes.fromhex(priv_hex), olm.PkDecryption)


def run(op):
    kind = op["op"]
    try:
        if kind == "encrypt":
            enc = olm.PkEncryption(op["recipient"])
            m = with_random(bytes.fromhex(op["eph"]),
                            lambda: enc.encrypt(bytes.fromhex(op["plaintext"])))
            return {"ephemeral": m.ephemeral_key, "ciphertext": m.ciphertext, "mac": m.mac}
        if kind == "decrypt":
            d = decryption(op["priv"])
            msg = olm.PkMessage(op["ephemeral"], op["mac"], op["ciphertext"])
            pt = d.decrypt(msg, unicode_errors="surrogateescape")
            return {"public_key": d.public_key,
                    "plaintext": pt.encode("utf-8", "surrogateescape").hex()}
        if kind == "pickle":
            d = decryption(op["priv"])
            return {"public_key": d.public_key,
                    "pickle": d.pickle(op["passphrase"]).decode()}
        if kind == "unpickle":
            d = olm.PkDecryption.from_pickle(op["pickle"].encode(), op["passphrase"])
            return {"public_key": d.public_key}
        if kind == "sign":
            s = olm.PkSigning(bytes.fromhex(op["seed"]))
            return {"public_key": s.public_key,
                    "signature": s.sign(bytes.fromhex(op["message"]))}
    except (olm.PkDecryptionError, olm.PkEncryptionError, olm.PkSigningError) as e:
        return {"error": str(e)}
    raise ValueError("unknown op " + kind)


json.dump([run(op) for op in json.load(sys.stdin)], sys.stdout)
