package olm

import "crypto/sha256"

// mockRandom reproduces MockRandom from libolm's tests (tests/test_olm.cpp,
// libolm 3.2.13): every request of n bytes is filled in blocks of 32;
// byte 0 of a block is the tag, the other bytes of the block are the
// current counter, which then increments (a final partial block too). The
// counter persists across requests. Each Read is one request, and Read
// always fills p completely, so io.ReadFull makes exactly one request.
type mockRandom struct {
	tag     byte
	current byte
}

func newMockRandom(tag, offset byte) *mockRandom { return &mockRandom{tag: tag, current: offset} }

func (m *mockRandom) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		block := p[:min(32, len(p))]
		block[0] = m.tag
		for i := 1; i < len(block); i++ {
			block[i] = m.current
		}
		m.current++
		p = p[len(block):]
	}
	return n, nil
}

// failReader fails every read, to prove a function read nothing or
// handles the failure.
type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errFail }

type testError string

func (e testError) Error() string { return string(e) }

const errFail = testError("test: no randomness")

// zeroReader reads zeros: a fixed pickle nonce, so two pickles of the same
// state are byte-identical.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// streamReader is a deterministic stream of SHA-256(seed ‖ block counter)
// that, unlike mockRandom, never repeats a key.
type streamReader struct {
	seed  byte
	block uint32
	buf   []byte
}

func (s *streamReader) Read(p []byte) (int, error) {
	for i := range p {
		if len(s.buf) == 0 {
			h := sha256.Sum256([]byte{s.seed, byte(s.block), byte(s.block >> 8), byte(s.block >> 16), byte(s.block >> 24)})
			s.buf = h[:]
			s.block++
		}
		p[i] = s.buf[0]
		s.buf = s.buf[1:]
	}
	return len(p), nil
}
