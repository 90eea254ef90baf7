// driver.mjs drives one matrix-sdk-crypto OlmMachine (the wasm build,
// @matrix-org/matrix-sdk-crypto-wasm) over JSON lines on stdin/stdout, so
// that Go tests can use it as a peer. The machine keeps its state in memory
// for the life of the process.
//
// Request:  {"id": 1, "cmd": "init", "args": {...}}
// Response: {"id": 1, "result": ...} or {"id": 1, "error": {"type", "message"}}
//
// Commands are handled one at a time, in order. Nothing but responses is
// written to stdout: console output of the library goes to stderr. The
// commands are listed in interop/README.md.

import { createInterface } from "node:readline";

// The library (and wasm-bindgen glue) may log through console.*; keep
// stdout for the protocol.
for (const level of ["log", "info", "debug", "trace", "warn"]) {
    console[level] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

const sdk = await import("@matrix-org/matrix-sdk-crypto-wasm");
// In Node the module can load synchronously on first use; initAsync loads
// it once, up front, as the package's README recommends.
await sdk.initAsync();

const {
    OlmMachine,
    UserId,
    DeviceId,
    RoomId,
    DeviceLists,
    RequestType,
    DecryptionSettings,
    TrustRequirement,
    EncryptionSettings,
    CollectStrategy,
    HistoryVisibility,
    ProcessedToDeviceEventType,
    DecryptionErrorCode,
    MegolmDecryptionError,
    ShieldColor,
    ShieldStateCode,
    ToDeviceUnableToDecryptReason,
    LocalTrust,
} = sdk;

// enumName maps a wasm-bindgen enum value to its name.
function enumName(e, v) {
    if (v === undefined || v === null) return null;
    for (const [k, val] of Object.entries(e)) {
        if (val === v && Number.isNaN(Number(k))) return k;
    }
    return String(v);
}

class DriverError extends Error {
    constructor(type, message) {
        super(message);
        this.type = type;
    }
}

let machine = null;

// The library reads the wall clock through Date.now. advance_clock moves
// this process's clock forward, so that tests reach time-based rules (such
// as the hour an Olm session must be old before it is unwedged) at once.
const realNow = Date.now;
let clockOffset = 0;
Date.now = () => realNow() + clockOffset;

function need() {
    if (!machine) throw new DriverError("NotInitialised", "call init first");
    return machine;
}

function str(v, name) {
    if (typeof v !== "string" || v === "") throw new DriverError("BadArgument", `${name} must be a non-empty string`);
    return v;
}

function arr(v, name) {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new DriverError("BadArgument", `${name} must be an array`);
    return v;
}

function obj(v, name) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new DriverError("BadArgument", `${name} must be an object`);
    return v;
}

const users = (list, name) => arr(list, name).map((u) => new UserId(str(u, name)));

// parse turns a JSON string the library returned into a value, so the Go
// side gets objects rather than strings inside strings.
const parse = (s) => (s === undefined || s === null || s === "" ? null : JSON.parse(s));

// request renders an outgoing request: its id, its type's name, its HTTP
// body as an object, and the extra path parameters some types need.
function request(r) {
    const out = { id: r.id ?? null, type: enumName(RequestType, r.type), body: parse(r.body) };
    if (r.event_type !== undefined) out.event_type = r.event_type;
    if (r.txn_id !== undefined) out.txn_id = r.txn_id;
    if (r.room_id !== undefined) out.room_id = r.room_id;
    if (r.version !== undefined) out.version = r.version;
    return out;
}

function requestType(name) {
    const v = RequestType[name];
    if (typeof v !== "number") throw new DriverError("BadArgument", `unknown request type ${JSON.stringify(name)}`);
    return v;
}

function shield(s) {
    return { color: enumName(ShieldColor, s.color), code: enumName(ShieldStateCode, s.code), message: s.message ?? null };
}

function processed(ev) {
    const out = { kind: enumName(ProcessedToDeviceEventType, ev.type), event: parse(ev.rawEvent) };
    if (ev.type === ProcessedToDeviceEventType.Decrypted) {
        const info = ev.encryptionInfo;
        out.encryption_info = {
            sender: info.sender.toString(),
            sender_device: info.senderDevice?.toString() ?? null,
            sender_curve25519_key: info.senderCurve25519Key,
            sender_verified: info.isSenderVerified(),
        };
    } else if (ev.type === ProcessedToDeviceEventType.UnableToDecrypt) {
        out.utd_reason = enumName(ToDeviceUnableToDecryptReason, ev.utdInfo.reason);
    }
    return out;
}

const untrusted = () => new DecryptionSettings(TrustRequirement.Untrusted);

function encryptionSettings(s) {
    const es = new EncryptionSettings();
    if (s === undefined || s === null) return es;
    obj(s, "settings");
    if (s.only_allow_trusted_devices) es.sharingStrategy = CollectStrategy.onlyTrustedDevices();
    // The library counts the rotation period in microseconds.
    if (s.rotation_period_ms !== undefined) es.rotationPeriod = BigInt(s.rotation_period_ms) * 1000n;
    if (s.rotation_period_msgs !== undefined) es.rotationPeriodMessages = BigInt(s.rotation_period_msgs);
    if (s.history_visibility !== undefined) {
        const names = { invited: "Invited", joined: "Joined", shared: "Shared", world_readable: "WorldReadable" };
        const n = names[s.history_visibility];
        if (!n) throw new DriverError("BadArgument", `unknown history_visibility ${JSON.stringify(s.history_visibility)}`);
        es.historyVisibility = HistoryVisibility[n];
    }
    return es;
}

const commands = {
    async init(a) {
        if (machine) throw new DriverError("AlreadyInitialised", "init was already called");
        // No store name: an in-memory store.
        machine = await OlmMachine.initialize(new UserId(str(a.user_id, "user_id")), new DeviceId(str(a.device_id, "device_id")));
        return commands.identity_keys();
    },

    identity_keys() {
        const m = need();
        const k = m.identityKeys;
        return {
            user_id: m.userId.toString(),
            device_id: m.deviceId.toString(),
            curve25519: k.curve25519.toBase64(),
            ed25519: k.ed25519.toBase64(),
        };
    },

    async receive_sync(a) {
        const m = need();
        const toDevice = arr(a.to_device, "to_device");
        const lists = new DeviceLists(users(a.changed, "changed"), users(a.left, "left"));
        const counts = new Map(Object.entries(a.one_time_key_counts ? obj(a.one_time_key_counts, "one_time_key_counts") : {}));
        // An absent list means the server did not say; an empty one means
        // there is no unused fallback key.
        const fallback = a.unused_fallback_key_types === undefined || a.unused_fallback_key_types === null
            ? undefined
            : new Set(arr(a.unused_fallback_key_types, "unused_fallback_key_types"));
        const events = await m.receiveSyncChanges(JSON.stringify(toDevice), lists, counts, fallback, untrusted());
        return events.map(processed);
    },

    async outgoing_requests() {
        return (await need().outgoingRequests()).map(request);
    },

    async mark_request_sent(a) {
        const response = a.response === undefined ? {} : a.response;
        await need().markRequestAsSent(str(a.id, "id"), requestType(a.type), JSON.stringify(response));
        return null;
    },

    async update_tracked_users(a) {
        await need().updateTrackedUsers(users(a.users, "users"));
        return null;
    },

    async tracked_users() {
        return [...(await need().trackedUsers())].map((u) => u.toString()).sort();
    },

    async get_missing_sessions(a) {
        const r = await need().getMissingSessions(users(a.users, "users"));
        return r ? request(r) : null;
    },

    async share_room_key(a) {
        const reqs = await need().shareRoomKey(new RoomId(str(a.room_id, "room_id")), users(a.users, "users"), encryptionSettings(a.settings));
        return reqs.map(request);
    },

    async encrypt_room_event(a) {
        const content = JSON.stringify(obj(a.content, "content"));
        return parse(await need().encryptRoomEvent(new RoomId(str(a.room_id, "room_id")), str(a.type, "type"), content));
    },

    async decrypt_room_event(a) {
        const ev = await need().decryptRoomEvent(JSON.stringify(obj(a.event, "event")), new RoomId(str(a.room_id, "room_id")), untrusted());
        const plain = parse(ev.event);
        return {
            type: plain?.type ?? null,
            content: plain?.content ?? null,
            event: plain,
            sender: ev.sender.toString(),
            sender_device: ev.senderDevice?.toString() ?? null,
            sender_curve25519_key: ev.senderCurve25519Key,
            sender_claimed_ed25519_key: ev.senderClaimedEd25519Key ?? null,
            shield: shield(ev.shieldState(false)),
            shield_strict: shield(ev.shieldState(true)),
        };
    },

    async get_device(a) {
        const d = await need().getDevice(new UserId(str(a.user_id, "user_id")), new DeviceId(str(a.device_id, "device_id")));
        if (!d) return null;
        return {
            user_id: d.userId.toString(),
            device_id: d.deviceId.toString(),
            curve25519: d.getKey(sdk.DeviceKeyAlgorithmName.Curve25519)?.toBase64() ?? null,
            ed25519: d.getKey(sdk.DeviceKeyAlgorithmName.Ed25519)?.toBase64() ?? null,
            verified: d.isVerified(),
            locally_trusted: d.isLocallyTrusted(),
            cross_signed_by_owner: d.isCrossSignedByOwner(),
        };
    },

    async set_local_trust(a) {
        const d = await need().getDevice(new UserId(str(a.user_id, "user_id")), new DeviceId(str(a.device_id, "device_id")));
        if (!d) throw new DriverError("BadArgument", "unknown device");
        const t = LocalTrust[str(a.trust, "trust")];
        if (typeof t !== "number") throw new DriverError("BadArgument", `unknown trust ${JSON.stringify(a.trust)}`);
        await d.setLocalTrust(t);
        return null;
    },

    // key_requests sets roomKeyRequestsEnabled (requests) and
    // roomKeyForwardingEnabled (forwarding) when given, and returns both.
    key_requests(a) {
        const m = need();
        if (a.requests !== undefined) m.roomKeyRequestsEnabled = Boolean(a.requests);
        if (a.forwarding !== undefined) m.roomKeyForwardingEnabled = Boolean(a.forwarding);
        return { requests: m.roomKeyRequestsEnabled, forwarding: m.roomKeyForwardingEnabled };
    },

    async room_key_counts() {
        const c = await need().roomKeyCounts();
        return { total: Number(c.total), backed_up: Number(c.backedUp) };
    },

    advance_clock(a) {
        if (!Number.isSafeInteger(a.ms) || a.ms < 0) throw new DriverError("BadArgument", "ms must be a non-negative integer");
        clockOffset += a.ms;
        return Date.now();
    },

    versions() {
        const v = sdk.getVersions();
        return { matrix_sdk_crypto: v.matrix_sdk_crypto, vodozemac: v.vodozemac, git_sha: v.git_sha, git_description: v.git_description };
    },
};

// Commands kept in files of their own add themselves to the table.
(await import("./verification.mjs")).register(commands, { sdk, need, DriverError, str, arr, obj, parse, request });
// Cross-signing and key backup commands (backup.mjs).
Object.assign(commands, (await import("./backup.mjs")).backupCommands({ sdk, need, str, obj, request, parse, enumName, DriverError }));
(await import("./history.mjs")).register(commands, { sdk, need, DriverError, str, arr, obj, parse, request });
(await import("./dehydration.mjs")).register(commands, { sdk, need, DriverError, str, arr, obj, parse, request });

// errorOf turns anything thrown into {type, message}. A Megolm decryption
// failure is named after its DecryptionErrorCode.
function errorOf(e) {
    if (e instanceof DriverError) return { type: e.type, message: e.message };
    if (e instanceof MegolmDecryptionError) {
        const out = { type: enumName(DecryptionErrorCode, e.code), message: e.description };
        if (e.withheldCode) out.withheld_code = e.withheldCode;
        return out;
    }
    if (e instanceof Error) return { type: e.name || "Error", message: e.message };
    return { type: "Error", message: String(e) };
}

function reply(msg) {
    process.stdout.write(JSON.stringify(msg) + "\n");
}

process.on("unhandledRejection", (e) => process.stderr.write(`driver: unhandled rejection: ${e?.stack ?? e}\n`));

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
    if (line.trim() === "") continue;
    let id = null;
    try {
        const msg = JSON.parse(line);
        id = msg.id ?? null;
        const fn = Object.hasOwn(commands, msg.cmd) ? commands[msg.cmd] : null;
        if (!fn) throw new DriverError("UnknownCommand", `unknown command ${JSON.stringify(msg.cmd)}`);
        const result = await fn(msg.args ?? {});
        reply({ id, result: result === undefined ? null : result });
    } catch (e) {
        reply({ id, error: errorOf(e) });
    }
}
machine?.close();
