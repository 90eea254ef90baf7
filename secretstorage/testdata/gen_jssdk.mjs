// Test-data generator for sicher's secretstorage package, using
// matrix-js-sdk 37.5.0 from npm (the secret storage code of Element Web,
// on Node's WebCrypto). Not a dependency of the library; the output,
// jssdk.json, is committed.
//
//   npm install matrix-js-sdk@37.5.0   (in some DIR)
//   node gen_jssdk.mjs DIR/node_modules > jssdk.json
//
// It derives a key from a passphrase (m.pbkdf2), encodes it as a recovery
// key, computes a key check, encrypts secrets under well-known names, and
// decrypts the secrets sicher encrypted in sicher_secrets.json.
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const dir = process.argv[2];
const load = async (p) => (await import(pathToFileURL(path.join(dir, 'matrix-js-sdk/lib', p)).href));
const encrypt = (await load('utils/encryptAESSecretStorageItem.js')).default;
const decrypt = (await load('utils/decryptAESSecretStorageItem.js')).default;
const { calculateKeyCheck } = await load('secret-storage.js');
const { deriveRecoveryKeyFromPassphrase } = await load('crypto-api/key-passphrase.js');
const { encodeRecoveryKey } = await load('crypto-api/recovery-key.js');

const out = { source: 'matrix-js-sdk 37.5.0 (npm), gen_jssdk.mjs' };
out.passphrase = 'Praxis Dr. Müller, Rezept 2026';
out.salt = 'wqBTnXm4N1YdGHRF8u9CoZkLxVv7a2Ep';
out.iterations = 1000;
const key = await deriveRecoveryKeyFromPassphrase(out.passphrase, out.salt, out.iterations);
out.key_hex = Buffer.from(key).toString('hex');
out.recovery_key = encodeRecoveryKey(key);
out.key_check = await calculateKeyCheck(key);
out.secrets = [];
for (const [name, secret] of [
  ['m.cross_signing.master', Buffer.alloc(32, 7).toString('base64')],
  ['m.megolm_backup.v1', Buffer.alloc(32, 9).toString('base64')],
  ['org.example.unicode', 'Geheimnis ü 🔑'],
]) {
  out.secrets.push({ name, secret, encrypted: await encrypt(secret, key, name) });
}
const ours = JSON.parse(fs.readFileSync(new URL('./sicher_secrets.json', import.meta.url)));
const k2 = Buffer.from(ours.key_hex, 'hex');
// js-sdk writes padded base64; sicher writes unpadded.
const unpad = (s) => s.replace(/=+$/, '');
out.sicher_key_check_ok = unpad((await calculateKeyCheck(k2, ours.key_check.iv)).mac) === unpad(ours.key_check.mac);
out.sicher_decrypted = [];
for (const s of ours.secrets) {
  out.sicher_decrypted.push({ name: s.name, secret: await decrypt(s.encrypted, k2, s.name) });
}
console.log(JSON.stringify(out, null, 1));
