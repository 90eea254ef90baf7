//go:build cgo && !goolm

package e2e

import "maunium.net/go/mautrix/crypto/libolm"

func init() {
	drivers = append(drivers, struct {
		name     string
		register func()
	}{"libolm", libolm.Register})
}
