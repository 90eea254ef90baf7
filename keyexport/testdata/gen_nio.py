#!/usr/bin/python3
"""Test-data generator for sicher's keyexport and attachment packages.

Run once with Debian's python3-matrix-nio 0.20.1 (which uses python-olm,
i.e. libolm 3.2.13, and pycryptodome):

    /usr/bin/python3 gen_nio.py gen        # writes nio_export.txt, nio_export.json
    /usr/bin/python3 gen_nio.py import F P # imports key export file F with passphrase P via nio

Not a dependency of the library; the outputs are committed.
"""
import json
import sys

import olm
from nio.crypto import InboundGroupSession, OlmDevice  # noqa: F401
from nio.crypto.attachments import encrypt_attachment
from nio.crypto.olm_machine import Olm

PASSPHRASE = "nio passphrase"


def gen():
    device = olm.Account()
    ident = device.identity_keys
    sessions = []
    messages = []
    for room in ["!room1:example.org", "!room2:example.org"]:
        out = olm.OutboundGroupSession()
        # The export holds the key at the first known index (0); the test
        # decrypts the messages at index 0 and 1.
        sess = InboundGroupSession(out.session_key, ident["ed25519"], ident["curve25519"], room, [])
        pre = out.encrypt("before the export")  # index 0
        post = out.encrypt("after the export: " + room)  # index 1
        sessions.append(sess)
        messages.append({"room_id": room, "session_id": out.id,
                         "messages": [{"index": 0, "ciphertext": pre, "plaintext": "before the export"},
                                      {"index": 1, "ciphertext": post, "plaintext": "after the export: " + room}]})
    Olm.export_keys_static(sessions, "nio_export.txt", PASSPHRASE, count=10000)
    plaintext = b"It's a secret to everybody, " * 3
    ct, info = encrypt_attachment(plaintext)
    with open("nio_export.json", "w") as f:
        json.dump({
            "source": "python3-matrix-nio 0.20.1-3 (Debian bookworm) Olm.export_keys_static, "
                      "nio.crypto.attachments.encrypt_attachment; python-olm (libolm 3.2.13)",
            "passphrase": PASSPHRASE,
            "sender_key": ident["curve25519"],
            "sender_ed25519": ident["ed25519"],
            "sessions": messages,
            "attachment": {"plaintext": plaintext.decode(), "ciphertext_hex": ct.hex(), "info": info},
        }, f, indent=1)


def imp(path, passphrase):
    for s in Olm.import_keys_static(path, passphrase):
        print(s.room_id, s.id, s.first_known_index, s.sender_key, s.ed25519)


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen()
    else:
        imp(sys.argv[2], sys.argv[3])
