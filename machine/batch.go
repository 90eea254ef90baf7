package machine

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/store"
)

// olmRunMax is the largest number of Olm-encrypted to-device events decrypted in one store
// transaction, which bounds how long a sync holds the store's write lock.
const olmRunMax = 256

// errRedoOne makes a shared transaction roll back so that its events are processed one
// transaction each.
var errRedoOne = errors.New("machine: internal: process the events one by one")

// receiveOlmRun decrypts the Olm-encrypted events at the start of evs (at most olmRunMax, and
// only when there are at least two) in one transaction, and returns their results and how many
// events it took (0 if it took none). A sync from a busy account brings hundreds of them; one
// commit instead of one each is most of the cost on a disk store.
//
// The results are the ones the events would have one transaction each: an event that fails
// to decrypt writes nothing before it fails (receiveOlmIn), so the others commit without it;
// any other failure (the store's, a handler's after the event wrote) rolls the transaction
// back and the events are processed again one transaction each. Nothing decrypted leaves
// before the commit.
func (m *Machine) receiveOlmRun(ctx context.Context, evs []json.RawMessage) ([]ToDeviceEvent, int, error) {
	type item struct {
		r        rawToDevice
		oc       *event.OlmContent
		parseErr error
		res      olmResult
	}
	var items []item
	for _, raw := range evs {
		var r rawToDevice
		if len(items) == olmRunMax || jsonstrict.Unmarshal(raw, &r) != nil || r.Type != typeEncrypted || r.Sender == "" {
			break
		}
		it := item{r: r}
		it.oc, it.parseErr = event.ParseOlmContent(r.Content)
		items = append(items, it)
	}
	if len(items) < 2 {
		return nil, 0, nil
	}
	err := m.update(ctx, func(tx store.Tx) error {
		for i := range items {
			it := &items[i]
			if it.parseErr != nil {
				continue
			}
			it.res = m.receiveOlmIn(ctx, tx, it.r, it.oc)
			if it.res.err != nil && (!it.res.decryptFailed || it.res.wrote || ctx.Err() != nil) {
				return errRedoOne
			}
		}
		return nil
	})
	out := make([]ToDeviceEvent, 0, len(items))
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		for _, raw := range evs[:len(items)] {
			ev, err := m.receiveToDevice(ctx, raw)
			if err != nil && ctx.Err() != nil {
				return out, len(items), err
			}
			out = append(out, ev)
		}
		return out, len(items), nil
	}
	for _, it := range items {
		if it.parseErr != nil {
			out = append(out, ToDeviceEvent{Type: it.r.Type, Sender: it.r.Sender, Err: it.parseErr})
			continue
		}
		ev, err := m.afterOlm(ctx, it.r, it.oc, it.res)
		if err != nil {
			return out, len(items), err
		}
		out = append(out, ev)
	}
	return out, len(items), nil
}
