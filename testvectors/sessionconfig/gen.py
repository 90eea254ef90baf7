#!/usr/bin/env python3
"""Generates sessionconfig/v2.json: Olm and Megolm messages of vodozemac's
experimental "session config v2" (cargo feature experimental-session-config).

An implementation written for this corpus from the public descriptions, not
from sicher's Go code: olm.md and megolm.md (the Olm and Megolm
specifications in the matrix-org/olm repository), the Matrix
specification's m.olm.v1.curve25519-aes-sha2 and m.megolm.v1.aes-sha2
sections, and what vodozemac changes for v2 (src/olm/session_config.rs,
src/olm/messages/message.rs, src/megolm/message.rs, src/cipher/mod.rs):
the normal Olm message and the Megolm message carry version byte 4 instead
of 3 and end with the whole 32-byte HMAC-SHA-256 instead of its first 8
bytes; the pre-key message around an Olm message keeps version 3; keys,
ratchets, ciphertexts and (Megolm) the signature over everything before it
are v1's.

Every random input is derived from a fixed label with SHA-256, and recorded,
so an implementation that reads its randomness from a caller-supplied source
(libolm's order: Ed25519 seed then Curve25519 key for an account, 32 bytes
per one-time key, base key then ratchet key for an outbound Olm session, 32
bytes per new ratchet key, 128 ratchet bytes then the Ed25519 seed for a
Megolm session) reproduces every message byte for byte.

Run: python3 gen.py > v2.json  (needs python3-cryptography)
"""
import base64, hashlib, hmac, json
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import serialization

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
SOURCE = "derived by testvectors/sessionconfig/gen.py: an independent Python implementation of olm.md/megolm.md with vodozemac's session config v2 changes (version byte 4, untruncated MAC)"


def rnd(label, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"sicher session config v2 {label} {i}".encode()).digest()
        i += 1
    return out[:n]


def b64(b):
    return base64.b64encode(b).decode().rstrip("=")


def hkdf(ikm, salt, info, n):
    prk = hmac.new(salt if salt else bytes(32), ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def hmac256(k, m):
    return hmac.new(k, m, hashlib.sha256).digest()


def x25519_pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(*RAW)


def x25519(priv, pub):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(pub))


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def aes_sha2(secret, info, plaintext):
    k = hkdf(secret, None, info, 80)
    aes_key, mac_key, iv = k[:32], k[32:64], k[64:]
    pad = 16 - len(plaintext) % 16
    enc = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    return enc.update(plaintext + bytes([pad]) * pad) + enc.finalize(), mac_key


# ------------------------------------------------------------------ Olm

class Chain:
    def __init__(self, key):
        self.key, self.index = key, 0

    def next_message_key(self):
        mk = hmac256(self.key, b"\x01")
        idx = self.index
        self.key = hmac256(self.key, b"\x02")
        self.index += 1
        return mk, idx


def olm_normal_message(version, ratchet_pub, index, mk, plaintext):
    ct, mac_key = aes_sha2(mk, b"OLM_KEYS", plaintext)
    body = (bytes([version]) + b"\x0a\x20" + ratchet_pub + b"\x10" + varint(index)
            + b"\x22" + varint(len(ct)) + ct)
    mac = hmac256(mac_key, body)
    return body + (mac if version == 4 else mac[:8])


def olm_prekey(otk, base, identity, inner):
    return (b"\x03" + b"\x0a\x20" + otk + b"\x12\x20" + base + b"\x1a\x20" + identity
            + b"\x22" + varint(len(inner)) + inner)


def olm_vector(name, version):
    alice_rand, bob_rand = rnd(name + " alice account", 64), rnd(name + " bob account", 64)
    otk_rand, session_rand = rnd(name + " bob one-time key", 32), rnd(name + " alice session", 64)
    ia, ib, eb = alice_rand[32:], bob_rand[32:], otk_rand
    ea, t0 = session_rand[:32], session_rand[32:]
    IA, IB, EB, EA, T0 = (x25519_pub(k) for k in (ia, ib, eb, ea, t0))
    # 3DH (olm.md "Initial setup"), then R0 ‖ C0,0 = HKDF(0, S, "OLM_ROOT").
    s = x25519(ia, EB) + x25519(ea, IB) + x25519(ea, EB)
    rk = hkdf(s, None, b"OLM_ROOT", 64)
    root, alice_chain = rk[:32], Chain(rk[32:])
    msgs = []
    # Alice's first three messages: pre-key messages on chain T0.
    for i, pt in enumerate([b"first v2 message", b"second", b"a third message, longer than one AES block"]):
        mk, idx = alice_chain.next_message_key()
        inner = olm_normal_message(version, T0, idx, mk, pt)
        msgs.append({"from": "alice", "type": 0, "body": b64(olm_prekey(EB, EA, IA, inner)),
                     "plaintext": pt.hex()})
    # Bob replies on a new chain T1 ("Advancing the root key").
    t1 = rnd(name + " bob ratchet 1", 32)
    T1 = x25519_pub(t1)
    rk = hkdf(x25519(t1, T0), root, b"OLM_RATCHET", 64)
    root, bob_chain = rk[:32], Chain(rk[32:])
    for pt in [b"reply from bob", b"second reply"]:
        mk, idx = bob_chain.next_message_key()
        msgs.append({"from": "bob", "type": 1, "random": t1.hex() if idx == 0 else None,
                     "body": b64(olm_normal_message(version, T1, idx, mk, pt)), "plaintext": pt.hex()})
    # Alice answers on a new chain T2: now a normal message.
    t2 = rnd(name + " alice ratchet 2", 32)
    T2 = x25519_pub(t2)
    rk = hkdf(x25519(t2, T1), root, b"OLM_RATCHET", 64)
    root, alice_chain = rk[:32], Chain(rk[32:])
    mk, idx = alice_chain.next_message_key()
    pt = b"alice again, after the reply"
    msgs.append({"from": "alice", "type": 1, "random": t2.hex(),
                 "body": b64(olm_normal_message(version, T2, idx, mk, pt)), "plaintext": pt.hex()})
    for m in msgs:
        if m.get("random") is None:
            m.pop("random", None)
    return {"name": name, "source": SOURCE, "expect": "ok", "protocol": "olm",
            "session_config": 2 if version == 4 else 1,
            "alice_account_random": alice_rand.hex(), "bob_account_random": bob_rand.hex(),
            "bob_one_time_key_random": otk_rand.hex(), "alice_session_random": session_rand.hex(),
            "alice_identity_key": b64(IA), "bob_identity_key": b64(IB), "bob_one_time_key": b64(EB),
            "messages": msgs}


# ------------------------------------------------------------------ Megolm

def megolm_advance(parts, counter):
    # megolm.md "Advancing the ratchet": R(h..3) from R(h), h the highest
    # part whose counter bits roll over.
    counter += 1
    h, mask = 0, 0x00FFFFFF
    while h < 4 and counter & mask:
        h += 1
        mask >>= 8
    for i in range(3, h - 1, -1):
        parts[i] = hmac256(parts[h], bytes([i]))
    return counter


def megolm_vector(name, version):
    rand = rnd(name + " outbound", 160)
    parts = [rand[32 * i:32 * i + 32] for i in range(4)]
    seed = rand[128:]
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    pub = sk.public_key().public_bytes(*RAW)
    counter = 0
    body = b"\x02" + counter.to_bytes(4, "big") + b"".join(parts) + pub
    session_key = body + sk.sign(body)
    msgs = []
    for pt in [b"first v2 group message", b"second", b"a third group message, longer than one block"]:
        ct, mac_key = aes_sha2(b"".join(parts), b"MEGOLM_KEYS", pt)
        m = bytes([version]) + b"\x08" + varint(counter) + b"\x12" + varint(len(ct)) + ct
        mac = hmac256(mac_key, m)
        m += mac if version == 4 else mac[:8]
        m += sk.sign(m)
        msgs.append({"index": counter, "body": b64(m), "plaintext": pt.hex()})
        counter = megolm_advance(parts, counter)
    return {"name": name, "source": SOURCE, "expect": "ok", "protocol": "megolm",
            "session_config": 2 if version == 4 else 1,
            "outbound_random": rand.hex(), "session_id": b64(pub), "session_key": b64(session_key),
            "messages": msgs}


if __name__ == "__main__":
    doc = {
        "format": "sicher-testvectors/session-config-v2",
        "description": "Olm and Megolm conversations in vodozemac's experimental session config v2 "
                       "(message version 4, untruncated 32-byte MACs), with a v1 control of each built "
                       "by the same code. A v1-only implementation must refuse every v2 message; one "
                       "with v2 enabled decrypts them and, given the recorded randomness, re-encrypts "
                       "them byte for byte.",
        "generator": "cd testvectors/sessionconfig && python3 gen.py > v2.json",
        "vectors": [olm_vector("olm v2", 4), olm_vector("olm v1 control", 3),
                    megolm_vector("megolm v2", 4), megolm_vector("megolm v1 control", 3)],
    }
    print(json.dumps(doc, indent=1))
