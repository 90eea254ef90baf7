package sqlstore

import (
	"context"
	"strings"
)

// Inbound Megolm session rows are written in batches: PutInboundGroupSession seals the row
// and keeps it in the transaction, and the transaction writes what it kept as multi-row
// INSERTs before its next statement and before it commits. A key-backup restore or a key
// import of thousands of sessions so takes one statement per inboundBatchRows rows instead of
// one per row (on PostgreSQL, one round trip). A session put twice in one batch is written
// once, with the later values, as a row put twice is.
const inboundBatchRows = 256

const inboundUpsert = ` ON CONFLICT (owner_user, owner_device, room_id, session_id) DO UPDATE SET
		sender_user = excluded.sender_user, sender_key = excluded.sender_key, signing_key = excluded.signing_key,
		provenance = excluded.provenance, forwarding_chain = excluded.forwarding_chain, shared_history = excluded.shared_history,
		first_known_index = excluded.first_known_index, backed_up = excluded.backed_up, state = excluded.state`

// inboundInsert returns the statement that writes n rows; n is a power of two up to
// inboundBatchRows, so that a handful of statements serve every batch.
func inboundInsert(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO sicher_inbound_group_sessions (owner_user, owner_device, " + inboundColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(inboundUpsert)
	return b.String()
}

// keepInbound keeps a sealed row (its values after the owner) for the next flush.
func (t *sqlTx) keepInbound(ctx context.Context, roomID, sessionID string, values []any) error {
	k := [2]string{roomID, sessionID}
	if i, ok := t.inboundAt[k]; ok {
		t.inbound[i] = values
		return nil
	}
	if t.inboundAt == nil {
		t.inboundAt = map[[2]string]int{}
	}
	t.inboundAt[k] = len(t.inbound)
	t.inbound = append(t.inbound, values)
	if len(t.inbound) >= inboundBatchRows {
		return t.flushInbound(ctx)
	}
	return nil
}

// flushInbound writes the kept rows, in statements of inboundBatchRows rows and then of
// falling powers of two.
func (t *sqlTx) flushInbound(ctx context.Context) error {
	rows := t.inbound
	t.inbound = t.inbound[:0]
	clear(t.inboundAt)
	for len(rows) > 0 {
		n := inboundBatchRows
		for n > len(rows) {
			n /= 2
		}
		args := make([]any, 0, n*13)
		for _, r := range rows[:n] {
			args = append(args, t.owner.UserID, t.owner.DeviceID)
			args = append(args, r...)
		}
		what := "inbound Megolm session " + rows[0][1].(string)
		if n > 1 {
			what += " and the next ones"
		}
		if err := t.run(ctx, what, inboundInsert(n), args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
