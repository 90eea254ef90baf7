package machine

import (
	"context"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/store"
)

// TestRedaction: fmt, slog and encoding/json never show the machine's pickle key.
func TestRedaction(t *testing.T) {
	m, err := New(context.Background(), Config{UserID: "@a:example.org", DeviceID: "A", Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	cryptotest.Redacted(t, m, m.pickleKey[:])
	cryptotest.Redacted(t, *m, m.pickleKey[:])
}
