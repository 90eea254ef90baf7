//go:build race

package megolm

const raceEnabled = true
