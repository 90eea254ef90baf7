package testvectors_test

import (
	"bytes"
	"testing"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/testvectors"
)

// The fuzz targets below feed every unpickler of sicher (libolm's format
// and sicher's own) with plaintexts sealed in a valid envelope, so the
// fuzzer reaches the parsers instead of stopping at the MAC. They are
// seeded with the plaintexts of the corpus's libolm pickles (and, for the
// own format, with sicher's pickles of the same objects). A parser may
// reject anything; it must not panic, and what it accepts must survive a
// second round trip.

var fuzzKey = [32]byte{1, 2, 3}

// unpickler restores an object from a pickle of one format and pickles it
// again in the same format.
type unpickler struct {
	libolm func(key []byte, p string) (func(key []byte) string, error)
	own    func(k *[32]byte, p string) (func(k *[32]byte) (string, error), error)
	kind   string // the own format's kind (the packages' pickle AAD)
}

var unpicklers = map[string]unpickler{
	"account": {
		libolm: func(k []byte, p string) (func([]byte) string, error) {
			a, err := olm.UnpickleLibolmAccount(k, p)
			if err != nil {
				return nil, err
			}
			return a.PickleLibolm, nil
		},
		own: func(k *[32]byte, p string) (func(*[32]byte) (string, error), error) {
			a, err := olm.UnpickleAccount(k, p)
			if err != nil {
				return nil, err
			}
			return a.Pickle, nil
		},
		kind: "olm.Account",
	},
	"session": {
		libolm: func(k []byte, p string) (func([]byte) string, error) {
			s, err := olm.UnpickleLibolmSession(k, p)
			if err != nil {
				return nil, err
			}
			return s.PickleLibolm, nil
		},
		own: func(k *[32]byte, p string) (func(*[32]byte) (string, error), error) {
			s, err := olm.UnpickleSession(k, p)
			if err != nil {
				return nil, err
			}
			return s.Pickle, nil
		},
		kind: "olm.Session",
	},
	"outbound_group_session": {
		libolm: func(k []byte, p string) (func([]byte) string, error) {
			s, err := megolm.UnpickleLibolmOutboundSession(k, p)
			if err != nil {
				return nil, err
			}
			return func(k []byte) string { p, _ := s.PickleLibolm(k); return p }, nil
		},
		own: func(k *[32]byte, p string) (func(*[32]byte) (string, error), error) {
			s, err := megolm.UnpickleOutboundSession(k, p)
			if err != nil {
				return nil, err
			}
			return s.Pickle, nil
		},
		kind: "megolm.OutboundSession",
	},
	"inbound_group_session": {
		libolm: func(k []byte, p string) (func([]byte) string, error) {
			s, err := megolm.UnpickleLibolmInboundSession(k, p)
			if err != nil {
				return nil, err
			}
			return func(k []byte) string { p, _ := s.PickleLibolm(k); return p }, nil
		},
		own: func(k *[32]byte, p string) (func(*[32]byte) (string, error), error) {
			s, err := megolm.UnpickleInboundSession(k, p)
			if err != nil {
				return nil, err
			}
			return s.Pickle, nil
		},
		kind: "megolm.InboundSession",
	},
	"pk_decryption": {
		libolm: func(k []byte, p string) (func([]byte) string, error) {
			d, err := keybackup.UnpickleLibolm(k, p)
			if err != nil {
				return nil, err
			}
			return func(k []byte) string { p, _ := d.PickleLibolm(k); return p }, nil
		},
		own: func(k *[32]byte, p string) (func(*[32]byte) (string, error), error) {
			d, err := keybackup.Unpickle(k, p)
			if err != nil {
				return nil, err
			}
			return func(k *[32]byte) (string, error) { return d.Pickle(k) }, nil
		},
		kind: "keybackup.DecryptionKey",
	},
}

var pickleFiles = map[string]string{
	"account":                "pickle/account.json",
	"session":                "pickle/session.json",
	"outbound_group_session": "pickle/outbound_group_session.json",
	"inbound_group_session":  "pickle/inbound_group_session.json",
	"pk_decryption":          "pickle/pk_decryption.json",
}

// seeds returns the corpus plaintexts of an object's libolm pickles, and
// the plaintexts of sicher's own pickles of the restorable ones.
func seeds(f *testing.F, object string) (libolmSeeds, ownSeeds [][]byte) {
	u := unpicklers[object]
	for _, v := range testvectors.Load[testvectors.Pickle](f, pickleFiles[object]) {
		if v.Plaintext != nil {
			libolmSeeds = append(libolmSeeds, v.Plaintext)
		}
		if v.Expect != testvectors.OK {
			continue
		}
		re, err := u.libolm(v.Key, v.Pickle)
		if err != nil {
			continue
		}
		own, err := ownPickleOf(object, v.Key, re(v.Key))
		if err != nil {
			f.Fatal(err)
		}
		pt, err := pickle.OpenRaw(&fuzzKey, u.kind, own)
		if err != nil {
			f.Fatalf("%s: the package's pickle kind is no longer %q: %v", object, u.kind, err)
		}
		ownSeeds = append(ownSeeds, pt)
	}
	return libolmSeeds, ownSeeds
}

func ownPickleOf(object string, key []byte, lp string) (string, error) {
	switch object {
	case "account":
		a, err := olm.UnpickleLibolmAccount(key, lp)
		if err != nil {
			return "", err
		}
		return a.Pickle(&fuzzKey)
	case "session":
		s, err := olm.UnpickleLibolmSession(key, lp)
		if err != nil {
			return "", err
		}
		return s.Pickle(&fuzzKey)
	case "outbound_group_session":
		s, err := megolm.UnpickleLibolmOutboundSession(key, lp)
		if err != nil {
			return "", err
		}
		return s.Pickle(&fuzzKey)
	case "inbound_group_session":
		s, err := megolm.UnpickleLibolmInboundSession(key, lp)
		if err != nil {
			return "", err
		}
		return s.Pickle(&fuzzKey)
	default:
		d, err := keybackup.UnpickleLibolm(key, lp)
		if err != nil {
			return "", err
		}
		return d.Pickle(&fuzzKey)
	}
}

func fuzzLibolm(f *testing.F, object string) {
	libolmSeeds, _ := seeds(f, object)
	for _, s := range libolmSeeds {
		f.Add(s)
	}
	u := unpicklers[object]
	f.Fuzz(func(t *testing.T, pt []byte) {
		p := pickle.SealLibolm(fuzzKey[:], pt)
		re, err := u.libolm(fuzzKey[:], p)
		if err != nil {
			return
		}
		p2 := re(fuzzKey[:])
		re2, err := u.libolm(fuzzKey[:], p2)
		if err != nil {
			t.Fatalf("sicher's own libolm pickle does not restore: %v", err)
		}
		if p3 := re2(fuzzKey[:]); p3 != p2 {
			t.Fatal("libolm pickle not stable across a round trip")
		}
	})
}

func fuzzOwn(f *testing.F, object string) {
	_, ownSeeds := seeds(f, object)
	for _, s := range ownSeeds {
		f.Add(s)
	}
	u := unpicklers[object]
	f.Fuzz(func(t *testing.T, pt []byte) {
		if len(pt) == 0 {
			return // every plaintext starts with the object's version
		}
		p, err := pickle.SealRaw(bytes.NewReader(make([]byte, 64)), &fuzzKey, u.kind, pt)
		if err != nil {
			t.Fatal(err)
		}
		re, err := u.own(&fuzzKey, p)
		if err != nil {
			return
		}
		p2, err := re(&fuzzKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.own(&fuzzKey, p2); err != nil {
			t.Fatalf("sicher's own pickle does not restore: %v", err)
		}
	})
}

func FuzzUnpickleLibolmAccount(f *testing.F)              { fuzzLibolm(f, "account") }
func FuzzUnpickleLibolmSession(f *testing.F)              { fuzzLibolm(f, "session") }
func FuzzUnpickleLibolmOutboundGroupSession(f *testing.F) { fuzzLibolm(f, "outbound_group_session") }
func FuzzUnpickleLibolmInboundGroupSession(f *testing.F)  { fuzzLibolm(f, "inbound_group_session") }
func FuzzUnpickleLibolmPkDecryption(f *testing.F)         { fuzzLibolm(f, "pk_decryption") }
func FuzzUnpickleAccount(f *testing.F)                    { fuzzOwn(f, "account") }
func FuzzUnpickleSession(f *testing.F)                    { fuzzOwn(f, "session") }
func FuzzUnpickleOutboundGroupSession(f *testing.F)       { fuzzOwn(f, "outbound_group_session") }
func FuzzUnpickleInboundGroupSession(f *testing.F)        { fuzzOwn(f, "inbound_group_session") }
func FuzzUnpickleDecryptionKey(f *testing.F)              { fuzzOwn(f, "pk_decryption") }

// FuzzUnpickleLibolmText feeds pickle text itself (base64, envelope) to
// every libolm unpickler, seeded with the corpus pickles under their keys.
func FuzzUnpickleLibolmText(f *testing.F) {
	for object, file := range pickleFiles {
		for _, v := range testvectors.Load[testvectors.Pickle](f, file) {
			f.Add(object, []byte(v.Key), v.Pickle)
		}
	}
	f.Fuzz(func(t *testing.T, object string, key []byte, p string) {
		u, ok := unpicklers[object]
		if !ok {
			return
		}
		_, _ = u.libolm(key, p)
	})
}
