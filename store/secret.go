package store

import (
	"fmt"
	"log/slog"
)

// Secret is serialised secret state: an account, a session, a private key. fmt, log/slog and
// encoding/json print only its length, so a record can be logged without leaking it.
type Secret []byte

// Format prints the length only, for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "store.Secret(%d bytes)", len(s))
}

// LogValue prints the length only.
func (s Secret) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("store.Secret(%d bytes)", len(s)))
}

// MarshalJSON writes a placeholder with the length, never the secret.
func (s Secret) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `"store.Secret(%d bytes)"`, len(s)), nil
}

func (s Secret) clone() Secret {
	if s == nil {
		return nil
	}
	return append(Secret{}, s...)
}
