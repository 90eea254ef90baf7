module github.com/sicher-go/sicher/bench

go 1.26.8

replace github.com/sicher-go/sicher => ../

require (
	golang.org/x/crypto v0.58.0
	maunium.net/go/mautrix v0.32.0
)

require (
	github.com/go-json-experiment/json v1.27.2 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/sicher-go/sicher v0.0.0-00010101000000-000000000000
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
	go.mau.fi/util v0.11.0 // indirect
)
