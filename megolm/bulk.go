package megolm

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"

	"github.com/sicher-go/sicher/internal/parallel"
)

// BulkMessage is one message for [DecryptAll]: a binary Megolm message and
// the session to decrypt it with.
type BulkMessage struct {
	Session *InboundSession
	Message []byte
}

// BulkResult is the outcome of one message of [DecryptAll]: what
// [InboundSession.Decrypt] returned for it.
type BulkResult struct {
	Plaintext []byte
	Index     uint32
	Err       error
}

// errNoSession is the error of a [BulkMessage] without a session.
var errNoSession = fmt.Errorf("%w: no session given for the message", ErrMalformed)

// DecryptAll decrypts many messages, of many sessions, with
// runtime.GOMAXPROCS(0) workers, and returns one result per message in
// input order (for example the timeline of every room after a sync).
//
// The results, and the state every session is left in, are exactly those
// of calling Decrypt on each message in input order: each session's
// messages are decrypted by one worker, in input order, while different
// sessions are decrypted in parallel. So the work spreads over the workers
// only as far as there are sessions: the messages of a single session are
// decrypted one after another. A failing message does not stop the
// others. If ctx is cancelled, messages not yet started get ctx.Err().
//
// DecryptAll moves the sessions' latest ratchets, as Decrypt does: no
// session may be used elsewhere until it returns. Sessions are told apart
// by pointer; a [InboundSession.Clone] is a session of its own.
func DecryptAll(ctx context.Context, msgs []BulkMessage) []BulkResult {
	return decryptAll(ctx, msgs, runtime.GOMAXPROCS(0))
}

// decryptAll is DecryptAll with an explicit number of workers (values
// below 1 are raised to 1).
func decryptAll(ctx context.Context, msgs []BulkMessage, workers int) []BulkResult {
	results := make([]BulkResult, len(msgs))
	// Group the message positions by session, keeping input order within
	// each group.
	groupOf := make(map[*InboundSession]int)
	var groups [][]int
	for i, m := range msgs {
		if m.Session == nil {
			results[i].Err = errNoSession
			continue
		}
		g, ok := groupOf[m.Session]
		if !ok {
			g = len(groups)
			groupOf[m.Session] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	// Largest groups first, so that a big session does not start last and
	// leave the other workers idle at the end.
	slices.SortStableFunc(groups, func(a, b []int) int { return cmp.Compare(len(b), len(a)) })

	parallel.For(len(groups), workers, 1, func(g int) {
		for _, i := range groups[g] {
			r := &results[i]
			if err := ctx.Err(); err != nil {
				r.Err = err
				continue
			}
			r.Plaintext, r.Index, r.Err = msgs[i].Session.Decrypt(nil, msgs[i].Message)
		}
	})
	return results
}
