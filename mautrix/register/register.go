// Package register makes sicher mautrix-go's olm driver. Import it for its
// side effect, once, anywhere in a program:
//
//	import _ "github.com/sicher-go/sicher/mautrix/register"
//
// It imports mautrix's crypto package first, so Go initialises that
// package (which registers libolm, or goolm with -tags goolm) before this
// one, and then installs sicher over it. Build with -tags goolm and
// CGO_ENABLED=0 to leave libolm and cgo out of the binary: mautrix's
// crypto package always links goolm (it uses goolm's pickle cipher and
// helpers directly), so goolm code stays in the binary, but no olm object
// is made by it once sicher is registered. See docs/mautrix.md.
package register

import (
	"github.com/sicher-go/sicher/mautrix/driver"
	_ "maunium.net/go/mautrix/crypto"
)

func init() { driver.Register() }
