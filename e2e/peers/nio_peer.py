#!/usr/bin/python3
"""nio_peer.py drives one matrix-nio client (Debian python3-matrix-nio, with
python3-olm for encryption) over JSON lines on stdin/stdout, so that Go tests
can use it as a Matrix end-to-end encryption peer on a real homeserver.

Request:  {"id": 1, "cmd": "login", "args": {...}}
Response: {"id": 1, "result": ...} or {"id": 1, "error": {"type", "message"}}

Commands run one at a time, in order; the command set is listed in
e2e/README.md. Only responses go to stdout; logging goes to stderr. The
client keeps its Olm state in a store directory the caller names (a temp dir
per test) for the life of the process.
"""

import asyncio
import json
import logging
import sys

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginError,
    MegolmEvent,
    RoomCreateError,
    RoomMessageText,
    RoomSendError,
    SyncError,
)
from nio.crypto import TrustState


class DriverError(Exception):
    def __init__(self, type_, message):
        super().__init__(message)
        self.type = type_


client = None
# Room events seen in sync timelines, per room, in order: the raw nio event,
# which is a MegolmEvent while it does not decrypt.
timeline = {}


def need():
    if client is None:
        raise DriverError("NotLoggedIn", "call login first")
    return client


def arg(args, name, kind=str):
    v = args.get(name)
    if not isinstance(v, kind) or (kind is str and v == ""):
        raise DriverError("BadArgument", f"{name} must be a non-empty {kind.__name__}")
    return v


def fail_on(resp, *error_types):
    if isinstance(resp, error_types):
        raise DriverError(type(resp).__name__, f"{getattr(resp, 'status_code', '')} {resp.message}".strip())
    return resp


def on_event(room, event):
    timeline.setdefault(room.room_id, []).append(event)


async def maintain(c):
    """Upload, query and claim keys and send queued to-device messages, as
    nio's sync_forever does between two syncs."""
    if c.should_upload_keys:
        await c.keys_upload()
    if c.should_query_keys:
        await c.keys_query()
    if c.should_claim_keys:
        await c.keys_claim(c.get_users_for_key_claiming())
    await c.send_to_device_messages()


def device_of(c, user_id, curve25519):
    for d in c.device_store.active_user_devices(user_id):
        if d.curve25519 == curve25519:
            return d
    return None


def describe(c, room_id, ev):
    """The test-facing view of one timeline event."""
    if isinstance(ev, MegolmEvent):
        # Try again: the room key may have arrived after the event.
        try:
            dec = c.decrypt_event(ev)
        except Exception as e:  # nio raises EncryptionError with the reason
            return {
                "event_id": ev.event_id,
                "sender": ev.sender,
                "decrypted": False,
                "session_id": ev.session_id,
                "reason": f"{type(e).__name__}: {e}",
            }
        if dec is None or isinstance(dec, MegolmEvent):
            return {"event_id": ev.event_id, "sender": ev.sender, "decrypted": False,
                    "session_id": ev.session_id, "reason": "no room key"}
        dec.room_id = room_id
        ev = dec
    out = {
        "event_id": ev.event_id,
        "sender": ev.sender,
        "type": ev.source.get("type"),
        "encrypted": bool(getattr(ev, "decrypted", False)),
        "decrypted": True,
    }
    if isinstance(ev, RoomMessageText):
        out["body"] = ev.body
    else:
        out["body"] = ev.source.get("content", {}).get("body")
    if getattr(ev, "decrypted", False):
        out["sender_key"] = ev.sender_key
        out["session_id"] = ev.session_id
        dev = device_of(c, ev.sender, ev.sender_key)
        out["device_id"] = dev.id if dev else ""
        out["verified"] = bool(dev and dev.trust_state == TrustState.verified)
    return out


async def cmd_login(args):
    global client
    if client is not None:
        raise DriverError("AlreadyLoggedIn", "one login per process")
    cfg = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    c = AsyncClient(arg(args, "homeserver"), arg(args, "user_id"),
                    store_path=arg(args, "store_dir"), config=cfg)
    c.add_event_callback(on_event, (RoomMessageText, MegolmEvent))
    resp = fail_on(await c.login(arg(args, "password"), device_name=args.get("device_name") or "nio peer"), LoginError)
    client = c
    await maintain(c)
    return {"user_id": resp.user_id, "device_id": resp.device_id,
            "ed25519": c.olm.account.identity_keys["ed25519"],
            "curve25519": c.olm.account.identity_keys["curve25519"]}


async def cmd_sync(args):
    c = need()
    rounds = args.get("rounds", 1)
    for _ in range(rounds):
        fail_on(await c.sync(timeout=args.get("timeout_ms", 0), full_state=args.get("full_state")), SyncError)
        await maintain(c)
    return {"next_batch": c.next_batch, "rooms": sorted(c.rooms)}


async def cmd_join(args):
    c = need()
    resp = fail_on(await c.join(arg(args, "room_id")), JoinError)
    await c.sync(timeout=0)
    await maintain(c)
    return {"room_id": resp.room_id}


async def cmd_create_room(args):
    c = need()
    state = []
    if args.get("encrypted", True):
        state.append({"type": "m.room.encryption", "state_key": "",
                      "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
    resp = fail_on(await c.room_create(name=args.get("name"), invite=args.get("invite") or [],
                                       initial_state=state), RoomCreateError)
    await c.sync(timeout=0)
    await maintain(c)
    return {"room_id": resp.room_id}


async def cmd_send_text(args):
    c = need()
    room_id = arg(args, "room_id")
    await c.sync(timeout=0)
    await maintain(c)
    if room_id not in c.rooms:
        raise DriverError("UnknownRoom", f"{room_id} is not in this client's rooms (join and sync first)")
    # The room's member list may have changed since the last send: nio
    # rotates the session when it sees a member leave, not when one joins,
    # so ask for the member list again before each send.
    await c.joined_members(room_id)
    if c.should_query_keys:
        await c.keys_query()
    resp = fail_on(await c.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": arg(args, "body")},
                                     ignore_unverified_devices=True), RoomSendError)
    return {"event_id": resp.event_id, "encrypted": c.rooms[room_id].encrypted}


async def cmd_messages(args):
    c = need()
    room_id = arg(args, "room_id")
    return {"messages": [describe(c, room_id, ev) for ev in timeline.get(room_id, [])]}


async def cmd_device_keys(args):
    c = need()
    user_id = args.get("user_id") or c.user_id
    devices = []
    for d in c.device_store.active_user_devices(user_id):
        devices.append({"device_id": d.id, "ed25519": d.ed25519, "curve25519": d.curve25519,
                        "verified": d.trust_state == TrustState.verified})
    if user_id == c.user_id:
        devices.append({"device_id": c.device_id, "ed25519": c.olm.account.identity_keys["ed25519"],
                        "curve25519": c.olm.account.identity_keys["curve25519"], "own": True, "verified": True})
    return {"devices": sorted(devices, key=lambda d: d["device_id"])}


async def cmd_trust_all_devices(args):
    c = need()
    if c.should_query_keys:
        await c.keys_query()
    n = 0
    for user_id in c.device_store.users:
        for d in c.device_store.active_user_devices(user_id):
            if d.trust_state != TrustState.verified:
                c.verify_device(d)
                n += 1
    return {"verified": n}


async def cmd_quit(args):
    if client is not None:
        await client.close()
    return {}


COMMANDS = {
    "login": cmd_login,
    "sync": cmd_sync,
    "join": cmd_join,
    "create_room": cmd_create_room,
    "send_text": cmd_send_text,
    "messages": cmd_messages,
    "device_keys": cmd_device_keys,
    "trust_all_devices": cmd_trust_all_devices,
    "quit": cmd_quit,
}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main():
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if not line.strip():
            continue
        req_id = None
        try:
            req = json.loads(line)
            req_id = req.get("id")
            fn = COMMANDS.get(req.get("cmd"))
            if fn is None:
                raise DriverError("UnknownCommand", f"unknown command {req.get('cmd')!r}")
            result = await fn(req.get("args") or {})
            reply({"id": req_id, "result": result})
            if req.get("cmd") == "quit":
                break
        except DriverError as e:
            reply({"id": req_id, "error": {"type": e.type, "message": str(e)}})
        except Exception as e:  # report, keep serving
            reply({"id": req_id, "error": {"type": type(e).__name__, "message": str(e)}})
    if client is not None:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
