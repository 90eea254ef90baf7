package apicheck

import (
	"strings"
	"testing"
)

// ioRule returns the import rule of docs/architecture.md about I/O that the library package in
// dir breaks by importing imp, or "": matrixhttp is the one package that speaks HTTP (layer 5,
// nothing else in the library imports it); the machine does no I/O, except that the fake
// homeserver machine/machinetest also serves over net/http for the binding's tests.
func ioRule(dir, imp string) string {
	// matrixrtc builds on the machine and is bound by the same rule.
	isMachine := dir == "machine" || strings.HasPrefix(dir, "machine/") || dir == "matrixrtc"
	switch {
	case imp == modulePath+"/matrixhttp" && dir != "matrixhttp" && !strings.HasPrefix(dir, "matrixhttp/"):
		return "nothing in the library imports matrixhttp (layer 5)"
	case imp == "net/http" || strings.HasPrefix(imp, "net/http/"):
		if dir == "matrixhttp" || dir == "machine/machinetest" && imp == "net/http" {
			return ""
		}
		if isMachine {
			return "the machine does no I/O: no net, net/http, os/exec, database/sql or SQL store"
		}
		return "only matrixhttp (and the fake homeserver machine/machinetest) imports net/http"
	case isMachine && (imp == "os/exec" || imp == "net" || imp == "database/sql" || strings.HasPrefix(imp, modulePath+"/store/sqlstore")):
		return "the machine does no I/O: no net, net/http, os/exec, database/sql or SQL store"
	}
	return ""
}

// TestIORule checks the rule on the imports it allows and refuses; it always runs.
func TestIORule(t *testing.T) {
	for _, c := range []struct {
		dir, imp string
		ok       bool
	}{
		{"matrixhttp", "net/http", true},
		{"matrixrtc", "os/exec", false},
		{"matrixrtc", "net/http", false},
		{"matrixhttp", modulePath + "/machine", true},
		{"machine/machinetest", "net/http", true},
		{"machine/machinetest", "net/http/httptest", false},
		{"machine/machinetest", "net", false},
		{"machine", "net/http", false},
		{"machine", "os/exec", false},
		{"machine", modulePath + "/store/sqlstore", false},
		{"olm", "net/http", false},
		{"store/sqlstore", "net/http", false},
		{"event", "net/http/httputil", false},
		{"store", modulePath + "/matrixhttp", false},
		{"machine", modulePath + "/matrixhttp", false},
		{"store/sqlstore", "database/sql", true},
		{"olm", "crypto/sha256", true},
	} {
		if got := ioRule(c.dir, c.imp); (got == "") != c.ok {
			t.Errorf("%s importing %s: rule %q, allowed should be %v", c.dir, c.imp, got, c.ok)
		}
	}
}
