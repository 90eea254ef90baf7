package olm

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
)

// libolmSessionV1 and libolmSessionV2 are the session pickles of libolm
// 3.2.13 tests/test_session.cpp ("V1 session pickle", "V2 session pickle",
// version 1 and 0x80000001), key "secret_key"; wantLibolmSession holds the
// fields check_session() expects.
const (
	libolmSessionV1 = "wkEpwMgiAqD7B1/Lw2cKYYDcUZVOd9QHes7ZroWxr/Rp/nWEAySgRsIu/a54YhO67rwitr" +
		"Lpos7tFxxK9IZ7pKB1qrR1coVWIt78V9lp9WgmBAvxHBSY+tu1lkL/JjLi963/yFdPancZ" +
		"+WHMVfaKlV3gWGpo7EfNK6qAOxI1Ea/eCsE2sYrsHEDvLLGlKAA9E56rmmoe2w6TKzsQjs" +
		"ZM2/XT2eJ82EgMO9pL02iLElXWmGNv72Ut7DouR0pQIT50HIEEKcFxYcoTb3WCfJD76Coe" +
		"sE4kx+TA6d45Xu1bwQNNkTGF+nCCu/GmKY+sECXbz9U6WhxG0YdF9Z4T8YkWYAgpKNS0FW" +
		"RV"
	libolmSessionV2 = "m+DS/q34MXpw2xp50ZD0B7val1mlMpQXo0mx+VPje0weFYRRuuZQBdJgcFPEpi2MVSpA4c" +
		"qgqHyj2/bU7/lz+BXkEBrCFVx0BJidxXfOLDW4TNtRhLS1YHJNGP8GvTg1+dCytBTLsCdm" +
		"5f945Eq1U/pY3Cg96YTUufFP6EYrfRoDbAsRHc+h+wKKftQv+W44yUmRhcCemGHtpxk3UQ" +
		"AMCI7EBv9BvveyZMy3p9qZ3xvFK34Hef+R7gjtFycz7Nk/4UF46sT3cTmUlXz9iFW4uz2F" +
		"rTI1Wjym+l0DadsbSpHSUjmp9zt4qRP2UjwfZ5QNLv+cdObIfqFsiThGu/PlKigdF4SLHr" +
		"nG"
	// libolm 3.2.13 tests/test_olm.cpp "Old account (v3) unpickle test", key "".
	libolmAccountV3 = "0mSqVn3duHffbhaTbFgW+4JPlcRoqT7z0x4mQ72N+g+eSAk5sgcWSoDzKpMazgcB" +
		"46ItEpChthVHTGRA6PD3dly0dUs4ji7VtWTa+1tUv1UbxP92uYf1Ae3fomX0yAoH" +
		"OjSrz1+RmuXr+At8jsmsf260sKvhB6LnI3qYsrw6AAtpgk5d5xZd66sLxvvYUuai" +
		"+SmmcmT0bHosLTuDiiB9amBvPKkUKtKZmaEAl5ULrgnJygp1/FnwzVfSrw6PBSX6" +
		"ZaUEZHZGX1iI6/WjbHqlTQeOQjtaSsPaL5XXpteS9dFsuaANAj+8ks7Ut2Hwg/JP" +
		"Ih/ERYBwiMh9Mt3zSAG0NkvgUkcdipKxoSNZ6t+TkqZrN6jG6VCbx+4YpJO24iJb" +
		"ShZy8n79aePIgIsxX94ycsTq1ic38sCRSkWGVbCSRkPloHW7ZssLHA"
	// libolm 3.2.13 tests/test_olm.cpp "Old account unpickle test" (version 1), key "".
	libolmAccountV1 = "x3h9er86ygvq56pM1yesdAxZou4ResPQC9Rszk/fhEL9JY/umtZ2N/foL/SUgVXS" +
		"v0IxHHZTafYjDdzJU9xr8dQeBoOTGfV9E/lCqDGBnIlu7SZndqjEKXtzGyQr4sP4" +
		"K/A/8TOu9iK2hDFszy6xETiousHnHgh2ZGbRUh4pQx+YMm8ZdNZeRnwFGLnrWyf9" +
		"O5TmXua1FcU"
)

func TestUnpickleLibolmSessionVectors(t *testing.T) {
	for _, p := range []string{libolmSessionV1, libolmSessionV2} {
		s, err := UnpickleLibolmSession([]byte("secret_key"), p)
		if err != nil {
			t.Fatal(err)
		}
		if s.received {
			t.Error("received_message = true")
		}
		for _, c := range []struct {
			what string
			got  []byte
			want string
		}{
			{"root key", s.r.AppendLibolmState(nil)[:32], "49d640dc96b80176694af69fc4b8ca9fac49aecbd697d01fd8bee1ed2693b6c9"},
			{"alice identity", s.aliceIdentity[:], "7326b58623a3f7bd8da11a1bab51f432c02a7430241b326e9fc8916a21eb257e"},
			{"alice base", s.aliceBase[:], "0ab4b30bde20bd374ceccc72861660f0fd046f7516900796c3e5de41c598316c"},
			{"bob one-time", s.bobOneTime[:], "585dba930b10d90d81702c715f4085d07c42b0cd2d676010bb6086c86c4cc618"},
		} {
			if hex.EncodeToString(c.got) != c.want {
				t.Errorf("%s = %x, want %s", c.what, c.got, c.want)
			}
		}
		st := s.r.AppendLibolmState(nil)
		// root 32 ‖ u32 1 ‖ pub 32 ‖ priv 32 ‖ chain key 32 ‖ u32 index 0 ‖ u32 0 ‖ u32 0
		if got, want := hex.EncodeToString(st[36:68]), "f77a03eaa9b301fa7d2a5aa6b50286906de12cc96044f526dbbcb12839ad7003"; got != want {
			t.Errorf("sender ratchet key %s, want %s", got, want)
		}
		if got, want := hex.EncodeToString(st[68:100]), "d945c6ed4c7c277117adf11fb133a7936d287afe97c0b3ac989644b4490d4f31"; got != want {
			t.Errorf("sender ratchet private key %s, want %s", got, want)
		}
		if len(st) != 32+4+100+4+4 {
			t.Errorf("ratchet state %d bytes; want one sender chain and no receiver chains or skipped keys", len(st))
		}
		// Export writes version 1; the v1 vector must come back byte for byte.
		if p == libolmSessionV1 {
			if got := s.PickleLibolm([]byte("secret_key")); got != libolmSessionV1 {
				t.Errorf("re-pickled session differs:\n got %s\nwant %s", got, libolmSessionV1)
			}
		}
	}
	if _, err := UnpickleLibolmSession([]byte("wrong"), libolmSessionV1); !errors.Is(err, ErrBadPickle) {
		t.Errorf("wrong key: %v", err)
	}
}

func TestUnpickleLibolmAccountVectors(t *testing.T) {
	a, err := UnpickleLibolmAccount(nil, libolmAccountV3)
	if err != nil {
		t.Fatal(err)
	}
	// Expected: fallback_key {"curve25519":{"AAAAAQ":"dr98y6VOWt6lJaQgFVZeWY2ky76mga9MEMbdItJTdng"}},
	// unpublished_fallback_key {"curve25519":{}}.
	fb, ok := a.FallbackKey()
	if !ok || fb.ID.String() != "AAAAAQ" || fb.Key.String() != "dr98y6VOWt6lJaQgFVZeWY2ky76mga9MEMbdItJTdng" {
		t.Errorf("fallback key = %v %s %s", ok, fb.ID, fb.Key)
	}
	if _, ok := a.UnpublishedFallbackKey(); ok {
		t.Error("v3 fallback key is unpublished")
	}
	// Round trip through version 4 and back.
	b, err := UnpickleLibolmAccount([]byte("k"), a.PickleLibolm([]byte("k")))
	if err != nil {
		t.Fatal(err)
	}
	if b.identityKeys() != a.identityKeys() || b.lastID != a.lastID || !sameSigningKey(b.signing, a.signing) {
		t.Error("v4 round trip changed the account")
	}
	if _, err := UnpickleLibolmAccount(nil, libolmAccountV1); !errors.Is(err, ErrBadPickle) {
		t.Errorf("v1 account accepted: %v", err)
	}
}

// TestLibolmDecryptRegressions replays libolm 3.2.13 tests/test_olm_decrypt.cpp
// (crashes found by fuzzing): a session pickle (key "") and four hex-encoded
// base64 bodies decrypted as pre-key messages. They must fail cleanly and
// leave the session unchanged.
func TestLibolmDecryptRegressions(t *testing.T) {
	const sessionData = "E0p44KO2y2pzp9FIjv0rud2wIvWDi2dx367kP4Fz/9JCMrH+aG369HGymkFtk0+PINTLB9lQRt" +
		"ohea5d7G/UXQx3r5y4IWuyh1xaRnojEZQ9a5HRZSNtvmZ9NY1f1gutYa4UtcZcbvczN8b/5Bqg" +
		"e16cPUH1v62JKLlhoAJwRkH1wU6fbyOudERg5gdXA971btR+Q2V8GKbVbO5fGKL5phmEPVXyMs" +
		"rfjLdzQrgjOTxN8Pf6iuP+WFPvfnR9lDmNCFxJUVAdLIMnLuAdxf1TGcS+zzCzEE8btIZ99mHF" +
		"dGvPXeH8qLeNZA"
	s, err := UnpickleLibolmSession(nil, sessionData)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{
		"41776f",
		"7fff6f0101346d671201",
		"ee776f41496f674177804177778041776f6716670a677d6f670a67c2677d",
		"e9e9c9c1e9e9c9e9c9c1e9e9c9c1",
	} {
		text, _ := hex.DecodeString(h)
		// The raw bytes as a body, and their base64 decoding where valid
		// (libolm decodes invalid characters to garbage; sicher refuses them).
		bodies := [][]byte{text}
		if body, err := b64.Decode(string(text)); err == nil {
			bodies = append(bodies, body)
		}
		for _, body := range bodies {
			mustFail(t, s, EncryptedMessage{TypePreKey, body}, nil, h)
			mustFail(t, s, EncryptedMessage{TypeMessage, body}, nil, h)
		}
	}
}
