// vectors.mjs prints LiveKit frame-key derivation vectors as JSON, computed by livekit-client's
// own exported functions (src/e2ee/utils.ts: createKeyMaterialFromBuffer, createKeyMaterialFromString,
// importKey, deriveKeys, ratchet) under Node's WebCrypto. Input: a JSON object on stdin,
// {"hkdf": [hex material...], "pbkdf2": [hex password...], "ratchets": n}. Output: for each input,
// the AES-128-GCM frame key of the material and of each of n successive ratchet steps, with the
// ratcheted material.
import { readFileSync } from 'node:fs';
import {
  createKeyMaterialFromBuffer,
  createKeyMaterialFromString,
  deriveKeys,
  importKey,
  ratchet,
} from 'livekit-client';

const version = JSON.parse(readFileSync(new URL('./node_modules/livekit-client/package.json', import.meta.url))).version;
const SALT = 'LKFrameEncryptionKey'; // src/e2ee/constants.ts SALT, the default ratchetSalt
const options = { sharedKey: false, ratchetSalt: SALT, ratchetWindowSize: 8, failureTolerance: 10, keyringSize: 16, keySize: 128 };

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));

async function frameKey(material) {
  const { encryptionKey } = await deriveKeys(material, options);
  // deriveKeys makes a non-extractable key: read it back through what it does, an AES-GCM
  // encryption of a zero block with a zero IV, which identifies the key.
  const probe = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, encryptionKey, new Uint8Array(16));
  return hex(probe);
}

async function chain(material, n) {
  const steps = [{ frame_key_probe: await frameKey(material) }];
  for (let i = 0; i < n; i++) {
    const next = await ratchet(material, SALT);
    material = await importKey(next, material.algorithm.name, 'derive');
    steps.push({ material: hex(next), frame_key_probe: await frameKey(material) });
  }
  return steps;
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);
const out = { source: `npm livekit-client ${version}, src/e2ee/utils.ts deriveKeys and ratchet under Node ${process.version} WebCrypto`, hkdf: [], pbkdf2: [] };
for (const m of req.hkdf) {
  const material = await createKeyMaterialFromBuffer(unhex(m));
  out.hkdf.push({ material: m, steps: await chain(material, req.ratchets) });
}
for (const p of req.pbkdf2) {
  const material = await createKeyMaterialFromString(Buffer.from(p, 'hex').toString('utf8'));
  out.pbkdf2.push({ password: p, steps: await chain(material, req.ratchets) });
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
