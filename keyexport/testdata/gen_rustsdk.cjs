// Test-data generator for sicher's keyexport and attachment packages,
// using matrix-rust-sdk's crypto as Element ships it:
// npm @matrix-org/matrix-sdk-crypto-wasm 18.9.0. Not a dependency of the
// library; the output, rustsdk.json, is committed.
//
//   npm install @matrix-org/matrix-sdk-crypto-wasm@18.9.0   (in some DIR)
//   NODE_PATH=DIR/node_modules node gen_rustsdk.cjs > rustsdk.json
//
// It (1) imports the sessions of nio_export.txt into an OlmMachine and
// exports them again with rust-sdk (exportRoomKeys +
// encryptExportedRoomKeys), (2) decrypts and imports sicher's
// sicher_export.txt, (3) encrypts an attachment, and (4) decrypts
// sicher's attachment from sicher_attachment.json.
const sdk = require('@matrix-org/matrix-sdk-crypto-wasm');
const fs = require('fs');
(async () => {
  if (sdk.initAsync) await sdk.initAsync();
  const out = { source: "@matrix-org/matrix-sdk-crypto-wasm 18.9.0 (npm), gen_rustsdk.cjs" };

  // (1) rust-sdk writes a key export file of nio's sessions.
  const nio = fs.readFileSync(__dirname + '/nio_export.txt', 'utf8');
  const nioJSON = sdk.OlmMachine.decryptExportedRoomKeys(nio, 'nio passphrase');
  const m1 = await sdk.OlmMachine.initialize(new sdk.UserId('@carol:example.org'), new sdk.DeviceId('CAROLDEVICE'));
  const r1 = await m1.importExportedRoomKeys(nioJSON, () => {});
  const exported = await m1.exportRoomKeys(() => true);
  out.export_passphrase = 'rust passphrase';
  out.export_file = sdk.OlmMachine.encryptExportedRoomKeys(exported, out.export_passphrase, 10000);
  out.export_imported = r1.importedCount;

  // (2) rust-sdk reads sicher's key export file.
  const ours = fs.readFileSync(__dirname + '/sicher_export.txt', 'utf8');
  const oursJSON = sdk.OlmMachine.decryptExportedRoomKeys(ours, 'sicher passphrase');
  const m2 = await sdk.OlmMachine.initialize(new sdk.UserId('@dave:example.org'), new sdk.DeviceId('DAVEDEVICE'));
  const r2 = await m2.importExportedRoomKeys(oursJSON, () => {});
  out.sicher_export_imported = r2.importedCount;
  out.sicher_export_total = r2.totalCount;
  out.sicher_export_session_ids = JSON.parse(oursJSON).map(s => s.session_id).sort();

  // (3) rust-sdk encrypts an attachment.
  const plaintext = "Entlassbericht: rust-sdk attachment for sicher";
  const att = sdk.Attachment.encrypt(new TextEncoder().encode(plaintext));
  out.attachment = {
    plaintext,
    ciphertext_hex: Buffer.from(att.encryptedData).toString('hex'),
    info: JSON.parse(att.mediaEncryptionInfo),
  };

  // (4) rust-sdk decrypts sicher's attachment.
  const sa = JSON.parse(fs.readFileSync(__dirname + '/sicher_attachment.json', 'utf8'));
  const enc = new sdk.EncryptedAttachment(new Uint8Array(Buffer.from(sa.ciphertext_hex, 'hex')), JSON.stringify(sa.info));
  out.sicher_attachment_plaintext = new TextDecoder().decode(sdk.Attachment.decrypt(enc));

  console.log(JSON.stringify(out, null, 1));
})().catch(e => { console.error(e); process.exit(1); });
