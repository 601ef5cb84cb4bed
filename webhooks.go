package boxoffice

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is outgoing webhooks: an organizer's endpoints, the messages
// boxoffice sends them (signed as the Standard Webhooks specification
// says, https://www.standardwebhooks.com), and the rules of delivery:
//
//   - a message is written to the webhook outbox in the same transaction
//     as the change it reports (an order paid or refunded, a ticket
//     checked in), so a change is never without its message; it is then
//     fanned out to one delivery per enabled endpoint of the organizer
//     subscribed to its type, created no later than the message;
//   - a delivery succeeds when the endpoint answers 2xx within
//     WebhookTimeout (redirects are not followed); otherwise it is tried
//     again after WebhookRetryDelay (5 s, 30 s, 2 min, 10 min, 30 min,
//     1 h, 3 h, 6 h, 12 h, each ±20 %) and given up after
//     MaxWebhookAttempts attempts (about a day after the first);
//   - an endpoint whose attempts have all failed for WebhookDisableAfter
//     (24 h, at least WebhookDisableMinFailures failures) is disabled; its
//     waiting deliveries are paused until it is enabled again;
//   - a manual retry puts a delivery back in the queue now, whatever its
//     state; it is sent with the same webhook-id, so receivers that
//     de-duplicate by it see it once.
//
// Delivery is at least once: an instance that dies mid-delivery leaves its
// claimed deliveries to another after their lease.

// HookType is the type of a webhook message.
type HookType string

// The webhook message types.
const (
	HookOrderPaid       HookType = "order.paid"
	HookOrderRefunded   HookType = "order.refunded"
	HookTicketCheckedIn HookType = "ticket.checked_in"
	HookEventSoldOut    HookType = "event.sold_out"
	HookEventCancelled  HookType = "event.cancelled"
)

// HookTypes lists the webhook message types, in the order the API shows
// them.
var HookTypes = []HookType{HookOrderPaid, HookOrderRefunded, HookTicketCheckedIn, HookEventSoldOut, HookEventCancelled}

// Valid reports whether t is one of the webhook message types.
func (t HookType) Valid() bool { return slices.Contains(HookTypes, t) }

// Webhook limits and delivery parameters.
const (
	// MaxWebhookEndpoints caps the endpoints of one organizer.
	MaxWebhookEndpoints = 20
	// maxWebhookURL caps an endpoint's URL.
	maxWebhookURL = 2000
	// WebhookTimeout bounds one delivery attempt: the endpoint must answer
	// 2xx within it.
	WebhookTimeout = 10 * time.Second
	// MaxWebhookAttempts is how many attempts a delivery gets before it is
	// given up (a manual retry grants one more each).
	MaxWebhookAttempts = 10
	// WebhookDisableAfter and WebhookDisableMinFailures: an endpoint whose
	// attempts have failed without a success in between for at least
	// WebhookDisableAfter, and at least WebhookDisableMinFailures times,
	// is disabled.
	WebhookDisableAfter       = 24 * time.Hour
	WebhookDisableMinFailures = 5
	// WebhookRetention is how long a finished delivery (succeeded or
	// given up) stays in the delivery log, and a message that no delivery
	// needs any more in the outbox, before they are purged.
	WebhookRetention = 30 * 24 * time.Hour
	// webhookSecretBytes is the size of an endpoint's signing key.
	webhookSecretBytes = 32
	// webhookSecretPrefix marks a signing secret, as the specification
	// says.
	webhookSecretPrefix = "whsec_"
)

// webhookRetryDelays is the wait after the n-th failed attempt (n from 1).
var webhookRetryDelays = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
}

// WebhookRetryDelay returns how long to wait after a delivery's
// attempts-th failed attempt before the next one, jittered by ±20 % with
// jitter (a number in [0, 1)), and false when the delivery has had
// MaxWebhookAttempts and is given up.
func WebhookRetryDelay(attempts int, jitter float64) (time.Duration, bool) {
	if attempts < 1 || attempts >= MaxWebhookAttempts {
		return 0, false
	}
	d := webhookRetryDelays[min(attempts, len(webhookRetryDelays))-1]
	return time.Duration(float64(d) * (0.8 + 0.4*jitter)), true
}

// WebhookEndpoint is an organizer's receiver of webhook messages.
type WebhookEndpoint struct {
	ID          string
	OrganizerID string
	URL         string
	// Events are the message types it receives.
	Events []HookType
	// Secret signs its messages: "whsec_" and the base64 of the key. It
	// is shown once, when the endpoint is created.
	Secret  string
	Enabled bool
	// Failures counts the attempts that failed since the last success;
	// FailingSince is the first of them (nil after a success).
	Failures     int
	FailingSince *time.Time
	// DisabledReason says why boxoffice disabled it ("" when enabled, or
	// disabled by the organizer).
	DisabledReason string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Subscribes reports whether the endpoint receives messages of type t now.
func (ep *WebhookEndpoint) Subscribes(t HookType) bool {
	return ep.Enabled && slices.Contains(ep.Events, t)
}

// NewWebhookSecret returns a fresh signing secret.
func NewWebhookSecret() string {
	b := make([]byte, webhookSecretBytes)
	_, _ = rand.Read(b)
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// WebhookEndpointInput creates or changes an endpoint; nil fields are left
// as they are (on create: URL and Events are required, Enabled defaults to
// true).
type WebhookEndpointInput struct {
	URL     *string
	Events  []HookType
	Enabled *bool
}

// checkWebhookURL validates an endpoint's URL: absolute https with a host
// name or a public address, no credentials or fragment. When insecure is
// true (tests and local development), http to loopback hosts is accepted
// too, and so are private addresses. The deliverer refuses to connect to a
// private address anyway unless insecure is set, whatever a name resolves
// to.
func checkWebhookURL(v *ValidationError, raw string, insecure bool) {
	if raw == "" || len(raw) > maxWebhookURL {
		v.Add("url", "must be an https URL of at most %d characters", maxWebhookURL)
		return
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		v.Add("url", "must be an absolute https URL")
		return
	}
	if u.User != nil || u.Fragment != "" {
		v.Add("url", "must not carry credentials or a fragment")
		return
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure || !loopbackHost(host) {
			v.Add("url", "must use https")
			return
		}
	default:
		v.Add("url", "must use https")
		return
	}
	if ip := net.ParseIP(host); ip != nil && !insecure && !PublicIP(ip) {
		v.Add("url", "must not point to a private, loopback or link-local address")
	}
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PublicIP reports whether ip is an address webhooks may be delivered to:
// not loopback, private, link-local, multicast or unspecified.
func PublicIP(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified())
}

// checkHookTypes validates an endpoint's message types and returns them
// without repeats, in HookTypes order.
func checkHookTypes(v *ValidationError, ts []HookType) []HookType {
	if len(ts) == 0 {
		v.Add("events", "must name at least one of %s", hookTypeList())
		return nil
	}
	var out []HookType
	for _, want := range HookTypes {
		if slices.Contains(ts, want) {
			out = append(out, want)
		}
	}
	for _, t := range ts {
		if !t.Valid() {
			v.Add("events", "%q is not one of %s", t, hookTypeList())
			return nil
		}
	}
	return out
}

func hookTypeList() string {
	s := make([]string, len(HookTypes))
	for i, t := range HookTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// NewWebhookEndpoint validates in and returns a new enabled endpoint of the
// organizer with a fresh secret, or a *ValidationError.
func NewWebhookEndpoint(organizerID string, in WebhookEndpointInput, insecure bool, now time.Time) (*WebhookEndpoint, error) {
	var v ValidationError
	if in.URL == nil {
		v.Add("url", "is required")
	} else {
		checkWebhookURL(&v, *in.URL, insecure)
	}
	events := checkHookTypes(&v, in.Events)
	if err := v.Err(); err != nil {
		return nil, err
	}
	ep := &WebhookEndpoint{
		ID: NewID(), OrganizerID: organizerID, URL: *in.URL, Events: events, Secret: NewWebhookSecret(),
		Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now,
	}
	return ep, nil
}

// Change applies in to ep at now, or returns a *ValidationError changing
// nothing. Enabling an endpoint clears its failures.
func (ep *WebhookEndpoint) Change(in WebhookEndpointInput, insecure bool, now time.Time) error {
	var v ValidationError
	if in.URL != nil {
		checkWebhookURL(&v, *in.URL, insecure)
	}
	var events []HookType
	if in.Events != nil {
		events = checkHookTypes(&v, in.Events)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if in.URL != nil {
		ep.URL = *in.URL
	}
	if events != nil {
		ep.Events = events
	}
	if in.Enabled != nil && *in.Enabled != ep.Enabled {
		ep.Enabled = *in.Enabled
		ep.Failures, ep.FailingSince, ep.DisabledReason = 0, nil, ""
	}
	ep.UpdatedAt = now
	return nil
}

// WebhookMessage is one message to an organizer's endpoints. Its ID is the
// webhook-id header: the same on every attempt and every endpoint, so
// receivers de-duplicate by it.
type WebhookMessage struct {
	ID          string
	OrganizerID string
	Type        HookType
	// Body is the JSON sent: {"type", "timestamp", "data"}.
	Body      []byte
	CreatedAt time.Time
}

// NewWebhookMessage returns a message of type t with data (a value that
// encodes to a JSON object) created at now.
func NewWebhookMessage(organizerID string, t HookType, data any, now time.Time) *WebhookMessage {
	body, err := json.Marshal(struct {
		Type      HookType `json:"type"`
		Timestamp string   `json:"timestamp"`
		Data      any      `json:"data"`
	}{t, now.UTC().Format(time.RFC3339), data})
	if err != nil {
		panic("boxoffice: a webhook payload that does not encode: " + err.Error())
	}
	return &WebhookMessage{ID: "msg_" + NewID(), OrganizerID: organizerID, Type: t, Body: body, CreatedAt: now}
}

// SignWebhook returns the webhook-signature header of a message: "v1," and
// the base64 of the HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with
// the secret's key (the base64 after "whsec_").
func SignWebhook(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, webhookSecretPrefix))
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// DeliveryStatus is the state of a delivery.
type DeliveryStatus string

// The delivery states.
const (
	// DeliveryPending: not attempted yet, or queued again by a retry.
	DeliveryPending DeliveryStatus = "pending"
	// DeliverySucceeded: the endpoint answered 2xx.
	DeliverySucceeded DeliveryStatus = "succeeded"
	// DeliveryFailed: the last attempt failed; another is scheduled (or
	// paused while the endpoint is disabled).
	DeliveryFailed DeliveryStatus = "failed"
	// DeliveryGivenUp: every attempt failed; only a manual retry sends it
	// again.
	DeliveryGivenUp DeliveryStatus = "given_up"
)

// WebhookDelivery is one message to one endpoint, and how its attempts
// went.
type WebhookDelivery struct {
	ID          string
	EndpointID  string
	MessageID   string
	OrganizerID string
	// Type is the message's type (read with the delivery).
	Type     HookType
	Status   DeliveryStatus
	Attempts int
	// ResponseStatus is the HTTP status of the last attempt (0 when none
	// came back); Error says why it failed; Duration is how long it took.
	ResponseStatus int
	Error          string
	Duration       time.Duration
	LastAttemptAt  *time.Time
	// NextAttemptAt is when it is sent (again): nil once it succeeded or
	// was given up, and while its endpoint is disabled; the end of a
	// deliverer's lease while one holds it.
	NextAttemptAt *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// WebhookJob is a claimed delivery with what sending it needs.
type WebhookJob struct {
	Delivery *WebhookDelivery
	Endpoint *WebhookEndpoint
	Message  *WebhookMessage
}

// DeliveryFilter selects an endpoint's deliveries, newest first.
type DeliveryFilter struct {
	EndpointID string
	Status     DeliveryStatus // "" = all
	BeforeID   string         // keyset cursor: only IDs < BeforeID
	Limit      int
}

// FanOut plans the deliveries of messages to endpoints (all enabled
// endpoints of the messages' organizers): one pending delivery, due at
// now, per message and endpoint of its organizer that subscribes to its
// type and was created no later than the message.
func FanOut(msgs []*WebhookMessage, eps []*WebhookEndpoint, now time.Time) []*WebhookDelivery {
	var out []*WebhookDelivery
	for _, m := range msgs {
		for _, ep := range eps {
			if ep.OrganizerID != m.OrganizerID || !ep.Subscribes(m.Type) || ep.CreatedAt.After(m.CreatedAt) {
				continue
			}
			due := now
			out = append(out, &WebhookDelivery{
				ID: NewID(), EndpointID: ep.ID, MessageID: m.ID, OrganizerID: m.OrganizerID, Type: m.Type,
				Status: DeliveryPending, NextAttemptAt: &due, CreatedAt: now, UpdatedAt: now,
			})
		}
	}
	return out
}

// AttemptOutcome is what one delivery attempt got.
type AttemptOutcome struct {
	// Status is the HTTP status (0 when no answer came).
	Status int
	// Err is why it failed without an answer (a timeout, a refused
	// connection).
	Err      error
	At       time.Time
	Duration time.Duration
}

// Succeeded reports whether the attempt delivered the message: an answer
// 2xx.
func (o AttemptOutcome) Succeeded() bool { return o.Err == nil && o.Status >= 200 && o.Status < 300 }

// Attempted records an attempt of d: succeeded, or failed with the next
// attempt scheduled after WebhookRetryDelay (jitter as there), or given up.
func (d *WebhookDelivery) Attempted(o AttemptOutcome, jitter float64) {
	d.Attempts++
	at := o.At
	d.LastAttemptAt, d.ResponseStatus, d.Duration, d.UpdatedAt = &at, o.Status, o.Duration, o.At
	switch {
	case o.Succeeded():
		d.Status, d.Error, d.NextAttemptAt = DeliverySucceeded, "", nil
		return
	case o.Err != nil:
		d.Error = o.Err.Error()
	default:
		d.Error = "the endpoint answered " + strconv.Itoa(o.Status)
	}
	if len(d.Error) > 500 {
		d.Error = d.Error[:500]
	}
	if wait, ok := WebhookRetryDelay(d.Attempts, jitter); ok {
		next := o.At.Add(wait)
		d.Status, d.NextAttemptAt = DeliveryFailed, &next
		return
	}
	d.Status, d.NextAttemptAt = DeliveryGivenUp, nil
}

// Requeue puts d back in the queue now (a manual retry).
func (d *WebhookDelivery) Requeue(now time.Time) {
	d.Status, d.NextAttemptAt, d.UpdatedAt = DeliveryPending, &now, now
	if d.Attempts >= MaxWebhookAttempts {
		// One more attempt: a failure gives it up again.
		d.Attempts = MaxWebhookAttempts - 1
	}
}

// RecordAttempts applies the attempts of ds (deliveries to ep, attempted
// as recorded by Attempted) to ep's failure count at now, and disables ep
// when its attempts have failed for WebhookDisableAfter. While ep is
// disabled, the deliveries waiting for another attempt are paused
// (NextAttemptAt nil). It reports whether it disabled ep.
func (ep *WebhookEndpoint) RecordAttempts(ds []*WebhookDelivery, now time.Time) bool {
	ordered := slices.Clone(ds)
	slices.SortStableFunc(ordered, func(a, b *WebhookDelivery) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	disabled := false
	for _, d := range ordered {
		if d.Status == DeliverySucceeded {
			ep.Failures, ep.FailingSince = 0, nil
			continue
		}
		ep.Failures++
		if ep.FailingSince == nil {
			at := d.UpdatedAt
			ep.FailingSince = &at
		}
	}
	if ep.Enabled && ep.Failures >= WebhookDisableMinFailures && ep.FailingSince != nil &&
		now.Sub(*ep.FailingSince) >= WebhookDisableAfter {
		ep.Enabled, disabled = false, true
		ep.DisabledReason = "every delivery attempt failed since " + ep.FailingSince.UTC().Format(time.RFC3339) +
			" (" + strconv.Itoa(ep.Failures) + " attempts)"
	}
	if len(ds) > 0 {
		ep.UpdatedAt = now
	}
	if !ep.Enabled {
		for _, d := range ds {
			if d.Status == DeliveryFailed || d.Status == DeliveryPending {
				d.NextAttemptAt = nil
			}
		}
	}
	return disabled
}

// jitter returns a number in [0, 1) for WebhookRetryDelay.
func jitter() float64 { return mrand.Float64() }

// Webhook payloads: the data of each message type.

// orderPaidData is the data of order.paid.
func orderPaidData(o *Order, email string) map[string]any {
	lines := make([]map[string]any, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = map[string]any{"tier_id": l.TierID, "quantity": l.Quantity, "unit_price": moneyData(l.UnitPrice)}
	}
	d := map[string]any{
		"order_id": o.ID, "event_id": o.EventID, "user_id": o.UserID, "email": email, "status": o.Status,
		"total": moneyData(o.Total), "tickets": o.Tickets(), "lines": lines, "payment_id": o.PaidBy,
	}
	if o.PaidAt != nil {
		d["paid_at"] = o.PaidAt.UTC().Format(time.RFC3339Nano)
	}
	return d
}

// orderRefundedData is the data of order.refunded.
func orderRefundedData(o *Order, r *Refund) map[string]any {
	lines := make([]map[string]any, len(r.Lines))
	for i, l := range r.Lines {
		lines[i] = map[string]any{"tier_id": l.TierID, "quantity": l.Quantity}
	}
	ids := r.TicketIDs
	if ids == nil {
		ids = []string{}
	}
	return map[string]any{
		"order_id": o.ID, "event_id": o.EventID, "status": o.Status, "refund_id": r.ID, "amount": moneyData(r.Amount),
		"reason": r.Reason, "by_organizer": r.ByOrganizer, "lines": lines, "ticket_ids": ids,
		"refunded_total": moneyData(o.Refunded),
	}
}

// ticketCheckedInData is the data of ticket.checked_in.
func ticketCheckedInData(t *Ticket, s *Scan) map[string]any {
	return map[string]any{
		"ticket_id": t.ID, "order_id": t.OrderID, "event_id": t.EventID, "tier_id": t.TierID,
		"attendee_name": t.AttendeeName, "gate": s.Gate, "checked_in_at": s.ScannedAt.UTC().Format(time.RFC3339Nano),
		"offline": s.Offline,
	}
}

func moneyData(m Money) map[string]any {
	return map[string]any{"amount": m.Amount, "currency": m.Currency}
}

// EventCancelledMessage returns the event.cancelled message of an event
// cancelled at now with the organizer's reason. The cancellation writes it
// with Store.InsertWebhookMessages (in its own transaction when the store
// has one).
func EventCancelledMessage(e *Event, reason string, now time.Time) *WebhookMessage {
	return NewWebhookMessage(e.OrganizerOf(), HookEventCancelled, map[string]any{
		"event_id": e.ID, "title": e.Title, "starts_at": e.StartsAt.UTC().Format(time.RFC3339),
		"reason": reason, "cancelled_at": now.UTC().Format(time.RFC3339Nano),
	}, now)
}

// eventSoldOutMessage returns the event.sold_out message of an event whose
// tiers had no tickets left at now.
func eventSoldOutMessage(e *Event, s *Sales, now time.Time) *WebhookMessage {
	tiers := make([]map[string]any, len(s.Tiers))
	for i, t := range s.Tiers {
		tiers[i] = map[string]any{"tier_id": t.TierID, "capacity": t.Capacity, "held": t.Held, "sold": t.Confirmed}
	}
	m := NewWebhookMessage(e.OrganizerOf(), HookEventSoldOut, map[string]any{
		"event_id": e.ID, "title": e.Title, "tiers": tiers, "sold_out_at": now.UTC().Format(time.RFC3339Nano),
	}, now)
	// One per event: the store keeps the first message of an ID.
	m.ID = "msg_soldout_" + e.ID
	return m
}

// SoldOut reports whether no tier of the sales has a ticket left to hold.
func (s *Sales) SoldOut() bool {
	if len(s.Tiers) == 0 {
		return false
	}
	for _, t := range s.Tiers {
		if t.Capacity-t.Held-t.Confirmed > 0 {
			return false
		}
	}
	return true
}
