package peer

// Requests and their arguments. Each handler declares its arguments as a
// struct whose fields carry an `arg:"name"` tag (`arg:"name,optional"` for
// an optional one, whose zero or pre-set value stays when the argument is
// absent or null) and calls decode once. Field types say how an argument
// is read:
//
//   - string, bool, integers, slices and maps: strict JSON
//     (internal/jsonstrict), so a wrong type is a PeerError;
//   - types with UnmarshalText (keys, session keys): their parser, whose
//     error keeps the library's error class;
//   - ref[T]: a handle, resolved to the object of type T it names;
//   - data: a UTF-8 string or JSON object/array under name, or raw bytes
//     in base64 under name+"_b64" (docs/peer.md, "Base64");
//   - rawB64: raw bytes in lenient base64 (a "_b64" argument);
//   - jsonText / jsonObject: JSON as sent, or the text of a JSON string.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
)

// request is one parsed request line.
type request struct {
	id   json.RawMessage
	cmd  string
	args map[string]json.RawMessage
}

// parseRequest reads a request object. Its member names must be unique,
// also under case folding.
func parseRequest(line []byte) (*request, error) {
	bad := errPeer("malformed request: not a JSON object")
	dec := jsontext.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, bad
	}
	r := &request{args: map[string]json.RawMessage{}}
	folded := map[string]bool{}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, bad
		}
		name := tok.String()
		if folded[strings.ToLower(name)] {
			return nil, errPeer("malformed request: member %q appears twice", name)
		}
		folded[strings.ToLower(name)] = true
		v, err := dec.ReadValue()
		if err != nil {
			return nil, bad
		}
		r.args[name] = json.RawMessage(bytes.Clone(v))
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, bad
	}
	if _, err := dec.ReadToken(); err == nil {
		return nil, bad
	}
	r.id = r.args["id"]
	c, ok := r.args["cmd"]
	if !ok {
		return r, errPeer("missing \"cmd\"")
	}
	if err := json.Unmarshal(c, &r.cmd); err != nil {
		return r, errPeer("\"cmd\" must be a string")
	}
	return r, nil
}

// has reports whether argument name is present and not null.
func (r *request) has(name string) bool {
	v, ok := r.args[name]
	return ok && string(v) != "null"
}

// resolver is a handle argument: ref[T].
type resolver interface {
	resolve(p *peer, arg, h string) error
}

// rawArg is an argument kept as JSON text: jsonText, jsonObject.
type rawArg interface {
	setRaw(arg string, v json.RawMessage) error
}

// ref is a handle argument naming an object of type T.
type ref[T any] struct {
	h string
	v T
}

func (x *ref[T]) resolve(p *peer, arg, h string) error {
	v, err := object[T](p, arg, h)
	x.h, x.v = h, v
	return err
}

// data is the bytes of a plaintext-like argument pair.
type data []byte

// rawB64 is raw bytes in standard or URL-safe base64, padded or not.
type rawB64 []byte

// UnmarshalJSON decodes a JSON string of lenient base64.
func (b *rawB64) UnmarshalJSON(v []byte) error {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return errors.New("not a string")
	}
	d, err := decodeLenient(s)
	if err != nil {
		return errors.New("not base64")
	}
	*b = d
	return nil
}

func decodeLenient(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	return base64.RawStdEncoding.DecodeString(s)
}

// jsonText is an argument holding JSON: the raw value as sent (its bytes,
// number spellings and repeated names survive), or, when the argument is
// a JSON string, the text inside it.
type jsonText []byte

func (t *jsonText) setRaw(arg string, v json.RawMessage) error {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return errPeer("argument %q must be JSON or a string of JSON", arg)
		}
		v = []byte(s)
	}
	*t = jsonText(v)
	return nil
}

// jsonObject is a jsonText that must hold a JSON object.
type jsonObject []byte

func (o *jsonObject) setRaw(arg string, v json.RawMessage) error {
	var t jsonText
	if err := t.setRaw(arg, v); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil || m == nil {
		return errPeer("argument %q must be a JSON object", arg)
	}
	*o = jsonObject(t)
	return nil
}

var (
	dataType     = reflect.TypeFor[data]()
	resolverType = reflect.TypeFor[resolver]()
	rawArgType   = reflect.TypeFor[rawArg]()
)

// decode fills the fields of *args from the request, as the package
// comment above describes.
func decode(p *peer, r *request, args any) error {
	v := reflect.ValueOf(args)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic("peer: internal error: decode needs a pointer to a struct")
	}
	v = v.Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		tag, ok := f.Tag.Lookup("arg")
		if !ok {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		optional := opt == "optional"
		fv := v.Field(i)
		if f.Type == dataType {
			if !r.has(name) && !r.has(name+"_b64") {
				if optional {
					continue
				}
				return errPeer("missing argument %q or %q", name, name+"_b64")
			}
			b, err := r.data(name)
			if err != nil {
				return err
			}
			fv.SetBytes(b)
			continue
		}
		if !r.has(name) {
			if optional {
				continue
			}
			return errPeer("missing argument %q", name)
		}
		raw := r.args[name]
		ptr := fv.Addr()
		if fv.Kind() == reflect.Pointer {
			// An optional argument that is present.
			fv.Set(reflect.New(f.Type.Elem()))
			ptr = fv
		}
		switch {
		case ptr.Type().Implements(resolverType):
			var h string
			if err := json.Unmarshal(raw, &h); err != nil {
				return errPeer("argument %q must be a string", name)
			}
			if err := ptr.Interface().(resolver).resolve(p, name, h); err != nil {
				return err
			}
		case ptr.Type().Implements(rawArgType):
			if err := ptr.Interface().(rawArg).setRaw(name, raw); err != nil {
				return err
			}
		default:
			if err := decodeArg(r, name, ptr.Interface()); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeArg decodes argument name into ptr: a string through ptr's
// UnmarshalText, whose error keeps its class, or any other value with
// internal/jsonstrict, where a type mismatch is a PeerError.
func decodeArg(r *request, name string, ptr any) error {
	raw := r.args[name]
	if u, ok := ptr.(interface{ UnmarshalText([]byte) error }); ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errPeer("argument %q must be a string", name)
		}
		return u.UnmarshalText([]byte(s))
	}
	if err := jsonstrict.Unmarshal(raw, ptr); err != nil {
		return errPeer("argument %q must be %s", name, kindName(reflect.TypeOf(ptr).Elem()))
	}
	return nil
}

func kindName(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return "an integer"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

// data returns the bytes of argument base (a UTF-8 string, or a JSON
// object/array serialised compactly) or of base+"_b64".
func (r *request) data(base string) ([]byte, error) {
	if r.has(base + "_b64") {
		var b rawB64
		if err := decodeArg(r, base+"_b64", &b); err != nil {
			return nil, errPeer("argument %q is not base64", base+"_b64")
		}
		return b, nil
	}
	v, ok := r.args[base]
	if !ok || string(v) == "null" {
		return nil, errPeer("missing argument %q or %q", base, base+"_b64")
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil || (v[0] != '{' && v[0] != '[') {
		return nil, errPeer("argument %q must be a string, object or array", base)
	}
	return buf.Bytes(), nil
}

// b64Out encodes raw bytes for a "_b64" result field: standard, padded.
func b64Out(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// addPlaintext sets the prefix+"_b64" and prefix (UTF-8 or null) fields.
func addPlaintext(res result, prefix string, b []byte) {
	res[prefix+"_b64"] = b64Out(b)
	if utf8.Valid(b) {
		res[prefix] = string(b)
	} else {
		res[prefix] = nil
	}
}

// wireB64 is bytes in Matrix's unpadded base64, as in an Olm message body.
type wireB64 []byte

// UnmarshalText decodes unpadded standard base64.
func (w *wireB64) UnmarshalText(s []byte) error {
	b, err := b64.Decode(string(s))
	*w = b
	return err
}

// encodeWire encodes bytes in Matrix's unpadded base64.
func encodeWire(b []byte) string { return b64.Encode(b) }
