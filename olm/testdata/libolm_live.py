#!/usr/bin/python3
"""Live cross-test partner for TestLibolmLive (olm/libolm_live_test.go).

Tests-only: drives Debian's libolm 3.2.13 through python3-olm. Reads one
JSON request on stdin and writes one JSON response on stdout. Not part of
the library and never a Go dependency.

step "start": unpickle Bob's sicher-made account (libolm format), report
  its identity keys and one-time keys, then create a libolm account for
  Alice, start a session to Bob's first one-time key, encrypt a message
  and return it with Alice's libolm session and account pickles.
step "finish": unpickle Bob's sicher-made session (libolm format), decrypt
  Alice's message with it, and decrypt Bob's reply with Alice's original
  libolm session.
"""
import json
import sys

import olm


def main():
    req = json.load(sys.stdin)
    pw = req["passphrase"]
    if req["step"] == "start":
        bob = olm.Account.from_pickle(req["bob_account"].encode(), pw)
        otks = bob.one_time_keys["curve25519"]
        alice = olm.Account()
        first = sorted(otks)[0]
        s = olm.OutboundSession(alice, bob.identity_keys["curve25519"], otks[first])
        m = s.encrypt(req["plaintext"])
        out = {
            "bob_identity_keys": bob.identity_keys,
            "bob_one_time_keys": otks,
            "bob_signature": bob.sign("signed by libolm"),
            "alice_curve25519": alice.identity_keys["curve25519"],
            "message": {"type": m.message_type, "body": m.ciphertext},
            "alice_session": s.pickle(pw).decode(),
            "alice_account": alice.pickle(pw).decode(),
        }
    else:
        bob_s = olm.Session.from_pickle(req["bob_session"].encode(), pw)
        alice_s = olm.Session.from_pickle(req["alice_session"].encode(), pw)
        to_bob, to_alice = req["to_bob"], req["to_alice"]
        cls = {0: olm.OlmPreKeyMessage, 1: olm.OlmMessage}
        out = {
            "bob_reads": bob_s.decrypt(cls[to_bob["type"]](to_bob["body"])),
            "alice_reads": alice_s.decrypt(cls[to_alice["type"]](to_alice["body"])),
            "bob_session_id": bob_s.id,
        }
    json.dump(out, sys.stdout)


main()
