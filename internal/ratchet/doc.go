// Package ratchet implements the Double Ratchet that Olm sessions run on
// (Olm specification, "The Olm Algorithm": "Advancing the root key",
// "Advancing the chain key", "Creating a message key"; libolm
// src/ratchet.cpp; vodozemac src/olm/session).
//
// This is the low-level engine behind package olm, which performs the 3DH
// handshake, encodes messages and drives a [Ratchet] for them. The steps
// are named as in vodozemac: [Ratchet.NextMessageKey] for sending,
// [Ratchet.Receive] for receiving.
//
// # Keys
//
// The 96-byte 3DH secret S is expanded with HKDF-SHA-256 (zero salt, info
// "OLM_ROOT") into the first root key R0 and chain key C0,0. Each time the
// peer starts a new ratchet key, and each time we start one, the root key
// advances: R_i ‖ C_i,0 = HKDF(salt R_{i-1}, X25519(our T, their T),
// "OLM_RATCHET"). Along a chain, C_{i,j+1} = HMAC-SHA-256(C_{i,j}, 0x02)
// and the message key is M_{i,j} = HMAC-SHA-256(C_{i,j}, 0x01). Every
// X25519 goes through key.X25519, so a low-order ratchet key fails with
// key.ErrNonContributory.
//
// # Limits
//
// A Ratchet keeps at most [MaxReceiverChains] receiver chains (newest
// first; a new chain evicts the oldest), accepts a message at most
// [MaxMessageGap] indices ahead of its chain (checked before any key is
// derived), and keeps at most [MaxSkippedKeys] skipped message keys per
// receiver chain, the newest ones. These are libolm 3.2.13's and
// vodozemac's limits; keeping the skipped keys per chain (vodozemac)
// instead of in one shared list (libolm) means every message libolm would
// decrypt is still decryptable here.
//
// # Commit after authentication
//
// [Ratchet.Receive] derives everything a message needs on copies, hands the
// message key to the caller's open function (which verifies the MAC and
// the padding), and changes the ratchet only if open succeeds. A message
// that fails in any way leaves the state exactly as it was.
//
// Everything in a Ratchet except the public ratchet keys is secret. A
// Ratchet is not safe for concurrent use.
package ratchet
