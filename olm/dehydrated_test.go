package olm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

// elementDehydrated is a dehydrated device made by matrix-sdk-crypto-wasm
// 18.9.0 from npm (the crypto of Element Web; vodozemac inside), with the
// script in wasmDehydrateScript: OlmMachine for @alice:example.org,
// bootstrapCrossSigning(true), dehydratedDevices().create(),
// keysForUpload("Dehydrated device", key) with the key bytes 0, 1, ..., 31.
// The device's public keys below are copied from the same request body
// (device_id / device_keys, fallback_keys, one_time_keys).
var elementDehydrated = struct {
	device                    DehydratedDevice
	curve25519, ed25519, fall string
	oneTimeKeys               []string // sorted
}{
	device: DehydratedDevice{
		Algorithm:    "org.matrix.msc3814.v2",
		DevicePickle: "4yiKlJSIjY4QI82Lm9CD+TWJobc5wBrv5D7HCePp9vr5vn0qKtyrc5jkhNgx8KqHEywwHOUj0RgzDH2oRGmuWPnO8Rw+WYRlJF/OHC/DEyAVnKxFfWZtlVNeI4g9ezwe7NDjY8zC0asCr5KQxwKXTkzjYorRkprcuxSgVwnUmEEwKZ4Y5+QKeVbLPtfoH3ZnMji0FLBmIrxpnJDC6ohPrmR6o8rWVIadv60iFsYAm0Slfq08Tt7oj5fc+YXwrniIez7ldMYq0DJtun2NGlDfw/o3Rd6IPmMb8bjKN8qzcZExWklmNvvjTyDs0Spv3seS6Zd/XYjwTO4i/iHnDMJVugL0Dgn8f4M7f+BgsZwd1Qqbtn7iefHkcztNgeW29ulceoUVScZ8PqIf2/GFngM8h/xojmfmmdULpB+crbtLguuuzc2r+OPA7tJ42u0vU+i0hQpTeMPQxM6S1G7xK6Z2g4WHFToXbvWXv0bXMfSBdrtsyVc8mTpizRhgdH5x7ZwPoxykKEQtxYhEAlKP903itUPbKG74Nlv3TlPyLgTYaXRqfISDKPHl+WewL3STLhH7wxsa4egZ6thQmRET4DbeRHTftWG8BA2f+3ATQ0SqoYCFg5sqS/jI6rhMNrcisRMudMGMuJh26AzYJo52wdcHnaK9nt7x5A0jEEt/qegnQhB6s3YQ6JDy+hn6MkAIFFbwnhH4p6hZ/bAL5R0iX55a7lQOTZ+8B9wLh/52BS0ycx7ecUCHi6+sJ3vKLQ+iYISqBh4Hud5A755jqLlg5sW7+oCzqv2sp//4eKT+VBoceuOD4dYnoWWExqYpVwDtY1I8q3kFGCkNy34nFpaHRKfkPAtpLPL6buDhqIZqMah38d2b3EKtv7k/sofzxEJDb/WvFjpPlkeknGfV3TXer6U4hY2DiKMy3lkIkzOYVtP5OZazPy5SnMLRVZQ+ZlECZtSrWg35+tbLGUCzvN+d6Okj0sVZ6//DUKpBu7HQxQX1zI8x058zYuxFImg5qKM4kQKemK+BOjeZQlI8MPke9iJ6HSp3WKNZiXtN6ehEEnYMSTGp1nSCfjL1ZxWu2g/gXeQR33DPEIq0O2CBl/9MulLauVt6XoK0ra2EWrm/Nke/roZkRnvIl1FOjoSzOOAsvOBRfhfkooxhOzFu0lhTdufS7a7VDLj7y8QIcwgJ09V12L+HQ+VlZlkFEMrsML3XEOCjP//b/PHcdx/E0LdzAP+nURyu0GFtC+PxXqrYGHNwt76qIXL6Hx4tCo6oex92PdUidRq8lR0vvGfyC0dYMOd5N3ywKiJaRSjddWByEAn2aXYBcNkawt+nU0iYUMObAMAZQZUCiNdhic6+IpXXF07KX6cFdOOeMsGxkVqxV5XqhLVKITAvtpwyOSSjyxxLogk4Kyd1/qXG2iSU8C6z80p0sOkOjvG614/yf7GL2hG+sFco1lMk3Ezb2bNanTbM3W0GPX+7MWvDlFj8QPnCH+eB8vFlpPr5HrJoyfb5vVZk3OvXsGsSUeBmZTqF72H13xyFpnFWKjMxgBMOf/And0KJ+oK+Tf/WHjXMGNak2GnshV2ryFTWpb+FmwYRUZJP1+8CBCzWTgQm0w2A+Yu7X12v6cgQWMhz4BFIGX9St9DApWym/rJ+theYq3a2bb6TOyB8YFkXEA+Fz5V2VnpCgLXMatwTshk3aIbbmK25Kk/cKwySfb0sRGVS1xYa5WwebswSwQ2162PQAdSDqJf09zUeyAdh4AshUGGPnKiUIO1/DQfh9qfPSGUo5ewk8CW2tjQluELxcraXen29fH4YdnBv6YUMHEvrtGYT/nP/lZuIfoBC1CRFuTVsSYXTVcdilxlRXdcfg21OslqYkzszgEaalehiqcv5bAo1IDYBKj+ad/r3zlR4E8ezPLSZjgeiyO65G+6neGYHrCnCAXZVFSHwbJLqE7QICfVpWguztX1OyroVunC2T9J0iv/LyFbFZTZCn+bDnkKNHWmYxsaA/2iWJ8nDdUygnp/jOajtiOc3SZbd19E31j/PVzTK+0ALhXnDdsgDIOx7UbDp9WUlNydVpbJh2qct4vJpMHeT6YVwjbodYPTZNKnd89oKPTKe37Oyps0SVE8/TnGv9Ssqe43jShRKGzPXyqSK0AxEDjVKxoACsym83xxvZoSSepVnF/BQa6P8oyBrjnsAG1ZHyq0jSRByhcx4N4LCmqqJLRZryCl0w4j/fkxTLiyphc5FgPhGmn9cUuWUHOeyu9CBar/8XKisA1+0SHeNarJmiIt63uYL6cZK9PMKlTg",
		Nonce:        "771nIUqzMysRYD2g",
	},
	curve25519:  "Ix9ljkkgMp3VakX6NSpHy1tUiNS5mtTuMABlBKHR6nE",
	ed25519:     "QAtujGu1jGuPOcH7b4god08Xzan0D5sX/VfbYPhlcT4",
	fall:        "c9t5CV/BTq88pHEBusZaHW5Paa4XUVNaEZWG6kjYxw4",
	oneTimeKeys: []string{"+WCUtFxTRE1H1gZTf/40eqGw7slAd5el5GYiZ4d8BGA", "/J4tAa81fzZcIImzCh8RF8j6F8h/OulXuSEXKOk0Nxs", "1+Hu0FCeob0cABgPWNiYBGKLWl7GaUOAGaevm2Rb6WE", "1QniBj2riAYQa+lK1kKXMhxSqljVAGODPs7GHVhnAVU", "1nbjAWNBZDA4P/7wK7t1R2snYdUuNNnLtMVAP0F7p0E", "2X8HOi8zHOpMIE92tUrXbY8D4pYuV5grtj0aeqlnoE4", "3+xu+HAIMwkNQDo2lQog/d8o7jy+dA7aVnpvgfevFBM", "4KO+97ccDyaRlC20SBiZS3k21OzcpTr3aAf07rm5Gmg", "6WewNa6CQlyU/8NEkcrOGlGtbFcLa6DKfnK6kFAvGBM", "6YMHGyQD8PBJ0XTHz5BQbyHv662TLPX+obG7+JVc7H4", "8ImzhhVbnsanwoxk/x+oC9GSiGE180VnQJIm4LP8s18", "9qpA+C1b3fSw9zg7mTgoF8YVIg62gkomP6OKrSLUlkk", "9vOHC87mY77evw48DcEJC06InYRDDwHC7+0SCzO0hzQ", "FDqtE/Fu7uYMmdoTIFolhOd/ykxQRytjzUSVVyhEUXo", "Fv46oyhSTVVlTGQ3roQcR8FsVGpeHNlIS2Gg27e0qDA", "Go6p+kzYP8nhU+HFNkr64wRRe1o62G0TAtppf8pcmlI", "HvfBLEHISxA5RrtXNetydBVRXZnS67r/8qR56gNxFlM", "JVTwy4VmrelFDjRrKDMrNiRdj9TZTBSGYBPiiSA70Qs", "JxngKRhN8xdUQbecOMZ1pFKTDmtMJhYK7747LKeMW0M", "R05XLCe2s38xbbo7r+IBmCVS90sx5cwF2FI2BJLaFFM", "SngBLd5wJTbIB1PDvCbh2Z6xCM8Y4oadjPJSZ8KYKRM", "UbZbaHMjKdGksDCdDAOdjT90T0lcZhNcXa2p0RTAFAg", "Umc9DIzX18J3S0axMv0LIprVqnkkltAaAYi+iBTfs14", "V6CMqn4FEE1MoqRqtC74PYOB4bMFvuUBn+QNxmNmwhs", "VBgmEUUW+3hdXKXBBo0L7378E8Q9QfJu7pd9PqsoVQo", "WVJsxc6jGF8AKcvYqe8RQ6Nct1Hh1B/aw4IfJAcPSRw", "Xrqy5R7Nu83Jjkh/ex/VKQS4MonLZTlYV38QAnOJxA4", "YiEQcBqU7IbXG8ekO1bzJeknOqRi0AG56KQbbj/jgjs", "ZFOsLlqIpdPJTKTFYkG5eMLrdyFh5ZNKjeXQbIHrlXE", "Znktp11tlzZUxh6Sy+x3dskKajoCxqsmckuBNz6dt1I", "bX/5N7ecXScf55JUxtF8zxwJ2KBLHerodU+xbg4+ahE", "eBfm+CpuhmXkEQNZCJmfCq+R2hGZECMbc6z8g/PLkUE", "fGry/qdf4XXrVPcOhkR0C5IAaVuPHrU96E8Za+ZUmDg", "g2ypsUokDqGnsjwJyVhTLyVwRchFPzQFHckLMTxWNDY", "hpMtzxNODYIFJLF82l5aCAbcBuaWpw7n/1QZDU+kEzk", "iL2MeAf3pHhBKeJPehYWX147DYK1o5m8NwRKWjMnxnM", "kmxfx2YC3FR32BL1itmmNW8VxlLxXXFqT+8Aqf6eSC0", "kwRP9/3Pj4F1w9cOFz2ngvXygGojbGRA4j+Oh6ggMjA", "mXYwRQ4+uwxL9cCOUjq/TEXN5aFyTS747UOR87zblnA", "oQ3EeOHAJEaLo5edbywbs21rs/xVBnDiRxqNbaqjolA", "pTtf+OgmlyKquJyQY6CILeO2N3QEl7JADkFCjVO9NEc", "pVoBmHg8gC8mBA1QVBPi3B+9oOF85kue3mNaEsjz+SI", "q11ssVYz+apbaxvXQVsFKW6W9YnhxuQbwSqnKPwMKQg", "sDam/gei/r5dpRPdDLKsdRE7/hJn26Vub4vY+j5XPR4", "sZzibZjmEAxwttWAIvONdTSeUDHMgwPwFEP2ws2DoWY", "t1XewA3plhMa3CeZUZ339vmzKuy0uhkAFA4T16tKSXk", "tanViQCykgZDqGd1+YpT4/V2OL5QCFagNAhd1N69ewk", "u3YaH4nf5e1DGi3jkL/HA33WD0PWDbRiaxuCu0dwnFQ", "uZLt71ip5LmkHZ1ujsTmVHjnV+1dtSYQfHzNLrE9jiQ", "wjUyS5Ybg3OVEIJN0oX33SXdP4LcGFo5vSBJ32tVWmo"},
}

func elementKey() *[32]byte {
	var k [32]byte
	for i := range k {
		k[i] = byte(i)
	}
	return &k
}

func publicKeys(ks []OneTimeKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Key.String())
	}
	slices.Sort(out)
	return out
}

func allOneTimeKeys(a *Account) []OneTimeKey {
	var ks []OneTimeKey
	for i := range a.otks {
		ks = append(ks, a.otks[i].public())
	}
	return ks
}

// TestRehydrateElementDevice: a device dehydrated by Element's crypto
// (matrix-sdk-crypto-wasm) rehydrates with the identity, one-time and
// fallback keys it published, and dehydrating it again with the same
// nonce reproduces Element's ciphertext byte for byte.
func TestRehydrateElementDevice(t *testing.T) {
	v := elementDehydrated
	a, err := Rehydrate(elementKey(), &v.device)
	if err != nil {
		t.Fatal(err)
	}
	if a.Curve25519().String() != v.curve25519 || a.Ed25519().String() != v.ed25519 {
		t.Fatalf("identity keys %v", a.identityKeys())
	}
	if got := publicKeys(allOneTimeKeys(a)); !slices.Equal(got, v.oneTimeKeys) {
		t.Fatalf("one-time keys differ:\n%v", got)
	}
	for i := range a.otks {
		if a.otks[i].id != key.KeyID(i) || !a.otks[i].published {
			t.Fatalf("one-time key %d: id %d published %v", i, a.otks[i].id, a.otks[i].published)
		}
	}
	if len(a.OneTimeKeys()) != 0 {
		t.Fatal("rehydrated one-time keys are not marked published")
	}
	fb, ok := a.FallbackKey()
	if !ok || fb.Key.String() != v.fall {
		t.Fatalf("fallback key %v %v", fb, ok)
	}
	if _, unpublished := a.UnpublishedFallbackKey(); unpublished {
		t.Fatal("rehydrated fallback key is not marked published")
	}
	// Same nonce, same account: Element's bytes exactly.
	nonce, _ := base64.RawStdEncoding.DecodeString(v.device.Nonce)
	d, err := a.dehydrateFrom(bytes.NewReader(nonce), elementKey())
	if err != nil {
		t.Fatal(err)
	}
	if *d != v.device {
		t.Fatalf("re-dehydration differs from Element's:\n%s", d.DevicePickle)
	}
	// New keys continue after the rehydrated ones.
	created, _, err := a.GenerateOneTimeKeysFrom(detRand(1), 1)
	if err != nil || created[0].ID <= key.KeyID(len(v.oneTimeKeys)) {
		t.Fatalf("new key id %v: %v", created, err)
	}
}

// TestRehydratedDeviceReceives: Bob starts Olm sessions with the
// rehydrated Element device through one of its one-time keys and through
// its fallback key; the rehydrated account decrypts both.
func TestRehydratedDeviceReceives(t *testing.T) {
	v := elementDehydrated
	a, err := Rehydrate(elementKey(), &v.device)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := NewAccountFrom(detRand(2))
	for i, target := range []string{v.oneTimeKeys[7], v.fall} {
		otk, _ := key.ParseCurve25519(target)
		s, err := bob.NewOutboundSessionFrom(detRand(byte(10+i)), a.Curve25519(), otk)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Encrypt(nil, []byte("a message for the dehydrated device"))
		if err != nil {
			t.Fatal(err)
		}
		pk, err := ParsePreKeyMessage(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		before := a.StoredOneTimeKeys()
		_, pt, err := a.NewInboundSession(pk, nil)
		if err != nil || string(pt) != "a message for the dehydrated device" {
			t.Fatalf("key %d: %q %v", i, pt, err)
		}
		if i == 0 && a.StoredOneTimeKeys() != before-1 {
			t.Fatal("used one-time key not removed")
		}
	}
}

func TestDehydrateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		otks     int
		fallback int
	}{{0, 0}, {0, 1}, {1, 0}, {50, 1}, {3, 2}} {
		a, _ := NewAccountFrom(detRand(3))
		a.GenerateOneTimeKeysFrom(detRand(4), tc.otks)
		for range tc.fallback {
			a.GenerateFallbackKeyFrom(detRand(byte(5 + tc.fallback)))
		}
		a.MarkKeysAsPublished()
		var dk [32]byte
		dk[3] = 9
		before := a.appendState(nil)
		d, err := a.dehydrateFrom(detRand(7), &dk)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.appendState(nil), before) {
			t.Fatal("Dehydrate changed the account")
		}
		if d.Algorithm != dehydratedDeviceAlgorithm || strings.HasSuffix(d.DevicePickle, "=") || len(d.Nonce) != 16 {
			t.Fatalf("%+v", d)
		}
		js, _ := json.Marshal(d)
		var back DehydratedDevice
		json.Unmarshal(js, &back)
		b, err := Rehydrate(&dk, &back)
		if err != nil {
			t.Fatal(err)
		}
		if b.identityKeys() != a.identityKeys() || !slices.Equal(publicKeys(allOneTimeKeys(b)), publicKeys(allOneTimeKeys(a))) {
			t.Fatalf("%+v: keys differ", tc)
		}
		fa, okA := a.FallbackKey()
		fb, okB := b.FallbackKey()
		if okA != okB || fa.Key != fb.Key {
			t.Fatalf("%+v: fallback %v/%v", tc, fa, fb)
		}
		if _, ok := b.previousFallback(); ok {
			t.Fatal("previous fallback key was dehydrated")
		}
		if b.Sign([]byte("x")) != a.Sign([]byte("x")) {
			t.Fatal("signing key differs")
		}
		// Stable names and a missing algorithm are accepted too.
		for _, alg := range []string{"", dehydratedDeviceAlgorithmStable} {
			c := *d
			c.Algorithm = alg
			if _, err := Rehydrate(&dk, &c); err != nil {
				t.Fatal(alg, err)
			}
		}
	}
}

// previousFallback reports the previous fallback key (test helper).
func (a *Account) previousFallback() (OneTimeKey, bool) {
	if a.previous == nil {
		return OneTimeKey{}, false
	}
	return a.previous.public(), true
}

func TestDehydrateLibolmAccountFails(t *testing.T) {
	a, _ := NewAccountFrom(detRand(8))
	exp := a.signing.Expanded()
	var err error
	if a.signing, err = key.NewExpandedSigningKey(exp[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dehydrate(elementKey()); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("got %v", err)
	}
	if _, err := (&Account{signing: mustSeedKey(t)}).dehydrateFrom(bytes.NewReader(nil), elementKey()); err == nil {
		t.Fatal("short randomness accepted")
	}
}

func mustSeedKey(t *testing.T) *key.SigningKey {
	k, err := key.NewSigningKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRehydrateTamper runs cryptotest.Tamper on Element's ciphertext and
// nonce and tries wrong keys: every attempt fails with ErrBadPickle.
func TestRehydrateTamper(t *testing.T) {
	v := elementDehydrated.device
	ct, _ := base64.RawStdEncoding.DecodeString(v.DevicePickle)
	nonce, _ := base64.RawStdEncoding.DecodeString(v.Nonce)
	try := func(what string, d DehydratedDevice, k *[32]byte) {
		t.Helper()
		if a, err := Rehydrate(k, &d); !errors.Is(err, ErrBadPickle) || a != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	open := func(d DehydratedDevice) error {
		a, err := Rehydrate(elementKey(), &d)
		if err != nil && (!errors.Is(err, ErrBadPickle) || a != nil) {
			t.Fatalf("not ErrBadPickle: %v", err)
		}
		return err
	}
	cryptotest.Tamper(t, ct, func(b []byte) error {
		d := v
		d.DevicePickle = base64.RawStdEncoding.EncodeToString(b)
		return open(d)
	})
	cryptotest.Tamper(t, nonce, func(b []byte) error {
		d := v
		d.Nonce = base64.RawStdEncoding.EncodeToString(b)
		return open(d)
	})
	wrong := elementKey()
	wrong[31] ^= 1
	try("wrong key", v, wrong)
	for name, edit := range map[string]func(*DehydratedDevice){
		"algorithm": func(d *DehydratedDevice) { d.Algorithm = "m.dehydration.v1.olm" },
		"nonce 11":  func(d *DehydratedDevice) { d.Nonce = base64.RawStdEncoding.EncodeToString(nonce[:11]) },
		"nonce 13": func(d *DehydratedDevice) {
			d.Nonce = base64.RawStdEncoding.EncodeToString(append(bytes.Clone(nonce), 0))
		},
		"nonce b64":    func(d *DehydratedDevice) { d.Nonce = "!!!!!!!!!!!!!!!!" },
		"pickle b64":   func(d *DehydratedDevice) { d.DevicePickle = "a!" },
		"truncated":    func(d *DehydratedDevice) { d.DevicePickle = base64.RawStdEncoding.EncodeToString(ct[:len(ct)-1]) },
		"tag only":     func(d *DehydratedDevice) { d.DevicePickle = base64.RawStdEncoding.EncodeToString(ct[len(ct)-16:]) },
		"empty pickle": func(d *DehydratedDevice) { d.DevicePickle = "" },
		"huge pickle":  func(d *DehydratedDevice) { d.DevicePickle = strings.Repeat("A", 1<<20) },
	} {
		d := v
		edit(&d)
		try(name, d, elementKey())
	}
	if _, err := Rehydrate(elementKey(), nil); !errors.Is(err, ErrBadPickle) {
		t.Fatal(err)
	}
}

// sealDehydrated encrypts an arbitrary plaintext the way Dehydrate does,
// to reach the parser behind the AEAD.
func sealDehydrated(pt []byte) *DehydratedDevice {
	aead, _ := chacha20poly1305.New(elementKey()[:])
	nonce := make([]byte, 12)
	return &DehydratedDevice{
		DevicePickle: base64.RawStdEncoding.EncodeToString(aead.Seal(nil, nonce, pt, nil)),
		Nonce:        base64.RawStdEncoding.EncodeToString(nonce),
	}
}

func dehydratedPlaintext(version, n uint32, keys int, fallback uint8, extra int) []byte {
	b := wire.NewBuilder(nil)
	b.AddUint32(version)
	b.AddBytes(bytes.Repeat([]byte{1}, 32))
	b.AddBytes(bytes.Repeat([]byte{2}, 32))
	b.AddUint32(n)
	for i := range keys {
		b.AddBytes(bytes.Repeat([]byte{byte(3 + i)}, 32))
	}
	b.AddUint8(fallback)
	if fallback != 0 {
		b.AddBytes(bytes.Repeat([]byte{99}, 32))
	}
	b.AddBytes(make([]byte, extra))
	return b.Bytes()
}

func TestRehydrateInvalidPlaintext(t *testing.T) {
	good := dehydratedPlaintext(1, 2, 2, 1, 0)
	a, err := Rehydrate(elementKey(), sealDehydrated(good))
	if err != nil || a.StoredOneTimeKeys() != 2 {
		t.Fatal(err)
	}
	for name, pt := range map[string][]byte{
		"version 0":        dehydratedPlaintext(0, 2, 2, 1, 0),
		"version 2":        dehydratedPlaintext(2, 2, 2, 1, 0),
		"libolm version":   dehydratedPlaintext(0x80000000, 2, 2, 1, 0),
		"count too large":  dehydratedPlaintext(1, 3, 2, 1, 0),
		"count huge":       dehydratedPlaintext(1, 1<<31, 2, 1, 0),
		"count over max":   dehydratedPlaintext(1, MaxOneTimeKeys+1, MaxOneTimeKeys+1, 0, 0),
		"fallback flag 2":  dehydratedPlaintext(1, 2, 2, 2, 0),
		"trailing byte":    dehydratedPlaintext(1, 2, 2, 1, 1),
		"trailing no fall": dehydratedPlaintext(1, 0, 0, 0, 32),
		"empty":            {},
	} {
		if _, err := Rehydrate(elementKey(), sealDehydrated(pt)); !errors.Is(err, ErrBadPickle) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// No strict prefix of a valid plaintext parses.
	for i := range good {
		if _, err := Rehydrate(elementKey(), sealDehydrated(good[:i])); err == nil {
			t.Fatalf("prefix of %d bytes parsed", i)
		}
	}
}

// TestDehydratedRedaction: a rehydrated account shows none of its keys.
func TestDehydratedRedaction(t *testing.T) {
	a, _ := Rehydrate(elementKey(), &elementDehydrated.device)
	seed, _ := a.signing.Seed()
	for _, v := range []any{a, *a} {
		cryptotest.Redacted(t, v, seed, a.identity.priv[:], a.otks[0].priv[:], a.fallback.priv[:])
	}
}

func FuzzRehydrate(f *testing.F) {
	f.Add(elementDehydrated.device.DevicePickle, elementDehydrated.device.Nonce)
	d := sealDehydrated(dehydratedPlaintext(1, 1, 1, 1, 0))
	f.Add(d.DevicePickle, d.Nonce)
	f.Fuzz(func(t *testing.T, pickle, nonce string) {
		a, err := Rehydrate(elementKey(), &DehydratedDevice{DevicePickle: pickle, Nonce: nonce})
		if err != nil {
			if a != nil || !errors.Is(err, ErrBadPickle) {
				t.Fatal(err)
			}
		}
	})
}

// FuzzParseDehydrated reaches the plaintext parser directly.
func FuzzParseDehydrated(f *testing.F) {
	f.Add(dehydratedPlaintext(1, 2, 2, 1, 0))
	f.Add(dehydratedPlaintext(1, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, pt []byte) {
		a, err := parseDehydrated(pt)
		if err != nil {
			return
		}
		var dk [32]byte
		d, err := a.dehydrateFrom(bytes.NewReader(make([]byte, 12)), &dk)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Rehydrate(&dk, d)
		if err != nil || b.identityKeys() != a.identityKeys() {
			t.Fatal("round trip of a parsed plaintext failed", err)
		}
	})
}

func BenchmarkRehydrate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Rehydrate(elementKey(), &elementDehydrated.device); err != nil {
			b.Fatal(err)
		}
	}
}

// wasmDehydrateScript made elementDehydrated (run with node in a directory
// where `npm install @matrix-org/matrix-sdk-crypto-wasm@18.9.0` was run):
// it prints the PUT /dehydrated_device body. With an argument (a JSON file
// written by TestWasmRehydratesSicherDevice) it instead rehydrates
// sicher's device and feeds it the Olm-encrypted m.room_key event, printing
// the session IDs of the room keys it received.
const wasmDehydrateScript = `const sdk = require('@matrix-org/matrix-sdk-crypto-wasm');
const fs = require('fs');
(async () => {
  if (sdk.initAsync) await sdk.initAsync();
  const machine = await sdk.OlmMachine.initialize(new sdk.UserId('@alice:example.org'), new sdk.DeviceId('ALICEDEVICE'));
  const keyBytes = new Uint8Array(32); for (let i = 0; i < 32; i++) keyBytes[i] = i;
  const key = sdk.DehydratedDeviceKey.createKeyFromArray(keyBytes);
  if (process.argv.length < 3) {
    await machine.bootstrapCrossSigning(true);
    const dd = await machine.dehydratedDevices().create();
    const req = await dd.keysForUpload("Dehydrated device", key);
    console.log(req.body);
    return;
  }
  const input = JSON.parse(fs.readFileSync(process.argv[2]));
  const rd = await machine.dehydratedDevices().rehydrate(key, new sdk.DeviceId(input.device_id), JSON.stringify(input.device_data));
  const keys = await rd.receiveEvents(JSON.stringify(input.events));
  console.log(JSON.stringify(keys.map(k => k.sessionId)));
})().catch(e => { console.error(e); process.exit(1); });
`

// TestWasmRehydratesSicherDevice checks the other direction: a device
// dehydrated by sicher rehydrates in matrix-sdk-crypto-wasm, which then
// decrypts an Olm-encrypted m.room_key sent to one of its one-time keys.
// It needs node and the npm package in $SICHER_WASM_DIR and is skipped
// otherwise.
func TestWasmRehydratesSicherDevice(t *testing.T) {
	dir := os.Getenv("SICHER_WASM_DIR")
	if dir == "" {
		t.Skip("set SICHER_WASM_DIR to a directory with @matrix-org/matrix-sdk-crypto-wasm installed")
	}
	dev, _ := NewAccountFrom(detRand(20))
	dev.GenerateOneTimeKeysFrom(detRand(21), 5)
	dev.GenerateFallbackKeyFrom(detRand(22))
	d, err := dev.dehydrateFrom(detRand(23), elementKey())
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := NewAccountFrom(detRand(24))
	s, err := bob.NewOutboundSessionFrom(detRand(25), dev.Curve25519(), dev.otks[2].pub)
	if err != nil {
		t.Fatal(err)
	}
	group, err := megolm.NewOutboundSessionFrom(detRand(26))
	if err != nil {
		t.Fatal(err)
	}
	sessionID := group.SessionID().String()
	payload, _ := json.Marshal(map[string]any{
		"type":           "m.room_key",
		"content":        map[string]any{"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!room:example.org", "session_id": sessionID, "session_key": group.SessionKey().Base64()},
		"sender":         "@bob:example.org",
		"sender_device":  "BOBDEVICE",
		"keys":           map[string]any{"ed25519": bob.Ed25519()},
		"recipient":      "@alice:example.org",
		"recipient_keys": map[string]any{"ed25519": dev.Ed25519()},
	})
	m, err := s.Encrypt(nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(map[string]any{
		"device_id":   dev.Curve25519().String(),
		"device_data": d,
		"events": []any{map[string]any{
			"type":   "m.room.encrypted",
			"sender": "@bob:example.org",
			"content": map[string]any{
				"algorithm":  "m.olm.v1.curve25519-aes-sha2",
				"sender_key": bob.Curve25519(),
				"ciphertext": map[string]any{dev.Curve25519().String(): m},
			},
		}},
	})
	in := filepath.Join(dir, "sicher_dehydrated.json")
	script := filepath.Join(dir, "sicher_dehydrated.cjs")
	if err := os.WriteFile(in, input, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(wasmDehydrateScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, in)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	t.Logf("matrix-sdk-crypto-wasm received room keys: %s", out)
	if !strings.Contains(string(out), sessionID) {
		t.Fatalf("room key not received: %s", out)
	}
}

// detRand is a deterministic randomness source for these tests.
func detRand(seed byte) io.Reader { return rand.NewChaCha8([32]byte{seed, 'd'}) }

// Alice's client keeps a dehydrated device on the server so that room
// keys sent while she is logged out still reach her; on her next login
// she rehydrates it and reads its to-device messages.
func ExampleAccount_Dehydrate() {
	device, _ := NewAccount() // a fresh account only for the dehydrated device
	device.GenerateOneTimeKeys(50)
	device.GenerateFallbackKey()
	var pickleKey [32]byte // random; kept in secret storage as "org.matrix.msc3814"
	pickleKey[0] = 1
	data, err := device.Dehydrate(&pickleKey)
	if err != nil {
		panic(err) // olm.ErrBadPickle for an account imported from libolm
	}
	deviceID := device.Curve25519().String() // MSC3814: the device ID is the Curve25519 key
	// PUT /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
	// {"device_id": deviceID, "device_data": data, "device_keys": ..., ...}

	// Next login: GET .../dehydrated_device returns device_data.
	rehydrated, err := Rehydrate(&pickleKey, data)
	fmt.Println(err, rehydrated.Curve25519().String() == deviceID, data.Algorithm)
	// Output: <nil> true org.matrix.msc3814.v2
}
