package store_test

import (
	"testing"

	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}
