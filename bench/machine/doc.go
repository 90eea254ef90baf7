// Package machinebench compares sicher's client layer, machine.Machine on a SQLite
// store/sqlstore, with mautrix-go's crypto.OlmMachine (goolm, SQL crypto store on SQLite) on the
// same workloads: sharing a room key with 500 devices, decrypting 10,000 room events, and a
// sync with 1,000 Olm-encrypted room keys. The benchmarks are in the test files; run.sh prints
// the ratios (README.md).
package machinebench
