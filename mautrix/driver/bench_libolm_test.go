//go:build cgo && !goolm

package driver_test

import (
	"maunium.net/go/mautrix/crypto/libolm"
	"maunium.net/go/mautrix/crypto/olm"
)

// libolm (cgo) joins the benchmarks where it is built.
func init() {
	impls = append(impls, impl{
		name:        "libolm",
		newAccount:  func() (olm.Account, error) { return libolm.NewAccount() },
		accountFrom: func(p, k []byte) (olm.Account, error) { return libolm.AccountFromPickled(p, k) },
		sessionFrom: func(p, k []byte) (olm.Session, error) { return libolm.SessionFromPickled(p, k) },
		newOutbound: func() (olm.OutboundGroupSession, error) { return libolm.NewOutboundGroupSession() },
		newInbound:  func(key []byte) (olm.InboundGroupSession, error) { return libolm.NewInboundGroupSession(key) },
		inboundFrom: func(p, k []byte) (olm.InboundGroupSession, error) {
			return libolm.InboundGroupSessionFromPickled(p, k)
		},
	})
}
