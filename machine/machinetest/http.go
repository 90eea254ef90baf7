package machinetest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sicher-go/sicher/machine"
)

// The server over HTTP: Handler serves the client-server API endpoints a bot uses (spec
// "Client-Server API", https://spec.matrix.org/v1.19/client-server-api/): login, /sync with
// rooms (timeline and state), invites, to-device events, device_lists and one-time key counts,
// room creation and membership, sending room events, the keys and backup endpoints (executed by
// Do) and media upload and download. It is a test fake: small, in memory, and strict only
// where a client's mistake should show.

// web is what the HTTP front keeps beyond the in-memory server; s.mu guards it.
type web struct {
	passwords   map[string]string    // user → password
	tokens      map[string][2]string // access token → user, device
	loginTokens map[string]string    // m.login.token → user
	queues      map[string][]queued  // user|device → to-device events not acknowledged
	pos         map[string][]int     // room → stream position of each event
	state       map[string]map[string]json.RawMessage
	membership  map[string]map[string]membership // room → user → latest membership
	media       map[string]mediaFile
}

type queued struct {
	pos int
	ev  json.RawMessage
}

type membership struct {
	state string // join, invite, leave
	pos   int
}

type mediaFile struct {
	contentType string
	data        []byte
}

// SetTimelineLimit makes the HTTP /sync send at most n new events of a known room, marking
// its timeline limited with a prev_batch token, whatever the client's filter asks (Dendrite
// 0.13 sends 10 without a filter); 0 sends all. GET /rooms/{roomId}/messages pages back.
func (s *Server) SetTimelineLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timelineLimit = n
}

// messagesHTTP serves GET /rooms/{roomId}/messages backwards (dir=b) from a prev_batch token
// "t<index>": the events before that index in the room, newest first.
func (s *Server) messagesHTTP(who caller, r *http.Request, _ []byte) (any, error) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	rm := s.rooms[r.PathValue("room")]
	if rm == nil || !rm.members[who.user] {
		return nil, &httpError{http.StatusForbidden, "M_FORBIDDEN", "not in the room"}
	}
	from, err := strconv.Atoi(strings.TrimPrefix(q.Get("from"), "t"))
	if q.Get("dir") != "b" || err != nil || from < 0 || from > len(rm.events) {
		return nil, &httpError{http.StatusBadRequest, "M_INVALID_PARAM", "only dir=b from a prev_batch token"}
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	chunk := []json.RawMessage{}
	i := from
	for ; i > 0 && len(chunk) < limit; i-- {
		chunk = append(chunk, rm.events[i-1])
	}
	out := map[string]any{"chunk": chunk, "start": "t" + strconv.Itoa(from)}
	if i > 0 {
		out["end"] = "t" + strconv.Itoa(i)
	}
	return out, nil
}

// LegacyMediaOnly makes the HTTP server answer the authenticated media download
// (/_matrix/client/v1/media/download) with 404 M_UNRECOGNIZED, as servers before spec v1.11
// (Dendrite 0.13) do; the v3 media path keeps working.
func (s *Server) LegacyMediaOnly(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legacyMedia = on
}

func (s *Server) webState() *web {
	if s.web == nil {
		s.web = &web{passwords: map[string]string{}, tokens: map[string][2]string{}, loginTokens: map[string]string{},
			queues: map[string][]queued{}, pos: map[string][]int{}, state: map[string]map[string]json.RawMessage{},
			membership: map[string]map[string]membership{}, media: map[string]mediaFile{}}
	}
	return s.web
}

// AddUser registers a user with a password for the HTTP server's /login.
func (s *Server) AddUser(userID, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webState().passwords[userID] = password
}

// LoginToken returns a single-use m.login.token for a registered user.
func (s *Server) LoginToken(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := randomID()
	s.webState().loginTokens[t] = userID
	return t
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// httpError is a Matrix error response.
type httpError struct {
	status  int
	errcode string
	msg     string
}

func (e *httpError) Error() string { return e.errcode + ": " + e.msg }

func badJSON(err error) error { return &httpError{http.StatusBadRequest, "M_BAD_JSON", err.Error()} }

// Handler returns the HTTP handler of the server's client-server API, for
// httptest.NewServer(srv.Handler()). Every endpoint but login and the unauthenticated v3 media
// download needs an access token from /login.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	const c = "/_matrix/client/v3"
	mux.HandleFunc("POST "+c+"/login", s.serve(false, s.login))
	mux.HandleFunc("GET "+c+"/sync", s.serve(true, s.syncHTTP))
	mux.HandleFunc("GET "+c+"/account/whoami", s.serve(true, func(who caller, _ *http.Request, _ []byte) (any, error) {
		return map[string]string{"user_id": who.user, "device_id": who.device}, nil
	}))
	mux.HandleFunc("POST "+c+"/createRoom", s.serve(true, s.createRoom))
	mux.HandleFunc("GET "+c+"/rooms/{room}/messages", s.serve(true, s.messagesHTTP))
	mux.HandleFunc("POST "+c+"/join/{room}", s.serve(true, s.membershipHTTP("join")))
	mux.HandleFunc("POST "+c+"/rooms/{room}/join", s.serve(true, s.membershipHTTP("join")))
	mux.HandleFunc("POST "+c+"/rooms/{room}/invite", s.serve(true, s.membershipHTTP("invite")))
	mux.HandleFunc("POST "+c+"/rooms/{room}/leave", s.serve(true, s.membershipHTTP("leave")))
	mux.HandleFunc("PUT "+c+"/rooms/{room}/send/{type}/{txn}", s.serve(true, s.machineHTTP(machine.KindRoomEvent)))
	mux.HandleFunc("POST "+c+"/keys/upload", s.serve(true, s.machineHTTP(machine.KindKeysUpload)))
	mux.HandleFunc("POST "+c+"/keys/query", s.serve(true, s.machineHTTP(machine.KindKeysQuery)))
	mux.HandleFunc("POST "+c+"/keys/claim", s.serve(true, s.machineHTTP(machine.KindKeysClaim)))
	mux.HandleFunc("POST "+c+"/keys/signatures/upload", s.serve(true, s.machineHTTP(machine.KindSignatureUpload)))
	mux.HandleFunc("POST "+c+"/keys/device_signing/upload", s.serve(true, s.signingKeysHTTP))
	mux.HandleFunc("PUT "+c+"/sendToDevice/{type}/{txn}", s.serve(true, s.machineHTTP(machine.KindToDevice)))
	mux.HandleFunc("PUT "+c+"/user/{user}/account_data/{type}", s.serve(true, s.machineHTTP(machine.KindAccountData)))
	mux.HandleFunc("POST "+c+"/room_keys/version", s.serve(true, s.machineHTTP(machine.KindBackupVersion)))
	mux.HandleFunc("PUT "+c+"/room_keys/keys", s.serve(true, s.machineHTTP(machine.KindBackupUpload)))
	mux.HandleFunc("GET "+c+"/room_keys/keys/{room}/{session}", s.serve(true, s.machineHTTP(machine.KindBackupDownload)))
	mux.HandleFunc("POST /_matrix/media/v3/upload", s.serve(true, s.uploadMedia))
	mux.HandleFunc("GET /_matrix/client/v1/media/download/{server}/{id}", s.serve(true, s.download(true)))
	mux.HandleFunc("GET /_matrix/media/v3/download/{server}/{id}", s.serve(false, s.download(false)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &httpError{http.StatusNotFound, "M_UNRECOGNIZED", "unknown endpoint " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// caller is the device an access token belongs to.
type caller struct{ user, device string }

// handlerFunc returns a JSON response (or raw bytes with a content type) or an error.
type handlerFunc func(who caller, r *http.Request, body []byte) (any, error)

// rawResponse is a non-JSON response body (media).
type rawResponse struct {
	contentType string
	data        []byte
}

func (s *Server) serve(auth bool, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var who caller
		if auth {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			s.mu.Lock()
			dev, known := s.webState().tokens[tok]
			s.mu.Unlock()
			if !ok || !known {
				writeError(w, &httpError{http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "unknown access token"})
				return
			}
			who = caller{dev[0], dev[1]}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			writeError(w, badJSON(err))
			return
		}
		resp, err := h(who, r, body)
		if err != nil {
			writeError(w, err)
			return
		}
		if raw, ok := resp.(rawResponse); ok {
			w.Header().Set("Content-Type", raw.contentType)
			_, _ = w.Write(raw.data)
			return
		}
		b, ok := resp.([]byte)
		if !ok {
			b, _ = json.Marshal(resp)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
}

func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	var uia *uiaChallenge
	switch {
	case errors.As(err, &uia):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"flows":[{"stages":["m.login.password"]},{"stages":["m.login.dummy"]}],"params":{},"session":"uia"}`)
		return
	case errors.As(err, &he):
	case errors.Is(err, ErrWrongBackupVersion):
		he = &httpError{http.StatusForbidden, "M_WRONG_ROOM_KEYS_VERSION", err.Error()}
	case errors.Is(err, ErrNotFound):
		he = &httpError{http.StatusNotFound, "M_NOT_FOUND", err.Error()}
	default:
		he = &httpError{http.StatusBadRequest, "M_BAD_JSON", err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(he.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errcode": he.errcode, "error": he.msg})
}

func (s *Server) login(_ caller, _ *http.Request, body []byte) (any, error) {
	var req struct {
		Type       string `json:"type"`
		Identifier struct {
			Type string `json:"type"`
			User string `json:"user"`
		} `json:"identifier"`
		Password string `json:"password"`
		Token    string `json:"token"`
		DeviceID string `json:"device_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badJSON(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.webState()
	var user string
	switch req.Type {
	case "m.login.password":
		pw, ok := ws.passwords[req.Identifier.User]
		if req.Identifier.Type != "m.id.user" || !ok || pw != req.Password {
			return nil, &httpError{http.StatusForbidden, "M_FORBIDDEN", "invalid username or password"}
		}
		user = req.Identifier.User
	case "m.login.token":
		u, ok := ws.loginTokens[req.Token]
		if !ok {
			return nil, &httpError{http.StatusForbidden, "M_FORBIDDEN", "invalid login token"}
		}
		delete(ws.loginTokens, req.Token)
		user = u
	default:
		return nil, &httpError{http.StatusBadRequest, "M_UNKNOWN", "unsupported login type"}
	}
	dev := req.DeviceID
	if dev == "" {
		s.nextID++
		dev = fmt.Sprintf("DEV%d", s.nextID)
	}
	s.device(user, dev)
	tok := randomID()
	ws.tokens[tok] = [2]string{user, dev}
	return map[string]string{"user_id": user, "device_id": dev, "access_token": tok}, nil
}

// machineHTTP executes an endpoint of the machine's requests through Do.
func (s *Server) machineHTTP(kind machine.RequestKind) handlerFunc {
	return func(who caller, r *http.Request, body []byte) (any, error) {
		req := machine.Request{Kind: kind, Method: r.Method, Path: r.URL.RequestURI(), Body: body,
			ID: r.PathValue("txn"), EventType: r.PathValue("type"), RoomID: r.PathValue("room"),
			SessionID: r.PathValue("session"), Version: r.URL.Query().Get("version")}
		if kind == machine.KindAccountData && r.PathValue("user") != who.user {
			return nil, &httpError{http.StatusForbidden, "M_FORBIDDEN", "account data of another user"}
		}
		if kind == machine.KindRoomEvent {
			req.ID = who.device + "|" + req.ID // transaction ids are scoped to the device
		}
		if kind != machine.KindBackupDownload && !json.Valid(body) {
			return nil, badJSON(errors.New("body is not JSON"))
		}
		return s.Do(who.user, who.device, req)
	}
}

// signingKeysHTTP asks for user-interactive authentication (spec "User-Interactive
// Authentication API", https://spec.matrix.org/v1.19/client-server-api/#user-interactive-authentication-api)
// before it stores cross-signing keys: m.login.password or m.login.dummy.
func (s *Server) signingKeysHTTP(who caller, r *http.Request, body []byte) (any, error) {
	var req struct {
		Auth *struct {
			Type     string `json:"type"`
			Session  string `json:"session"`
			Password string `json:"password"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badJSON(err)
	}
	s.mu.Lock()
	pw := s.webState().passwords[who.user]
	s.mu.Unlock()
	if req.Auth == nil || req.Auth.Session != "uia" ||
		!(req.Auth.Type == "m.login.dummy" || req.Auth.Type == "m.login.password" && req.Auth.Password == pw) {
		return nil, &uiaChallenge{}
	}
	return s.machineHTTP(machine.KindSigningKeysUpload)(who, r, body)
}

type uiaChallenge struct{}

func (*uiaChallenge) Error() string { return "user-interactive authentication required" }

func (s *Server) createRoom(who caller, _ *http.Request, body []byte) (any, error) {
	var req struct {
		Name         string            `json:"name"`
		Invite       []string          `json:"invite"`
		InitialState []json.RawMessage `json:"initial_state"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badJSON(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := fmt.Sprintf("!room%d:example.org", s.nextID)
	s.rooms[id] = &room{members: map[string]bool{}}
	s.putState(id, who.user, "m.room.create", "", json.RawMessage(`{"room_version":"11"}`))
	s.setMembership(id, who.user, who.user, "join")
	s.putState(id, who.user, "m.room.history_visibility", "", json.RawMessage(`{"history_visibility":"shared"}`))
	if req.Name != "" {
		b, _ := json.Marshal(map[string]string{"name": req.Name})
		s.putState(id, who.user, "m.room.name", "", b)
	}
	for _, raw := range req.InitialState {
		var ev struct {
			Type     string          `json:"type"`
			StateKey string          `json:"state_key"`
			Content  json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Type == "" {
			return nil, badJSON(fmt.Errorf("initial_state: %v", err))
		}
		s.putState(id, who.user, ev.Type, ev.StateKey, ev.Content)
	}
	for _, u := range req.Invite {
		s.setMembership(id, who.user, u, "invite")
	}
	return map[string]string{"room_id": id}, nil
}

func (s *Server) membershipHTTP(action string) handlerFunc {
	return func(who caller, r *http.Request, body []byte) (any, error) {
		id := r.PathValue("room")
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.rooms[id] == nil {
			return nil, &httpError{http.StatusNotFound, "M_NOT_FOUND", "no room " + id}
		}
		cur := s.webState().membership[id]
		target := who.user
		switch action {
		case "invite":
			var req struct {
				UserID string `json:"user_id"`
			}
			if err := json.Unmarshal(body, &req); err != nil || req.UserID == "" {
				return nil, badJSON(fmt.Errorf("invite needs user_id: %v", err))
			}
			if cur[who.user].state != "join" {
				return nil, &httpError{http.StatusForbidden, "M_FORBIDDEN", "not in the room"}
			}
			target = req.UserID
		case "join":
			if cur[who.user].state != "invite" && cur[who.user].state != "join" {
				return nil, &httpError{http.StatusForbidden, "M_FORBIDDEN", "not invited"}
			}
		}
		s.setMembership(id, who.user, target, action)
		return map[string]string{"room_id": id}, nil
	}
}

// putState appends a state event to a room's timeline and state, and gives it a stream
// position; s.mu is held.
func (s *Server) putState(roomID, sender, evType, stateKey string, content json.RawMessage) int {
	s.nextID++
	ev, _ := json.Marshal(map[string]any{"type": evType, "state_key": stateKey, "sender": sender, "room_id": roomID,
		"event_id": fmt.Sprintf("$ev%d", s.nextID), "origin_server_ts": 1700000000000 + int64(s.nextID), "content": content})
	r := s.rooms[roomID]
	r.events = append(r.events, ev)
	ws := s.webState()
	if ws.state[roomID] == nil {
		ws.state[roomID] = map[string]json.RawMessage{}
	}
	ws.state[roomID][evType+"|"+stateKey] = ev
	return s.stamp(roomID)
}

// setMembership changes a user's membership (join, invite, leave) with an m.room.member event
// and updates the room's members and the device lists of the users concerned; s.mu is held.
func (s *Server) setMembership(roomID, sender, user, state string) {
	b, _ := json.Marshal(map[string]string{"membership": state})
	p := s.putState(roomID, sender, "m.room.member", user, b)
	ws := s.webState()
	if ws.membership[roomID] == nil {
		ws.membership[roomID] = map[string]membership{}
	}
	ws.membership[roomID][user] = membership{state, p}
	r := s.rooms[roomID]
	switch state {
	case "join":
		r.members[user] = true
		s.notifyChanged(user)
		for u := range r.members {
			for _, d := range s.devices[user] {
				d.changed[u] = true
			}
		}
	case "leave":
		delete(r.members, user)
		for u, devs := range s.devices {
			if s.sharesRoom(u, user) {
				continue
			}
			for _, d := range devs {
				d.left[user] = true
				delete(d.changed, user)
			}
		}
	}
}

// stamp gives the events of a room appended since the last stamp their stream positions and
// returns the position of the last one; s.mu is held.
func (s *Server) stamp(roomID string) int {
	ws := s.webState()
	for len(ws.pos[roomID]) < len(s.rooms[roomID].events) {
		s.nextID++
		ws.pos[roomID] = append(ws.pos[roomID], s.nextID)
	}
	if n := len(ws.pos[roomID]); n > 0 {
		return ws.pos[roomID][n-1]
	}
	return 0
}

func (s *Server) uploadMedia(_ caller, r *http.Request, body []byte) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := randomID()
	s.webState().media[id] = mediaFile{r.Header.Get("Content-Type"), body}
	return map[string]string{"content_uri": "mxc://example.org/" + id}, nil
}

func (s *Server) download(authenticated bool) handlerFunc {
	return func(_ caller, r *http.Request, _ []byte) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if authenticated && s.legacyMedia {
			return nil, &httpError{http.StatusNotFound, "M_UNRECOGNIZED", "unknown endpoint"}
		}
		f, ok := s.webState().media[r.PathValue("id")]
		if !ok || r.PathValue("server") != "example.org" {
			return nil, &httpError{http.StatusNotFound, "M_NOT_FOUND", "no such media"}
		}
		return rawResponse(f), nil
	}
}

// syncHTTP answers GET /sync (spec https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync).
// The since token is a stream position: room events after it are new, and the to-device events
// delivered with a position up to it are acknowledged and deleted, so a client that loses a
// response and syncs again with its old token receives them again, as the spec requires.
func (s *Server) syncHTTP(who caller, r *http.Request, _ []byte) (any, error) {
	q := r.URL.Query()
	since := 0
	if v := q.Get("since"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "s"))
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "M_INVALID_PARAM", "bad since token"}
		}
		since = n
	}
	timeout, _ := strconv.Atoi(q.Get("timeout"))
	deadline := time.Now().Add(time.Duration(min(timeout, 30000)) * time.Millisecond)
	var enc machine.SyncChanges
	for {
		c := s.Sync(who.user, who.device)
		enc.OneTimeKeyCounts, enc.UnusedFallbackKeyTypes = c.OneTimeKeyCounts, c.UnusedFallbackKeyTypes
		enc.Changed, enc.Left = append(enc.Changed, c.Changed...), append(enc.Left, c.Left...)
		resp, news := s.buildSync(who, since, c.ToDevice, enc)
		if news || !time.Now().Before(deadline) || r.Context().Err() != nil {
			return resp, nil
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-r.Context().Done():
		}
	}
}

func (s *Server) buildSync(who caller, since int, toDevice []json.RawMessage, enc machine.SyncChanges) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.webState()
	qk := who.user + "|" + who.device
	for _, ev := range toDevice {
		s.nextID++
		ws.queues[qk] = append(ws.queues[qk], queued{s.nextID, ev})
	}
	var keep []queued
	for _, e := range ws.queues[qk] {
		if e.pos > since {
			keep = append(keep, e)
		}
	}
	ws.queues[qk] = keep
	news := len(keep) > 0 || len(enc.Changed) > 0 || len(enc.Left) > 0
	join, invite, leave := map[string]any{}, map[string]any{}, map[string]any{}
	for id := range s.rooms {
		s.stamp(id)
	}
	for id, r := range s.rooms {
		m := ws.membership[id][who.user]
		switch {
		case r.members[who.user]:
			// A room new to this client gets its whole history (a real server sends the
			// recent part, limited); a known room the events after since.
			fresh := since == 0 || m.pos > since
			var timeline []json.RawMessage
			inTimeline := map[string]bool{}
			for i, p := range ws.pos[id] {
				if p > since || fresh {
					timeline = append(timeline, r.events[i])
					inTimeline[string(r.events[i])] = true
				}
			}
			state := []json.RawMessage{}
			if fresh {
				for _, ev := range ws.state[id] {
					if !inTimeline[string(ev)] {
						state = append(state, ev)
					}
				}
			}
			if len(timeline) == 0 && len(state) == 0 {
				continue
			}
			tl := map[string]any{"events": timeline, "limited": false}
			if n := s.timelineLimit; !fresh && n > 0 && len(timeline) > n {
				// A known room with more new events than the server sends at once: the
				// last n, limited, and a token to page back from (GET .../messages).
				first := len(r.events) - n
				tl = map[string]any{"events": timeline[len(timeline)-n:], "limited": true, "prev_batch": "t" + strconv.Itoa(first)}
			}
			join[id] = map[string]any{"timeline": tl, "state": map[string]any{"events": state}}
		case m.state == "invite" && m.pos > since:
			var stripped []json.RawMessage
			for k, ev := range ws.state[id] {
				if strings.HasPrefix(k, "m.room.create|") || strings.HasPrefix(k, "m.room.encryption|") ||
					strings.HasPrefix(k, "m.room.name|") || k == "m.room.member|"+who.user {
					stripped = append(stripped, ev)
				}
			}
			invite[id] = map[string]any{"invite_state": map[string]any{"events": stripped}}
		case m.state == "leave" && m.pos > since:
			leave[id] = map[string]any{"timeline": map[string]any{"events": []json.RawMessage{ws.state[id]["m.room.member|"+who.user]}}}
		default:
			continue
		}
		news = true
	}
	evs := make([]json.RawMessage, len(keep))
	for i, e := range keep {
		evs[i] = e.ev
	}
	return map[string]any{
		"next_batch":                       "s" + strconv.Itoa(s.nextID),
		"to_device":                        map[string]any{"events": evs},
		"device_lists":                     map[string]any{"changed": nonNil(enc.Changed), "left": nonNil(enc.Left)},
		"device_one_time_keys_count":       enc.OneTimeKeyCounts,
		"device_unused_fallback_key_types": enc.UnusedFallbackKeyTypes,
		"rooms":                            map[string]any{"join": join, "invite": invite, "leave": leave},
	}, news
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
