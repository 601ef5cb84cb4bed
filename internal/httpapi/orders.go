package httpapi

import (
	"net/http"
	"time"

	"boxoffice"
)

// orderRequest is the body of POST /api/v1/events/{id}/orders.
type orderRequest struct {
	Lines []orderLineRequest `json:"lines"`
	Email string             `json:"email"`
}

type orderLineRequest struct {
	TierID    string     `json:"tier_id"`
	Quantity  int        `json:"quantity"`
	Attendees []attendee `json:"attendees"`
}

// orderBody is the JSON shape of an Order.
type orderBody struct {
	ID            string                `json:"id"`
	EventID       string                `json:"event_id"`
	Status        boxoffice.OrderStatus `json:"status"`
	Email         string                `json:"email,omitempty"`
	Lines         []orderLineBody       `json:"lines"`
	Total         money                 `json:"total"`
	Refunded      money                 `json:"refunded"`
	HoldExpiresAt time.Time             `json:"hold_expires_at"`
	Payment       *paymentBody          `json:"payment"`
	CreatedAt     time.Time             `json:"created_at"`
	UpdatedAt     time.Time             `json:"updated_at"`
	PaidAt        *time.Time            `json:"paid_at"`
}

type orderLineBody struct {
	TierID    string     `json:"tier_id"`
	Quantity  int        `json:"quantity"`
	UnitPrice money      `json:"unit_price"`
	Amount    money      `json:"amount"`
	Refunded  int        `json:"refunded"`
	Attendees []attendee `json:"attendees"`
}

// paymentBody is the JSON shape of a Payment. The client secret is only
// ever in answers to the order's buyer (every order route is theirs or an
// admin's).
type paymentBody struct {
	ID            string                  `json:"id"`
	Provider      string                  `json:"provider"`
	Status        boxoffice.PaymentStatus `json:"status"`
	Amount        money                   `json:"amount"`
	ClientSecret  string                  `json:"client_secret,omitempty"`
	FailureReason string                  `json:"failure_reason,omitempty"`
	CreatedAt     time.Time               `json:"created_at"`
	UpdatedAt     time.Time               `json:"updated_at"`
}

// refundBodyJSON is the JSON shape of a Refund.
type refundJSON struct {
	ID          string                 `json:"id"`
	OrderID     string                 `json:"order_id"`
	Amount      money                  `json:"amount"`
	Status      boxoffice.RefundStatus `json:"status"`
	Reason      string                 `json:"reason"`
	Lines       []refundLineJSON       `json:"lines"`
	TicketIDs   []string               `json:"ticket_ids"`
	ByOrganizer bool                   `json:"by_organizer"`
	Automatic   bool                   `json:"automatic"`
	Attempts    int                    `json:"attempts"`
	LastError   string                 `json:"last_error,omitempty"`
	CreatedAt   time.Time              `json:"created_at"`
	UpdatedAt   time.Time              `json:"updated_at"`
}

type refundLineJSON struct {
	TierID   string `json:"tier_id"`
	Quantity int    `json:"quantity"`
}

func orderOf(o *boxoffice.Order) orderBody {
	out := orderBody{
		ID: o.ID, EventID: o.EventID, Status: o.Status, Email: o.Email, Lines: make([]orderLineBody, len(o.Lines)),
		Total: moneyOf(o.Total), Refunded: moneyOf(o.Refunded), HoldExpiresAt: o.HoldExpiresAt,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, PaidAt: o.PaidAt,
	}
	for i, l := range o.Lines {
		b := orderLineBody{TierID: l.TierID, Quantity: l.Quantity, UnitPrice: moneyOf(l.UnitPrice),
			Amount: moneyOf(l.Amount), Refunded: l.Refunded, Attendees: make([]attendee, len(l.Attendees))}
		for j, a := range l.Attendees {
			b.Attendees[j] = attendee(a)
		}
		out.Lines[i] = b
	}
	if o.Payment != nil {
		p := paymentOf(o.Payment)
		out.Payment = &p
	}
	return out
}

func paymentOf(p *boxoffice.Payment) paymentBody {
	out := paymentBody{ID: p.ID, Provider: p.Provider, Status: p.Status, Amount: moneyOf(p.Amount),
		FailureReason: p.FailureReason, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if p.Status == boxoffice.PaymentRequiresAction {
		out.ClientSecret = p.ClientSecret
	}
	return out
}

func refundOf(r *boxoffice.Refund) refundJSON {
	out := refundJSON{ID: r.ID, OrderID: r.OrderID, Amount: moneyOf(r.Amount), Status: r.Status, Reason: r.Reason,
		Lines: make([]refundLineJSON, len(r.Lines)), TicketIDs: r.TicketIDs, ByOrganizer: r.ByOrganizer, Automatic: r.Automatic,
		Attempts: r.Attempts, LastError: r.LastError, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	for i, l := range r.Lines {
		out.Lines[i] = refundLineJSON(l)
	}
	if out.TicketIDs == nil {
		out.TicketIDs = []string{}
	}
	return out
}

func (s *server) handleCreateOrder(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	idem, body, err := readIdempotent(w, r, false)
	if err != nil {
		return err
	}
	var req orderRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	in := boxoffice.OrderInput{EventID: eventID, Email: req.Email, AdmissionToken: r.Header.Get("Admission-Token"),
		IdempotencyKey: idem.Key, Fingerprint: idem.Fingerprint}
	for _, l := range req.Lines {
		li := boxoffice.OrderLineInput{TierID: l.TierID, Quantity: l.Quantity}
		for _, a := range l.Attendees {
			li.Attendees = append(li.Attendees, boxoffice.Attendee(a))
		}
		in.Lines = append(in.Lines, li)
	}
	o, err := s.orders.CreateOrder(r.Context(), c, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orders/"+o.ID)
	return writeJSON(w, r, http.StatusCreated, orderOf(o))
}

func (s *server) handleGetOrder(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	o, err := s.orders.Order(r.Context(), c, id)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, orderOf(o))
}

func (s *server) handleListOrders(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	status := boxoffice.OrderStatus(r.URL.Query().Get("status"))
	if status != "" && !status.Valid() {
		ve.Add("status", "must be pending, paid, expired, cancelled, refunded or partially_refunded")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	p, err := s.orders.ListOrders(r.Context(), c, boxoffice.OrderQuery{Status: status, Limit: limit, Cursor: cursor})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, pageOf(mapPage(p, orderOf)))
}

func (s *server) handleCancelOrder(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, idem, err := readCancel(w, r)
	if err != nil {
		return err
	}
	o, err := s.orders.CancelOrder(r.Context(), c, id, idem)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, orderOf(o))
}

// readOptional reads the id in the path and decodes the request's body,
// which may be left out, into v.
func readOptional(w http.ResponseWriter, r *http.Request, v any) (string, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return "", err
	}
	body, err := readBody(w, r, true)
	if err != nil || len(body) == 0 {
		return id, err
	}
	return id, decodeJSON(body, v)
}

// paymentRequest is the body of POST /api/v1/orders/{id}/payments.
type paymentRequest struct {
	PaymentToken string `json:"payment_token"`
}

func (s *server) handleStartPayment(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var req paymentRequest
	id, err := readOptional(w, r, &req)
	if err != nil {
		return err
	}
	p, _, err := s.orders.StartPayment(r.Context(), c, id, req.PaymentToken)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusCreated, paymentOf(p))
}

// refundRequest is the body of POST /api/v1/orders/{id}/refunds. Without
// lines, everything the order still holds is refunded.
type refundRequest struct {
	TicketIDs []string         `json:"ticket_ids"`
	Lines     []refundLineJSON `json:"lines"`
	Reason    string           `json:"reason"`
}

func (s *server) handleRefundOrder(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var req refundRequest
	id, err := readOptional(w, r, &req)
	if err != nil {
		return err
	}
	in := boxoffice.RefundInput{TicketIDs: req.TicketIDs, Reason: req.Reason}
	if req.Lines != nil {
		in.Lines = make([]boxoffice.RefundLine, len(req.Lines))
		for i, l := range req.Lines {
			in.Lines[i] = boxoffice.RefundLine(l)
		}
	}
	rf, err := s.orders.RefundOrder(r.Context(), c, id, in)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusCreated, refundOf(rf))
}

func (s *server) handleListRefunds(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rs, err := s.orders.Refunds(r.Context(), c, id)
	if err != nil {
		return err
	}
	out := struct {
		Items      []refundJSON `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}{Items: make([]refundJSON, len(rs))}
	for i, rf := range rs {
		out.Items[i] = refundOf(rf)
	}
	return writeJSON(w, r, http.StatusOK, out)
}

// maxWebhookBody caps a provider callback (Stripe's events are a few KiB).
const maxWebhookBody = 256 << 10

// handleWebhook takes a payment provider's signed callback. It answers 200
// once the event is applied (or was before), 401 for a bad signature, 404
// for a provider that is not configured, and 503 when the database is
// away, so that the provider delivers it again.
func (s *server) handleWebhook(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	provider := r.PathValue("provider")
	body, err := readAtMost(w, r, maxWebhookBody)
	if err != nil {
		return bodyError(err)
	}
	if err := s.orders.HandleWebhook(r.Context(), provider, body, r.Header.Get); err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, struct {
		Received bool `json:"received"`
	}{true})
}
