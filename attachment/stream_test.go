package attachment

import (
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// zeros is an endless source of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func zeroStream(n int64) io.Reader { return io.LimitReader(zeros{}, n) }

// zeroCheck counts bytes written and remembers whether all were zero.
type zeroCheck struct {
	n       int64
	nonzero bool
}

func (z *zeroCheck) Write(p []byte) (int, error) {
	for _, b := range p {
		if b != 0 {
			z.nonzero = true
			break
		}
	}
	z.n += int64(len(p))
	return len(p), nil
}

// flipAt flips one byte of the stream at offset at.
type flipAt struct {
	r   io.Reader
	off int64
	at  int64
}

func (f *flipAt) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0x40
	}
	f.off += int64(n)
	return n, err
}

func heapAllocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestStream1GiB streams a 1 GiB synthetic document through every
// streaming API and checks that the memory allocated is independent of the
// size (a few chunk buffers), that the plaintext comes back, and that a
// single flipped byte near the end fails with nothing of the final chunk
// released.
func TestStream1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB streaming test skipped in -short mode")
	}
	const size = 1 << 30
	const budget = 4 << 20 // bytes allocated per pass, whatever the size

	before := heapAllocated()
	er, _ := newEncryptingReaderFrom(seeded(11), zeroStream(size))
	if n, err := io.Copy(io.Discard, er); err != nil || n != size {
		t.Fatal(n, err)
	}
	f, err := er.File()
	if err != nil {
		t.Fatal(err)
	}
	if a := heapAllocated() - before; a > budget {
		t.Errorf("EncryptingReader allocated %d bytes for 1 GiB", a)
	}

	before = heapAllocated()
	ew, _ := newEncryptingWriterFrom(seeded(11), io.Discard)
	if _, err := io.Copy(ew, zeroStream(size)); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if g, _ := ew.File(); !g.Equal(f) {
		t.Fatal("EncryptingWriter and EncryptingReader disagree")
	}
	if a := heapAllocated() - before; a > budget {
		t.Errorf("EncryptingWriter allocated %d bytes for 1 GiB", a)
	}

	before = heapAllocated()
	er, _ = newEncryptingReaderFrom(seeded(11), zeroStream(size))
	dr, err := NewUnverifiedReader(er, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	var z zeroCheck
	if _, err := io.Copy(&z, dr); err != nil || z.n != size || z.nonzero {
		t.Fatalf("decrypt: %v, %d bytes, nonzero=%v", err, z.n, z.nonzero)
	}
	if a := heapAllocated() - before; a > 2*budget {
		t.Errorf("encrypt+decrypt allocated %d bytes for 1 GiB", a)
	}

	er, _ = newEncryptingReaderFrom(seeded(11), zeroStream(size))
	dr, _ = NewUnverifiedReader(&flipAt{r: er, at: size - 10}, f, nil)
	z = zeroCheck{}
	if _, err := io.Copy(&z, dr); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("tampered 1 GiB stream: %v", err)
	}
	if z.n >= size-10 || z.nonzero {
		t.Fatalf("released %d bytes (nonzero=%v) of a tampered stream", z.n, z.nonzero)
	}
}

const benchSize = 256 << 20

// BenchmarkSHA256 is the floor the streaming benchmarks are measured
// against: plain SHA-256 over the same 256 MiB stream.
func BenchmarkSHA256(b *testing.B) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	buf := make([]byte, chunkSize)
	for b.Loop() {
		h := sha256.New()
		io.CopyBuffer(h, zeroStream(benchSize), buf)
		h.Sum(nil)
	}
}

func BenchmarkEncryptingReader(b *testing.B) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		er, _ := newEncryptingReaderFrom(seeded(12), zeroStream(benchSize))
		io.Copy(io.Discard, er)
	}
}

func BenchmarkEncryptingWriter(b *testing.B) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		ew, _ := newEncryptingWriterFrom(seeded(12), io.Discard)
		io.Copy(ew, zeroStream(benchSize))
		ew.Close()
	}
}

func BenchmarkDecryptingReader(b *testing.B) {
	// The all-zero stream serves as ciphertext; its hash is computed once.
	h := sha256.New()
	io.Copy(h, zeroStream(benchSize))
	_, f, _ := EncryptFrom(seeded(12), nil)
	h.Sum(f.SHA256[:0])
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		dr, _ := NewUnverifiedReader(zeroStream(benchSize), f, nil)
		if _, err := io.Copy(io.Discard, dr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt1MiB(b *testing.B) {
	ct, f, _ := EncryptFrom(seeded(13), make([]byte, 1<<20))
	b.SetBytes(int64(len(ct)))
	b.ReportAllocs()
	for b.Loop() {
		Decrypt(ct, f, nil)
	}
}

// BenchmarkRatio interleaves plain SHA-256 and each streaming API over the
// same 64 MiB streams and reports their throughput relative to SHA-256
// (the aim is at least 0.8), which is fairer than comparing separate
// benchmarks on a machine whose load changes.
func BenchmarkRatio(b *testing.B) {
	const n = 64 << 20
	h := sha256.New()
	io.Copy(h, zeroStream(n))
	_, f, _ := EncryptFrom(seeded(14), nil)
	h.Sum(f.SHA256[:0])
	buf := make([]byte, chunkSize)
	apis := []struct {
		name string
		run  func()
	}{
		{"enc-reader", func() {
			er, _ := newEncryptingReaderFrom(seeded(14), zeroStream(n))
			io.Copy(io.Discard, er)
		}},
		{"enc-writer", func() {
			ew, _ := newEncryptingWriterFrom(seeded(14), io.Discard)
			io.Copy(ew, zeroStream(n))
			ew.Close()
		}},
		{"dec-reader", func() {
			dr, _ := NewUnverifiedReader(zeroStream(n), f, nil)
			if _, err := io.Copy(io.Discard, dr); err != nil {
				b.Fatal(err)
			}
		}},
	}
	var base time.Duration
	spent := make([]time.Duration, len(apis))
	b.SetBytes(n * int64(1+len(apis)))
	for b.Loop() {
		t := time.Now()
		h := sha256.New()
		io.CopyBuffer(h, zeroStream(n), buf)
		h.Sum(nil)
		base += time.Since(t)
		for i, a := range apis {
			t := time.Now()
			a.run()
			spent[i] += time.Since(t)
		}
	}
	for i, a := range apis {
		b.ReportMetric(float64(base)/float64(spent[i]), a.name+"/sha256")
	}
}

// TestAbandonedStreamsStopWorkers drops streams in the middle: their
// hashing goroutines must end once the streams are garbage collected.
func TestAbandonedStreamsStopWorkers(t *testing.T) {
	base := runtime.NumGoroutine()
	_, f, _ := EncryptFrom(seeded(16), nil)
	for range 20 {
		er, _ := newEncryptingReaderFrom(seeded(16), zeroStream(4*chunkSize))
		io.ReadFull(er, make([]byte, 2*chunkSize))
		dr, _ := NewUnverifiedReader(zeroStream(4*chunkSize), f, nil)
		io.ReadFull(dr, make([]byte, chunkSize))
		ew, _ := newEncryptingWriterFrom(seeded(16), io.Discard)
		ew.Write(make([]byte, 2*chunkSize))
	}
	if runtime.NumGoroutine() <= base {
		t.Fatal("no hashing goroutines were started")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines left behind", n-base)
	}
}
