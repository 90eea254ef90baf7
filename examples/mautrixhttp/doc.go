// Package mautrixhttp shows that sicher's machine needs no particular HTTP client: its test
// executes every request the machine asks for with mautrix-go's Client.MakeFullRequest, and
// logs in, creates and joins a room with mautrix-go's own calls, against the fake homeserver
// of machine/machinetest served over HTTP. Package matrixhttp is sicher's own binding; this
// module is for programs that already have a mautrix-go client.
package mautrixhttp
