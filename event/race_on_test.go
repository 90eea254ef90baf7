//go:build race

package event

// raceEnabled reports whether the race detector is on: it changes
// allocation counts (sync.Pool, which the JSON decoder uses, drops items
// at random), so allocation budgets are checked only without it.
const raceEnabled = true
