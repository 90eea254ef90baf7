package keybackup

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Result is the outcome of decrypting one entry in DecryptAll: the
// session, or the first error that entry met.
type Result struct {
	Session *SessionData
	Err     error
}

// DecryptAll decrypts a whole backup's entries with runtime.GOMAXPROCS(0)
// workers and returns one Result per entry, in input order. A failing
// entry does not stop the others. If ctx is cancelled, entries not yet
// started get ctx.Err(). k is only read, so this is safe while k is used
// elsewhere.
func (k *DecryptionKey) DecryptAll(ctx context.Context, entries []EncryptedSessionData) []Result {
	return k.DecryptAllWorkers(ctx, entries, runtime.GOMAXPROCS(0))
}

// DecryptAllWorkers is DecryptAll with an explicit number of workers (at
// least 1; values below are raised to 1).
func (k *DecryptionKey) DecryptAllWorkers(ctx context.Context, entries []EncryptedSessionData, workers int) []Result {
	results := make([]Result, len(entries))
	workers = max(1, min(workers, len(entries)))
	// Workers claim small batches from a shared counter: cheap to
	// coordinate, and a slow entry does not hold up a fixed share.
	const batch = 16
	var next atomic.Int64
	work := func() {
		for {
			start := int(next.Add(batch)) - batch
			if start >= len(entries) {
				return
			}
			end := min(start+batch, len(entries))
			for i := start; i < end; i++ {
				if err := ctx.Err(); err != nil {
					results[i].Err = err
					continue
				}
				results[i].Session, results[i].Err = k.DecryptSession(entries[i])
			}
		}
	}
	if workers == 1 {
		work()
		return results
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
	return results
}
