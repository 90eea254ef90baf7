package parallel

import (
	"sync/atomic"
	"testing"
)

// TestFor: every item is visited exactly once for any n, worker count and
// batch size, including none and fewer items than workers.
func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 15, 16, 17, 100} {
		for _, workers := range []int{-1, 0, 1, 2, 7} {
			for _, batch := range []int{0, 1, 16} {
				seen := make([]atomic.Int32, n)
				For(n, workers, batch, func(i int) { seen[i].Add(1) })
				for i := range seen {
					if c := seen[i].Load(); c != 1 {
						t.Fatalf("n=%d workers=%d batch=%d: item %d visited %d times", n, workers, batch, i, c)
					}
				}
			}
		}
	}
}
