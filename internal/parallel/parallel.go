// Package parallel runs independent work items on a few goroutines. It is
// the worker pool of the bulk APIs (keybackup.DecryptionKey.DecryptAll,
// megolm.DecryptAll), kept in one place so that both hand out work the
// same way.
package parallel

import (
	"sync"
	"sync/atomic"
)

// For calls fn(i) once for every i in [0, n) on up to workers goroutines
// (at least one) and returns when every call has returned. Workers claim
// batch consecutive items at a time from a shared counter: cheap to
// coordinate, and a slow item does not hold up a fixed share of the work.
// fn must be safe to call concurrently for different i.
func For(n, workers, batch int, fn func(i int)) {
	batch = max(1, batch)
	workers = max(1, min(workers, (n+batch-1)/batch))
	var next atomic.Int64
	work := func() {
		for {
			start := int(next.Add(int64(batch))) - batch
			if start >= n {
				return
			}
			for i := start; i < min(start+batch, n); i++ {
				fn(i)
			}
		}
	}
	if workers == 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
}
