// Package mautrixstore checks store/mautriximport against a crypto store that mautrix-go
// (maunium.net/go/mautrix, MPL-2.0, used here as a dependency only) wrote itself. It is a
// separate module so that the main module never depends on mautrix. Run ./test.sh. It also
// holds the key-backup restore benchmark of sicher's SQL store against mautrix-go's
// (BenchmarkBackupRestoreSQLite, BenchmarkBackupRestorePostgres; docs/store.md has the figures).
package mautrixstore
