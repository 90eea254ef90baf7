// history.mjs: the driver's commands for sharing keys for past messages
// (MSC4268 room key bundles) on matrix-sdk-crypto's OlmMachine. driver.mjs
// registers them; each command's arguments and result are in the comment
// above it (the Go side is rustpeer/history.go).

export function register(commands, h) {
    const { sdk, need, str, request } = h;
    const { UserId, RoomId, CollectStrategy } = sdk;

    const b64 = (u8) => Buffer.from(u8).toString("base64");
    const bytes = (s) => new Uint8Array(Buffer.from(str(s, "ciphertext"), "base64"));

    Object.assign(commands, {
        // build_room_key_bundle: {room_id} -> {ciphertext (base64), media_encryption_info (object)}
        // or null when there is nothing to share
        async build_room_key_bundle(args) {
            const a = await need().buildRoomKeyBundle(new RoomId(str(args.room_id, "room_id")));
            if (!a) return null;
            const info = a.mediaEncryptionInfo;
            return { ciphertext: b64(a.encryptedData), media_encryption_info: info ? JSON.parse(info) : null };
        },

        // share_room_key_bundle_data: {user_id, room_id, url, media_encryption_info} -> [request]
        // (to-device requests sending the bundle's location to all the user's devices)
        async share_room_key_bundle_data(args) {
            const info = JSON.stringify(h.obj(args.media_encryption_info, "media_encryption_info"));
            const reqs = await need().shareRoomKeyBundleData(new UserId(str(args.user_id, "user_id")),
                new RoomId(str(args.room_id, "room_id")), str(args.url, "url"), info, CollectStrategy.allDevices());
            return reqs.map(request);
        },

        // receive_room_key_bundle: {room_id, inviter, ciphertext (base64)} -> {url} of the bundle
        // imported, or null when no bundle from the inviter was received (or its sender is not
        // trusted enough)
        async receive_room_key_bundle(args) {
            const m = need();
            const data = await m.getReceivedRoomKeyBundleData(new RoomId(str(args.room_id, "room_id")), new UserId(str(args.inviter, "inviter")));
            if (!data) return null;
            const url = data.url;
            await m.receiveRoomKeyBundle(data, bytes(args.ciphertext));
            return { url };
        },

    });
}
