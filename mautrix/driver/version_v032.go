//go:build mautrix_v032

package driver

import "maunium.net/go/mautrix/crypto/olm"

// registerVersion sets mautrix v0.32's olm.GetVersion (removed in v0.33)
// to the libolm version sicher follows, as the libolm and goolm drivers do.
func registerVersion() {
	olm.GetVersion = func() (major, minor, patch uint8) {
		return 3, 2, 15
	}
}
