// peer.mjs drives one matrix-js-sdk client with its Rust crypto
// (@matrix-org/matrix-sdk-crypto-wasm) over JSON lines on stdin/stdout, so
// that Go tests can use it as a Matrix end-to-end encryption peer on a real
// homeserver. The crypto store is IndexedDB from fake-indexeddb (in memory,
// for the life of the process); the client syncs in the background from
// login on.
//
// Request:  {"id": 1, "cmd": "login", "args": {...}}
// Response: {"id": 1, "result": ...} or {"id": 1, "error": {"type", "message"}}
//
// Commands are handled one at a time, in order; they are listed in
// e2e/README.md. Only responses go to stdout: the library's console output
// goes to stderr.

import { createInterface } from "node:readline";

for (const level of ["log", "info", "debug", "trace", "warn"]) {
    console[level] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

// matrix-js-sdk 43 asks for Node 22 and uses Promise.withResolvers
// (ES2024); Node 20 lacks it, so define it before the library runs.
if (typeof Promise.withResolvers !== "function") {
    Promise.withResolvers = function withResolvers() {
        let resolve, reject;
        const promise = new this((res, rej) => {
            resolve = res;
            reject = rej;
        });
        return { promise, resolve, reject };
    };
}

await import("fake-indexeddb/auto");
const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
logger.setLevel(process.env.SICHER_E2E_VERBOSE ? "debug" : "warn");

const { createClient, ClientEvent, EventType } = sdk;

class DriverError extends Error {
    constructor(type, message) {
        super(message);
        this.type = type;
    }
}

let client = null;
let homeserver = "";
// toDevice collects the to-device messages received since login, with how
// each was encrypted (ClientEvent.ReceivedToDeviceMessage); to_device hands
// them over.
const toDevice = [];
// syncs counts the sync responses the client has processed; the sync
// command waits for it to grow.
let syncs = 0;
const syncWaiters = [];

function need() {
    if (!client) throw new DriverError("NotLoggedIn", "call login first");
    return client;
}

function str(args, name) {
    const v = args[name];
    if (typeof v !== "string" || v === "") throw new DriverError("BadArgument", `${name} must be a non-empty string`);
    return v;
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// raw sends one client-server API request outside the SDK (login, and
// checking that the device keys reached the server).
async function raw(method, path, body, token) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const resp = await fetch(homeserver + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const json = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new DriverError(json.errcode || `HTTP${resp.status}`, json.error || `HTTP ${resp.status} for ${path}`);
    return json;
}

// waitSyncs waits until n more sync responses have been processed.
function waitSyncs(n, timeoutMs) {
    const target = syncs + n;
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new DriverError("Timeout", `no sync in ${timeoutMs} ms (sync state ${client?.getSyncState()})`)), timeoutMs);
        syncWaiters.push({ target, done: () => { clearTimeout(timer); resolve(); } });
    });
}

function onSync(state) {
    if (state !== "PREPARED" && state !== "SYNCING") return;
    syncs++;
    for (let i = syncWaiters.length - 1; i >= 0; i--) {
        if (syncs >= syncWaiters[i].target) {
            syncWaiters[i].done();
            syncWaiters.splice(i, 1);
        }
    }
}

// deviceBySenderKey finds the device of userId with the Curve25519 key.
async function deviceBySenderKey(c, userId, curve25519) {
    const devices = (await c.getCrypto().getUserDeviceInfo([userId], true)).get(userId);
    if (!devices || !curve25519) return null;
    for (const d of devices.values()) {
        if (d.getIdentityKey() === curve25519) return d;
    }
    return null;
}

async function describe(c, ev) {
    if (ev.isBeingDecrypted()) await ev.getDecryptionPromise();
    const out = {
        event_id: ev.getId(),
        sender: ev.getSender(),
        type: ev.getType(),
        encrypted: ev.isEncrypted(),
        decrypted: !ev.isDecryptionFailure(),
        verified: false,
    };
    if (ev.isDecryptionFailure()) {
        out.reason = `${ev.decryptionFailureReason}: ${ev.getContent().body ?? ""}`;
        out.session_id = ev.getWireContent().session_id;
        return out;
    }
    out.body = ev.getContent().body ?? "";
    if (ev.isEncrypted()) {
        out.session_id = ev.getWireContent().session_id;
        const d = await deviceBySenderKey(c, ev.getSender(), ev.getSenderKey());
        if (d) {
            out.device_id = d.deviceId;
            const status = await c.getCrypto().getDeviceVerificationStatus(ev.getSender(), d.deviceId);
            out.verified = Boolean(status?.isVerified());
        }
        const info = await c.getCrypto().getEncryptionInfoForEvent(ev);
        if (info) out.shield = `${info.shieldColour}/${info.shieldReason ?? ""}`;
    }
    return out;
}

const commands = {
    async login(args) {
        if (client) throw new DriverError("AlreadyLoggedIn", "one login per process");
        homeserver = str(args, "homeserver").replace(/\/+$/, "");
        const login = await raw("POST", "/_matrix/client/v3/login", {
            type: "m.login.password",
            identifier: { type: "m.id.user", user: str(args, "user_id") },
            password: str(args, "password"),
            initial_device_display_name: args.device_name || "js-sdk peer",
        });
        const c = createClient({ baseUrl: homeserver, userId: login.user_id, deviceId: login.device_id, accessToken: login.access_token });
        await c.initRustCrypto({ useIndexedDB: true, cryptoDatabasePrefix: `sicher-e2e-${login.device_id}` });
        c.on(ClientEvent.Sync, onSync);
        c.on(ClientEvent.ReceivedToDeviceMessage, ({ message, encryptionInfo }) => {
            toDevice.push({
                type: message.type,
                sender: message.sender,
                content: message.content,
                encrypted: encryptionInfo !== null,
                sender_device: encryptionInfo?.senderDevice ?? "",
                sender_curve25519: encryptionInfo?.senderCurve25519KeyBase64 ?? "",
            });
        });
        client = c;
        const prepared = waitSyncs(1, 60000);
        await c.startClient({ initialSyncLimit: 50, pollTimeout: 250 });
        await prepared;
        // The Rust crypto uploads the device keys from its outgoing
        // request loop; wait until the server serves them, so that other
        // clients can find this device.
        const keys = await c.getCrypto().getOwnDeviceKeys();
        for (let i = 0; ; i++) {
            const q = await raw("POST", "/_matrix/client/v3/keys/query", { device_keys: { [login.user_id]: [login.device_id] } }, login.access_token);
            if (q.device_keys?.[login.user_id]?.[login.device_id]) break;
            if (i > 100) throw new DriverError("Timeout", "device keys not uploaded after 10 s");
            await sleep(100);
        }
        return { user_id: login.user_id, device_id: login.device_id, ed25519: keys.ed25519, curve25519: keys.curve25519 };
    },

    async sync(args) {
        // The client syncs in the background (long-polls of 250 ms);
        // a sync response that started before this command may predate
        // what the caller waits for, so wait for two.
        await waitSyncs(2, (args.timeout_ms ?? 0) + 30000);
        // Let the crypto's outgoing requests (key claims, to-device
        // messages) that the syncs queued go out.
        await sleep(50);
        return { rooms: need().getRooms().map((r) => r.roomId).sort() };
    },

    async join(args) {
        const room = await need().joinRoom(str(args, "room_id"));
        return { room_id: room.roomId };
    },

    async create_room(args) {
        const initial_state = [];
        if (args.encrypted !== false) {
            initial_state.push({ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } });
        }
        const r = await need().createRoom({ name: args.name, invite: args.invite ?? [], initial_state });
        return { room_id: r.room_id };
    },

    async send_text(args) {
        const c = need();
        const roomId = str(args, "room_id");
        for (let i = 0; !c.getRoom(roomId) || c.getRoom(roomId).getMyMembership() !== "join"; i++) {
            if (i > 100) throw new DriverError("UnknownRoom", `${roomId} not joined after 10 s of syncing`);
            await sleep(100);
        }
        const r = await c.sendTextMessage(roomId, str(args, "body"));
        return { event_id: r.event_id, encrypted: await c.getCrypto().isEncryptionEnabledInRoom(roomId) };
    },

    async messages(args) {
        const c = need();
        const room = c.getRoom(str(args, "room_id"));
        if (!room) return { messages: [] };
        const out = [];
        for (const ev of room.getLiveTimeline().getEvents()) {
            if (ev.getType() !== EventType.RoomMessage && !ev.isEncrypted()) continue;
            if (!ev.getId() || ev.getId().startsWith("~")) continue; // local echo
            out.push(await describe(c, ev));
        }
        return { messages: out };
    },

    async device_keys(args) {
        const c = need();
        const userId = args.user_id || c.getUserId();
        const devices = (await c.getCrypto().getUserDeviceInfo([userId], true)).get(userId) ?? new Map();
        const out = [];
        for (const d of devices.values()) {
            const status = await c.getCrypto().getDeviceVerificationStatus(userId, d.deviceId);
            out.push({
                device_id: d.deviceId,
                ed25519: d.getFingerprint() ?? "",
                curve25519: d.getIdentityKey() ?? "",
                verified: Boolean(status?.isVerified()),
                own: userId === c.getUserId() && d.deviceId === c.getDeviceId(),
            });
        }
        out.sort((a, b) => a.device_id.localeCompare(b.device_id));
        return { devices: out };
    },

    async trust_all_devices() {
        const c = need();
        const users = new Set([c.getUserId()]);
        for (const room of c.getRooms()) {
            for (const m of room.getJoinedMembers()) users.add(m.userId);
        }
        const map = await c.getCrypto().getUserDeviceInfo([...users], true);
        let n = 0;
        for (const [userId, devices] of map) {
            for (const d of devices.values()) {
                if (userId === c.getUserId() && d.deviceId === c.getDeviceId()) continue;
                const status = await c.getCrypto().getDeviceVerificationStatus(userId, d.deviceId);
                if (status?.isVerified()) continue;
                await c.getCrypto().setDeviceVerified(userId, d.deviceId, true);
                n++;
            }
        }
        return { verified: n };
    },

    // send_to_device Olm-encrypts one event for each of devices
    // ([{user_id, device_id}]) with encryptAndSendToDevice, as
    // matrix-js-sdk's MatrixRTC ToDeviceKeyTransport sends call keys.
    async send_to_device(args) {
        const c = need();
        const devices = args.devices;
        if (!Array.isArray(devices) || devices.length === 0) throw new DriverError("BadArgument", "devices must be a non-empty array");
        await c.getCrypto().getUserDeviceInfo([...new Set(devices.map((d) => d.user_id))], true);
        await c.encryptAndSendToDevice(str(args, "type"), devices.map((d) => ({ userId: d.user_id, deviceId: d.device_id })), args.content ?? {});
        return {};
    },

    // to_device returns the to-device messages received since the last call.
    async to_device() {
        return { events: toDevice.splice(0) };
    },

    async quit() {
        if (client) client.stopClient();
        return {};
    },
};

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
    if (!line.trim()) continue;
    let id = null;
    let cmd = "";
    try {
        const req = JSON.parse(line);
        id = req.id ?? null;
        cmd = req.cmd;
        const fn = Object.hasOwn(commands, cmd) ? commands[cmd] : null;
        if (!fn) throw new DriverError("UnknownCommand", `unknown command ${JSON.stringify(cmd)}`);
        const result = await fn(req.args ?? {});
        process.stdout.write(JSON.stringify({ id, result }) + "\n");
    } catch (e) {
        const type = e instanceof DriverError ? e.type : (e?.errcode ?? e?.name ?? "Error");
        process.stdout.write(JSON.stringify({ id, error: { type, message: String(e?.message ?? e) } }) + "\n");
    }
    if (cmd === "quit") break;
}
if (client) client.stopClient();
process.exit(0);
