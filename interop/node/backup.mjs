// backup.mjs: the driver's commands for cross-signing, secret export and server-side key
// backups (registered by driver.mjs), with the protocol of the others (interop/README.md):
//
//   bootstrap_cross_signing {reset}        -> {upload_keys, signing_keys, signatures}
//   cross_signing_status                   -> {has_master, has_self_signing, has_user_signing}
//   export_cross_signing_keys              -> {master, self_signing, user_signing} (base64 seeds) or null
//   import_cross_signing_keys {master, self_signing, user_signing} -> the status after
//   identity {user_id}                     -> {own, master_key, is_verified, trusts_our_own_device} or null
//   verify_own_identity                    -> the signatures/upload body
//   new_backup_key                         -> {key, public_key}
//   enable_backup_v1 {public_key, version} -> null
//   backup_room_keys                       -> a KeysBackup request or null
//   verify_backup {backup_info}            -> {trusted, device_state, user_state} (SignatureState names)
//   restore_backup {key, keys, version}    -> {imported, total, failed}
//   request_missing_secrets                -> whether m.secret.request events were queued

export function backupCommands({ sdk, need, str, obj, request, parse, enumName, DriverError }) {
    const { BackupDecryptionKey, RoomId, UserId, SignatureState } = sdk;

    function decryptionKey(a) {
        try {
            return BackupDecryptionKey.fromBase64(str(a.key, "key"));
        } catch (e) {
            throw new DriverError("BadArgument", `key: ${e.message ?? e}`);
        }
    }

    return {
        // bootstrap_cross_signing creates new cross-signing keys and returns the requests to
        // send, in order: upload_keys (or null), signing_keys (the device_signing/upload body),
        // signatures (the signatures/upload body).
        async bootstrap_cross_signing(a) {
            const r = await need().bootstrapCrossSigning(Boolean(a.reset ?? true));
            return {
                upload_keys: r.uploadKeysRequest ? request(r.uploadKeysRequest) : null,
                signing_keys: parse(r.uploadSigningKeysRequest.body),
                signatures: parse(r.uploadSignaturesRequest.body),
            };
        },

        async cross_signing_status() {
            const s = await need().crossSigningStatus();
            return { has_master: s.hasMaster, has_self_signing: s.hasSelfSigning, has_user_signing: s.hasUserSigning };
        },

        // export_cross_signing_keys returns the private keys as unpadded base64 seeds.
        async export_cross_signing_keys() {
            const k = await need().exportCrossSigningKeys();
            if (!k) return null;
            return { master: k.masterKey ?? null, self_signing: k.self_signing_key ?? null, user_signing: k.userSigningKey ?? null };
        },

        async import_cross_signing_keys(a) {
            const s = await need().importCrossSigningKeys(a.master ?? null, a.self_signing ?? null, a.user_signing ?? null);
            return { has_master: s.hasMaster, has_self_signing: s.hasSelfSigning, has_user_signing: s.hasUserSigning };
        },

        // identity returns what the machine thinks of a user's cross-signing identity, or null.
        async identity(a) {
            const id = await need().getIdentity(new UserId(str(a.user_id, "user_id")));
            if (!id) return null;
            const own = typeof id.trustsOurOwnDevice === "function";
            return {
                own,
                master_key: parse(id.masterKey),
                is_verified: id.isVerified(),
                trusts_our_own_device: own ? await id.trustsOurOwnDevice() : null,
            };
        },

        // verify_own_identity marks our own identity verified and returns the signature
        // upload body.
        async verify_own_identity() {
            const id = await need().getIdentity(need().userId);
            if (!id || typeof id.verify !== "function") throw new DriverError("BadArgument", "no own identity");
            return parse((await id.verify()).body);
        },

        new_backup_key() {
            const k = BackupDecryptionKey.createRandomKey();
            return { key: k.toBase64(), public_key: k.megolmV1PublicKey.publicKeyBase64 };
        },

        async enable_backup_v1(a) {
            await need().enableBackupV1(str(a.public_key, "public_key"), str(a.version, "version"));
            return null;
        },

        async backup_room_keys() {
            const r = await need().backupRoomKeys();
            return r ? request(r) : null;
        },

        // verify_backup checks a backup version's signatures (the GET /room_keys/version body).
        async verify_backup(a) {
            const v = await need().verifyBackup(obj(a.backup_info, "backup_info"));
            return {
                trusted: v.trusted(),
                device_state: enumName(SignatureState, v.deviceState),
                user_state: enumName(SignatureState, v.userState),
            };
        },

        async request_missing_secrets() {
            return await need().requestMissingSecretsIfNeeded();
        },

        // restore_backup decrypts a /room_keys/keys body with the key (base64) and imports
        // the sessions; it returns the counts and the entries that did not decrypt.
        async restore_backup(a) {
            const key = decryptionKey(a);
            const rooms = obj(obj(a.keys, "keys").rooms ?? {}, "keys.rooms");
            const all = new Map();
            let failed = 0;
            for (const [room, rs] of Object.entries(rooms)) {
                const sessions = new Map();
                for (const [sid, entry] of Object.entries(rs.sessions ?? {})) {
                    const d = entry.session_data;
                    try {
                        sessions.set(sid, JSON.parse(key.decryptV1(d.ephemeral, d.mac, d.ciphertext)));
                    } catch {
                        failed++;
                    }
                }
                all.set(new RoomId(room), sessions);
            }
            const res = await need().importBackedUpRoomKeys(all, undefined, str(a.version, "version"));
            return { imported: res.importedCount, total: res.totalCount, failed };
        },
    };
}
