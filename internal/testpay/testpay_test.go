package testpay

import (
	"errors"
	"testing"

	"boxoffice"
)

func TestProvider(t *testing.T) {
	r := &boxoffice.Reservation{ID: boxoffice.NewID()}
	if err := (Provider{}).Charge(t.Context(), r, "tok_visa"); err != nil {
		t.Errorf("Charge(tok_visa) = %v, want nil", err)
	}
	if err := (Provider{}).Charge(t.Context(), r, DeclinedToken); !errors.Is(err, boxoffice.ErrPaymentDeclined) {
		t.Errorf("Charge(%s) = %v, want ErrPaymentDeclined", DeclinedToken, err)
	}
	if err := (Provider{}).Refund(t.Context(), r); err != nil {
		t.Errorf("Refund = %v, want nil", err)
	}
}
