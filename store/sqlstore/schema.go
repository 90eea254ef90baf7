package sqlstore

import (
	"context"
	"database/sql"
	"strings"
)

// A migration takes the schema from version i to version i+1; migrations[0] creates version 1
// in an empty database. Each runs inside the transaction that opens the store, so a crash
// leaves the database at the version before it. To change the schema, append one function
// here and a test in migrate_test.go that upgrades a database of every earlier version.
var migrations = []func(ctx context.Context, tx *sql.Tx, d *dialect) error{
	createV1,
}

// The tables with sealed columns, for Rekey: the primary key (the row's identity in the
// associated data) and the sealed columns.
type sealedTable struct {
	name string
	pk   []string
	cols []string
}

var sealedTables = []sealedTable{
	{"sicher_account", []string{"owner_user", "owner_device"}, []string{"state"}},
	{"sicher_olm_sessions", []string{"owner_user", "owner_device", "peer_key", "session_id"}, []string{"state"}},
	{"sicher_inbound_group_sessions", []string{"owner_user", "owner_device", "room_id", "session_id"}, []string{"state"}},
	{"sicher_outbound_group_sessions", []string{"owner_user", "owner_device", "room_id"}, []string{"state"}},
	{"sicher_secrets", []string{"owner_user", "owner_device", "name"}, []string{"value"}},
	{"sicher_outgoing_requests", []string{"owner_user", "owner_device", "request_id"}, []string{"body"}},
}

// createV1 is schema version 1. Times are Unix milliseconds; flags are 0 or 1; lists of ids
// are JSON arrays. Every table but sicher_meta is keyed by the owner (user id, device id).
func createV1(ctx context.Context, tx *sql.Tx, d *dialect) error {
	const schema = `
CREATE TABLE sicher_meta (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
CREATE TABLE sicher_account (
	owner_user   TEXT NOT NULL,
	owner_device TEXT NOT NULL,
	state        BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device)
);
CREATE TABLE sicher_olm_sessions (
	owner_user    TEXT NOT NULL,
	owner_device  TEXT NOT NULL,
	peer_key      TEXT NOT NULL,
	session_id    TEXT NOT NULL,
	created       BIGINT NOT NULL,
	last_used     BIGINT NOT NULL,
	last_received BIGINT NOT NULL,
	state         BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, peer_key, session_id)
);
CREATE INDEX sicher_olm_sessions_recent ON sicher_olm_sessions (owner_user, owner_device, peer_key, last_used);
CREATE TABLE sicher_inbound_group_sessions (
	owner_user        TEXT NOT NULL,
	owner_device      TEXT NOT NULL,
	room_id           TEXT NOT NULL,
	session_id        TEXT NOT NULL,
	sender_user       TEXT NOT NULL,
	sender_key        TEXT NOT NULL,
	signing_key       TEXT NOT NULL,
	provenance        INTEGER NOT NULL,
	forwarding_chain  TEXT NOT NULL,
	shared_history    INTEGER NOT NULL,
	first_known_index BIGINT NOT NULL,
	backed_up         INTEGER NOT NULL,
	state             BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, room_id, session_id)
);
CREATE INDEX sicher_inbound_group_sessions_backup ON sicher_inbound_group_sessions (owner_user, owner_device, backed_up);
CREATE TABLE sicher_outbound_group_sessions (
	owner_user    TEXT NOT NULL,
	owner_device  TEXT NOT NULL,
	room_id       TEXT NOT NULL,
	session_id    TEXT NOT NULL,
	message_count BIGINT NOT NULL,
	created       BIGINT NOT NULL,
	shared_with   TEXT NOT NULL,
	state         BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, room_id)
);
CREATE TABLE sicher_withheld (
	owner_user   TEXT NOT NULL,
	owner_device TEXT NOT NULL,
	room_id      TEXT NOT NULL,
	session_id   TEXT NOT NULL,
	sender_key   TEXT NOT NULL,
	code         TEXT NOT NULL,
	reason       TEXT NOT NULL,
	PRIMARY KEY (owner_user, owner_device, room_id, session_id)
);
CREATE TABLE sicher_tracked_users (
	owner_user         TEXT NOT NULL,
	owner_device       TEXT NOT NULL,
	user_id            TEXT NOT NULL,
	outdated           INTEGER NOT NULL,
	cross_signing_keys BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, user_id)
);
CREATE TABLE sicher_devices (
	owner_user   TEXT NOT NULL,
	owner_device TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	device_id    TEXT NOT NULL,
	device_keys  BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, user_id, device_id),
	FOREIGN KEY (owner_user, owner_device, user_id)
		REFERENCES sicher_tracked_users (owner_user, owner_device, user_id) ON DELETE CASCADE
);
CREATE TABLE sicher_replay (
	owner_user       TEXT NOT NULL,
	owner_device     TEXT NOT NULL,
	room_id          TEXT NOT NULL,
	session_id       TEXT NOT NULL,
	message_index    BIGINT NOT NULL,
	event_id         TEXT NOT NULL,
	origin_server_ts BIGINT NOT NULL,
	PRIMARY KEY (owner_user, owner_device, room_id, session_id, message_index)
);
CREATE TABLE sicher_secrets (
	owner_user   TEXT NOT NULL,
	owner_device TEXT NOT NULL,
	name         TEXT NOT NULL,
	value        BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, name)
);
CREATE TABLE sicher_backup (
	owner_user   TEXT NOT NULL,
	owner_device TEXT NOT NULL,
	version      TEXT NOT NULL,
	PRIMARY KEY (owner_user, owner_device)
);
CREATE TABLE sicher_outgoing_requests (
	owner_user   TEXT NOT NULL,
	owner_device TEXT NOT NULL,
	request_id   TEXT NOT NULL,
	request_type TEXT NOT NULL,
	created      BIGINT NOT NULL,
	body         BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, request_id)
);
CREATE TABLE sicher_values (
	owner_user   TEXT NOT NULL,
	owner_device TEXT NOT NULL,
	name         TEXT NOT NULL,
	value        BLOB NOT NULL,
	PRIMARY KEY (owner_user, owner_device, name)
);`
	for stmt := range strings.SplitSeq(schema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, d.ddl(stmt)); err != nil {
			return err
		}
	}
	return nil
}
