#!/usr/bin/python3
"""Regenerates the digest in TestLibolmTranscript (olm/transcript_test.go).

Tests-only cross-check, not part of the library: runs a long Olm
conversation through libolm 3.2.13 (Debian python3-olm / libolm-dev, via the
cffi module _libolm) with libolm's MockRandom generators (tests/test_olm.cpp)
and prints SHA-256 over every message (type byte ‖ body bytes), in send
order. The Go test runs the same schedule through sicher and must print the
same digest. Run it with the system Python: /usr/bin/python3 libolm_transcript.py
"""
import base64
import hashlib
import json

from _libolm import ffi, lib


class MockRandom:
    def __init__(self, tag, offset):
        self.tag, self.current = tag, offset

    def __call__(self, n):
        out = bytearray()
        while n > 0:
            k = min(32, n)
            out += bytes([self.tag]) + bytes([self.current]) * (k - 1)
            self.current = (self.current + 1) & 0xFF
            n -= k
        return bytes(out)


def check(r, obj, err):
    if r == lib.olm_error():
        raise RuntimeError(ffi.string(err(obj)).decode())
    return r


_keep = []  # the memory behind libolm objects must outlive them


def new_account(rand):
    mem = ffi.new("uint8_t[]", lib.olm_account_size())
    _keep.append(mem)
    acc = lib.olm_account(mem)
    n = lib.olm_create_account_random_length(acc)
    check(lib.olm_create_account(acc, ffi.from_buffer(rand(n)), n), acc, lib.olm_account_last_error)
    return acc


def new_session():
    mem = ffi.new("uint8_t[]", lib.olm_session_size())
    _keep.append(mem)
    return lib.olm_session(mem)


def encrypt(s, rand, pt):
    t = lib.olm_encrypt_message_type(s)
    rl = lib.olm_encrypt_random_length(s)
    r = rand(rl) if rl else b""
    ml = lib.olm_encrypt_message_length(s, len(pt))
    out = ffi.new("uint8_t[]", ml)
    check(lib.olm_encrypt(s, pt, len(pt), ffi.from_buffer(r) if rl else ffi.NULL, rl, out, ml), s, lib.olm_session_last_error)
    return t, bytes(ffi.buffer(out, ml))


def decrypt(s, t, body):
    buf = ffi.new("uint8_t[]", body)
    ml = check(lib.olm_decrypt_max_plaintext_length(s, t, buf, len(body)), s, lib.olm_session_last_error)
    buf = ffi.new("uint8_t[]", body)
    out = ffi.new("uint8_t[]", ml)
    n = check(lib.olm_decrypt(s, t, buf, len(body), out, ml), s, lib.olm_session_last_error)
    return bytes(ffi.buffer(out, n))


def plaintext(r, i):
    return (b"round %d message %d " % (r, i)) * (r % 4 + 1)


def main():
    ra, rb = MockRandom(ord("A"), 0), MockRandom(ord("B"), 0x80)
    a, b = new_account(ra), new_account(rb)
    n = lib.olm_account_generate_one_time_keys_random_length(b, 1)
    check(lib.olm_account_generate_one_time_keys(b, 1, ffi.from_buffer(rb(n)), n), b, lib.olm_account_last_error)
    buf = ffi.new("uint8_t[]", lib.olm_account_one_time_keys_length(b))
    l = lib.olm_account_one_time_keys(b, buf, len(buf))
    otk = list(json.loads(bytes(ffi.buffer(buf, l)))["curve25519"].values())[0].encode()
    buf = ffi.new("uint8_t[]", lib.olm_account_identity_keys_length(b))
    l = lib.olm_account_identity_keys(b, buf, len(buf))
    bcurve = json.loads(bytes(ffi.buffer(buf, l)))["curve25519"].encode()

    sa = new_session()
    rl = lib.olm_create_outbound_session_random_length(sa)
    check(lib.olm_create_outbound_session(sa, a, bcurve, len(bcurve), otk, len(otk), ffi.from_buffer(ra(rl)), rl), sa, lib.olm_session_last_error)
    sb = None

    h = hashlib.sha256()
    count = 0
    for r in range(400):
        alice_sends = r % 2 == 0
        k = (r * 7) % 13 + 1
        sender, receiver, rand = (sa, "b", ra) if alice_sends else (sb, "a", rb)
        msgs = []
        for i in range(k):
            t, body = encrypt(sender, rand, plaintext(r, i))
            # libolm's API speaks unpadded base64; hash the raw message bytes.
            h.update(bytes([t]) + base64.b64decode(body + b"=" * (-len(body) % 4)))
            msgs.append((i, t, body))
            count += 1
        order = msgs if r % 3 != 0 or r == 0 else list(reversed(msgs))
        for i, t, body in order:
            if sb is None:
                sb = new_session()
                buf = ffi.new("uint8_t[]", body)
                check(lib.olm_create_inbound_session(sb, b, buf, len(body)), sb, lib.olm_session_last_error)
            target = sb if alice_sends else sa
            pt = decrypt(target, t, body)
            assert pt == plaintext(r, i), (r, i)
    print(count, h.hexdigest())


main()
