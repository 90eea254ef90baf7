package main

// The peer driver: one JSON request per line on stdin, one JSON response per
// line on stdout, strictly in order. The protocol is documented in
// docs/peer.md; protocol commands register themselves from peer_*.go files.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/signing"
)

// maxPeerLine bounds one request line.
const maxPeerLine = 64 << 20

// result holds the fields of a successful response.
type result map[string]any

// handler runs one peer command.
type handler func(p *peer, r *request) (result, error)

var (
	peerHandlers = map[string]handler{}
	peerErrors   []errorClass
)

type errorClass struct {
	err   error
	class string
}

// register adds a peer command under name and its aliases. It is called
// from init functions; registering a name twice is a programming error.
func register(name string, h handler, aliases ...string) {
	for _, n := range append([]string{name}, aliases...) {
		if _, dup := peerHandlers[n]; dup {
			// Called from init: a duplicate is a programming error.
			panic("sicher: peer command registered twice: " + n)
		}
		peerHandlers[n] = h
	}
}

// registerErrorClass makes failures that match err (errors.Is) report
// error_type class. More specific errors must be registered first.
func registerErrorClass(err error, class string) {
	peerErrors = append(peerErrors, errorClass{err, class})
}

// peerError is a failure of the request itself: malformed JSON, unknown
// command, missing or ill-typed argument, unknown handle.
type peerError struct{ msg string }

func (e *peerError) Error() string { return e.msg }

func errPeer(format string, args ...any) error { return &peerError{fmt.Sprintf(format, args...)} }

func errorType(err error) string {
	var pe *peerError
	if errors.As(err, &pe) {
		return "PeerError"
	}
	var ne *signing.NumberError
	if errors.As(err, &ne) {
		return "CanonicalJSONNumber"
	}
	for _, c := range peerErrors {
		if errors.Is(err, c.err) {
			return c.class
		}
	}
	return "Error"
}

// peer is the state of one driver session: objects by handle.
type peer struct {
	objects map[string]any
	kinds   map[string]string
	next    int
	quit    bool
}

func newPeer() *peer {
	return &peer{objects: map[string]any{}, kinds: map[string]string{}}
}

// put stores obj under the handle the request chose ("handle") or a fresh
// one, and returns the handle.
func (p *peer) put(r *request, kind string, obj any) (string, error) {
	h, err := r.optString("handle", "")
	if err != nil {
		return "", err
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

// object returns the object whose handle is in argument arg, which must be
// of type T.
func object[T any](p *peer, r *request, arg string) (T, error) {
	var zero T
	h, err := r.string(arg)
	if err != nil {
		return zero, err
	}
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

// unpickle runs a libolm-format unpickler on the request's "pickle" with
// its "passphrase" (default "") as the pickle key, and stores the result
// under a handle of the given kind.
func unpickle[T any](p *peer, r *request, kind string, open func(key []byte, pickle string) (T, error)) (T, string, error) {
	var zero T
	pk, err := r.string("pickle")
	if err != nil {
		return zero, "", err
	}
	pass, err := r.optString("passphrase", "")
	if err != nil {
		return zero, "", err
	}
	obj, err := open([]byte(pass), pk)
	if err != nil {
		return zero, "", err
	}
	h, err := p.put(r, kind, obj)
	if err != nil {
		return zero, "", err
	}
	return obj, h, nil
}

// request is one parsed request line.
type request struct {
	id   json.RawMessage
	cmd  string
	args map[string]json.RawMessage
}

func (r *request) has(name string) bool {
	v, ok := r.args[name]
	return ok && string(v) != "null"
}

func (r *request) raw(name string) (json.RawMessage, bool) {
	if !r.has(name) {
		return nil, false
	}
	return r.args[name], true
}

func (r *request) string(name string) (string, error) {
	v, ok := r.raw(name)
	if !ok {
		return "", errPeer("missing argument %q", name)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errPeer("argument %q must be a string", name)
	}
	return s, nil
}

func (r *request) optString(name, def string) (string, error) {
	if !r.has(name) {
		return def, nil
	}
	return r.string(name)
}

func (r *request) int(name string) (int64, error) {
	v, ok := r.raw(name)
	if !ok {
		return 0, errPeer("missing argument %q", name)
	}
	var n int64
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, errPeer("argument %q must be an integer", name)
	}
	return n, nil
}

func (r *request) optInt(name string, def int64) (int64, error) {
	if !r.has(name) {
		return def, nil
	}
	return r.int(name)
}

func (r *request) optBool(name string, def bool) (bool, error) {
	v, ok := r.raw(name)
	if !ok {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, errPeer("argument %q must be a boolean", name)
	}
	return b, nil
}

// bytesB64 decodes argument name (a harness-carried "_b64" value): padded
// or unpadded, standard or URL-safe alphabet.
func (r *request) bytesB64(name string) ([]byte, error) {
	s, err := r.string(name)
	if err != nil {
		return nil, err
	}
	b, err := decodeLenient(s)
	if err != nil {
		return nil, errPeer("argument %q is not base64", name)
	}
	return b, nil
}

// data returns the bytes of argument base (a UTF-8 string, or a JSON
// object/array serialised compactly) or of base+"_b64".
func (r *request) data(base string) ([]byte, error) {
	if r.has(base + "_b64") {
		return r.bytesB64(base + "_b64")
	}
	v, ok := r.raw(base)
	if !ok {
		return nil, errPeer("missing argument %q or %q", base, base+"_b64")
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil || (v[0] != '{' && v[0] != '[') {
		return nil, errPeer("argument %q must be a string, object or array", base)
	}
	return buf.Bytes(), nil
}

func decodeLenient(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	return base64.RawStdEncoding.DecodeString(s)
}

// b64Out encodes raw bytes for a "_b64" result field: standard, padded.
func b64Out(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// addPlaintext sets the plaintext_b64 and plaintext (UTF-8 or null) fields.
func addPlaintext(res result, prefix string, b []byte) {
	res[prefix+"_b64"] = b64Out(b)
	if utf8.Valid(b) {
		res[prefix] = string(b)
	} else {
		res[prefix] = nil
	}
}

func runPeer(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: sicher peer (reads JSON requests, one per line, from stdin; see docs/peer.md)")
		if args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	p := newPeer()
	in := bufio.NewReaderSize(stdin, 64<<10)
	out := bufio.NewWriter(stdout)
	for !p.quit {
		line, err := readLine(in)
		if len(bytes.TrimSpace(line)) > 0 {
			out.Write(p.handle(line))
			out.WriteByte('\n')
			out.Flush()
		}
		if err != nil {
			break
		}
	}
	return 0
}

// readLine reads one line; a line longer than maxPeerLine is returned
// truncated (and then fails to parse).
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) <= maxPeerLine+1 {
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
		h, ok := peerHandlers[req.cmd]
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
	if req != nil && req.id != nil {
		resp["id"] = req.id
	} else {
		resp["id"] = nil
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

func parseRequest(line []byte) (*request, error) {
	var args map[string]json.RawMessage
	if err := json.Unmarshal(line, &args); err != nil || args == nil {
		return nil, errPeer("malformed request: not a JSON object")
	}
	r := &request{args: args}
	if id, ok := args["id"]; ok {
		r.id = id
	}
	c, ok := args["cmd"]
	if !ok {
		return r, errPeer("missing \"cmd\"")
	}
	if err := json.Unmarshal(c, &r.cmd); err != nil {
		return r, errPeer("\"cmd\" must be a string")
	}
	return r, nil
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

func init() {
	register("ping", func(*peer, *request) (result, error) {
		return result{"implementation": "sicher", "version": version, "revision": vcsRevision(), "go": runtime.Version()}, nil
	})
	register("version", func(*peer, *request) (result, error) {
		return result{"version": version, "go": runtime.Version()}, nil
	})
	register("commands", func(*peer, *request) (result, error) {
		names := make([]string, 0, len(peerHandlers))
		for n := range peerHandlers {
			names = append(names, n)
		}
		sort.Strings(names)
		return result{"commands": names}, nil
	})
	register("list_handles", func(p *peer, _ *request) (result, error) {
		hs := map[string]string{}
		for h, k := range p.kinds {
			hs[h] = k
		}
		return result{"handles": hs}, nil
	})
	register("free", func(p *peer, r *request) (result, error) {
		h, err := r.string("handle")
		if err != nil {
			return nil, err
		}
		if _, ok := p.objects[h]; !ok {
			return nil, errPeer("unknown handle %q", h)
		}
		delete(p.objects, h)
		delete(p.kinds, h)
		return result{"freed": h}, nil
	})
	register("quit", func(p *peer, _ *request) (result, error) {
		p.quit = true
		return result{"bye": true}, nil
	})
	register("ed25519_verify", func(_ *peer, r *request) (result, error) {
		ks, err := r.string("key")
		if err != nil {
			return nil, err
		}
		msg, err := r.data("message")
		if err != nil {
			return nil, err
		}
		ss, err := r.string("signature")
		if err != nil {
			return nil, err
		}
		res := result{"valid": false, "error": nil}
		k, err := key.ParseEd25519(ks)
		if err != nil {
			res["error"] = err.Error()
			return res, nil
		}
		sig, err := key.ParseEd25519Signature(ss)
		if err != nil {
			res["error"] = err.Error()
			return res, nil
		}
		if err := k.Verify(msg, sig); err != nil {
			res["error"] = err.Error()
			return res, nil
		}
		res["valid"] = true
		return res, nil
	})
	register("sha256", func(_ *peer, r *request) (result, error) {
		in, err := r.data("input")
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(in)
		return result{"hash": b64.Encode(h[:])}, nil
	})
	registerErrorClass(key.ErrNonContributory, "NonContributoryKey")
	registerErrorClass(key.ErrBadSignature, "BadSignature")
	registerErrorClass(key.ErrWeakKey, "BadSignature")
	registerErrorClass(key.ErrMalformed, "InvalidKey")
	registerErrorClass(b64.ErrInvalid, "InvalidBase64")
}
