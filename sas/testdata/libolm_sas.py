#!/usr/bin/python3
"""libolm oracle for sas tests: reads a JSON list of cases on stdin, runs
them through Debian's python3-olm (libolm 3.2.13) and writes the results as
JSON to stdout. Each case: {"priv": hex 32 bytes, "their": unpadded base64
public key, "bytes": [[info, n], ...], "macs": [[input_b64, info], ...]}.
Each result: {"pubkey", "bytes": [hex...], "macs": [{"mac", "fixed",
"long"}...]} from olm.Sas generate_bytes / calculate_mac /
calculate_mac_fixed_base64 / calculate_mac_long_kdf. The private key is
injected with Sas._create_sas, as libolm's own python tests do.
"""
import base64
import json
import sys

import olm


def run(case):
    s = olm.Sas()
    s._create_sas(bytes.fromhex(case["priv"]), 32)
    out = {"pubkey": s.pubkey}
    s.set_their_pubkey(case["their"])
    out["bytes"] = [s.generate_bytes(info, n).hex() for info, n in case["bytes"]]
    macs = []
    for inp, info in case["macs"]:
        # python-olm takes str or bytes; pass bytes so non-UTF-8 input works.
        data = base64.b64decode(inp)
        macs.append({
            "mac": s.calculate_mac(data, info),
            "fixed": s.calculate_mac_fixed_base64(data, info),
            "long": s.calculate_mac_long_kdf(data, info),
        })
    out["macs"] = macs
    return out


json.dump([run(c) for c in json.load(sys.stdin)], sys.stdout)
