module github.com/sicher-go/sicher/e2e

go 1.26.0

replace github.com/sicher-go/sicher => ../

require github.com/sicher-go/sicher v0.0.0-00010101000000-000000000000

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
