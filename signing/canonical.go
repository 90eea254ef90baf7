package signing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sicher-go/sicher/internal/jsonstrict"
)

// maxDepth bounds the nesting of arrays and objects, so hostile input
// cannot exhaust the stack; it is the strict decoder's limit.
const maxDepth = jsonstrict.MaxDepth

// maxSafeInteger is 2^53-1, the largest magnitude canonical JSON allows.
const maxSafeInteger = 1<<53 - 1

// ErrMalformed is returned (wrapped) for input that does not parse: JSON
// that is not a single well-formed value in UTF-8, that has an object with
// two keys equal exactly or under Unicode simple case folding, a string
// with an unpaired surrogate escape, nesting deeper than 512 levels or a
// number canonical JSON cannot represent ([*NumberError]); and a signed
// object, device keys or cross-signing key that lacks a required member
// or holds one of the wrong type or shape.
//
// Keys equal under folding ("user_id" and "uſer_id" with U+017F, "keys"
// and "\u212aeys" with the Kelvin sign, "usage" and "USAGE") are refused
// rather than resolved because parsers resolve them differently:
// Python, JavaScript and Rust read the exact name, encoding/json the last
// case variant. One signed object would then name two users.
var ErrMalformed = errors.New("signing: malformed JSON")

// NumberError reports a number that canonical JSON cannot represent: one
// with a fractional part, or an integer outside [-(2^53)+1, 2^53-1]. A
// literal with a fraction or exponent whose value is an integer in range
// ("1e10", "-0", "2.50e1") is accepted and written as that integer, as the
// spec's examples require. errors.Is(err, ErrMalformed) holds.
type NumberError struct {
	// Literal is the number as written in the input (at most 40 bytes of it).
	Literal string
	// Fraction is true for a value that is not an integer, false for an
	// integer out of range.
	Fraction bool
}

// Error describes the number and why it was refused.
func (e *NumberError) Error() string {
	if e.Fraction {
		return "signing: number " + e.Literal + " is not an integer (canonical JSON has no floats)"
	}
	return "signing: number " + e.Literal + " is outside canonical JSON's range [-(2^53)+1, 2^53-1]"
}

// Unwrap returns ErrMalformed.
func (e *NumberError) Unwrap() error { return ErrMalformed }

// Canonical returns the canonical JSON encoding (spec appendices,
// "Canonical JSON", https://spec.matrix.org/v1.19/appendices/#canonical-json)
// of the JSON text in data: no insignificant whitespace, object keys
// sorted by Unicode code point, integers only, strings in UTF-8 with the
// shortest escapes (no HTML escaping; U+2028, U+2029 and U+007F raw;
// control characters as \b \t \n \f \r or lowercase \u00xx). Input that
// is not valid JSON, or has keys equal under case folding, gives an error
// wrapping ErrMalformed.
func Canonical(data []byte) ([]byte, error) {
	return AppendCanonical(nil, data)
}

// AppendCanonical appends the canonical JSON encoding of data to dst. On
// error dst is returned unchanged in length.
func AppendCanonical(dst, data []byte) ([]byte, error) {
	e := newEncoder(data)
	out, err := e.document(dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Marshal encodes v with encoding/json and returns its canonical form.
// v may be a json.RawMessage, a map, a struct or anything else
// encoding/json accepts; floats that are not integers are rejected.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return Canonical(buf.Bytes())
}

// splitJSON canonicalises a JSON object, leaving out its top-level
// "signatures" and "unsigned" members, whose canonical encodings it
// returns separately (nil when absent). It is the first step of signing
// and of verifying.
func splitJSON(data []byte) (signed, signatures, unsigned []byte, err error) {
	e := newEncoder(data)
	e.split, e.lenientUnsigned = true, true
	signed, err = e.document(nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return signed, e.signatures, e.unsigned, nil
}

// canonicalSigned is Canonical for a whole signed object: numbers inside
// its top-level "unsigned" member are kept as they are.
func canonicalSigned(data []byte) ([]byte, error) {
	e := newEncoder(data)
	e.lenientUnsigned = true
	return e.document(nil)
}

// encoder is a one-pass validating parser that writes canonical JSON as it
// reads. Objects are written unsorted into dst first and then reordered in
// place through one copy.
type encoder struct {
	in    []byte
	pos   int
	depth int
	keys  []byte   // decoded keys of the objects being parsed
	stack []member // members of the objects being parsed
	body  []byte   // scratch copy of an object's unsorted members

	split bool // leave out top-level signatures/unsigned
	// lenientUnsigned accepts any JSON number inside the top-level
	// "unsigned" member (written as it came): nobody signs it, and a
	// server's float there must not make a signature unverifiable.
	lenientUnsigned bool
	lenient         bool   // inside that member now
	signatures      []byte // their canonical encodings, when split
	unsigned        []byte

	folded []byte // scratch: the folded keys of one object
	folds  []keySpan
}

// keySpan is a range of encoder.folded.
type keySpan struct{ start, end int }

// newEncoder returns an encoder whose scratch buffers are sized once for
// input like data.
func newEncoder(data []byte) encoder {
	scratch := make([]byte, 0, 256+len(data))
	return encoder{in: data, stack: make([]member, 0, 16), keys: scratch[:0:128], body: scratch[128:128]}
}

// member is one object member written to dst: its decoded key (an offset
// range in encoder.keys) and its "key":value text (a range in dst).
type member struct {
	keyStart, keyEnd int
	start, value     int // offsets of the key text and of the value in dst
	end              int
}

func (e *encoder) syntax(what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrMalformed, what, e.pos)
}

func (e *encoder) document(dst []byte) ([]byte, error) {
	e.skipSpace()
	if e.split && (e.pos >= len(e.in) || e.in[e.pos] != '{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	dst, err := e.value(dst)
	if err != nil {
		return nil, err
	}
	e.skipSpace()
	if e.pos != len(e.in) {
		return nil, e.syntax("data after the JSON value")
	}
	return dst, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (e *encoder) skipSpace() {
	for e.pos < len(e.in) && isSpace(e.in[e.pos]) {
		e.pos++
	}
}

func (e *encoder) value(dst []byte) ([]byte, error) {
	if e.pos >= len(e.in) {
		return nil, e.syntax("unexpected end of input")
	}
	switch c := e.in[e.pos]; {
	case c == '{':
		return e.object(dst)
	case c == '[':
		return e.array(dst)
	case c == '"':
		return e.str(dst, false)
	case c == '-' || ('0' <= c && c <= '9'):
		return e.number(dst)
	case c == 't':
		return e.literal(dst, "true")
	case c == 'f':
		return e.literal(dst, "false")
	case c == 'n':
		return e.literal(dst, "null")
	default:
		return nil, e.syntax(fmt.Sprintf("unexpected character %q", c))
	}
}

func (e *encoder) literal(dst []byte, lit string) ([]byte, error) {
	if !bytes.HasPrefix(e.in[e.pos:], []byte(lit)) {
		return nil, e.syntax("invalid literal")
	}
	e.pos += len(lit)
	return append(dst, lit...), nil
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > maxDepth {
		return e.syntax("nesting too deep")
	}
	return nil
}

func (e *encoder) array(dst []byte) ([]byte, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	e.pos++ // '['
	dst = append(dst, '[')
	e.skipSpace()
	if e.pos < len(e.in) && e.in[e.pos] == ']' {
		e.pos++
		e.depth--
		return append(dst, ']'), nil
	}
	for {
		var err error
		e.skipSpace()
		if dst, err = e.value(dst); err != nil {
			return nil, err
		}
		e.skipSpace()
		if e.pos >= len(e.in) {
			return nil, e.syntax("unterminated array")
		}
		switch e.in[e.pos] {
		case ',':
			e.pos++
			dst = append(dst, ',')
		case ']':
			e.pos++
			e.depth--
			return append(dst, ']'), nil
		default:
			return nil, e.syntax("expected , or ] in array")
		}
	}
}

func (e *encoder) object(dst []byte) ([]byte, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	top := e.depth == 1
	e.pos++ // '{'
	e.skipSpace()
	if e.pos < len(e.in) && e.in[e.pos] == '}' {
		e.pos++
		e.depth--
		return append(dst, '{', '}'), nil
	}
	objStart := len(dst)
	keysStart := len(e.keys)
	stackStart := len(e.stack)
	for {
		var err error
		e.skipSpace()
		if e.pos >= len(e.in) || e.in[e.pos] != '"' {
			return nil, e.syntax("expected string key in object")
		}
		m := member{keyStart: len(e.keys), start: len(dst)}
		if dst, err = e.str(dst, true); err != nil {
			return nil, err
		}
		m.keyEnd = len(e.keys)
		e.skipSpace()
		if e.pos >= len(e.in) || e.in[e.pos] != ':' {
			return nil, e.syntax("expected : after object key")
		}
		e.pos++
		dst = append(dst, ':')
		e.skipSpace()
		m.value = len(dst)
		lenient := top && e.lenientUnsigned && string(e.keys[m.keyStart:m.keyEnd]) == "unsigned"
		if lenient {
			e.lenient = true
		}
		dst, err = e.value(dst)
		if lenient {
			e.lenient = false
		}
		if err != nil {
			return nil, err
		}
		m.end = len(dst)
		e.stack = append(e.stack, m)
		e.skipSpace()
		if e.pos >= len(e.in) {
			return nil, e.syntax("unterminated object")
		}
		if e.in[e.pos] == ',' {
			e.pos++
			continue
		}
		if e.in[e.pos] != '}' {
			return nil, e.syntax("expected , or } in object")
		}
		e.pos++
		break
	}
	e.depth--
	members := e.stack[stackStart:]
	// UTF-8 byte order is code point order (surrogates never reach here).
	slices.SortFunc(members, func(a, b member) int {
		return bytes.Compare(e.keys[a.keyStart:a.keyEnd], e.keys[b.keyStart:b.keyEnd])
	})
	for i := 1; i < len(members); i++ {
		a, b := members[i-1], members[i]
		if bytes.Equal(e.keys[a.keyStart:a.keyEnd], e.keys[b.keyStart:b.keyEnd]) {
			return nil, fmt.Errorf("%w: repeated object key %q", ErrMalformed, e.keys[a.keyStart:a.keyEnd])
		}
	}
	if err := e.checkFolded(members); err != nil {
		return nil, err
	}
	e.body = append(e.body[:0], dst[objStart:]...)
	body := e.body
	dst = append(dst[:objStart], '{')
	first := true
	for _, m := range members {
		text := body[m.start-objStart : m.end-objStart]
		if top && e.split {
			switch string(e.keys[m.keyStart:m.keyEnd]) {
			case "signatures":
				e.signatures = slices.Clone(body[m.value-objStart : m.end-objStart])
				continue
			case "unsigned":
				e.unsigned = slices.Clone(body[m.value-objStart : m.end-objStart])
				continue
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, text...)
	}
	e.keys = e.keys[:keysStart]
	e.stack = e.stack[:stackStart]
	return append(dst, '}'), nil
}

// checkFolded refuses an object with two keys equal under Unicode simple
// case folding (bytes.EqualFold, the strict decoder's folding), which the
// exact-key check above cannot see. Keys without an ASCII capital or a
// non-ASCII byte are their own folded form, so an object of only such
// keys needs no second look.
func (e *encoder) checkFolded(members []member) error {
	if len(members) < 2 || !slices.ContainsFunc(members, func(m member) bool {
		return slices.ContainsFunc(e.keys[m.keyStart:m.keyEnd], func(c byte) bool { return 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf })
	}) {
		return nil
	}
	if len(members) <= 16 {
		for i, a := range members {
			for _, b := range members[:i] {
				if bytes.EqualFold(e.keys[a.keyStart:a.keyEnd], e.keys[b.keyStart:b.keyEnd]) {
					return fmt.Errorf("%w: object keys %q and %q are equal under case folding", ErrMalformed, e.keys[b.keyStart:b.keyEnd], e.keys[a.keyStart:a.keyEnd])
				}
			}
		}
		return nil
	}
	// A large object: fold every key once, sort, compare neighbours.
	e.folded, e.folds = e.folded[:0], e.folds[:0]
	for _, m := range members {
		start := len(e.folded)
		e.folded = jsonstrict.AppendFold(e.folded, e.keys[m.keyStart:m.keyEnd])
		e.folds = append(e.folds, keySpan{start, len(e.folded)})
	}
	folded := e.folded
	slices.SortFunc(e.folds, func(a, b keySpan) int {
		return bytes.Compare(folded[a.start:a.end], folded[b.start:b.end])
	})
	for i := 1; i < len(e.folds); i++ {
		a, b := e.folds[i-1], e.folds[i]
		if bytes.Equal(folded[a.start:a.end], folded[b.start:b.end]) {
			return fmt.Errorf("%w: two object keys equal under case folding (%q folded)", ErrMalformed, folded[a.start:a.end])
		}
	}
	return nil
}

// str reads a JSON string and writes its canonical form to dst; with key
// set it also appends the decoded string to e.keys.
func (e *encoder) str(dst []byte, key bool) ([]byte, error) {
	e.pos++ // opening quote
	dst = append(dst, '"')
	for {
		// Copy the run of bytes that need no attention.
		i := e.pos
		for i < len(e.in) {
			c := e.in[i]
			if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			i++
		}
		dst = append(dst, e.in[e.pos:i]...)
		if key {
			e.keys = append(e.keys, e.in[e.pos:i]...)
		}
		e.pos = i
		if e.pos >= len(e.in) {
			return nil, e.syntax("unterminated string")
		}
		c := e.in[e.pos]
		switch {
		case c == '"':
			e.pos++
			return append(dst, '"'), nil
		case c < 0x20:
			return nil, e.syntax("control character in string")
		case c == '\\':
			r, err := e.escape()
			if err != nil {
				return nil, err
			}
			dst = appendRune(dst, r)
			if key {
				e.keys = utf8.AppendRune(e.keys, r)
			}
		default:
			r, size := utf8.DecodeRune(e.in[e.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, e.syntax("invalid UTF-8 in string")
			}
			dst = append(dst, e.in[e.pos:e.pos+size]...)
			if key {
				e.keys = append(e.keys, e.in[e.pos:e.pos+size]...)
			}
			e.pos += size
		}
	}
}

// escape decodes the escape sequence at e.pos, joining a surrogate pair.
func (e *encoder) escape() (rune, error) {
	if e.pos+1 >= len(e.in) {
		return 0, e.syntax("unterminated escape")
	}
	c := e.in[e.pos+1]
	e.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := e.hex4()
		if !ok {
			return 0, e.syntax("invalid \\u escape")
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, e.syntax("unpaired low surrogate")
		case r >= 0xD800 && r <= 0xDBFF:
			if e.pos+1 >= len(e.in) || e.in[e.pos] != '\\' || e.in[e.pos+1] != 'u' {
				return 0, e.syntax("unpaired high surrogate")
			}
			e.pos += 2
			lo, ok := e.hex4()
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return 0, e.syntax("unpaired high surrogate")
			}
			return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
		}
		return r, nil
	default:
		return 0, e.syntax("invalid escape")
	}
}

func (e *encoder) hex4() (rune, bool) {
	if e.pos+4 > len(e.in) {
		return 0, false
	}
	var r rune
	for _, c := range e.in[e.pos : e.pos+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	e.pos += 4
	return r, true
}

// appendRune writes r as canonical JSON string content.
func appendRune(dst []byte, r rune) []byte {
	switch r {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if r < 0x20 {
		const hex = "0123456789abcdef"
		return append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}

// number reads a JSON number and writes it as a canonical integer.
func (e *encoder) number(dst []byte) ([]byte, error) {
	start := e.pos
	neg := false
	if e.in[e.pos] == '-' {
		neg = true
		e.pos++
	}
	intStart := e.pos
	switch {
	case e.pos < len(e.in) && e.in[e.pos] == '0':
		e.pos++
	case e.pos < len(e.in) && '1' <= e.in[e.pos] && e.in[e.pos] <= '9':
		e.skipDigits()
	default:
		return nil, e.syntax("invalid number")
	}
	intDigits := e.in[intStart:e.pos]
	var fracDigits []byte
	if e.pos < len(e.in) && e.in[e.pos] == '.' {
		e.pos++
		fs := e.pos
		e.skipDigits()
		if e.pos == fs {
			return nil, e.syntax("invalid number")
		}
		fracDigits = e.in[fs:e.pos]
	}
	var exp int64
	if e.pos < len(e.in) && (e.in[e.pos] == 'e' || e.in[e.pos] == 'E') {
		e.pos++
		expNeg := false
		if e.pos < len(e.in) && (e.in[e.pos] == '+' || e.in[e.pos] == '-') {
			expNeg = e.in[e.pos] == '-'
			e.pos++
		}
		es := e.pos
		for e.pos < len(e.in) && '0' <= e.in[e.pos] && e.in[e.pos] <= '9' {
			if exp < 1<<40 { // saturate: any larger exponent decides alike
				exp = exp*10 + int64(e.in[e.pos]-'0')
			}
			e.pos++
		}
		if e.pos == es {
			return nil, e.syntax("invalid number")
		}
		if expNeg {
			exp = -exp
		}
	}
	literal := e.in[start:e.pos]
	if e.lenient {
		return append(dst, literal...), nil
	}
	v, err := integerValue(intDigits, fracDigits, exp)
	if err != nil {
		lit := literal
		if len(lit) > 40 {
			lit = lit[:40]
		}
		err.Literal = string(lit)
		return nil, err
	}
	if neg && v != 0 {
		dst = append(dst, '-')
	}
	return strconv.AppendUint(dst, v, 10), nil
}

func (e *encoder) skipDigits() {
	for e.pos < len(e.in) && '0' <= e.in[e.pos] && e.in[e.pos] <= '9' {
		e.pos++
	}
}

// integerValue returns the magnitude of intDigits.fracDigits × 10^exp if
// it is an integer no larger than 2^53-1.
func integerValue(intDigits, fracDigits []byte, exp int64) (uint64, *NumberError) {
	if fracDigits == nil && exp == 0 && len(intDigits) <= 16 {
		var v uint64
		for _, d := range intDigits {
			v = v*10 + uint64(d-'0')
		}
		if v > maxSafeInteger {
			return 0, &NumberError{}
		}
		return v, nil
	}
	// Significant digits D and exponent x with value D × 10^x.
	digits := make([]byte, 0, len(intDigits)+len(fracDigits))
	digits = append(append(digits, intDigits...), fracDigits...)
	x := exp - int64(len(fracDigits))
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, nil // zero, whatever its sign or exponent
	}
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		x++
	}
	if x < 0 {
		return 0, &NumberError{Fraction: true}
	}
	if int64(len(digits))+x > 16 { // 2^53-1 has 16 digits
		return 0, &NumberError{}
	}
	var v uint64
	for _, d := range digits {
		v = v*10 + uint64(d-'0')
	}
	for ; x > 0; x-- {
		v *= 10
	}
	if v > maxSafeInteger {
		return 0, &NumberError{}
	}
	return v, nil
}
