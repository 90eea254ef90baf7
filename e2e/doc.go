// Package e2e holds end-to-end tests on a real homeserver (Dendrite, from
// scripts/dendrite.sh) with other Matrix clients as peers: matrix-nio in
// Python and matrix-js-sdk with its Rust crypto in Node. The tests are in
// the _test.go files; internal/hs sets up users and rooms, internal/peer
// drives the clients. See e2e/README.md.
package e2e
