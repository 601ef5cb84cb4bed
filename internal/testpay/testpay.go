// Package testpay is boxoffice's test payment provider, for development and
// tests: it moves no money. It accepts every payment token except
// "tok_declined", which it declines, and every refund.
package testpay

import (
	"context"

	"boxoffice"
)

// DeclinedToken is the payment token Provider declines.
const DeclinedToken = "tok_declined"

// Provider implements boxoffice.Payments without moving money.
type Provider struct{}

var _ boxoffice.Payments = Provider{}

// Charge returns boxoffice.ErrPaymentDeclined for DeclinedToken, else nil.
func (Provider) Charge(ctx context.Context, r *boxoffice.Reservation, token string) error {
	if token == DeclinedToken {
		return boxoffice.ErrPaymentDeclined
	}
	return nil
}

// Refund always succeeds.
func (Provider) Refund(ctx context.Context, r *boxoffice.Reservation) error { return nil }
