package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"boxoffice"
)

// access says who may call a route.
type access int

const (
	// public routes need no access token.
	public access = iota
	// authed routes need a valid access token; admin checks are the
	// service's (it answers ErrForbidden).
	authed
	// linkable routes need a valid access token unless the request
	// carries a signed link (a sig query parameter), which the service
	// checks instead.
	linkable
	// backOffice routes are authed routes that an organizer's API key
	// (Bearer bo_…) may call as well; on every other route a key is
	// refused (403).
	backOffice
	// optional routes are public; an access token or API key, when valid,
	// identifies the caller (an organizer's member sees its drafts), and
	// an invalid one is ignored.
	optional
)

// handlerFunc is a route's handler. It writes a successful response itself
// and returns an error, without having written anything, for every failure;
// the error becomes a problem response in one place (writeError). c is the
// authenticated caller on authed routes and a Caller with only the client's
// address on public ones.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error

// route is one line of the API: a ServeMux pattern ("METHOD /path/{wildcard}"),
// who may call it, and its handler.
type route struct {
	pattern string
	access  access
	handle  handlerFunc
}

// streamPattern is the route that stays open (server-sent events); the
// request timeout does not apply to it, nor to exportPattern's export,
// which bounds each of its steps itself.
const streamPattern = "GET /api/v1/events/{id}/queue/stream"

// routes is the whole API. The OpenAPI document api/openapi.json describes
// exactly these operations (a test keeps the two equal).
func (s *server) routes() []route {
	return []route{
		// Users and auth.
		{"POST /api/v1/users", public, s.handleSignUp},
		{"POST /api/v1/auth/token", public, s.handleCreateToken},
		{"POST /api/v1/auth/refresh", public, s.handleRefresh},
		{"GET /api/v1/users/me", authed, s.handleMe},
		{"GET /api/v1/users/me/organizers", authed, s.handleMyOrganizers},
		{"POST /api/v1/users/me/sign-out-everywhere", authed, s.handleSignOutEverywhere},
		{"PATCH /api/v1/users/{id}", authed, s.handleUpdateUser},
		{"POST /api/v1/users/me/email/verify", authed, s.handleVerifyEmail},
		{"POST /api/v1/users/me/email/verification", authed, s.handleResendVerification},
		{"POST /api/v1/auth/password-reset", public, s.handlePasswordReset},
		{"POST /api/v1/auth/password-reset/confirm", public, s.handlePasswordResetConfirm},

		// Events.
		{"GET /api/v1/events", public, s.handleListEvents},
		{"POST /api/v1/events", backOffice, s.handleCreateEvent},
		{"GET /api/v1/events/{id}", optional, s.handleGetEvent},
		{"PATCH /api/v1/events/{id}", backOffice, s.handleUpdateEvent},
		{"DELETE /api/v1/events/{id}", backOffice, s.handleDeleteEvent},
		{"GET /api/v1/events/{id}/sales", backOffice, s.handleSales},
		{"POST /api/v1/events/{id}/publish", backOffice, s.handlePublishEvent},
		{"POST /api/v1/events/{id}/cancel", backOffice, s.handleCancelEvent},
		{"GET /api/v1/events/{id}/attendees", backOffice, s.handleAttendees},
		{exportPattern, backOffice, s.handleAttendeesCSV},

		// Bookmarks.
		{"GET /api/v1/users/me/bookmarks", authed, s.handleListBookmarks},
		{"PUT /api/v1/users/me/bookmarks/{event_id}", authed, s.handlePutBookmark},
		{"DELETE /api/v1/users/me/bookmarks/{event_id}", authed, s.handleDeleteBookmark},

		// Waiting room.
		{"POST /api/v1/events/{id}/queue", authed, s.handleJoinQueue},
		{"GET /api/v1/events/{id}/queue", authed, s.handleQueueStatus},
		{"DELETE /api/v1/events/{id}/queue", authed, s.handleLeaveQueue},
		{streamPattern, authed, s.handleQueueStream},

		// Reservations.
		{"POST /api/v1/events/{id}/reservations", authed, s.handleCreateReservation},
		{"GET /api/v1/users/me/reservations", authed, s.handleListReservations},
		{"GET /api/v1/reservations/{id}", authed, s.handleGetReservation},
		{"PATCH /api/v1/reservations/{id}", authed, s.handleChangeQuantity},
		{"POST /api/v1/reservations/{id}/confirm", authed, s.handleConfirm},
		{"POST /api/v1/reservations/{id}/cancel", authed, s.handleCancel},

		// Orders and payments.
		{"POST /api/v1/events/{id}/orders", authed, s.handleCreateOrder},
		{"GET /api/v1/users/me/orders", authed, s.handleListOrders},
		{"GET /api/v1/orders/{id}", backOffice, s.handleGetOrder},
		{"POST /api/v1/orders/{id}/cancel", authed, s.handleCancelOrder},
		{"POST /api/v1/orders/{id}/payments", authed, s.handleStartPayment},
		{"POST /api/v1/orders/{id}/refunds", backOffice, s.handleRefundOrder},
		{"GET /api/v1/orders/{id}/refunds", backOffice, s.handleListRefunds},
		{"POST /api/v1/payments/webhooks/{provider}", public, s.handleWebhook},

		// Tickets.
		{"GET /api/v1/orders/{id}/tickets", authed, s.handleOrderTickets},
		{"GET /api/v1/orders/{id}/tickets.pdf", linkable, s.handleOrderPDF},
		{"GET /api/v1/tickets/{id}", authed, s.handleGetTicket},
		{"PATCH /api/v1/tickets/{id}", authed, s.handleRenameTicket},
		{"GET /api/v1/tickets/{id}/qr.png", authed, s.handleTicketQR},
		{"GET /api/v1/tickets/{id}/qr.svg", authed, s.handleTicketQR},
		{"GET /api/v1/tickets/{id}/ticket.pdf", linkable, s.handleTicketPDF},

		// The door.
		{"POST /api/v1/events/{id}/checkins", backOffice, s.handleCheckin},
		{"POST /api/v1/events/{id}/checkins/batch", backOffice, s.handleCheckinBatch},
		{"DELETE /api/v1/events/{id}/checkins/{ticket_id}", backOffice, s.handleUndoCheckin},
		{"GET /api/v1/events/{id}/checkins/conflicts", backOffice, s.handleCheckinConflicts},
		{"GET /api/v1/events/{id}/checkin-bundle", backOffice, s.handleCheckinBundle},
		{"GET /api/v1/events/{id}/gates", backOffice, s.handleGates},
		{"PUT /api/v1/events/{id}/gates/{name}", backOffice, s.handlePutGate},
		{"DELETE /api/v1/events/{id}/gates/{name}", backOffice, s.handleDeleteGate},
		{"GET /api/v1/events/{id}/staff", backOffice, s.handleListStaff},
		{"PUT /api/v1/events/{id}/staff/{user_id}", backOffice, s.handlePutStaff},
		{"DELETE /api/v1/events/{id}/staff/{user_id}", backOffice, s.handleDeleteStaff},

		// Organizers and teams.
		{"POST /api/v1/organizers", authed, s.handleCreateOrganizer},
		{"GET /api/v1/organizers/{id}", backOffice, s.handleGetOrganizer},
		{"GET /api/v1/organizers/{id}/events", backOffice, s.handleOrganizerEvents},
		{"GET /api/v1/organizers/{id}/members", backOffice, s.handleListMembers},
		{"PUT /api/v1/organizers/{id}/members/{user_id}", backOffice, s.handlePutMember},
		{"DELETE /api/v1/organizers/{id}/members/{user_id}", backOffice, s.handleDeleteMember},
		{"GET /api/v1/organizers/{id}/api-keys", backOffice, s.handleListAPIKeys},
		{"POST /api/v1/organizers/{id}/api-keys", backOffice, s.handleCreateAPIKey},
		{"DELETE /api/v1/organizers/{id}/api-keys/{key_id}", backOffice, s.handleDeleteAPIKey},
		{"GET /api/v1/organizers/{id}/audit", backOffice, s.handleAuditLog},

		// Organizers' webhooks.
		{"POST /api/v1/organizers/{id}/webhooks", backOffice, s.handleCreateWebhook},
		{"GET /api/v1/organizers/{id}/webhooks", backOffice, s.handleListWebhooks},
		{"GET /api/v1/organizers/{id}/webhooks/{wid}", backOffice, s.handleGetWebhook},
		{"PATCH /api/v1/organizers/{id}/webhooks/{wid}", backOffice, s.handleUpdateWebhook},
		{"DELETE /api/v1/organizers/{id}/webhooks/{wid}", backOffice, s.handleDeleteWebhook},
		{"GET /api/v1/organizers/{id}/webhooks/{wid}/deliveries", backOffice, s.handleListDeliveries},
		{"POST /api/v1/organizers/{id}/webhooks/{wid}/deliveries/{did}/retry", backOffice, s.handleRetryDelivery},

		// Operations.
		{"GET /healthz", public, s.handleHealth},
		{"GET /readyz", public, s.handleReady},
		{"GET /api/v1/openapi.json", public, s.handleOpenAPI},
	}
}

// catchAllPattern matches every request no route matches.
const catchAllPattern = "/"

// probeMethods are the methods tried to tell 405 from 404 (HEAD is served by
// GET patterns).
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// wrap adapts a route to an http.Handler: it authenticates the caller when
// the route needs it, runs the handler and turns its error into a problem.
func (s *server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.timeout > 0 && rt.pattern != streamPattern && rt.pattern != exportPattern {
			ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		var c boxoffice.Caller
		need := rt.access == authed || rt.access == backOffice || rt.access == linkable && !r.URL.Query().Has("sig")
		if need || rt.access == optional && hasCredentials(r) {
			var err error
			c, err = s.caller(r, rt.access == backOffice || rt.access == optional)
			if err != nil && rt.access == optional {
				c, err = boxoffice.Caller{}, nil // the public view
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if info := infoFrom(r.Context()); info != nil {
				info.userID = c.UserID
				if c.Key != nil {
					info.userID = "key:" + c.Key.KeyID
				}
			}
			// Whatever an authenticated caller is answered is theirs:
			// no shared cache may keep it.
			w.Header().Set("Cache-Control", "no-store")
		}
		c.Addr = clientAddr(r, s.proxies)
		if err := rt.handle(w, r, c); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// hasCredentials reports whether a request carries a bearer token or a
// session cookie.
func hasCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	ck, err := r.Cookie(AccessCookie)
	return err == nil && ck.Value != ""
}

// caller authenticates a request: an organizer's API key when the bearer
// token has the key prefix (on routes that take keys), else an access
// token that must still stand for its user.
func (s *server) caller(r *http.Request, keys bool) (boxoffice.Caller, error) {
	token, err := bearerToken(r)
	if err != nil && !errors.Is(err, boxoffice.ErrUnauthenticated) {
		return boxoffice.Caller{}, err // a session cookie without its CSRF token
	}
	ok := err == nil
	if ok && strings.HasPrefix(token, boxoffice.APIKeyPrefix) {
		if !keys {
			return boxoffice.Caller{}, boxoffice.Errorf(boxoffice.CodeForbidden, "API keys may call only the back office")
		}
		if s.organizers == nil {
			return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
		}
		return s.organizers.KeyCaller(r.Context(), token)
	}
	c, err := s.authenticate(token, ok)
	if err == nil && s.accounts != nil {
		// The token is genuine; does it still stand for its user, and
		// with which role?
		c, err = s.accounts.CurrentCaller(r.Context(), c)
	}
	return c, err
}

// handleUnmatched answers requests that match no route: 405 with an Allow
// header when the path exists with other methods, else 404.
func (s *server) handleUnmatched(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range probeMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host}
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != catchAllPattern {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		s.writeError(w, r, boxoffice.ErrNotFound)
		return
	}
	slices.Sort(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeError(w, r, boxoffice.Errorf(codeMethodNotAllowed, "%s is not allowed here; use %s", r.Method, strings.Join(allowed, ", ")))
}
