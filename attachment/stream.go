package attachment

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"

	"github.com/sicher-go/sicher/internal/ctr64"
)

// chunkSize is the unit of streaming work, and nbuf the number of chunk
// buffers a stream hashes from. Memory per stream is at most a small
// constant multiple of chunkSize (about 1 MiB), whatever the file size.
// The queue of nbuf chunks (about 0.6 ms of SHA-256 work) lets the two
// goroutines ride out scheduling delays on a loaded machine.
const (
	chunkSize = 128 << 10
	nbuf      = 8
)

// parallelMin is the smallest chunk worth hashing on another goroutine.
const parallelMin = 16 << 10

// pipe computes the SHA-256 of a stream of chunks and owns the chunk
// buffers. Once a chunk of at least parallelMin bytes is seen (and there is
// more than one CPU), a worker goroutine hashes the queued chunks in order
// while the caller reads and en- or decrypts the next ones: SHA-256 is the
// bottleneck, and with AES-CTR running beside it the stream goes at nearly
// the speed of the hash alone. A chunk passed to hash must not be modified
// until buffer hands it out again.
//
// The worker ends when the sum is taken, or (for a stream abandoned before
// its end) when the pipe is garbage collected.
type pipe struct {
	h         hash.Hash
	idle      [][]byte
	allocated int // buffers made so far, at most nbuf
	w         *worker
	inflight  int
}

// worker is the hashing goroutine's side; it holds no reference to the
// pipe, so an abandoned pipe can be collected and its cleanup stop it.
type worker struct {
	work, free chan []byte
	once       sync.Once
}

func (w *worker) stop() { w.once.Do(func() { close(w.work) }) }

func newPipe() *pipe { return &pipe{h: sha256.New()} }

// buffer returns a full-size chunk buffer that is not being hashed. Up to
// nbuf buffers are made as needed (a small file needs one); after that it
// waits for the worker to finish one.
func (p *pipe) buffer() []byte {
	if n := len(p.idle); n > 0 {
		b := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return b[:cap(b)]
	}
	if p.allocated < nbuf {
		p.allocated++
		return make([]byte, chunkSize)
	}
	b := <-p.w.free
	p.inflight--
	return b[:cap(b)]
}

// hash adds b, a buffer from buffer, to the hash.
func (p *pipe) hash(b []byte) {
	if p.w == nil {
		if len(b) < parallelMin || runtime.GOMAXPROCS(0) < 2 {
			p.h.Write(b)
			p.idle = append(p.idle, b)
			return
		}
		p.start()
	}
	p.inflight++
	p.w.work <- b
}

func (p *pipe) start() {
	w := &worker{work: make(chan []byte, nbuf), free: make(chan []byte, nbuf)}
	h := p.h
	go func() {
		for b := range w.work {
			h.Write(b)
			w.free <- b
		}
	}()
	p.w = w
	runtime.AddCleanup(p, (*worker).stop, w)
}

// sum waits for all queued chunks, stops the worker and returns the hash.
// The pipe must not be used afterwards.
func (p *pipe) sum() (s [hashSize]byte) {
	if p.w != nil {
		for p.inflight > 0 {
			p.idle = append(p.idle, <-p.w.free)
			p.inflight--
		}
		p.w.stop()
	}
	p.h.Sum(s[:0])
	return s
}

// abandon stops the worker of a stream that failed; the hash is lost.
func (p *pipe) abandon() {
	if p.w != nil {
		p.w.stop()
	}
}

// newStream returns the AES-CTR keystream for f's version.
func (f *EncryptedFile) newStream() cipher.Stream {
	block, err := aes.NewCipher(f.key[:])
	if err != nil {
		// The key is a [32]byte: NewCipher cannot fail.
		panic("attachment: internal error: " + err.Error())
	}
	if f.Version == version0 {
		// The unversioned format counted through all 128 bits.
		return cipher.NewCTR(block, f.IV[:])
	}
	return ctr64.New(block, f.IV[:])
}

// newFile draws a fresh key (32 bytes) and then the random high half of
// the IV (8 bytes) from rand, in that order.
func newFile(rnd io.Reader) (*EncryptedFile, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	f := &EncryptedFile{Version: Version2, hasKey: true}
	if _, err := io.ReadFull(rnd, f.key[:]); err != nil {
		return nil, fmt.Errorf("attachment: reading randomness: %w", err)
	}
	if _, err := io.ReadFull(rnd, f.IV[:8]); err != nil {
		return nil, fmt.Errorf("attachment: reading randomness: %w", err)
	}
	return f, nil
}

// readChunk fills buf from r like io.ReadFull, reporting the end of the
// input as done rather than as an error.
func readChunk(r io.Reader, buf []byte) (n int, done bool, err error) {
	n, err = io.ReadFull(r, buf)
	switch err {
	case nil:
		return n, false, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return n, true, nil
	}
	return n, false, err
}

// redacted, embedded in each stream type, makes it print and log without
// its state: the key and keystream sit in unexported fields, which fmt
// would print (through pointers too, for a verb a field does not handle).
type redacted struct{}

// Format implements fmt.Formatter: it prints no key material.
func (redacted) Format(f fmt.State, _ rune) { io.WriteString(f, "attachment stream{key: REDACTED}") }

// LogValue implements slog.LogValuer: it logs no key material.
func (redacted) LogValue() slog.Value { return slog.StringValue("attachment stream{key: REDACTED}") }

// EncryptingReader encrypts a plaintext stream: reading from it yields the
// ciphertext to upload. After it has returned io.EOF, File returns the
// EncryptedFile to send. Memory use is constant (at most about 1 MiB). It holds
// the secret key and is not safe for concurrent use.
type EncryptingReader struct {
	redacted
	src    io.Reader
	file   *EncryptedFile
	stream cipher.Stream
	p      *pipe
	out    []byte // ciphertext not yet read by the caller
	err    error  // sticky: io.EOF once finished, or the source's error
	done   bool
}

// NewEncryptingReader returns a reader of the ciphertext of plaintext
// under a fresh key and IV read from crypto/rand.
func NewEncryptingReader(plaintext io.Reader) (*EncryptingReader, error) {
	return newEncryptingReaderFrom(nil, plaintext)
}

// newEncryptingReaderFrom reads the key and IV from rand (crypto/rand if
// nil: 32 bytes of key, then 8 bytes of IV), as EncryptFrom does.
func newEncryptingReaderFrom(rand io.Reader, plaintext io.Reader) (*EncryptingReader, error) {
	f, err := newFile(rand)
	if err != nil {
		return nil, err
	}
	return &EncryptingReader{src: plaintext, file: f, stream: f.newStream(), p: newPipe()}, nil
}

func (r *EncryptingReader) refill() {
	buf := r.p.buffer()
	n, done, err := readChunk(r.src, buf)
	r.stream.XORKeyStream(buf[:n], buf[:n])
	r.p.hash(buf[:n])
	r.out = buf[:n]
	switch {
	case err != nil:
		r.p.abandon()
		r.err = err
	case done:
		r.file.SHA256 = r.p.sum()
		r.done = true
		r.err = io.EOF
	}
}

// Read implements io.Reader, returning ciphertext.
func (r *EncryptingReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.refill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// WriteTo implements io.WriterTo, so io.Copy moves ciphertext in large
// chunks.
func (r *EncryptingReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.out) > 0 {
			n, err := w.Write(r.out)
			total += int64(n)
			r.out = r.out[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		if r.err == io.EOF {
			return total, nil
		}
		if r.err != nil {
			return total, r.err
		}
		r.refill()
	}
}

// File returns the EncryptedFile for the ciphertext, with Version "v2",
// the key, the IV and the SHA-256 of all ciphertext. It returns
// an error until the reader has returned io.EOF. The caller fills in
// URL after uploading.
func (r *EncryptingReader) File() (*EncryptedFile, error) {
	if !r.done {
		return nil, errNotFinished
	}
	f := *r.file
	return &f, nil
}

// EncryptingWriter encrypts what is written to it and writes the
// ciphertext to an underlying writer. Close finishes the hash; File then
// returns the EncryptedFile. Memory use is constant (at most about 1 MiB). It
// holds the secret key and is not safe for concurrent use.
type EncryptingWriter struct {
	redacted
	dst    io.Writer
	file   *EncryptedFile
	stream cipher.Stream
	p      *pipe
	err    error
	closed bool
}

// NewEncryptingWriter returns a writer that writes the ciphertext of
// everything written to it to ciphertext, under a fresh key and IV read
// from crypto/rand.
func NewEncryptingWriter(ciphertext io.Writer) (*EncryptingWriter, error) {
	return newEncryptingWriterFrom(nil, ciphertext)
}

// newEncryptingWriterFrom reads the key and IV from rand (crypto/rand if
// nil), as EncryptFrom does.
func newEncryptingWriterFrom(rand io.Reader, ciphertext io.Writer) (*EncryptingWriter, error) {
	f, err := newFile(rand)
	if err != nil {
		return nil, err
	}
	return &EncryptingWriter{dst: ciphertext, file: f, stream: f.newStream(), p: newPipe()}, nil
}

// errClosed is returned for writes after Close.
var errClosed = errors.New("attachment: write after Close")

// Write encrypts p and writes the ciphertext to the underlying writer.
// After an error from the underlying writer every call fails.
func (w *EncryptingWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		buf := w.p.buffer()
		n := min(len(buf), len(p))
		w.stream.XORKeyStream(buf[:n], p[:n])
		w.p.hash(buf[:n])
		m, err := w.dst.Write(buf[:n])
		if err == nil && m < n {
			err = io.ErrShortWrite
		}
		if err != nil {
			// What was written is now out of step with the hash; the
			// stream cannot produce a valid file any more.
			w.p.abandon()
			w.err = err
			return written + m, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// ReadFrom implements io.ReaderFrom, so io.Copy encrypts in large chunks
// without an extra copy.
func (w *EncryptingWriter) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, chunkSize)
	var total int64
	for {
		n, done, err := readChunk(r, buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err != nil || done {
			return total, err
		}
	}
}

// Close finishes the SHA-256 of the ciphertext. It does not close the
// underlying writer. Close after an earlier write error returns that error.
func (w *EncryptingWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	w.file.SHA256 = w.p.sum()
	return nil
}

// File returns the EncryptedFile for the ciphertext written, or
// an error before a successful Close.
func (w *EncryptingWriter) File() (*EncryptedFile, error) {
	if !w.closed || w.err != nil {
		return nil, errNotFinished
	}
	f := *w.file
	return &f, nil
}

// UnverifiedReader decrypts a ciphertext stream and checks its SHA-256 at
// the end, releasing plaintext before it knows the file is authentic.
// Most callers want [DecryptingReader] instead.
//
// The risk: until Read returns io.EOF, everything it returned may be
// plaintext of a file the media server replaced or corrupted (a truncated
// or spliced download, or another file under the same key). A caller that
// renders, parses, executes or forwards it before the end acts on
// attacker-influenced bytes; use it only to write to a place that is
// discarded on error (a temporary file renamed into place on io.EOF).
//
// The hash can only be checked at the end of the ciphertext. The reader
// withholds the most recently decrypted chunk of plaintext (128 KiB, or
// the whole tail of the file, and always at least its final byte) until it
// has read further input; at the end it checks the hash and, if it does not
// match, Read returns ErrAuthentication instead of the withheld plaintext (up
// to 256 KiB), which is wiped.
// Plaintext released before the error was not yet verified, so a caller
// must treat all output as untrusted until Read returns io.EOF, and
// discard it on any error. Use NewDecryptingReader to avoid ever seeing
// unverified plaintext.
//
// Memory use is constant (at most about 1.25 MiB). It holds the secret key
// and is not safe for concurrent use.
type UnverifiedReader struct {
	redacted
	src      io.Reader
	want     [hashSize]byte
	stream   cipher.Stream
	p        *pipe
	plain    [2][]byte
	which    int
	out      []byte // plaintext the caller may read
	held     []byte // plaintext withheld until more input or the hash check
	verified bool
	err      error // sticky: io.EOF once verified, or the failure
}

// NewUnverifiedReader returns a reader that streams the plaintext of
// ciphertext as described by f before its hash is checked (see
// [UnverifiedReader] for what that risks). It fails for an EncryptedFile
// whose version opts does not allow (nil opts: only "v2").
func NewUnverifiedReader(ciphertext io.Reader, f *EncryptedFile, opts *Options) (*UnverifiedReader, error) {
	if err := f.check(opts); err != nil {
		return nil, err
	}
	return &UnverifiedReader{
		src: ciphertext, want: f.SHA256, stream: f.newStream(), p: newPipe(),
		plain: [2][]byte{make([]byte, chunkSize), make([]byte, chunkSize)},
	}, nil
}

func (r *UnverifiedReader) refill() {
	cbuf := r.p.buffer()
	n, done, err := readChunk(r.src, cbuf)
	if n > 0 {
		p := r.plain[r.which][:n]
		r.which ^= 1
		r.p.hash(cbuf[:n])
		r.stream.XORKeyStream(p, cbuf[:n])
		r.out, r.held = r.held, p
	} else {
		r.p.hash(cbuf[:0])
	}
	switch {
	case err != nil:
		r.p.abandon()
		r.fail(err)
	case done:
		sum := r.p.sum()
		if subtle.ConstantTimeCompare(sum[:], r.want[:]) != 1 {
			r.fail(ErrAuthentication)
			return
		}
		r.verified = true
		r.err = io.EOF
	}
}

// fail makes err sticky and wipes all plaintext not yet handed out.
func (r *UnverifiedReader) fail(err error) {
	clear(r.plain[0])
	clear(r.plain[1])
	r.out, r.held = nil, nil
	r.err = err
}

// next returns the plaintext the caller may have now, refilling as needed,
// or the sticky error.
func (r *UnverifiedReader) next() ([]byte, error) {
	for len(r.out) == 0 {
		if r.verified && len(r.held) > 0 {
			r.out, r.held = r.held, nil
			continue
		}
		if r.err != nil {
			return nil, r.err
		}
		r.refill()
	}
	return r.out, nil
}

// Read implements io.Reader, returning plaintext. It returns io.EOF only
// after the hash matched, and ErrAuthentication (before the final chunk of
// plaintext) if it did not.
func (r *UnverifiedReader) Read(p []byte) (int, error) {
	out, err := r.next()
	if err != nil {
		return 0, err
	}
	n := copy(p, out)
	r.out = out[n:]
	return n, nil
}

// WriteTo implements io.WriterTo, so io.Copy moves plaintext in large
// chunks. It returns nil at the end of a verified stream.
func (r *UnverifiedReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		out, err := r.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(out)
		total += int64(n)
		r.out = out[n:]
		if err != nil {
			return total, err
		}
	}
}

// Spool is where NewDecryptingReader keeps the ciphertext while it checks
// the hash: an *os.File, or any random-access store the caller provides.
type Spool interface {
	io.ReaderAt
	io.WriterAt
}

// DecryptingReader is a reader of plaintext whose ciphertext has been fully
// read and its hash checked before the first byte was decrypted: the
// streaming decryption to use. Close it to remove the temporary file it
// may have created. It holds the secret key and is not safe for
// concurrent use.
type DecryptingReader struct {
	redacted
	r    io.Reader
	size int64
	tmp  *os.File
}

// NewDecryptingReader reads all of ciphertext into spool, checks its
// SHA-256 against f, and only then returns a reader that decrypts from the
// spool; a hash that does not match gives ErrAuthentication and no
// reader. If spool is nil, a temporary file is created in os.TempDir and
// removed by Close (or on error). Memory use is constant. It fails for an
// EncryptedFile whose version opts does not allow (nil opts: only "v2").
//
// The spooled ciphertext must not change until the reader is done: the
// hash is checked once, when NewDecryptingReader returns.
func NewDecryptingReader(ciphertext io.Reader, f *EncryptedFile, spool Spool, opts *Options) (*DecryptingReader, error) {
	if err := f.check(opts); err != nil {
		return nil, err
	}
	var tmp *os.File
	if spool == nil {
		var err error
		tmp, err = os.CreateTemp("", "sicher-attachment-*")
		if err != nil {
			return nil, fmt.Errorf("attachment: creating spool file: %w", err)
		}
		spool = tmp
	}
	vr := &DecryptingReader{tmp: tmp}
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var off int64
	for {
		n, done, err := readChunk(ciphertext, buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, werr := spool.WriteAt(buf[:n], off); werr != nil {
				vr.Close()
				return nil, fmt.Errorf("attachment: writing spool: %w", werr)
			}
			off += int64(n)
		}
		if err != nil {
			vr.Close()
			return nil, err
		}
		if done {
			break
		}
	}
	var sum [hashSize]byte
	h.Sum(sum[:0])
	if subtle.ConstantTimeCompare(sum[:], f.SHA256[:]) != 1 {
		vr.Close()
		return nil, ErrAuthentication
	}
	vr.size = off
	vr.r = cipher.StreamReader{S: f.newStream(), R: io.NewSectionReader(spool, 0, off)}
	return vr, nil
}

// Size returns the length of the plaintext.
func (v *DecryptingReader) Size() int64 { return v.size }

// Read implements io.Reader, returning verified plaintext.
func (v *DecryptingReader) Read(p []byte) (int, error) {
	if v.r == nil {
		return 0, os.ErrClosed
	}
	return v.r.Read(p)
}

// Close removes the temporary spool file, if NewDecryptingReader created
// one. A caller-provided spool is left alone.
func (v *DecryptingReader) Close() error {
	v.r = nil
	if v.tmp == nil {
		return nil
	}
	name := v.tmp.Name()
	err := v.tmp.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	v.tmp = nil
	return err
}
