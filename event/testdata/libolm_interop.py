#!/usr/bin/env python3
"""libolm side of event's interop tests (Debian python3-olm 3.2.13, libolm 3.2.13).

Modes (JSON on stdin, JSON on stdout):

  send     libolm Alice -> sicher Bob. Input: bob_user, bob_curve, bob_ed,
           one_time_key, fallback_key. Alice creates an Olm session to each
           key, sends an m.room_key for a new libolm Megolm session over each,
           and encrypts a room message with that Megolm session.
  keys     Create a libolm Bob device with one one-time key and a fallback
           key; print its keys and a pickle.
  receive  libolm Bob <- sicher Alice. Input: pickle, alice_user, alice_ed,
           alice_curve, events (to-device contents), megolm (room event
           content). Bob decrypts every event with a new inbound session,
           checks the Olm payload as the spec requires, imports the room key
           and decrypts the room event.

The committed vector testdata/libolm_to_device.json is the output of
"send" for the deterministic sicher Bob built in interop_test.go.
"""
import json
import sys

import olm

ROOM = "!interop:example.org"
ALICE = "@alice:libolm.example.org"


def send(inp):
    alice = olm.Account()
    ids = alice.identity_keys
    group = olm.OutboundGroupSession()
    room_key = {"algorithm": "m.megolm.v1.aes-sha2", "room_id": ROOM,
                "session_id": group.id, "session_key": group.session_key}
    events = []
    for otk in (inp["one_time_key"], inp["fallback_key"]):
        s = olm.OutboundSession(alice, inp["bob_curve"], otk)
        payload = {"type": "m.room_key", "content": room_key, "sender": ALICE,
                   "recipient": inp["bob_user"],
                   "recipient_keys": {"ed25519": inp["bob_ed"]},
                   "keys": {"ed25519": ids["ed25519"]}}
        m = s.encrypt(json.dumps(payload))
        events.append({"algorithm": "m.olm.v1.curve25519-aes-sha2",
                       "sender_key": ids["curve25519"],
                       "ciphertext": {inp["bob_curve"]: {"type": m.message_type, "body": m.ciphertext}}})
    ct = group.encrypt(json.dumps({"type": "m.room.message", "room_id": ROOM,
                                   "content": {"msgtype": "m.text", "body": "Hallo von libolm"}}))
    return {"alice_user": ALICE, "alice_curve": ids["curve25519"], "alice_ed": ids["ed25519"],
            "room_id": ROOM, "events": events,
            "megolm": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": ct,
                       "session_id": group.id, "sender_key": ids["curve25519"], "device_id": "LIBOLM"}}


def keys(_):
    bob = olm.Account()
    bob.generate_one_time_keys(1)
    bob.generate_fallback_key()
    otk = list(bob.one_time_keys["curve25519"].values())[0]
    fb = list(bob.fallback_key["curve25519"].values())[0]
    bob.mark_keys_as_published()
    ids = bob.identity_keys
    return {"bob_curve": ids["curve25519"], "bob_ed": ids["ed25519"], "one_time_key": otk,
            "fallback_key": fb, "pickle": bob.pickle("interop").decode()}


def receive(inp):
    bob = olm.Account.from_pickle(inp["pickle"].encode(), "interop")
    ids = bob.identity_keys
    results = []
    group = None
    for content in inp["events"]:
        assert content["algorithm"] == "m.olm.v1.curve25519-aes-sha2"
        assert content["sender_key"] == inp["alice_curve"]
        entry = content["ciphertext"][ids["curve25519"]]
        assert entry["type"] == 0
        msg = olm.OlmPreKeyMessage(entry["body"])
        s = olm.InboundSession(bob, msg, content["sender_key"])
        payload = json.loads(s.decrypt(msg))
        # The spec's validation rules, as a libolm-based client applies them.
        assert payload["sender"] == inp["alice_user"], payload
        assert payload["recipient"] == inp["bob_user"], payload
        assert payload["recipient_keys"]["ed25519"] == ids["ed25519"], payload
        assert payload["keys"]["ed25519"] == inp["alice_ed"], payload
        assert payload["type"] == "m.room_key", payload
        rk = payload["content"]
        g = olm.InboundGroupSession(rk["session_key"])
        assert g.id == rk["session_id"]
        group = g
        results.append({"session_id": s.id, "room_id": rk["room_id"]})
        bob.remove_one_time_keys(s)
    plaintext, index = group.decrypt(inp["megolm"]["ciphertext"])
    return {"olm": results, "megolm_plaintext": plaintext, "megolm_index": index}


if __name__ == "__main__":
    inp = json.load(sys.stdin)
    out = {"send": send, "keys": keys, "receive": receive}[sys.argv[1]](inp)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
