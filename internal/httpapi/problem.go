package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"boxoffice"
)

// problemTypePrefix starts every problem's type URI; the code follows.
const problemTypePrefix = "urn:boxoffice:problem:"

// Retry-After values, in seconds.
const (
	retryAfterRateLimited = 1
	retryAfterUnavailable = 5
)

// kind is how one code is answered.
type kind struct {
	status int
	title  string
}

// kinds maps every problem code to its HTTP status and title. It is the
// only place that decides a failure's status.
var kinds = map[boxoffice.Code]kind{
	codeMalformedJSON:                  {http.StatusBadRequest, "Malformed JSON"},
	codeIncompleteBody:                 {http.StatusBadRequest, "Incomplete body"},
	codeRequestTimeout:                 {http.StatusRequestTimeout, "Request timeout"},
	boxoffice.CodeUnauthenticated:      {http.StatusUnauthorized, "Unauthenticated"},
	boxoffice.CodeTokenExpired:         {http.StatusUnauthorized, "Token expired"},
	boxoffice.CodeInvalidCredentials:   {http.StatusUnauthorized, "Invalid credentials"},
	boxoffice.CodePaymentDeclined:      {http.StatusPaymentRequired, "Payment declined"},
	boxoffice.CodeForbidden:            {http.StatusForbidden, "Forbidden"},
	boxoffice.CodeNotAdmitted:          {http.StatusForbidden, "Not admitted"},
	boxoffice.CodeEmailNotVerified:     {http.StatusForbidden, "Email not verified"},
	boxoffice.CodeNotFound:             {http.StatusNotFound, "Not found"},
	codeMethodNotAllowed:               {http.StatusMethodNotAllowed, "Method not allowed"},
	boxoffice.CodeEmailTaken:           {http.StatusConflict, "Email taken"},
	boxoffice.CodeSoldOut:              {http.StatusConflict, "Sold out"},
	boxoffice.CodeLimitExceeded:        {http.StatusConflict, "Limit exceeded"},
	boxoffice.CodeSalesClosed:          {http.StatusConflict, "Sales closed"},
	boxoffice.CodeHoldExpired:          {http.StatusConflict, "Hold expired"},
	boxoffice.CodeInvalidState:         {http.StatusConflict, "Invalid state"},
	boxoffice.CodeIdempotencyKeyReused: {http.StatusConflict, "Idempotency key reused"},
	boxoffice.CodeRequestInProgress:    {http.StatusConflict, "Request in progress"},
	boxoffice.CodeHasReservations:      {http.StatusConflict, "Event has reservations"},
	boxoffice.CodeHasOrders:            {http.StatusConflict, "Event has orders"},
	boxoffice.CodeSlugTaken:            {http.StatusConflict, "Slug taken"},
	boxoffice.CodeRefundClosed:         {http.StatusConflict, "Refunds closed"},
	boxoffice.CodeNameChangeClosed:     {http.StatusConflict, "Name changes closed"},
	boxoffice.CodeQueueDisabled:        {http.StatusConflict, "Queue disabled"},
	boxoffice.CodeCapacityConflict:     {http.StatusConflict, "Capacity below reserved"},
	codePayloadTooLarge:                {http.StatusRequestEntityTooLarge, "Payload too large"},
	codeUnsupportedMediaType:           {http.StatusUnsupportedMediaType, "Unsupported media type"},
	boxoffice.CodeValidationFailed:     {http.StatusUnprocessableEntity, "Validation failed"},
	boxoffice.CodeRateLimited:          {http.StatusTooManyRequests, "Rate limited"},
	boxoffice.CodeInternal:             {http.StatusInternalServerError, "Internal error"},
	boxoffice.CodeUnavailable:          {http.StatusServiceUnavailable, "Service unavailable"},
}

// problem is an RFC 9457 problem details document.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Code      boxoffice.Code `json:"code"`
	Detail    string         `json:"detail"`
	RequestID string         `json:"request_id"`
	Errors    []fieldError   `json:"errors,omitempty"`
	// Line and TierID name the order line a refusal is about.
	Line   *int   `json:"line,omitempty"`
	TierID string `json:"tier_id,omitempty"`
	// RetryAfter, when positive, overrides the code's Retry-After.
	RetryAfter time.Duration `json:"-"`
}

// problemFor builds the problem for err. Only messages meant for clients
// (those of *boxoffice.Error and *boxoffice.ValidationError) reach it; every
// other error becomes a generic 500 or 503.
func problemFor(r *http.Request, err error) *problem {
	code := boxoffice.CodeOf(err)
	k, ok := kinds[code]
	if !ok {
		code, k = boxoffice.CodeInternal, kinds[boxoffice.CodeInternal]
	}
	p := &problem{
		Type:      problemTypePrefix + string(code),
		Title:     k.title,
		Status:    k.status,
		Code:      code,
		RequestID: requestIDFrom(r.Context()),
	}
	var ve *boxoffice.ValidationError
	var de *boxoffice.Error
	if ra := (*boxoffice.RetryAfterError)(nil); errors.As(err, &ra) {
		p.RetryAfter = ra.RetryAfter
	}
	switch {
	case code == boxoffice.CodeInternal:
		p.Detail = "An internal error occurred; quote the request_id when reporting it."
	case code == boxoffice.CodeUnavailable:
		p.Detail = boxoffice.ErrUnavailable.Message
	case errors.As(err, &ve):
		p.Detail = fmt.Sprintf("The request has %d invalid field(s).", len(ve.Fields))
		for _, f := range ve.Fields {
			p.Errors = append(p.Errors, fieldError(f))
		}
	case errors.As(err, &de):
		p.Detail = de.Message
		if le, ok := boxoffice.IsLineError(err); ok {
			line := le.Line
			p.Line, p.TierID = &line, le.TierID
			p.Detail = fmt.Sprintf("Line %d: %s", le.Line, de.Message)
		}
	}
	return p
}

// statusOf returns the HTTP status that err is answered with.
func statusOf(err error) int {
	if k, ok := kinds[boxoffice.CodeOf(err)]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// statusClientClosed is what the access log and the metrics record for a
// request whose client went away before its answer.
const statusClientClosed = 499

// writeError answers a request with the problem for err. It is the one
// function that turns errors into responses; internal errors are logged with
// the request ID and never shown.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(r, err)
	switch {
	case p.Status >= 500 && errors.Is(r.Context().Err(), context.Canceled):
		// The client went away; nobody reads this answer and nothing
		// broke. The store's error need not say so: a database driver
		// may report the query it abandoned as a broken connection.
		// (A request that ran out of its time budget ends with
		// DeadlineExceeded, not Canceled, and is still logged.) It is
		// recorded as 499, the status proxies use for a client that
		// closed its request, so that it spends no error budget.
		p.Status = statusClientClosed
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request canceled",
			slog.String("request_id", p.RequestID), slog.String("route", routeOf(r)))
	case p.Status >= 500:
		level := slog.LevelError
		if p.Code == boxoffice.CodeUnavailable {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(r.Context(), level, "request failed",
			slog.String("request_id", p.RequestID),
			slog.String("route", routeOf(r)),
			slog.String("error", err.Error()))
	}
	s.writeProblem(w, r, p)
}

// writeProblem writes p with its headers.
func (s *server) writeProblem(w http.ResponseWriter, r *http.Request, p *problem) {
	if info := infoFrom(r.Context()); info != nil {
		info.problem = string(p.Code)
	}
	h := w.Header()
	switch p.Code {
	case boxoffice.CodeUnauthenticated, boxoffice.CodeInvalidCredentials:
		h.Set("WWW-Authenticate", `Bearer realm="boxoffice"`)
	case boxoffice.CodeTokenExpired:
		h.Set("WWW-Authenticate", `Bearer realm="boxoffice", error="invalid_token", error_description="the access token expired"`)
	case boxoffice.CodeRateLimited:
		secs := int64(retryAfterRateLimited)
		if p.RetryAfter > 0 {
			secs = int64((p.RetryAfter + time.Second - 1) / time.Second) // round up
		}
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	case boxoffice.CodeUnavailable:
		h.Set("Retry-After", strconv.Itoa(retryAfterUnavailable))
	}
	// A problem replaces whatever a handler may have set for success.
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	writeBody(w, r, p.Status, "application/problem+json", mustMarshal(p))
}

// mustMarshal encodes a value the package built itself; such values always
// encode.
func mustMarshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// writeBody writes a complete response whose body is already encoded.
func writeBody(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// fieldError is one entry of a validation problem's errors.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// The problem codes that only HTTP has: the request itself is wrong before
// any rule applies.
const (
	codeMalformedJSON        boxoffice.Code = "malformed_json"
	codeMethodNotAllowed     boxoffice.Code = "method_not_allowed"
	codePayloadTooLarge      boxoffice.Code = "payload_too_large"
	codeUnsupportedMediaType boxoffice.Code = "unsupported_media_type"
	codeIncompleteBody       boxoffice.Code = "incomplete_body"
	codeRequestTimeout       boxoffice.Code = "request_timeout"
)
