package httpapi

import (
	"net/http"

	"boxoffice"
)

// holdRequest is the body of POST /api/v1/events/{id}/reservations.
type holdRequest struct {
	TierID   string    `json:"tier_id"`
	Quantity int       `json:"quantity"`
	Attendee *attendee `json:"attendee"`
}

// decodeHoldInput reads and decodes a reservation request for the event in
// the path: its body, its Idempotency-Key and the request's fingerprint.
// Admission is the caller's to decide.
func decodeHoldInput(w http.ResponseWriter, r *http.Request) (boxoffice.HoldInput, error) {
	eventID, err := pathID(r, "id")
	if err != nil {
		return boxoffice.HoldInput{}, err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return boxoffice.HoldInput{}, err
	}
	body, err := readBody(w, r, false)
	if err != nil {
		return boxoffice.HoldInput{}, err
	}
	req, ok := decodeHoldFast(body)
	if !ok {
		if err := decodeJSON(body, &req); err != nil {
			return boxoffice.HoldInput{}, err
		}
	}
	in := boxoffice.HoldInput{
		EventID:        eventID,
		TierID:         req.TierID,
		Quantity:       req.Quantity,
		Attendee:       (*boxoffice.Attendee)(req.Attendee),
		IdempotencyKey: key,
	}
	if key != "" {
		in.Fingerprint = fingerprint(r, body)
	}
	return in, nil
}

func (s *server) handleCreateReservation(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	in, err := decodeHoldInput(w, r)
	if err != nil {
		return err
	}
	in.AdmissionToken = r.Header.Get("Admission-Token")
	res, err := s.reservations.CreateReservation(r.Context(), c, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/reservations/"+res.ID)
	return writeReservation(w, r, http.StatusCreated, res)
}

// writeReservation answers with one reservation, encoded without
// reflection (the hold path's answer).
func writeReservation(w http.ResponseWriter, r *http.Request, status int, res *boxoffice.Reservation) error {
	writeBody(w, r, status, "application/json", append(appendReservation(make([]byte, 0, 512), res), '\n'))
	return nil
}

func (s *server) handleGetReservation(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	res, err := s.reservations.Reservation(r.Context(), c, id)
	if err != nil {
		return err
	}
	return writeReservation(w, r, http.StatusOK, res)
}

func (s *server) handleListReservations(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	status := boxoffice.ReservationStatus(r.URL.Query().Get("status"))
	if status != "" && !status.Valid() {
		ve.Add("status", "must be held, confirmed, cancelled or expired")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	p, err := s.reservations.ListReservations(r.Context(), c, boxoffice.ReservationQuery{Status: status, Limit: limit, Cursor: cursor})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, pageOf(mapPage(p, reservationOf)))
}

// quantityRequest is the body of PATCH /api/v1/reservations/{id}.
type quantityRequest struct {
	Quantity *int `json:"quantity"`
}

func (s *server) handleChangeQuantity(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req quantityRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Quantity == nil {
		ve := &boxoffice.ValidationError{}
		ve.Add("quantity", "is required")
		return ve
	}
	res, err := s.reservations.ChangeQuantity(r.Context(), c, id, *req.Quantity)
	if err != nil {
		return err
	}
	return writeReservation(w, r, http.StatusOK, res)
}

// confirmRequest is the body of POST /api/v1/reservations/{id}/confirm.
type confirmRequest struct {
	PaymentToken string `json:"payment_token"`
}

func (s *server) handleConfirm(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	idem, body, err := readIdempotent(w, r, false)
	if err != nil {
		return err
	}
	var req confirmRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.PaymentToken == "" {
		ve := &boxoffice.ValidationError{}
		ve.Add("payment_token", "is required")
		return ve
	}
	res, err := s.reservations.Confirm(r.Context(), c, id, req.PaymentToken, idem)
	if err != nil {
		return err
	}
	return writeReservation(w, r, http.StatusOK, res)
}

// cancelRequest is the body of POST /api/v1/reservations/{id}/cancel, which
// may also be sent without a body.
type cancelRequest struct{}

// readCancel reads a cancellation of the reservation or order in the path:
// its id, its Idempotency-Key and its (empty, optional) body.
func readCancel(w http.ResponseWriter, r *http.Request) (string, boxoffice.Idempotent, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return "", boxoffice.Idempotent{}, err
	}
	idem, body, err := readIdempotent(w, r, true)
	if err != nil {
		return "", boxoffice.Idempotent{}, err
	}
	if len(body) > 0 {
		if err := decodeJSON(body, &cancelRequest{}); err != nil {
			return "", boxoffice.Idempotent{}, err
		}
	}
	return id, idem, nil
}

func (s *server) handleCancel(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, idem, err := readCancel(w, r)
	if err != nil {
		return err
	}
	res, err := s.reservations.Cancel(r.Context(), c, id, idem)
	if err != nil {
		return err
	}
	return writeReservation(w, r, http.StatusOK, res)
}

// readIdempotent reads a body (optional when bodyOptional) and the
// Idempotency-Key with the request's fingerprint.
func readIdempotent(w http.ResponseWriter, r *http.Request, bodyOptional bool) (boxoffice.Idempotent, []byte, error) {
	key, err := idempotencyKey(r)
	if err != nil {
		return boxoffice.Idempotent{}, nil, err
	}
	body, err := readBody(w, r, bodyOptional)
	if err != nil {
		return boxoffice.Idempotent{}, nil, err
	}
	idem := boxoffice.Idempotent{Key: key}
	if key != "" {
		idem.Fingerprint = fingerprint(r, body)
	}
	return idem, body, nil
}
