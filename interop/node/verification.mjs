// verification.mjs: the driver's commands for interactive verification
// (m.key.verification.*: SAS and QR codes) on matrix-sdk-crypto's
// VerificationRequest, Sas and Qr. driver.mjs registers them; each command's
// arguments and result are in the comment above it (the Go side is
// rustpeer/verification.go).
//
// Requests the library returns from these calls (OutgoingVerificationRequest)
// must be sent by the caller like any other outgoing request, and marked sent.

export function register(commands, h) {
    const { sdk, need, DriverError, str, request } = h;
    const { UserId, DeviceId, VerificationMethod, VerificationRequestPhase, QrCodeScan, Sas, Qr } = sdk;

    const methodsOf = (list) =>
        (list ?? ["m.sas.v1", "m.qr_code.show.v1", "m.qr_code.scan.v1", "m.reciprocate.v1"]).map((m) => {
            switch (m) {
                case "m.sas.v1": return VerificationMethod.SasV1;
                case "m.qr_code.scan.v1": return VerificationMethod.QrCodeScanV1;
                case "m.qr_code.show.v1": return VerificationMethod.QrCodeShowV1;
                case "m.reciprocate.v1": return VerificationMethod.ReciprocateV1;
            }
            throw new DriverError("BadArgument", `unknown method ${JSON.stringify(m)}`);
        });

    const methodName = (m) => ["m.sas.v1", "m.qr_code.scan.v1", "m.qr_code.show.v1", "m.reciprocate.v1"][m] ?? String(m);

    const phaseName = (p) => {
        for (const [k, v] of Object.entries(VerificationRequestPhase)) if (v === p && Number.isNaN(Number(k))) return k;
        return String(p);
    };

    function requestOf(args) {
        const r = need().getVerificationRequest(new UserId(str(args.user_id, "user_id")), str(args.flow_id, "flow_id"));
        if (!r) throw new DriverError("BadArgument", `no verification request ${args.flow_id}`);
        return r;
    }

    function verificationOf(args, cls) {
        const v = need().getVerification(new UserId(str(args.user_id, "user_id")), str(args.flow_id, "flow_id"));
        if (!(v instanceof cls)) throw new DriverError("BadArgument", `no ${cls.name} for ${args.flow_id}`);
        return v;
    }

    const out = (r) => (r === undefined || r === null ? null : request(r));

    const cancelOf = (c) => (c ? { code: c.cancelCode(), reason: c.reason(), by_us: c.cancelledbyUs() } : null);

    Object.assign(commands, {
        // request_verification: {user_id, device_id, methods?} -> {flow_id, request}
        async request_verification(args) {
            const dev = await need().getDevice(new UserId(str(args.user_id, "user_id")), new DeviceId(str(args.device_id, "device_id")));
            if (!dev) throw new DriverError("BadArgument", `unknown device ${args.device_id}`);
            const [req, toDevice] = dev.requestVerification(methodsOf(args.methods));
            return { flow_id: req.flowId, request: request(toDevice) };
        },

        // verification_requests: {user_id} -> [{flow_id, phase, ...}]
        verification_requests(args) {
            return need().getVerificationRequests(new UserId(str(args.user_id, "user_id"))).map((r) => ({
                flow_id: r.flowId,
                phase: phaseName(r.phase()),
                we_started: r.weStarted(),
                other_device: r.otherDeviceId?.toString() ?? null,
                their_methods: r.theirSupportedMethods ? r.theirSupportedMethods.map(methodName) : null,
                cancel: r.cancelInfo ? { code: r.cancelInfo.cancelCode(), reason: r.cancelInfo.reason() } : null,
                done: r.isDone(),
            }));
        },

        // accept_verification: {user_id, flow_id, methods?} -> request or null
        accept_verification(args) {
            return out(requestOf(args).acceptWithMethods(methodsOf(args.methods)));
        },

        // start_sas: {user_id, flow_id} -> request or null
        async start_sas(args) {
            const r = await requestOf(args).startSas();
            return r ? request(r[1]) : null;
        },

        // sas: {user_id, flow_id} -> the SAS flow's state and, once keys are exchanged, its codes
        sas(args) {
            const s = verificationOf(args, Sas);
            return {
                accepted: s.hasBeenAccepted(),
                can_be_presented: s.canBePresented(),
                emoji_index: s.emojiIndex() ? Array.from(s.emojiIndex()) : null,
                decimals: s.decimals() ? Array.from(s.decimals()) : null,
                we_confirmed: s.haveWeConfirmed(),
                done: s.isDone(),
                cancel: cancelOf(s.cancelInfo()),
            };
        },

        // accept_sas: {user_id, flow_id} -> request or null (accept the other side's start)
        accept_sas(args) {
            return out(verificationOf(args, Sas).accept());
        },

        // confirm_sas: {user_id, flow_id} -> [requests]
        async confirm_sas(args) {
            return (await verificationOf(args, Sas).confirm()).map(request);
        },

        // generate_qr: {user_id, flow_id} -> {bytes (base64)} or null
        async generate_qr(args) {
            const qr = await requestOf(args).generateQrCode();
            return qr ? { bytes: Buffer.from(qr.toBytes()).toString("base64") } : null;
        },

        // scan_qr: {user_id, flow_id, bytes (base64)} -> request (the reciprocation) or null
        async scan_qr(args) {
            const scan = QrCodeScan.fromBytes(new Uint8ClampedArray(Buffer.from(str(args.bytes, "bytes"), "base64")));
            const qr = await requestOf(args).scanQrCode(scan);
            return out(qr.reciprocate());
        },

        // qr: {user_id, flow_id} -> the QR flow's state
        qr(args) {
            const q = verificationOf(args, Qr);
            return { scanned: q.hasBeenScanned(), confirmed: q.hasBeenConfirmed(), reciprocated: q.reciprocated(),
                done: q.isDone(), cancel: cancelOf(q.cancelInfo()) };
        },

        // user_verified: {user_id} -> whether the machine verified the user's identity
        async user_verified(args) {
            const id = await need().getIdentity(new UserId(str(args.user_id, "user_id")));
            return id ? id.isVerified() : false;
        },

        // receive_verification_event: {room_id, event} -> null (an in-room m.key.verification.*
        // event, or the m.room.message request, in decrypted form)
        async receive_verification_event(args) {
            await need().receiveVerificationEvent(JSON.stringify(h.obj(args.event, "event")), new sdk.RoomId(str(args.room_id, "room_id")));
            return null;
        },

        // room_request_content: {user_id} -> the content of an in-room request to that user (an
        // m.room.message); send it, then call request_verification_in_room with its event id.
        async room_request_content(args) {
            const id = await need().getIdentity(new UserId(str(args.user_id, "user_id")));
            if (!id || !id.verificationRequestContent) throw new DriverError("BadArgument", `no identity of another user ${args.user_id}`);
            return JSON.parse(id.verificationRequestContent(methodsOf(args.methods)));
        },

        // request_verification_in_room: {user_id, room_id, event_id} -> flow id
        async request_verification_in_room(args) {
            const id = await need().getIdentity(new UserId(str(args.user_id, "user_id")));
            if (!id || !id.verificationRequestContent) throw new DriverError("BadArgument", `no identity of another user ${args.user_id}`);
            const r = id.requestVerification(new sdk.RoomId(str(args.room_id, "room_id")), new sdk.EventId(str(args.event_id, "event_id")), methodsOf(args.methods));
            return r.flowId;
        },

        // confirm_qr: {user_id, flow_id} -> request or null (the other side scanned our code)
        confirm_qr(args) {
            return out(verificationOf(args, Qr).confirmScanning());
        },
    });
}
