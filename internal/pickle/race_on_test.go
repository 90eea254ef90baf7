//go:build race

package pickle

// raceEnabled reports whether the race detector is on: it changes
// allocation counts (sync.Pool drops items at random), so allocation
// budgets are checked only without it.
const raceEnabled = true
