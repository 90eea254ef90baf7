//go:build race

package sqlstore

// raceEnabled reports whether the race detector is on: it slows the
// crash test's children too much for them to do enough work between kills.
const raceEnabled = true
