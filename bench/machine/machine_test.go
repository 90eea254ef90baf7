package machinebench

import "testing"

// Each benchmark runs sicher and mautrix back to back, so that run.sh pairs them in one run.

// BenchmarkShare500Devices: a new device shares a room key with 500 devices of 100 users
// (device query, one-time key claims, Olm encryption, the to-device requests).
func BenchmarkShare500Devices(b *testing.B) {
	b.Run("sicher", sicherShare)
	b.Run("mautrix", mautrixShare)
}

// BenchmarkDecrypt10000Events: 10,000 room events from one Megolm session.
func BenchmarkDecrypt10000Events(b *testing.B) {
	b.Run("sicher", func(b *testing.B) { sicherDecrypt(b, 1, 0) })
	b.Run("mautrix", func(b *testing.B) { mautrixDecrypt(b, 1) })
}

// BenchmarkDecrypt10000Events100Sessions: 10,000 room events, round robin over 100 sessions.
func BenchmarkDecrypt10000Events100Sessions(b *testing.B) {
	b.Run("sicher", func(b *testing.B) { sicherDecrypt(b, decryptSessions, 0) })
	b.Run("mautrix", func(b *testing.B) { mautrixDecrypt(b, decryptSessions) })
}

// BenchmarkSync1000ToDevice: one sync with 1,000 Olm-encrypted m.room_key events from 50
// devices.
func BenchmarkSync1000ToDevice(b *testing.B) {
	b.Run("sicher", sicherSync)
	b.Run("mautrix", mautrixSync)
}

// BenchmarkDecrypt10000EventsPages: the events of BenchmarkDecrypt10000Events, which sicher
// decrypts a page of 100 at a time (DecryptRoomEvents, one store transaction per page, as a
// client decrypts a /sync timeline or a /messages page); mautrix has no such call and decrypts
// them one by one.
func BenchmarkDecrypt10000EventsPages(b *testing.B) {
	b.Run("sicher", func(b *testing.B) { sicherDecrypt(b, 1, 100) })
	b.Run("mautrix", func(b *testing.B) { mautrixDecrypt(b, 1) })
}
