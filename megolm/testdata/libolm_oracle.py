#!/usr/bin/python3
# Test tooling, not part of the library: regenerates the libolm-derived
# vectors in this directory through Debian's libolm 3.2.13 (the raw C API of
# python3-olm's _libolm CFFI module) and checks the upstream vectors against
# it. The library never runs this; `go test` reads the JSON it wrote.
#
#   apt-get install python3-olm python3-cryptography
#   /usr/bin/python3 megolm/testdata/libolm_oracle.py
#
# Writes libolm_interop.json, libolm_accumulated.json and
# libolm_ratchet_checks.json next to itself, and verifies (and marks
# verified) sicher_transcript.json, which the Go test TestSicherTranscript
# writes when run with SICHER_WRITE_TRANSCRIPT=1.

import base64
import hashlib
import json
import os
import struct

from _libolm import ffi, lib
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "Debian libolm 3.2.13 (libolm3 3.2.13~dfsg-1) via python3-olm _libolm, megolm/testdata/libolm_oracle.py"


def b64(b):
    return base64.b64encode(bytes(b)).decode().rstrip("=")


def unb64(s):
    return base64.b64decode(s + "=" * (-len(s) % 4))


class OlmError(Exception):
    pass


class Inbound:
    def __init__(self):
        self._buf = ffi.new("char[]", lib.olm_inbound_group_session_size())
        self.s = lib.olm_inbound_group_session(self._buf)

    def _check(self, ret):
        if ret == lib.olm_error():
            raise OlmError(ffi.string(lib.olm_inbound_group_session_last_error(self.s)).decode())
        return ret

    @classmethod
    def new(cls, session_key):
        s = cls()
        k = session_key.encode()
        s._check(lib.olm_init_inbound_group_session(s.s, ffi.from_buffer(bytearray(k)), len(k)))
        return s

    @classmethod
    def imported(cls, exported_key):
        s = cls()
        k = exported_key.encode()
        s._check(lib.olm_import_inbound_group_session(s.s, ffi.from_buffer(bytearray(k)), len(k)))
        return s

    def export(self, index):
        n = lib.olm_export_inbound_group_session_length(self.s)
        out = ffi.new("uint8_t[]", n)
        self._check(lib.olm_export_inbound_group_session(self.s, out, n, index))
        return bytes(ffi.buffer(out, n)).decode()

    def decrypt(self, message):
        m = bytearray(message.encode())
        n = self._check(lib.olm_group_decrypt_max_plaintext_length(self.s, ffi.from_buffer(m), len(m)))
        m = bytearray(message.encode())
        out = ffi.new("uint8_t[]", n)
        idx = ffi.new("uint32_t*")
        got = self._check(lib.olm_group_decrypt(self.s, ffi.from_buffer(m), len(m), out, n, idx))
        return bytes(ffi.buffer(out, got)), idx[0]

    @classmethod
    def unpickle(cls, key, pickle):
        s = cls()
        p = bytearray(pickle.encode())
        s._check(lib.olm_unpickle_inbound_group_session(s.s, key, len(key), ffi.from_buffer(p), len(p)))
        return s

    def first_known_index(self):
        return lib.olm_inbound_group_session_first_known_index(self.s)

    def is_verified(self):
        return lib.olm_inbound_group_session_is_verified(self.s)

    def session_id(self):
        n = lib.olm_inbound_group_session_id_length(self.s)
        out = ffi.new("uint8_t[]", n)
        self._check(lib.olm_inbound_group_session_id(self.s, out, n))
        return bytes(ffi.buffer(out, n)).decode()


class Outbound:
    def __init__(self):
        self._buf = ffi.new("char[]", lib.olm_outbound_group_session_size())
        self.s = lib.olm_outbound_group_session(self._buf)

    def _check(self, ret):
        if ret == lib.olm_error():
            raise OlmError(ffi.string(lib.olm_outbound_group_session_last_error(self.s)).decode())
        return ret

    @classmethod
    def new(cls, random):
        s = cls()
        assert lib.olm_init_outbound_group_session_random_length(s.s) == len(random) == 160
        s._check(lib.olm_init_outbound_group_session(s.s, ffi.from_buffer(bytearray(random)), len(random)))
        return s

    def pickle(self, key):
        n = lib.olm_pickle_outbound_group_session_length(self.s)
        out = ffi.new("uint8_t[]", n)
        self._check(lib.olm_pickle_outbound_group_session(self.s, key, len(key), out, n))
        return bytes(ffi.buffer(out, n)).decode()

    @classmethod
    def unpickle(cls, key, pickle):
        s = cls()
        p = bytearray(pickle.encode())
        s._check(lib.olm_unpickle_outbound_group_session(s.s, key, len(key), ffi.from_buffer(p), len(p)))
        return s

    def session_key(self):
        n = lib.olm_outbound_group_session_key_length(self.s)
        out = ffi.new("uint8_t[]", n)
        self._check(lib.olm_outbound_group_session_key(self.s, out, n))
        return bytes(ffi.buffer(out, n)).decode()

    def session_id(self):
        n = lib.olm_outbound_group_session_id_length(self.s)
        out = ffi.new("uint8_t[]", n)
        self._check(lib.olm_outbound_group_session_id(self.s, out, n))
        return bytes(ffi.buffer(out, n)).decode()

    def message_index(self):
        return lib.olm_outbound_group_session_message_index(self.s)

    def encrypt(self, plaintext):
        n = lib.olm_group_encrypt_message_length(self.s, len(plaintext))
        out = ffi.new("uint8_t[]", n)
        pt = ffi.from_buffer(bytearray(plaintext)) if plaintext else ffi.NULL
        self._check(lib.olm_group_encrypt(self.s, pt, len(plaintext), out, n))
        return bytes(ffi.buffer(out, n)).decode()


# libolm's pickle envelope, used only to set an outbound session's ratchet
# and counter to chosen values (libolm has no other way to start a session
# at a given index).
def _pickle_keys(key):
    k = HKDF(algorithm=hashes.SHA256(), length=80, salt=None, info=b"Pickle").derive(key)
    return k[:32], k[32:64], k[64:]


def pickle_open(key, text):
    aes, mac, iv = _pickle_keys(key)
    raw = unb64(text)
    ct, tag = raw[:-8], raw[-8:]
    h = hmac.HMAC(mac, hashes.SHA256())
    h.update(ct)
    assert h.finalize()[:8] == tag
    d = Cipher(algorithms.AES(aes), modes.CBC(iv)).decryptor()
    pt = d.update(ct) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    return u.update(pt) + u.finalize()


def pickle_seal(key, pt):
    aes, mac, iv = _pickle_keys(key)
    p = padding.PKCS7(128).padder()
    pt = p.update(pt) + p.finalize()
    e = Cipher(algorithms.AES(aes), modes.CBC(iv)).encryptor()
    ct = e.update(pt) + e.finalize()
    h = hmac.HMAC(mac, hashes.SHA256())
    h.update(ct)
    return b64(ct + h.finalize()[:8])


def outbound_at(random, ratchet, counter):
    """A libolm outbound session whose signing key comes from random[128:]
    (libolm's own init) and whose ratchet is `ratchet` at `counter`."""
    o = Outbound.new(random)
    pt = bytearray(pickle_open(b"", o.pickle(b"")))
    # v1 layout: u32 version, ratchet 128, u32 counter, Ed25519 pub 32, expanded priv 64
    assert struct.unpack(">I", pt[:4])[0] == 1 and len(pt) == 4 + 128 + 4 + 32 + 64
    pt[4:132] = ratchet
    pt[132:136] = struct.pack(">I", counter)
    return Outbound.unpickle(b"", pickle_seal(b"", bytes(pt)))


def export_key(ratchet, counter, pub=bytes(32)):
    return b64(bytes([1]) + struct.pack(">I", counter) + ratchet + pub)


def ratchet_of(exported):
    raw = unb64(exported)
    assert raw[0] == 1 and len(raw) == 165
    return raw[5:133], struct.unpack(">I", raw[1:5])[0]


def advance_to(ratchet, counter, target):
    """libolm's megolm_advance_to, reached through export: import the
    ratchet at counter, export at target (>= counter)."""
    return ratchet_of(Inbound.imported(export_key(ratchet, counter)).export(target))


def check_upstream():
    """Replays the upstream vectors (transcribed in the JSON files of this
    directory) through libolm, so a transcription error cannot hide."""
    with open(os.path.join(HERE, "ratchet_vectors.json")) as f:
        rv = json.load(f)
    for v in rv["advance_to"]:
        seed = bytes.fromhex(v["initial"])
        got, c = advance_to(seed, v["from"], v["to"])
        assert c == v["to"] and got.hex() == v["expected"], v["name"]
    with open(os.path.join(HERE, "session_vectors.json")) as f:
        sv = json.load(f)
    for v in sv["vectors"]:
        s = Inbound.new(v["session_key"])
        # Values upstream does not state (null in the transcription) are
        # filled in from libolm and listed in "from_libolm".
        filled = v.setdefault("from_libolm", [])
        if v["session_id"] is None or "session_id" in filled:
            v["session_id"] = s.session_id()
            filled.append("session_id")
        assert s.session_id() == v["session_id"]
        assert s.first_known_index() == v["first_known_index"]
        pt, idx = s.decrypt(v["message"])
        assert idx == v["message_index"], v["name"]
        if v["plaintext_hex"] is None or "plaintext_hex" in filled:
            v["plaintext_hex"] = pt.hex()
            filled.append("plaintext_hex")
        assert pt.hex() == v["plaintext_hex"], (v["name"], pt)
        v["from_libolm"] = sorted(set(filled))
        if v.get("bad_message"):
            try:
                s.decrypt(v["bad_message"])
                raise AssertionError("tampered message decrypted")
            except OlmError as e:
                assert str(e) == v["bad_message_error"], e
    write("session_vectors.json", sv)
    print("upstream vectors: ok")


def ratchet_checks():
    """Facts about libolm's ratchet that the Go tests pin: the vodozemac
    wrap-around vector through libolm's own megolm_advance (an outbound
    session at counter 0xffffffff whose R0 was hashed 255 times from zero
    wraps to 0 with R0 hashed once more, which is what advance() then
    advance_to(0) gives from the all-zero ratchet at 0)."""
    r0 = bytes(32)
    for _ in range(255):
        r0 = hashlib_hmac(r0, 0)
    o = outbound_at(bytes(160), r0 + bytes(96), 0xFFFFFFFF)
    o.encrypt(b"x")
    assert o.message_index() == 0
    raw = unb64(o.session_key())
    wrapped = raw[5:133]
    return {
        "source": SOURCE,
        "vodozemac_wraparound": {
            "description": "all-zero ratchet at 0, advance(), advance_to(0): vodozemac src/megolm/ratchet.rs "
            "advancing_back_creates_the_correct_bytes; full bytes from libolm's megolm_advance over the wrap "
            "(outbound session at 0xffffffff with R0 = H0^255(0), one encrypt, session key at index 0)",
            "expected": wrapped.hex(),
        },
    }


def hashlib_hmac(key, j):
    import hmac as std_hmac

    return std_hmac.new(key, bytes([j]), hashlib.sha256).digest()


INTEROP_INDICES = [0, 1, 255, 256, 65535, 65536, 1 << 24, (1 << 32) - 1]


def interop():
    out = []
    for n in INTEROP_INDICES:
        random = hashlib.shake_128(b"sicher megolm interop %d" % n).digest(160)
        o = outbound_at(random, random[:128], n)
        session_key = o.session_key()
        plaintexts = [b"interop at index %d" % n, b"", bytes(range(256))[:17], b"second"]
        messages = []
        for pt in plaintexts:
            idx = o.message_index()
            messages.append({"index": idx, "plaintext_hex": pt.hex(), "message": o.encrypt(pt)})
        # libolm's inbound side: decrypt what it sent, export at the first
        # known index and one further.
        i = Inbound.new(session_key)
        for m in messages:
            if m["index"] < n:  # wrapped past 2^32-1; the Go side refuses it
                continue
            pt, idx = i.decrypt(m["message"])
            assert idx == m["index"] and pt.hex() == m["plaintext_hex"]
        exports = {str(n): i.export(n)}
        if n < (1 << 32) - 1:
            exports[str(n + 1)] = i.export(n + 1)
        out.append(
            {
                "index": n,
                "random_hex": random.hex(),
                "session_id": o.session_id(),
                "session_key": session_key,
                "messages": messages,
                "exports": exports,
                "outbound_pickle_key": "",
                "outbound_pickle": outbound_at(random, random[:128], n).pickle(b""),
                "inbound_pickle_key": "secret_key",
                "inbound_pickle": inbound_pickle(i, b"secret_key"),
                "next_index_after": o.message_index(),
            }
        )
    return {
        "source": SOURCE,
        "description": "for each index N: a libolm outbound session from random_hex (ratchet bytes random[:128] "
        "placed at counter N through a libolm pickle, Ed25519 seed random[128:]), its session key, four "
        "messages in order (the last ones wrap to 0 at N = 2^32-1), the libolm inbound session's exports, "
        "and libolm pickles of both sessions after the messages",
        "vectors": out,
    }


def inbound_pickle(i, key):
    n = lib.olm_pickle_inbound_group_session_length(i.s)
    buf = ffi.new("uint8_t[]", n)
    i._check(lib.olm_pickle_inbound_group_session(i.s, key, len(key), buf, n))
    return bytes(ffi.buffer(buf, n)).decode()


ACC_LABEL = b"sicher megolm accumulated v1"
ACC_SEEDS = 1024
ACC_STEPS = 3


def accumulated():
    """Walks ACC_SEEDS ratchets through ACC_STEPS advance_to calls each.
    Inputs come from SHAKE-128(ACC_LABEL): per seed 128 ratchet bytes and a
    u32 start (little-endian), then per step a u32 r (little-endian); the
    distance d is r masked to 8, 16, 24 or 31 bits by (seed number mod 4)
    and reduced modulo the room left below 2^32: to = from + d mod
    (2^32 - from). (31 bits because libolm's export refuses distances of
    2^31 or more: it compares indices modulo 2^32.)
    The digest is SHA-256 over every reached ratchet (128 bytes) followed by
    its counter (u32 big-endian)."""
    need = ACC_SEEDS * (128 + 4 + 4 * ACC_STEPS)
    stream = hashlib.shake_128(ACC_LABEL).digest(need)
    pos = 0
    h = hashlib.sha256()
    masks = [0xFF, 0xFFFF, 0xFFFFFF, 0x7FFFFFFF]
    for s in range(ACC_SEEDS):
        ratchet = stream[pos : pos + 128]
        pos += 128
        counter = struct.unpack("<I", stream[pos : pos + 4])[0]
        pos += 4
        for _ in range(ACC_STEPS):
            r = struct.unpack("<I", stream[pos : pos + 4])[0]
            pos += 4
            d = (r & masks[s % 4]) % ((1 << 32) - counter)
            ratchet, counter = advance_to(ratchet, counter, counter + d)
            h.update(ratchet + struct.pack(">I", counter))
    return {
        "source": SOURCE,
        "description": accumulated.__doc__.strip(),
        "label": ACC_LABEL.decode(),
        "seeds": ACC_SEEDS,
        "steps": ACC_STEPS,
        "sha256": h.hexdigest(),
    }


def verify_sicher():
    """The sicher -> libolm direction with sicher's own randomness: feeds
    sicher_transcript.json (written by the Go test TestSicherTranscript with
    SICHER_WRITE_TRANSCRIPT=1) to libolm and marks it verified."""
    p = os.path.join(HERE, "sicher_transcript.json")
    if not os.path.exists(p):
        print("no sicher_transcript.json: skipped")
        return
    with open(p) as f:
        tr = json.load(f)
    key = b"sicher pickle key"
    for v in tr["vectors"]:
        n = v["index"]
        i = Inbound.new(v["session_key"])
        assert i.first_known_index() == n and i.is_verified() == 1
        for m in v["messages"]:
            # libolm also takes the messages that wrapped past 2^32-1.
            pt, idx = i.decrypt(m["message"])
            assert idx == m["index"] and pt.hex() == m["plaintext_hex"], (n, m["index"])
        for at, e in v["exports"].items():
            s = Inbound.imported(e)
            assert s.first_known_index() == int(at)
            assert Inbound.new(v["session_key"]).export(int(at)) == e, (n, at)
        o = Outbound.unpickle(key, v["outbound_pickle"])
        nm = v["next_message"]
        assert o.message_index() == nm["index"]
        assert o.encrypt(bytes.fromhex(nm["plaintext_hex"])) == nm["message"], n
        ib = Inbound.unpickle(key, v["inbound_pickle"])
        assert ib.first_known_index() == n
        pt, idx = ib.decrypt(nm["message"])
        assert idx == nm["index"] and pt.hex() == nm["plaintext_hex"]
    tr["libolm_verified"] = (
        SOURCE + ": every message (the wrapped ones included) decrypted, every export equal to libolm's own "
        "and imported, both libolm-format pickles loaded, the outbound one continuing with sicher's next_message"
    )
    write("sicher_transcript.json", tr)
    print("sicher transcript: verified by libolm")


def write(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    check_upstream()
    write("libolm_ratchet_checks.json", ratchet_checks())
    write("libolm_interop.json", interop())
    write("libolm_accumulated.json", accumulated())
    verify_sicher()
    print("wrote libolm_*.json")
