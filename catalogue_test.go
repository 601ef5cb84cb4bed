package boxoffice_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"testing"
	"time"

	"boxoffice"
)

// TestTimesOutsideStoreRange: a cursor, a filter or an event time that no
// store can hold (MariaDB's DATETIME ends at year 9999) is a validation
// error, never a database error (a tampered cursor answered an anonymous 500
// on MariaDB).
func TestTimesOutsideStoreRange(t *testing.T) {
	far := []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(-50000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			ctx := t.Context()
			e := h.event(t, 5, 2)
			u := h.users(t, 1)[0]
			if err := h.svc.PutBookmark(ctx, u, e.ID); err != nil {
				t.Fatal(err)
			}
			wantInvalid := func(what string, err error) {
				t.Helper()
				var ve *boxoffice.ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("%s: %v, want a validation error", what, err)
				}
			}
			for _, at := range far {
				cursor := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + ":" + e.ID))
				_, err := h.svc.ListEvents(ctx, boxoffice.EventQuery{Cursor: cursor})
				wantInvalid("events cursor at "+at.String(), err)
				_, err = h.svc.ListBookmarks(ctx, u, 0, cursor)
				wantInvalid("bookmarks cursor at "+at.String(), err)
				_, err = h.svc.ListEvents(ctx, boxoffice.EventQuery{StartsAfter: at})
				wantInvalid("starts_after "+at.String(), err)
				_, err = h.svc.ListEvents(ctx, boxoffice.EventQuery{StartsBefore: at})
				wantInvalid("starts_before "+at.String(), err)
				in := boxoffice.EventInput{
					Title: "Far", Venue: "Hall", StartsAt: at, SalesStartAt: h.clock.Now(), SalesEndAt: h.clock.Now().Add(time.Hour),
					Tiers: []boxoffice.TierInput{{Name: "GA", Price: boxoffice.Money{Amount: 100, Currency: "USD"}, Capacity: 1}},
				}
				_, err = h.svc.CreateEvent(ctx, h.admin, in)
				wantInvalid("starts_at "+at.String(), err)
			}
			// The last representable instant still works.
			edge := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
			if _, err := h.svc.ListEvents(ctx, boxoffice.EventQuery{StartsBefore: edge}); err != nil {
				t.Errorf("starts_before %v: %v", edge, err)
			}
		})
	}
}
