//go:build js || wasip1

package sqlstore

// sqliteAvailable is false where modernc.org/sqlite does not build
// (js/wasm, wasip1): OpenSQLite returns an error there, and OpenPostgres is
// the store.
const sqliteAvailable = false
