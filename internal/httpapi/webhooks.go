package httpapi

import (
	"net/http"
	"time"

	"boxoffice"
)

// endpointBody is the JSON shape of a webhook endpoint. Secret is shown
// once, in the answer to its creation.
type endpointBody struct {
	ID             string               `json:"id"`
	OrganizerID    string               `json:"organizer_id"`
	URL            string               `json:"url"`
	Events         []boxoffice.HookType `json:"events"`
	Enabled        bool                 `json:"enabled"`
	Secret         string               `json:"secret,omitempty"`
	Failures       int                  `json:"failures"`
	FailingSince   *time.Time           `json:"failing_since"`
	DisabledReason string               `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time            `json:"created_at"`
	UpdatedAt      time.Time            `json:"updated_at"`
}

func endpointOf(ep *boxoffice.WebhookEndpoint) endpointBody {
	return endpointBody{
		ID: ep.ID, OrganizerID: ep.OrganizerID, URL: ep.URL, Events: ep.Events, Enabled: ep.Enabled,
		Failures: ep.Failures, FailingSince: ep.FailingSince, DisabledReason: ep.DisabledReason,
		CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt,
	}
}

// deliveryBody is the JSON shape of a webhook delivery.
type deliveryBody struct {
	ID             string                   `json:"id"`
	EndpointID     string                   `json:"endpoint_id"`
	WebhookID      string                   `json:"webhook_id"`
	Type           boxoffice.HookType       `json:"type"`
	Status         boxoffice.DeliveryStatus `json:"status"`
	Attempts       int                      `json:"attempts"`
	ResponseStatus int                      `json:"response_status,omitempty"`
	Error          string                   `json:"error,omitempty"`
	DurationMS     float64                  `json:"duration_ms"`
	LastAttemptAt  *time.Time               `json:"last_attempt_at"`
	NextAttemptAt  *time.Time               `json:"next_attempt_at"`
	CreatedAt      time.Time                `json:"created_at"`
}

func deliveryOf(d *boxoffice.WebhookDelivery) deliveryBody {
	return deliveryBody{
		ID: d.ID, EndpointID: d.EndpointID, WebhookID: d.MessageID, Type: d.Type, Status: d.Status,
		Attempts: d.Attempts, ResponseStatus: d.ResponseStatus, Error: d.Error,
		DurationMS: float64(d.Duration.Microseconds()) / 1000, LastAttemptAt: d.LastAttemptAt,
		NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt,
	}
}

// endpointRequest is the body of POST …/webhooks and PATCH …/webhooks/{wid}.
type endpointRequest struct {
	URL     *string              `json:"url"`
	Events  []boxoffice.HookType `json:"events"`
	Enabled *bool                `json:"enabled"`
}

func readEndpointRequest(w http.ResponseWriter, r *http.Request) (boxoffice.WebhookEndpointInput, error) {
	var req endpointRequest
	if err := readJSON(w, r, &req); err != nil {
		return boxoffice.WebhookEndpointInput{}, err
	}
	return boxoffice.WebhookEndpointInput{URL: req.URL, Events: req.Events, Enabled: req.Enabled}, nil
}

// organizerAndEndpoint reads the organizer's and (when wid is true) the
// endpoint's IDs in the path.
func organizerAndEndpoint(r *http.Request, wid bool) (org, ep string, err error) {
	if org, err = pathID(r, "id"); err != nil || !wid {
		return org, "", err
	}
	ep, err = pathID(r, "wid")
	return org, ep, err
}

func (s *server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, _, err := organizerAndEndpoint(r, false)
	if err != nil {
		return err
	}
	in, err := readEndpointRequest(w, r)
	if err != nil {
		return err
	}
	ep, err := s.webhooks.CreateEndpoint(r.Context(), c, org, in)
	if err != nil {
		return err
	}
	out := endpointOf(ep)
	out.Secret = ep.Secret
	w.Header().Set("Location", "/api/v1/organizers/"+org+"/webhooks/"+ep.ID)
	return writeJSON(w, r, http.StatusCreated, out)
}

func (s *server) handleListWebhooks(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, _, err := organizerAndEndpoint(r, false)
	if err != nil {
		return err
	}
	eps, err := s.webhooks.Endpoints(r.Context(), c, org)
	if err != nil {
		return err
	}
	out := itemsBody[endpointBody]{Items: make([]endpointBody, len(eps))}
	for i, ep := range eps {
		out.Items[i] = endpointOf(ep)
	}
	return writeJSON(w, r, http.StatusOK, out)
}

func (s *server) handleGetWebhook(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, id, err := organizerAndEndpoint(r, true)
	if err != nil {
		return err
	}
	ep, err := s.webhooks.Endpoint(r.Context(), c, org, id)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, endpointOf(ep))
}

func (s *server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, id, err := organizerAndEndpoint(r, true)
	if err != nil {
		return err
	}
	in, err := readEndpointRequest(w, r)
	if err != nil {
		return err
	}
	ep, err := s.webhooks.UpdateEndpoint(r.Context(), c, org, id, in)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, endpointOf(ep))
}

func (s *server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, id, err := organizerAndEndpoint(r, true)
	if err != nil {
		return err
	}
	if err := s.webhooks.DeleteEndpoint(r.Context(), c, org, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) handleListDeliveries(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, id, err := organizerAndEndpoint(r, true)
	if err != nil {
		return err
	}
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	if err := ve.Err(); err != nil {
		return err
	}
	q := boxoffice.DeliveryQuery{Status: boxoffice.DeliveryStatus(r.URL.Query().Get("status")), Limit: limit, Cursor: cursor}
	p, err := s.webhooks.Deliveries(r.Context(), c, org, id, q)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, pageOf(mapPage(p, deliveryOf)))
}

func (s *server) handleRetryDelivery(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	org, id, err := organizerAndEndpoint(r, true)
	if err != nil {
		return err
	}
	did, err := pathID(r, "did")
	if err != nil {
		return err
	}
	d, err := s.webhooks.RetryDelivery(r.Context(), c, org, id, did)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusAccepted, deliveryOf(d))
}
