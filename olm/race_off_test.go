//go:build !race

package olm

// raceEnabled reports whether the race detector is on: it changes
// allocation counts, so allocation budgets are checked only without it.
const raceEnabled = false
