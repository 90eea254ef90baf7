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
//     case folding, is refused wherever it appears in the value, even in
//     parts that are not decoded into a field;
//   - strings must be valid UTF-8;
//   - members the target does not name are ignored, as the spec asks of
//     clients (unknown fields are extension points).
//
// It is github.com/go-json-experiment/json (case-sensitive, duplicate
// names refused) behind a pass that also refuses names equal under case
// folding.
package jsonstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrDuplicateName is wrapped by Unmarshal's error for an object that has
// two members whose names are equal or equal under case folding.
var ErrDuplicateName = errors.New("duplicate object member name")

// Unmarshal decodes the JSON value data into v, which must be a non-nil
// pointer, under the rules of the package documentation. Types with an
// UnmarshalJSON or UnmarshalText method are decoded through it (and must
// themselves call Unmarshal for the objects they parse).
func Unmarshal(data []byte, v any) error {
	if err := CheckNames(data); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return nil
}

// CheckNames reports an error if data is not one valid JSON value or has
// an object with two members whose names are equal under case folding.
func CheckNames(data []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	// names[i] holds the folded member names of the i-th open object; nil
	// for an open array.
	var names []map[string]struct{}
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("invalid JSON: %w", err)
		}
		switch tok.Kind() {
		case '{':
			names = append(names, map[string]struct{}{})
			continue
		case '[':
			names = append(names, nil)
			continue
		case '}', ']':
			names = names[:len(names)-1]
		case '"':
			// A string directly inside an object, at a name position, is
			// a member name.
			if n := len(names); n > 0 && names[n-1] != nil {
				if kind, length := dec.StackIndex(dec.StackDepth()); kind == '{' && length%2 == 1 {
					f := fold(tok.String())
					if _, dup := names[n-1][f]; dup {
						return fmt.Errorf("%w: %q", ErrDuplicateName, tok.String())
					}
					names[n-1][f] = struct{}{}
				}
			}
		}
		if len(names) == 0 {
			// One complete top-level value read; anything after it is an
			// error (json.Unmarshal reports it too).
			if _, err := dec.ReadToken(); err != io.EOF {
				return fmt.Errorf("invalid JSON: data after the top-level value")
			}
			return nil
		}
	}
}

// fold maps a member name to a form in which names that differ only in
// case (Unicode simple folding included: ſ, K) are equal.
func fold(s string) string {
	return strings.ToLower(strings.ToUpper(s))
}
