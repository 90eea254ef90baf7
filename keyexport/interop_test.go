package keyexport

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/sicher-go/sicher/attachment"
)

// sicherAttachmentPlaintext is what testdata/sicher_attachment.json
// encrypts.
const sicherAttachmentPlaintext = "Arztbrief: sicher attachment for matrix-rust-sdk"

// TestSicherAttachmentForRustSDK writes (with SICHER_WRITE_TESTDATA=1)
// testdata/sicher_attachment.json, the attachment gen_rustsdk.cjs asks
// matrix-rust-sdk to decrypt; otherwise it checks that the committed file
// still decrypts here.
func TestSicherAttachmentForRustSDK(t *testing.T) {
	type file struct {
		Plaintext     string                    `json:"plaintext"`
		CiphertextHex string                    `json:"ciphertext_hex"`
		Info          *attachment.EncryptedFile `json:"info"`
	}
	if os.Getenv("SICHER_WRITE_TESTDATA") == "1" {
		ct, f, err := attachment.Encrypt([]byte(sicherAttachmentPlaintext))
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.MarshalIndent(file{sicherAttachmentPlaintext, hex.EncodeToString(ct), f}, "", " ")
		if err := os.WriteFile("testdata/sicher_attachment.json", js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js, err := os.ReadFile("testdata/sicher_attachment.json")
	if err != nil {
		t.Fatal(err)
	}
	var f file
	if err := json.Unmarshal(js, &f); err != nil {
		t.Fatal(err)
	}
	ct, _ := hex.DecodeString(f.CiphertextHex)
	if pt, err := attachment.Decrypt(ct, f.Info, nil); err != nil || string(pt) != sicherAttachmentPlaintext {
		t.Fatal(err)
	}
}

type rustSDKData struct {
	Source                 string   `json:"source"`
	ExportPassphrase       string   `json:"export_passphrase"`
	ExportFile             string   `json:"export_file"`
	ExportImported         int      `json:"export_imported"`
	SicherExportImported   int      `json:"sicher_export_imported"`
	SicherExportTotal      int      `json:"sicher_export_total"`
	SicherExportSessionIDs []string `json:"sicher_export_session_ids"`
	SicherAttachmentPlain  string   `json:"sicher_attachment_plaintext"`
	Attachment             struct {
		Plaintext     string          `json:"plaintext"`
		CiphertextHex string          `json:"ciphertext_hex"`
		Info          json.RawMessage `json:"info"`
	} `json:"attachment"`
}

// TestRustSDKInterop checks the results of testdata/gen_rustsdk.cjs
// (matrix-sdk-crypto-wasm 18.9.0, Element's crypto): a key export file
// written by matrix-rust-sdk imports here and its sessions decrypt nio's
// messages; rust-sdk imported every session of sicher's export file; an
// attachment rust-sdk encrypted decrypts here, and rust-sdk decrypted
// sicher's attachment.
func TestRustSDKInterop(t *testing.T) {
	js, err := os.ReadFile("testdata/rustsdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var r rustSDKData
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	nio, _ := loadNio(t)

	sessions, skipped, err := Import([]byte(r.ExportFile), r.ExportPassphrase, nil)
	if err != nil || len(skipped) != 0 || len(sessions) != len(nio.Sessions) || r.ExportImported != len(nio.Sessions) {
		t.Fatalf("rust-sdk export: %v %v %d", err, skipped, len(sessions))
	}
	checkNioSessions(t, nio, sessions)

	// rust-sdk imported sicher's file completely.
	ours, err := os.ReadFile("testdata/sicher_export.txt")
	if err != nil {
		t.Fatal(err)
	}
	mine, _, err := Import(ours, "sicher passphrase", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range mine {
		ids = append(ids, s.SessionID().String())
	}
	slices.Sort(ids)
	if r.SicherExportImported != len(mine) || r.SicherExportTotal != len(mine) || !slices.Equal(ids, r.SicherExportSessionIDs) {
		t.Fatalf("rust-sdk imported %d of %d of sicher's sessions (%v)", r.SicherExportImported, r.SicherExportTotal, r.SicherExportSessionIDs)
	}

	f, err := attachment.ParseEncryptedFile(r.Attachment.Info)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := hex.DecodeString(r.Attachment.CiphertextHex)
	pt, err := attachment.Decrypt(ct, f, nil)
	if err != nil || !bytes.Equal(pt, []byte(r.Attachment.Plaintext)) {
		t.Fatalf("rust-sdk attachment: %q %v", pt, err)
	}
	if r.SicherAttachmentPlain != sicherAttachmentPlaintext {
		t.Fatalf("rust-sdk decrypted sicher's attachment to %q", r.SicherAttachmentPlain)
	}
}
