package boxoffice

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Code is the stable, machine-readable name of a failure, as listed in the
// HTTP API's Problem schema (api/openapi.json; docs/api.md has the table).
// The HTTP layer maps each code to one status in one place.
type Code string

// The failure codes of the domain. The HTTP API (api/openapi.json) adds the
// codes of malformed requests, which only it can meet.
const (
	CodeUnauthenticated      Code = "unauthenticated"
	CodeTokenExpired         Code = "token_expired"
	CodeInvalidCredentials   Code = "invalid_credentials"
	CodePaymentDeclined      Code = "payment_declined"
	CodeForbidden            Code = "forbidden"
	CodeNotAdmitted          Code = "not_admitted"
	CodeEmailNotVerified     Code = "email_not_verified"
	CodeNotFound             Code = "not_found"
	CodeEmailTaken           Code = "email_taken"
	CodeSlugTaken            Code = "slug_taken"
	CodeSoldOut              Code = "sold_out"
	CodeLimitExceeded        Code = "limit_exceeded"
	CodeSalesClosed          Code = "sales_closed"
	CodeHoldExpired          Code = "hold_expired"
	CodeInvalidState         Code = "invalid_state"
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	CodeRequestInProgress    Code = "request_in_progress"
	CodeHasReservations      Code = "has_reservations"
	CodeHasOrders            Code = "has_orders"
	CodeRefundClosed         Code = "refund_closed"
	CodeNameChangeClosed     Code = "name_change_closed"
	CodeQueueDisabled        Code = "queue_disabled"
	CodeCapacityConflict     Code = "capacity_below_reserved"
	CodeValidationFailed     Code = "validation_failed"
	CodeRateLimited          Code = "rate_limited"
	CodeInternal             Code = "internal"
	CodeUnavailable          Code = "unavailable"
)

// Error is a domain failure with a problem code and a message that is safe to
// show to a client. Compare with errors.Is against the sentinel values below:
// two *Error values match when their codes are equal.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is makes errors.Is(err, ErrSoldOut) true for any *Error with code sold_out.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors. Stores and the service return these (or *Error values with
// the same code and a more specific message); nothing above the store sees a
// driver error.
var (
	ErrNotFound             = &Error{CodeNotFound, "not found"}
	ErrUnauthenticated      = &Error{CodeUnauthenticated, "a valid access token is required"}
	ErrTokenExpired         = &Error{CodeTokenExpired, "the access token has expired"}
	ErrInvalidCredentials   = &Error{CodeInvalidCredentials, "unknown email or wrong password"}
	ErrForbidden            = &Error{CodeForbidden, "not allowed"}
	ErrNotAdmitted          = &Error{CodeNotAdmitted, "a valid admission token for this event is required"}
	ErrEmailNotVerified     = &Error{CodeEmailNotVerified, "this event sells only to buyers with a verified email"}
	ErrEmailTaken           = &Error{CodeEmailTaken, "an account with this email already exists"}
	ErrSoldOut              = &Error{CodeSoldOut, "not enough tickets left in this tier"}
	ErrLimitExceeded        = &Error{CodeLimitExceeded, "this would exceed the event's ticket limit per user"}
	ErrSalesClosed          = &Error{CodeSalesClosed, "sales for this event are not open"}
	ErrHoldExpired          = &Error{CodeHoldExpired, "the hold has expired"}
	ErrInvalidState         = &Error{CodeInvalidState, "the reservation is not in a state that allows this"}
	ErrPaymentDeclined      = &Error{CodePaymentDeclined, "the payment was declined"}
	ErrIdempotencyKeyReused = &Error{CodeIdempotencyKeyReused, "this Idempotency-Key was used for a different request"}
	ErrRequestInProgress    = &Error{CodeRequestInProgress, "a request with this Idempotency-Key is still in progress"}
	ErrHasReservations      = &Error{CodeHasReservations, "the event has held or confirmed tickets"}
	ErrHasOrders            = &Error{CodeHasOrders, "the event has orders; its money history is kept"}
	ErrQueueDisabled        = &Error{CodeQueueDisabled, "this event has no waiting room"}
	ErrCapacityConflict     = &Error{CodeCapacityConflict, "capacity cannot go below the tickets already held or sold"}
	ErrRateLimited          = &Error{CodeRateLimited, "too many requests"}
	ErrUnavailable          = &Error{CodeUnavailable, "the service is temporarily unavailable"}
)

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every problem found with an input at once. It maps to
// 422 validation_failed.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// Add records a problem with field.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns e if it holds any problem, else nil.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// RetryableError marks a failure of a dependency (database, Redis) that is
// expected to pass: the HTTP layer answers 503 unavailable with Retry-After.
// Stores wrap connection failures in it; the wrapped error is for logs only.
type RetryableError struct {
	Err error
}

func (e *RetryableError) Error() string { return "unavailable: " + e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true for a *RetryableError.
func (e *RetryableError) Is(target error) bool { return target == ErrUnavailable }

// CodeOf returns the problem code of err: the code of an *Error,
// validation_failed for a *ValidationError, unavailable for a
// *RetryableError, and internal for anything else.
func CodeOf(err error) Code {
	var ve *ValidationError
	var de *Error
	var re *RetryableError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ve):
		return CodeValidationFailed
	case errors.As(err, &re), errors.Is(err, context.DeadlineExceeded):
		// Out of time inside the server (a batch, a pool wait): try again.
		return CodeUnavailable
	case errors.As(err, &de):
		return de.Code
	default:
		return CodeInternal
	}
}
