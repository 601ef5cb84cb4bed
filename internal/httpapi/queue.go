package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"boxoffice"
)

// Stream timing: a comment line every heartbeatInterval keeps proxies from
// closing an idle stream, and each write may take up to streamWriteTimeout
// (the server's WriteTimeout would otherwise cut every stream after 30 s).
const (
	heartbeatInterval  = 15 * time.Second
	streamWriteTimeout = 30 * time.Second
)

// room returns the waiting room and the event ID in the path: not_found for
// a malformed ID, unavailable when no waiting room is configured.
func (s *server) room(r *http.Request) (*boxoffice.WaitingRoom, string, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, "", err
	}
	if s.queue == nil {
		return nil, "", boxoffice.Errorf(boxoffice.CodeUnavailable, "the waiting room is not configured")
	}
	return s.queue, id, nil
}

// writeQueueStatus answers with a QueueStatus. It may carry an admission
// token; like every answer to an authenticated caller, it is sent with
// Cache-Control: no-store (wrap sets it).
func writeQueueStatus(w http.ResponseWriter, r *http.Request, st *boxoffice.QueueStatus) error {
	return writeJSON(w, r, http.StatusOK, queueStatusOf(st))
}

func (s *server) handleJoinQueue(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	room, id, err := s.room(r)
	if err != nil {
		return err
	}
	if err := readNoBody(w, r); err != nil {
		return err
	}
	st, err := room.Join(r.Context(), c, id)
	if err != nil {
		return err
	}
	return writeQueueStatus(w, r, st)
}

func (s *server) handleQueueStatus(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	room, id, err := s.room(r)
	if err != nil {
		return err
	}
	st, err := room.Status(r.Context(), c, id)
	if err != nil {
		return err
	}
	return writeQueueStatus(w, r, st)
}

func (s *server) handleLeaveQueue(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	room, id, err := s.room(r)
	if err != nil {
		return err
	}
	if err := room.Leave(r.Context(), c, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleQueueStream streams the caller's status as server-sent events: the
// current status at once, then every change (at most once a second), until
// a final status (admitted, sold_out, expired), the client leaves, or the
// server drains. Failures before the stream starts are problems as usual.
func (s *server) handleQueueStream(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	room, id, err := s.room(r)
	if err != nil {
		return err
	}
	st, sub, err := room.Subscribe(r.Context(), c, id)
	if err != nil {
		return err
	}
	if sub != nil {
		defer sub.Close()
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream") // Cache-Control: no-store is wrap's, as on every authenticated route
	h.Set("X-Accel-Buffering", "no")           // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(statusEvent(st)) || sub == nil {
		return nil
	}
	heartbeat := time.NewTicker(heartbeatInterval)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-heartbeat.C:
			if !send([]byte(": keep-alive\n\n")) {
				return nil
			}
		case st, ok := <-sub.C:
			if !ok || !send(statusEvent(&st)) || st.Status.Terminal() {
				return nil
			}
		}
	}
}

// statusEvent encodes one server-sent event carrying st.
func statusEvent(st *boxoffice.QueueStatus) []byte {
	var b bytes.Buffer
	b.WriteString("event: status\ndata: ")
	enc := json.NewEncoder(&b) // ends the line with \n
	enc.SetEscapeHTML(false)
	_ = enc.Encode(queueStatusOf(st)) // a QueueStatus always encodes
	b.WriteString("\n")
	return b.Bytes()
}
