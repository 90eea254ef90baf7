package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sicher-go/sicher"
)

// TestVersionCommand checks that "sicher version" prints the library's
// release and that "sicher -h" lists the command.
func TestVersionCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("version: exit %d, stderr %q", code, errOut.String())
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if !strings.HasPrefix(first, "sicher "+sicher.Version+" (go") {
		t.Errorf("version printed %q, want it to start with %q", first, "sicher "+sicher.Version+" (go")
	}
	if rev := vcsRevision(); rev != "" && !strings.Contains(out.String(), "revision "+rev+"\n") {
		t.Errorf("version printed %q without the revision %q", out.String(), rev)
	}

	out.Reset()
	if code := run([]string{"-h"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	found := false
	for line := range strings.Lines(out.String()) {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "version" {
			found = true
		}
	}
	if !found {
		t.Errorf("sicher -h does not list the version command:\n%s", out.String())
	}
}

// TestPeerPingVersion checks that the peer driver's ping names the release.
func TestPeerPingVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	in := `{"id":1,"cmd":"ping"}` + "\n"
	if code := run([]string{"peer"}, strings.NewReader(in), &out, &errOut); code != 0 {
		t.Fatalf("peer: exit %d, stderr %q", code, errOut.String())
	}
	var resp struct {
		OK       bool    `json:"ok"`
		Version  string  `json:"version"`
		Revision *string `json:"revision"`
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if err := json.Unmarshal([]byte(first), &resp); err != nil {
		t.Fatalf("ping response %q: %v", first, err)
	}
	if !resp.OK || resp.Version != sicher.Version {
		t.Errorf("ping = %s, want ok and version %q", first, sicher.Version)
	}
	if resp.Revision == nil || *resp.Revision != vcsRevision() {
		t.Errorf("ping = %s, want revision %q", first, vcsRevision())
	}
}
