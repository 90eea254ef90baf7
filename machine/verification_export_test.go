package machine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/store"
)

// OlmEncryptForTest Olm-encrypts a to-device event for one device with an existing session and
// returns the m.room.encrypted content (tests of encrypted verification events).
func (m *Machine) OlmEncryptForTest(ctx context.Context, userID, deviceID, evType string, content json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	err := m.update(ctx, func(tx store.Tx) error {
		acct, err := m.loadAccount(ctx, tx)
		if err != nil {
			return err
		}
		dev, err := m.device(ctx, tx, userID, deviceID)
		if err != nil || dev == nil {
			return fmt.Errorf("no device %s: %v", deviceID, err)
		}
		msgs, err := m.encryptForDevices(ctx, tx, acct, []*Device{dev}, evType, content)
		if err != nil {
			return err
		}
		out = msgs[userID][deviceID]
		if out == nil {
			return fmt.Errorf("no Olm session with %s", deviceID)
		}
		return nil
	})
	return out, err
}

// SetSASOfferForTest narrows the SAS options the machine offers and accepts; the returned
// function restores them.
func SetSASOfferForTest(o sas.Methods) (restore func()) {
	old := sasOffer
	sasOffer = func() sas.Methods { return o }
	return func() { sasOffer = old }
}
