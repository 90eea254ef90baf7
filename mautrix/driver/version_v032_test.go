//go:build mautrix_v032

package driver_test

import (
	"testing"

	"github.com/sicher-go/sicher/mautrix/driver"
	"maunium.net/go/mautrix/crypto/olm"
)

// TestVersionV032: with mautrix v0.32 and the mautrix_v032 tag, Register
// sets olm.GetVersion (removed in v0.33).
func TestVersionV032(t *testing.T) {
	olm.GetVersion = nil
	driver.Register()
	if major, minor, patch := olm.Version(); major != 3 || minor != 2 || patch != 15 {
		t.Fatalf("olm.Version() = %d.%d.%d", major, minor, patch)
	}
}
