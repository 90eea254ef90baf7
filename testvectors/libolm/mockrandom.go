package libolm

// MockRandom is the deterministic generator of libolm's tests/test_olm.cpp:
// each request of n bytes is filled in blocks of 32 whose first byte is the
// tag and whose other bytes are the current counter, which increments
// after every block (a final partial block included) and persists across
// requests.
type MockRandom struct {
	Tag     byte
	Counter byte
}

// Bytes returns the next n bytes.
func (m *MockRandom) Bytes(n int) []byte {
	out := make([]byte, n)
	for off := 0; off < n; off += 32 {
		end := min(off+32, n)
		for i := off; i < end; i++ {
			out[i] = m.Counter
		}
		out[off] = m.Tag
		m.Counter++
	}
	return out
}

// Read implements io.Reader (same stream as Bytes).
func (m *MockRandom) Read(p []byte) (int, error) {
	copy(p, m.Bytes(len(p)))
	return len(p), nil
}
