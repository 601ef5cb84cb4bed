package boxoffice

import (
	"errors"
	"testing"
	"time"
)

func TestLifecycleSteps(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	starts := now.Add(24 * time.Hour)
	res := func(s ReservationStatus, expires time.Time) *Reservation {
		return &Reservation{Status: s, HoldExpiresAt: expires}
	}
	live, ranOut := now.Add(time.Second), now // a hold runs out at HoldExpiresAt
	for _, tc := range []struct {
		name   string
		step   Step
		wantTo ReservationStatus
		err    error
	}{
		{"confirm a live hold", ConfirmStep(res(StatusHeld, live), now), StatusConfirmed, nil},
		{"confirm a hold that ran out expires it", ConfirmStep(res(StatusHeld, ranOut), now), StatusExpired, ErrHoldExpired},
		{"confirm twice", ConfirmStep(res(StatusConfirmed, ranOut), now), "", nil},
		{"confirm an expired hold", ConfirmStep(res(StatusExpired, ranOut), now), "", ErrHoldExpired},
		{"confirm a cancelled one", ConfirmStep(res(StatusCancelled, live), now), "", ErrInvalidState},
		{"cancel a hold", CancelStep(res(StatusHeld, ranOut), now, time.Time{}), StatusCancelled, nil},
		{"cancel a confirmed one before the event", CancelStep(res(StatusConfirmed, ranOut), now, starts), StatusCancelled, nil},
		{"cancel a confirmed one once the event started", CancelStep(res(StatusConfirmed, ranOut), starts, starts), "", ErrInvalidState},
		{"cancel twice", CancelStep(res(StatusCancelled, live), now, starts), "", ErrInvalidState},
		{"cancel an expired hold", CancelStep(res(StatusExpired, ranOut), now, starts), "", ErrInvalidState},
		{"expire a hold that ran out", ExpireStep(res(StatusHeld, ranOut), now), StatusExpired, nil},
		{"expire a live hold", ExpireStep(res(StatusHeld, live), now), "", nil},
		{"expire a confirmed one", ExpireStep(res(StatusConfirmed, ranOut), now), "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.step.To != tc.wantTo || !errors.Is(tc.step.Err, tc.err) || (tc.step.Err == nil) != (tc.err == nil) {
				t.Errorf("step = %+v, want to %q with %v", tc.step, tc.wantTo, tc.err)
			}
		})
	}
}

func TestApply(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := &Reservation{Status: StatusHeld, HoldExpiresAt: now.Add(time.Minute)}
	r.Apply(Step{}, now)
	if r.Status != StatusHeld || !r.UpdatedAt.IsZero() {
		t.Fatalf("a step without a change changed %+v", r)
	}
	step := ConfirmStep(r, now)
	r.Apply(step, now)
	if r.Status != StatusConfirmed || !r.UpdatedAt.Equal(now) || r.ConfirmedAt == nil || !r.ConfirmedAt.Equal(now) || step.Releases() {
		t.Fatalf("after confirm: %+v (releases %v)", r, step.Releases())
	}
	later := now.Add(time.Hour)
	step = CancelStep(r, later, later.Add(time.Hour))
	r.Apply(step, later)
	if r.Status != StatusCancelled || r.CancelledAt == nil || !r.CancelledAt.Equal(later) || !step.Releases() {
		t.Fatalf("after cancel: %+v (releases %v)", r, step.Releases())
	}
}
