// Package matrixhttp connects a sans-I/O machine (package machine) to a Matrix homeserver over
// net/http: it is the only package of sicher that does network I/O.
//
// It logs in (LoginPassword, LoginToken; registration is not its job), keeps the access token
// and the /sync token in the machine's store so a restarted program resumes where it stopped
// (Resume), and runs the /sync loop (Run): room state (members, m.room.encryption, history
// visibility) is tracked, the encryption part of each response goes to the machine, the
// machine's requests are executed, and decrypted room events reach Config.OnEvent. SendMessage
// and SendFile encrypt into a room; JoinRoom, CreateRoom, Invite and LeaveRoom are the room
// helpers a bot needs. Every request it makes is one the machine asked for or plain login,
// sync, room and media traffic (spec "Client-Server API",
// https://spec.matrix.org/v1.19/client-server-api/).
//
// # Retries
//
// A 429 M_LIMIT_EXCEEDED is retried after retry_after_ms (or the Retry-After header), 5xx
// responses and network errors after an exponential backoff (Config.Backoff, doubled up to a
// minute), at most Config.MaxRetries times; a cancelled context stops every wait. Other
// refusals are an *Error with the status, the Matrix errcode and the server's retry delay.
// A room event keeps its transaction id across retries, and the machine's to-device requests
// carry their request id as transaction id, so a retry after a lost response is stored once.
//
// # Secrets
//
// The access token is secret: Session and Client print and log only their user and device id,
// and the token is kept in the store as a sealed secret (store/sqlstore seals it). The
// password of Config.Password travels only in the body of the authentication request.
//
// A Client is safe for concurrent use: SendMessage may run while Run syncs.
package matrixhttp
