//go:build !js && !wasip1

package sqlstore

import _ "modernc.org/sqlite" // registers the "sqlite" driver

// sqliteAvailable reports whether the SQLite driver is linked in:
// modernc.org/sqlite builds on every platform but js/wasm and wasip1.
const sqliteAvailable = true
