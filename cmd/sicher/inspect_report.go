package main

// The report sicher inspect prints: a title, ordered fields, parts and
// notes, as text or JSON.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// report is the description of one recognised object.
type report struct {
	Format  string    `json:"format"` // a stable identifier, e.g. "olm.prekey_message"
	Title   string    `json:"title"`
	Fields  fields    `json:"fields"`
	Parts   []*report `json:"parts,omitempty"`
	Notes   []string  `json:"notes,omitempty"`
	Invalid bool      `json:"invalid,omitempty"` // recognised, but fails a check
}

type field struct {
	name  string
	value any
}

// fields keep their order in JSON.
type fields []field

func (fs fields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func newReport(format, title string) *report {
	return &report{Format: format, Title: title, Fields: fields{}}
}

func (r *report) add(name string, value any) *report {
	r.Fields = append(r.Fields, field{name, value})
	return r
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *report) part(p *report) {
	r.Parts = append(r.Parts, p)
	if p.Invalid {
		r.Invalid = true
	}
}

func (r *report) write(w io.Writer, indent string) {
	fmt.Fprintf(w, "%s%s\n", indent, r.Title)
	width := 0
	for _, f := range r.Fields {
		width = max(width, len(f.name))
	}
	for _, f := range r.Fields {
		v := f.value
		if s, ok := v.([]string); ok {
			v = strings.Join(s, ", ")
		}
		fmt.Fprintf(w, "%s  %-*s  %v\n", indent, width+1, f.name+":", v)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "%s  note: %s\n", indent, n)
	}
	for _, p := range r.Parts {
		p.write(w, indent+"  ")
	}
}

func invalid(format, title string, err error) *report {
	r := newReport(format, title+", INVALID")
	r.add("error", err.Error())
	r.Invalid = true
	return r
}
