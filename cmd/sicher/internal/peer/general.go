package peer

// General commands: ping, version, the command list, handles, Ed25519
// verification and SHA-256.

import (
	"crypto/sha256"
	"runtime"
	"sort"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
)

func ping(p *peer, _ *request) (result, error) {
	return result{"implementation": "sicher", "version": p.info.Version, "revision": p.info.Revision, "go": runtime.Version()}, nil
}

func versionCmd(p *peer, _ *request) (result, error) {
	return result{"version": p.info.Version, "go": runtime.Version()}, nil
}

func listCommands(*peer, *request) (result, error) {
	names := make([]string, 0, len(handlers))
	for n := range handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return result{"commands": names}, nil
}

func listHandles(p *peer, _ *request) (result, error) {
	hs := map[string]string{}
	for h, k := range p.kinds {
		hs[h] = k
	}
	return result{"handles": hs}, nil
}

func free(p *peer, r *request) (result, error) {
	var a struct {
		Handle string `arg:"handle"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if _, ok := p.objects[a.Handle]; !ok {
		return nil, errPeer("unknown handle %q", a.Handle)
	}
	delete(p.objects, a.Handle)
	delete(p.kinds, a.Handle)
	return result{"freed": a.Handle}, nil
}

func quit(p *peer, _ *request) (result, error) {
	p.quit = true
	return result{"bye": true}, nil
}

// ed25519Verify never fails the request on a bad key or signature: it
// reports valid false and the reason.
func ed25519Verify(p *peer, r *request) (result, error) {
	var a struct {
		Key       string `arg:"key"`
		Message   data   `arg:"message"`
		Signature string `arg:"signature"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	err := verifyEd25519(a.Key, a.Signature, a.Message)
	if err != nil {
		return result{"valid": false, "error": err.Error()}, nil
	}
	return result{"valid": true, "error": nil}, nil
}

func verifyEd25519(pub, signature string, msg []byte) error {
	k, err := key.ParseEd25519(pub)
	if err != nil {
		return err
	}
	sig, err := key.ParseEd25519Signature(signature)
	if err != nil {
		return err
	}
	return k.Verify(msg, sig)
}

func sha256Cmd(p *peer, r *request) (result, error) {
	var a struct {
		Input data `arg:"input"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	h := sha256.Sum256(a.Input)
	return result{"hash": b64.Encode(h[:])}, nil
}
