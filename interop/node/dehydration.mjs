// dehydration.mjs: the driver's commands for dehydrated devices (MSC3814) on
// matrix-sdk-crypto's DehydratedDevices. driver.mjs registers them; each
// command's arguments and result are in the comment above it (the Go side is
// rustpeer/dehydration.go).

export function register(commands, h) {
    const { sdk, need, str, arr, obj } = h;
    const { DehydratedDeviceKey, DeviceId } = sdk;

    const keyOf = (b64) => DehydratedDeviceKey.createKeyFromArray(new Uint8Array(Buffer.from(str(b64, "key"), "base64")));

    Object.assign(commands, {
        // create_dehydrated_device: {key?: base64 of 32 bytes} -> {key, body}: a new dehydrated
        // device and the body of PUT /dehydrated_device that stores it (random key if none)
        async create_dehydrated_device(args) {
            const k = args.key ? keyOf(args.key) : DehydratedDeviceKey.createRandomKey();
            const dd = await need().dehydratedDevices().create();
            const req = await dd.keysForUpload("Dehydrated device", k);
            return { key: k.toBase64(), body: JSON.parse(req.body) };
        },

        // rehydrate_device: {key, device_id, device_data, events} -> number of room keys the
        // rehydrated device passed to the machine from the events (the /events pages' arrays)
        async rehydrate_device(args) {
            const rd = await need().dehydratedDevices().rehydrate(keyOf(args.key), new DeviceId(str(args.device_id, "device_id")),
                JSON.stringify(obj(args.device_data, "device_data")));
            const keys = await rd.receiveEvents(JSON.stringify(arr(args.events, "events")));
            return keys.length;
        },
    });
}
