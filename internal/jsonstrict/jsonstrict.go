// Package jsonstrict is the one JSON decoder for everything sicher reads
// from the network: signed device and cross-signing keys, Olm and Megolm
// payloads, room keys, key requests, backups, key exports, secret storage.
//
// encoding/json matches object member names to struct fields without
// regard to case, with Unicode folding ("uſer_id" with U+017F and
// "\u212aeys" with the Kelvin sign both match), and lets the last of
// several matching members win. Two parsers then read one signed object
// differently: Python, JavaScript and Rust clients take "user_id", Go took
// whichever case variant came last. Unmarshal closes that gap:
//
//   - member names match struct fields exactly (byte for byte);
//   - an object with two members whose names are equal, or equal under
//     Unicode simple case folding (exactly when strings.EqualFold reports
//     them equal, which is the folding encoding/json matches names with),
//     is refused wherever it appears in the value, even in parts that are
//     not decoded into a field;
//   - the input is exactly one JSON value (RFC 8259) in valid UTF-8,
//     nested at most MaxDepth arrays and objects deep;
//   - members the target does not name are ignored, as the spec asks of
//     clients (unknown fields are extension points).
//
// UnmarshalCanonical adds the number rule of canonical JSON, for objects
// the spec requires to be canonical (appendices, "Canonical JSON",
// https://spec.matrix.org/v1.19/appendices/#canonical-json): every number
// is an integer literal, without fraction or exponent, in
// [-(2^53)+1, 2^53-1].
//
// It is github.com/go-json-experiment/json (case-sensitive, duplicate
// names refused) behind one pass over the tokens that also refuses names
// equal under case folding, depth beyond MaxDepth and, when asked,
// non-canonical numbers.
package jsonstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is the deepest nesting of arrays and objects accepted; the
// canonical-JSON encoder of package signing has the same limit.
const MaxDepth = 512

// maxSafeInteger is 2^53-1, the largest magnitude canonical JSON allows.
const maxSafeInteger = 1<<53 - 1

var (
	// ErrDuplicateName is wrapped by the error for an object that has two
	// members whose names are equal or equal under case folding.
	ErrDuplicateName = errors.New("duplicate object member name")

	// ErrNumber is wrapped by UnmarshalCanonical's error for a number
	// that canonical JSON does not allow.
	ErrNumber = errors.New("number not allowed in canonical JSON")

	// ErrSyntax is wrapped by the error for input that is not one JSON
	// value in UTF-8 or is nested deeper than MaxDepth.
	ErrSyntax = errors.New("invalid JSON")
)

// Unmarshal decodes the JSON value data into v, which must be a non-nil
// pointer, under the rules of the package documentation. Types with an
// UnmarshalJSON or UnmarshalText method are decoded through it (and must
// themselves call Unmarshal for the objects they parse).
func Unmarshal(data []byte, v any) error {
	return unmarshal(data, v, false)
}

// UnmarshalCanonical is Unmarshal for objects the spec requires to be
// canonical JSON: it also refuses any number that is not an integer
// literal (no fraction, no exponent) in [-(2^53)+1, 2^53-1].
func UnmarshalCanonical(data []byte, v any) error {
	return unmarshal(data, v, true)
}

func unmarshal(data []byte, v any, canonical bool) error {
	if err := check(data, canonical); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	return nil
}

// CheckNames reports an error if data is not one valid JSON value nested
// at most MaxDepth deep, or has an object with two members whose names are
// equal under case folding. It decodes nothing.
func CheckNames(data []byte) error { return check(data, false) }

// span is a folded member name: a range of checker.names.
type span struct{ start, end int }

// frame is an open array or object.
type frame struct {
	object     bool
	firstName  int // index in checker.spans of the object's first name
	namesStart int // length of checker.names when the object opened
}

// linearNames is the member count up to which each name is compared with
// the ones before it as it is read; a larger object's names are sorted
// and compared once, when it closes. Neither allocates per name.
const linearNames = 16

type checker struct {
	names   []byte // folded names of the open objects, concatenated
	spans   []span
	frames  []frame
	unquote []byte // scratch for the decoded name

	namesBuf   [192]byte
	unquoteBuf [64]byte
	spansBuf   [32]span
	framesBuf  [8]frame
}

func check(data []byte, canonical bool) error {
	// Duplicates are this pass's to find: exact ones are equal under
	// folding too, and are reported the same way.
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), jsontext.AllowDuplicateNames(true))
	c := new(checker) // one allocation: the scratch of typical input
	c.names, c.unquote, c.spans, c.frames = c.namesBuf[:0], c.unquoteBuf[:0], c.spansBuf[:0], c.framesBuf[:0]
	for {
		kind := dec.PeekKind()
		switch kind {
		case '{', '[':
			if _, err := dec.ReadToken(); err != nil {
				return syntaxError(err)
			}
			if len(c.frames) == MaxDepth {
				return fmt.Errorf("%w: nested deeper than %d", ErrSyntax, MaxDepth)
			}
			c.frames = append(c.frames, frame{object: kind == '{', firstName: len(c.spans), namesStart: len(c.names)})
		case '}', ']':
			if _, err := dec.ReadToken(); err != nil {
				return syntaxError(err)
			}
			f := c.frames[len(c.frames)-1]
			c.frames = c.frames[:len(c.frames)-1]
			if err := c.checkSorted(f); err != nil {
				return err
			}
			c.spans, c.names = c.spans[:f.firstName], c.names[:f.namesStart]
		case 0:
			_, err := dec.ReadToken()
			return syntaxError(err)
		default:
			// A string at a name position (an even number of tokens read
			// in the innermost open object) is a member name.
			name := false
			if n := len(c.frames); n > 0 && c.frames[n-1].object {
				_, length := dec.StackIndex(dec.StackDepth())
				name = length%2 == 0
			}
			v, err := dec.ReadValue()
			if err != nil {
				return syntaxError(err)
			}
			switch {
			case name:
				if err := c.addName(v); err != nil {
					return err
				}
			case canonical && kind == '0':
				if !canonicalNumber(v) {
					lit := v
					if len(lit) > 40 {
						lit = lit[:40]
					}
					return fmt.Errorf("%w: %s (integers in [-(2^53)+1, 2^53-1] only)", ErrNumber, string(lit))
				}
			}
		}
		if len(c.frames) == 0 {
			// One complete top-level value read; nothing may follow.
			if _, err := dec.ReadToken(); err != io.EOF {
				return fmt.Errorf("%w: data after the top-level value", ErrSyntax)
			}
			return nil
		}
	}
}

func syntaxError(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrSyntax, err)
}

// addName records the quoted member name q in the innermost object and,
// while the object is small, compares it with the names before it.
func (c *checker) addName(q jsontext.Value) error {
	var err error
	if c.unquote, err = jsontext.AppendUnquote(c.unquote[:0], q); err != nil {
		return syntaxError(err)
	}
	start := len(c.names)
	c.names = AppendFold(c.names, c.unquote)
	folded := c.names[start:]
	f := c.frames[len(c.frames)-1]
	if prev := c.spans[f.firstName:]; len(prev) < linearNames {
		for _, s := range prev {
			if bytes.Equal(c.names[s.start:s.end], folded) {
				return fmt.Errorf("%w: %q", ErrDuplicateName, string(c.unquote))
			}
		}
	}
	c.spans = append(c.spans, span{start, len(c.names)})
	return nil
}

// checkSorted compares the names of a closing object that grew past
// linearNames, after sorting them.
func (c *checker) checkSorted(f frame) error {
	spans := c.spans[f.firstName:]
	if len(spans) <= linearNames {
		return nil
	}
	slices.SortFunc(spans, c.compare)
	for i := 1; i < len(spans); i++ {
		if a := c.names[spans[i].start:spans[i].end]; bytes.Equal(c.names[spans[i-1].start:spans[i-1].end], a) {
			return fmt.Errorf("%w: %q (folded)", ErrDuplicateName, string(a))
		}
	}
	return nil
}

func (c *checker) compare(a, b span) int {
	return bytes.Compare(c.names[a.start:a.end], c.names[b.start:b.end])
}

// AppendFold appends to dst a form of name in which two names are equal
// exactly when strings.EqualFold reports them equal: every rune is
// replaced by the smallest rune of its Unicode simple case folding orbit
// (unicode.SimpleFold), so "user_id", "USER_ID" and "uſer_id" all become
// "USER_ID", and "keys" and "\u212aeys" both become "KEYS". Bytes that
// are not valid UTF-8 are kept as they are. ASCII takes a fast path.
func AppendFold(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(name[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, c)
			i++
			continue
		}
		dst = utf8.AppendRune(dst, foldRune(r))
		i += size
	}
	return dst
}

// foldRune returns the smallest rune of r's simple folding orbit.
func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// canonicalNumber reports whether the number literal v is an integer
// literal in [-(2^53)+1, 2^53-1].
func canonicalNumber(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 16 || (v[0] == '0' && len(v) > 1) {
		return false
	}
	var n uint64
	for _, d := range v {
		if d < '0' || d > '9' {
			return false
		}
		n = n*10 + uint64(d-'0')
	}
	return n <= maxSafeInteger
}
