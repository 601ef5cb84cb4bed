package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"boxoffice"
)

// cancelEventRequest is the body of POST /api/v1/events/{id}/cancel (optional).
type cancelEventRequest struct {
	Reason string `json:"reason"`
}

// cancellationBody is the answer of POST /api/v1/events/{id}/cancel.
type cancellationBody struct {
	Event           eventBody `json:"event"`
	OrdersRefunded  int       `json:"orders_refunded"`
	OrdersCancelled int       `json:"orders_cancelled"`
	Complete        bool      `json:"complete"`
}

// handleCancelEvent cancels an event: 200 when every order of it is
// settled, 202 when the background job settles the rest.
func (s *server) handleCancelEvent(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var req cancelEventRequest
	id, err := readOptional(w, r, &req)
	if err != nil {
		return err
	}
	out, err := s.orders.CancelEvent(r.Context(), c, id, req.Reason)
	if err != nil {
		return err
	}
	s.forgetEvent(r.Context(), id)
	status := http.StatusOK
	if !out.Complete {
		status = http.StatusAccepted
	}
	return writeJSON(w, r, status, cancellationBody{Event: eventOf(out.Event), OrdersRefunded: out.Refunded,
		OrdersCancelled: out.Cancelled, Complete: out.Complete})
}

// auditEntryBody is one entry of an organizer's audit log.
type auditEntryBody struct {
	ID          string          `json:"id"`
	OrganizerID string          `json:"organizer_id"`
	Actor       string          `json:"actor"`
	Action      string          `json:"action"`
	SubjectType string          `json:"subject_type"`
	SubjectID   string          `json:"subject_id"`
	Detail      json.RawMessage `json:"detail"`
	Addr        string          `json:"addr"`
	At          time.Time       `json:"at"`
}

func auditEntryOf(e *boxoffice.AuditEntry) auditEntryBody {
	d := e.Detail
	if len(d) == 0 {
		d = json.RawMessage(`{}`)
	}
	return auditEntryBody{ID: e.ID, OrganizerID: e.OrganizerID, Actor: e.Actor, Action: e.Action,
		SubjectType: e.SubjectType, SubjectID: e.SubjectID, Detail: d, Addr: e.Addr, At: e.At}
}

func (s *server) handleAuditLog(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	if err := ve.Err(); err != nil {
		return err
	}
	p, err := s.audit.List(r.Context(), c, org, boxoffice.AuditQuery{Limit: limit, Cursor: cursor})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, pageOf(mapPage(p, auditEntryOf)))
}
