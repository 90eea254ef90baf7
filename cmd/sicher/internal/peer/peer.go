// Package peer is the interop driver behind "sicher peer": one JSON request
// per line on stdin, one JSON response per line on stdout, strictly in
// order. docs/peer.md in the repository documents the protocol; the
// commands and their handlers are listed in one table, handlers (below).
package peer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/sicher-go/sicher/event"
)

// maxLine bounds one request line.
const maxLine = 64 << 20

// result holds the fields of a successful response.
type result map[string]any

// handler runs one peer command.
type handler func(p *peer, r *request) (result, error)

// Info names the build the peer reports from "ping" and "version".
type Info struct {
	Version  string // the library release
	Revision string // the VCS revision, "" if the build recorded none
}

// handlers is the command table: every command and alias the peer answers.
// It is filled in by init (below), which breaks the cycle through "commands".
var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		// General commands (general.go).
		"ping": ping, "version": versionCmd, "commands": listCommands,
		"list_handles": listHandles, "free": free, "quit": quit,
		"ed25519_verify": ed25519Verify, "sha256": sha256Cmd,

		// Olm accounts and sessions (olm.go).
		"create_account": createAccount, "account_create": createAccount,
		"account_identity_keys":           accountIdentityKeys,
		"account_generate_one_time_keys":  accountGenerateOneTimeKeys,
		"account_one_time_keys":           accountOneTimeKeys,
		"account_mark_keys_as_published":  accountMarkKeysAsPublished,
		"account_max_one_time_keys":       accountMaxOneTimeKeys,
		"account_generate_fallback_key":   accountGenerateFallbackKey,
		"account_fallback_key":            accountFallbackKey,
		"account_forget_old_fallback_key": accountForgetOldFallbackKey,
		"account_sign":                    accountSign,
		"account_remove_one_time_keys":    accountRemoveOneTimeKeys,
		"account_pickle":                  accountPickle,
		"account_unpickle":                accountUnpickle,
		"create_outbound_session":         createOutboundSession,
		"create_inbound_session":          createInboundSession,
		"encrypt":                         olmEncrypt,
		"decrypt":                         olmDecrypt,
		"session_matches":                 sessionMatches,
		"session_info":                    sessionInfo,
		"session_pickle":                  sessionPickle,
		"session_unpickle":                sessionUnpickle,

		// Megolm group sessions (megolm.go).
		"create_outbound_group_session":   createOutboundGroupSession,
		"outbound_group_session_info":     outboundGroupSessionInfo,
		"group_encrypt":                   groupEncrypt,
		"create_inbound_group_session":    createInboundGroupSession,
		"import_inbound_group_session":    importInboundGroupSession,
		"inbound_group_session_info":      inboundGroupSessionInfo,
		"group_decrypt":                   groupDecrypt,
		"export_session":                  exportSession,
		"export_inbound_group_session":    exportSession,
		"group_session_pickle":            groupSessionPickle,
		"outbound_group_session_pickle":   groupSessionPickle,
		"inbound_group_session_pickle":    groupSessionPickle,
		"outbound_group_session_unpickle": outboundGroupSessionUnpickle,
		"inbound_group_session_unpickle":  inboundGroupSessionUnpickle,

		// SAS and recovery keys (sas.go).
		"sas_create":                     sasCreate,
		"sas_set_their_pubkey":           sasSetTheirPubkey,
		"sas_generate_bytes":             sasGenerateBytes,
		"sas_short_auth_string":          sasShortAuthString,
		"sas_calculate_mac":              sasCalculateMAC,
		"sas_calculate_mac_fixed_base64": sasCalculateMACFixedBase64,
		"sas_calculate_mac_long_kdf":     sasCalculateMACLongKDF,
		"recovery_key_encode":            recoveryKeyEncode,
		"recovery_key_decode":            recoveryKeyDecode,

		// libolm's PkDecryption, PkEncryption and PkSigning (pk.go).
		"pk_decryption_create":      pkDecryptionCreate,
		"pk_decryption_private_key": pkDecryptionPrivateKey,
		"pk_encrypt":                pkEncrypt,
		"pk_decrypt":                pkDecrypt,
		"pk_pickle":                 pkPickle,
		"pk_unpickle":               pkUnpickle,
		"pk_signing_create":         pkSigningCreate,
		"pk_sign":                   pkSign,

		// Signed JSON and events (matrix.go).
		"canonical_json":       canonicalJSON,
		"sign_json":            signJSON,
		"verify_json":          verifyJSON,
		"account_device_keys":  accountDeviceKeys,
		"olm_encrypt_event":    olmEncryptEvent,
		"olm_decrypt_event":    olmDecryptEvent,
		"megolm_encrypt_event": megolmEncryptEvent,
		"megolm_decrypt_event": megolmDecryptEvent,

		// Attachments, key export files, secret storage (files.go).
		"attachment_encrypt": attachmentEncrypt,
		"attachment_decrypt": attachmentDecrypt,
		"key_export_encrypt": keyExportEncrypt,
		"key_export_decrypt": keyExportDecrypt,
		"secret_encrypt":     secretEncrypt,
		"secret_decrypt":     secretDecrypt,
	}
}

// peerError is a failure of the request itself: malformed JSON, unknown
// command, missing or ill-typed argument, unknown handle.
type peerError struct{ msg string }

func (e *peerError) Error() string { return e.msg }

func errPeer(format string, args ...any) error { return &peerError{fmt.Sprintf(format, args...)} }

// peer is the state of one driver session: objects by handle.
type peer struct {
	info    Info
	objects map[string]any
	kinds   map[string]string
	next    int
	quit    bool
	// replay is the Megolm replay guard of megolm_decrypt_event, created
	// on first use.
	replay *event.ReplayGuard
}

func newPeer() *peer {
	return &peer{objects: map[string]any{}, kinds: map[string]string{}}
}

// Run answers the requests read from in on out until in ends or a "quit"
// request arrives. It fails only when out does.
func Run(in io.Reader, out io.Writer, info Info) error {
	p := newPeer()
	p.info = info
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriter(out)
	for !p.quit {
		line, err := readLine(r)
		if len(bytes.TrimSpace(line)) > 0 {
			w.Write(p.handle(line))
			w.WriteByte('\n')
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if err != nil {
			break
		}
	}
	return nil
}

// readLine reads one line; a line longer than maxLine is returned
// truncated (and then fails to parse).
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) <= maxLine+1 {
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// handle runs one request line and returns the response line.
func (p *peer) handle(line []byte) []byte {
	req, err := parseRequest(line)
	var res result
	if err == nil {
		h, ok := handlers[req.cmd]
		if !ok {
			err = errPeer("unknown command %q", req.cmd)
		} else {
			res, err = safeCall(h, p, req)
		}
	}
	resp := map[string]any{}
	for k, v := range res {
		resp[k] = v
	}
	resp["id"] = nil
	if req != nil && req.id != nil {
		resp["id"] = req.id
	}
	if err != nil {
		resp = map[string]any{"id": resp["id"], "ok": false, "error": err.Error(), "error_type": errorType(err)}
	} else {
		resp["ok"] = true
	}
	b, merr := marshalNoEscape(resp)
	if merr != nil {
		b, _ = marshalNoEscape(map[string]any{"id": resp["id"], "ok": false, "error": "internal error: " + merr.Error(), "error_type": "Error"})
	}
	return b
}

// safeCall runs h, turning a panic into an error so the peer stays usable;
// a panic is a bug in sicher and says so.
func safeCall(h handler, p *peer, r *request) (res result, err error) {
	defer func() {
		if v := recover(); v != nil {
			res, err = nil, fmt.Errorf("internal error (panic): %v", v)
		}
	}()
	return h(p, r)
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// put stores obj under the handle the request chose ("handle") or a fresh
// one, and returns the handle.
func (p *peer) put(r *request, kind string, obj any) (string, error) {
	var h string
	if r != nil && r.has("handle") {
		if err := decodeArg(r, "handle", &h); err != nil {
			return "", err
		}
	}
	if h == "" {
		for {
			p.next++
			h = kind + "-" + strconv.Itoa(p.next)
			if _, taken := p.objects[h]; !taken {
				break
			}
		}
	}
	p.objects[h] = obj
	p.kinds[h] = kind
	return h, nil
}

// object returns the object under handle h, named by argument arg, which
// must be of type T.
func object[T any](p *peer, arg, h string) (T, error) {
	var zero T
	o, ok := p.objects[h]
	if !ok {
		return zero, errPeer("unknown handle %q in %q", h, arg)
	}
	t, ok := o.(T)
	if !ok {
		return zero, errPeer("handle %q in %q is a %s", h, arg, p.kinds[h])
	}
	return t, nil
}
