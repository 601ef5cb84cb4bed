// Package queuetest is the conformance suite that every boxoffice.Queue
// passes: internal/memory's and internal/redis's run the same tests.
package queuetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

// Run runs the suite. open returns a fresh, empty Queue (its own namespace)
// for each subtest.
func Run(t *testing.T, open func(t *testing.T) boxoffice.Queue) {
	tests := []struct {
		name string
		fn   func(t *testing.T, q boxoffice.Queue)
	}{
		{"JoinKeepsPlace", testJoinKeepsPlace},
		{"NotInQueue", testNotInQueue},
		{"PresaleDraw", testPresaleDraw},
		{"ReleaseRefusesChangedPool", testReleaseRefusesChangedPool},
		{"AdmitInOrder", testAdmitInOrder},
		{"AdmitLimitAndSoldOut", testAdmitLimitAndSoldOut},
		{"ExpiryAndRejoin", testExpiryAndRejoin},
		{"MarkUsed", testMarkUsed},
		{"LiveAdmissions", testLiveAdmissions},
		{"Leave", testLeave},
		{"LeaveRevokes", testLeaveRevokes},
		{"Lease", testLease},
		{"NotLeader", testNotLeader},
		{"EventsCloseDrop", testEventsCloseDrop},
		{"ConcurrentJoins", testConcurrentJoins},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

var base = time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)

func eventID() string { return boxoffice.NewID() }

// users returns n fresh user IDs.
func users(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = boxoffice.NewID()
	}
	return out
}

func mustJoin(t *testing.T, q boxoffice.Queue, ev, u string, presale bool) boxoffice.QueueEntry {
	t.Helper()
	en, _, err := q.Join(t.Context(), ev, u, presale, base)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	return en
}

func mustLead(t *testing.T, q boxoffice.Queue, owner string) {
	t.Helper()
	ok, err := q.Lead(t.Context(), owner, time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lead(%s) = %v, %v", owner, ok, err)
	}
}

// open draws an empty pool (or the given order) so admission can start.
func openQueue(t *testing.T, q boxoffice.Queue, ev, owner string, order ...string) {
	t.Helper()
	ok, err := q.Release(t.Context(), ev, owner, order)
	if err != nil || !ok {
		t.Fatalf("Release = %v, %v", ok, err)
	}
}

func entries(t *testing.T, q boxoffice.Queue, ev string, us ...string) ([]boxoffice.QueueEntry, boxoffice.QueueInfo) {
	t.Helper()
	ens, info, err := q.Entries(t.Context(), ev, us)
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	if len(ens) != len(us) {
		t.Fatalf("Entries returned %d entries for %d users", len(ens), len(us))
	}
	return ens, info
}

func admit(t *testing.T, q boxoffice.Queue, ev string, req boxoffice.AdmitRequest) boxoffice.AdmitResult {
	t.Helper()
	if req.Owner == "" {
		req.Owner = "c1"
	}
	if req.Now.IsZero() {
		req.Now = base
	}
	if req.Until.IsZero() {
		req.Until = req.Now.Add(10 * time.Minute)
	}
	res, err := q.Admit(t.Context(), ev, req)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return res
}

func testJoinKeepsPlace(t *testing.T, q boxoffice.Queue) {
	ev, us := eventID(), users(3)
	for i, u := range us {
		if en := mustJoin(t, q, ev, u, false); en.State != boxoffice.QueueWaiting || en.Position != i+1 || en.Presale {
			t.Fatalf("join %d: %+v", i, en)
		}
	}
	en, info, err := q.Join(t.Context(), ev, us[0], false, base.Add(time.Hour))
	if err != nil || en.Position != 1 {
		t.Fatalf("joining again: %+v, %v; want position 1", en, err)
	}
	if info.Waiting != 3 || info.Presale != 0 {
		t.Errorf("info = %+v, want 3 waiting", info)
	}
}

func testNotInQueue(t *testing.T, q boxoffice.Queue) {
	ens, info := entries(t, q, eventID(), "nobody")
	if ens[0].State != "" || info.Waiting != 0 || info.Opened {
		t.Errorf("unknown event: %+v %+v", ens[0], info)
	}
	ev := eventID()
	mustJoin(t, q, ev, "someone", false)
	if ens, _ := entries(t, q, ev, "nobody"); ens[0].State != "" {
		t.Errorf("unknown user: %+v", ens[0])
	}
	if _, info := entries(t, q, ev); info.Waiting != 1 {
		t.Errorf("info without users: %+v", info)
	}
}

func testPresaleDraw(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev, pre, post := eventID(), users(5), users(3)
	for i, u := range pre {
		if _, _, err := q.Join(ctx, ev, u, true, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// Someone who joins after sales open, before the draw, queues behind
	// the whole pool.
	mustJoin(t, q, ev, post[0], false)
	ens, info := entries(t, q, ev, pre[0], post[0])
	if !ens[0].Presale || ens[0].State != boxoffice.QueueWaiting || ens[0].Position != 0 {
		t.Errorf("pool entry = %+v", ens[0])
	}
	if info.Presale != 5 || info.Waiting != 1 || info.Opened {
		t.Errorf("info = %+v", info)
	}
	pool, err := q.Pool(ctx, ev)
	if err != nil || !slices.Equal(pool, pre) {
		t.Fatalf("Pool = %v, %v; want join order %v", pool, err, pre)
	}
	// Admission waits for the draw.
	mustLead(t, q, "c1")
	if res := admit(t, q, ev, boxoffice.AdmitRequest{Max: 10, Limit: -1}); len(res.Admitted) != 0 {
		t.Fatalf("admitted %v before the draw", res.Admitted)
	}
	order := []string{pre[3], pre[1], pre[4], pre[0], pre[2]}
	v0 := info.Version
	openQueue(t, q, ev, "c1", order...)
	for _, u := range post[1:] {
		mustJoin(t, q, ev, u, true) // presale after the draw: back of the line
	}
	want := append(append([]string{}, order...), post...)
	ens, info = entries(t, q, ev, want...)
	for i, en := range ens {
		if en.State != boxoffice.QueueWaiting || en.Presale || en.Position != i+1 {
			t.Errorf("%d: %+v, want position %d", i, en, i+1)
		}
	}
	if !info.Opened || info.Presale != 0 || info.Waiting != 8 || info.Version == v0 {
		t.Errorf("info after draw = %+v (version before %d)", info, v0)
	}
	res := admit(t, q, ev, boxoffice.AdmitRequest{Max: 100, Limit: -1})
	if !slices.Equal(res.Admitted, want) || res.First != 1 {
		t.Errorf("admitted %v (first %d), want %v", res.Admitted, res.First, want)
	}
	// Releasing again changes nothing.
	if ok, err := q.Release(ctx, ev, "c1", nil); !ok || err != nil {
		t.Errorf("second Release = %v, %v", ok, err)
	}
}

func testReleaseRefusesChangedPool(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev, pre := eventID(), users(3)
	for _, u := range pre {
		mustJoin(t, q, ev, u, true)
	}
	mustLead(t, q, "c1")
	for _, order := range [][]string{pre[:2], {pre[0], pre[1], "stranger"}, append(slices.Clone(pre), "extra")} {
		if ok, err := q.Release(ctx, ev, "c1", order); ok || err != nil {
			t.Errorf("Release(%v) = %v, %v; want false", order, ok, err)
		}
	}
	if _, info := entries(t, q, ev); info.Opened || info.Presale != 3 {
		t.Errorf("refused release changed the queue: %+v", info)
	}
}

func testAdmitInOrder(t *testing.T, q boxoffice.Queue) {
	ev, us := eventID(), users(10)
	for _, u := range us {
		mustJoin(t, q, ev, u, false)
	}
	mustLead(t, q, "c1")
	openQueue(t, q, ev, "c1")
	until := base.Add(10 * time.Minute)
	var got []string
	next := int64(1)
	for _, n := range []int{3, 0, 4, 5} {
		res := admit(t, q, ev, boxoffice.AdmitRequest{Max: n, Limit: -1, Until: until, Pace: 2.5})
		if len(res.Admitted) > 0 && res.First != next {
			t.Errorf("First = %d, want %d", res.First, next)
		}
		next += int64(len(res.Admitted))
		got = append(got, res.Admitted...)
	}
	if !slices.Equal(got, us) {
		t.Fatalf("admitted %v, want %v", got, us)
	}
	ens, info := entries(t, q, ev, us[0])
	if ens[0].State != boxoffice.QueueAdmitted || !ens[0].AdmittedUntil.Equal(until) {
		t.Errorf("admitted entry = %+v, want until %v", ens[0], until)
	}
	if info.InFlight != 10 || info.Admitted != 10 || info.Waiting != 0 || info.Pace != 2.5 {
		t.Errorf("info = %+v", info)
	}
	// Joining again while admitted keeps the admission.
	if en := mustJoin(t, q, ev, us[0], false); en.State != boxoffice.QueueAdmitted {
		t.Errorf("rejoin while admitted = %+v", en)
	}
}

func testAdmitLimitAndSoldOut(t *testing.T, q boxoffice.Queue) {
	ev, us := eventID(), users(10)
	for _, u := range us {
		mustJoin(t, q, ev, u, false)
	}
	mustLead(t, q, "c1")
	openQueue(t, q, ev, "c1")
	if res := admit(t, q, ev, boxoffice.AdmitRequest{Max: 10, Limit: 4}); len(res.Admitted) != 4 {
		t.Fatalf("admitted %d with limit 4", len(res.Admitted))
	}
	if res := admit(t, q, ev, boxoffice.AdmitRequest{Max: 10, Limit: 4}); len(res.Admitted) != 0 {
		t.Fatalf("admitted %d more with 4 in flight and limit 4", len(res.Admitted))
	}
	if res := admit(t, q, ev, boxoffice.AdmitRequest{Max: 10, Limit: 0}); len(res.Admitted) != 0 {
		t.Fatalf("admitted %d with limit 0", len(res.Admitted))
	}
	_, before := entries(t, q, ev)
	res := admit(t, q, ev, boxoffice.AdmitRequest{Max: 10, Limit: -1, SoldOut: true})
	if len(res.Admitted) != 0 || !res.Info.SoldOut || res.Info.Version == before.Version {
		t.Fatalf("sold out round: %+v", res)
	}
	ens, _ := entries(t, q, ev, us[9])
	if ens[0].State != boxoffice.QueueWaiting || ens[0].Position != 6 {
		t.Errorf("a sold-out queue keeps its users: %+v", ens[0])
	}
	res = admit(t, q, ev, boxoffice.AdmitRequest{Max: 2, Limit: 6})
	if len(res.Admitted) != 2 || res.Info.SoldOut || res.First != 5 {
		t.Errorf("resumed round: %+v", res)
	}
}

func testExpiryAndRejoin(t *testing.T, q boxoffice.Queue) {
	ev, us := eventID(), users(3)
	for _, u := range us {
		mustJoin(t, q, ev, u, false)
	}
	mustLead(t, q, "c1")
	openQueue(t, q, ev, "c1")
	admit(t, q, ev, boxoffice.AdmitRequest{Max: 1, Limit: -1, Until: base.Add(time.Minute)})
	res := admit(t, q, ev, boxoffice.AdmitRequest{Now: base.Add(time.Minute), Max: 0, Limit: -1})
	if res.Expired != 1 || res.Info.InFlight != 0 {
		t.Fatalf("expiry round: %+v", res)
	}
	ens, _ := entries(t, q, ev, us[0], us[1])
	if ens[0].State != boxoffice.QueueExpired || ens[1].Position != 1 {
		t.Fatalf("after expiry: %+v", ens)
	}
	// Joining again goes to the back of the line.
	if en := mustJoin(t, q, ev, us[0], false); en.State != boxoffice.QueueWaiting || en.Position != 3 {
		t.Errorf("rejoin after expiry = %+v, want position 3", en)
	}
}

func testMarkUsed(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev, us := eventID(), users(3)
	for _, u := range us {
		mustJoin(t, q, ev, u, false)
	}
	mustLead(t, q, "c1")
	openQueue(t, q, ev, "c1")
	until := base.Add(time.Minute)
	admit(t, q, ev, boxoffice.AdmitRequest{Max: 2, Limit: -1, Until: until})
	if err := q.MarkUsed(ctx, ev, []string{us[0], us[2], "stranger"}, base); err != nil {
		t.Fatal(err)
	}
	ens, info := entries(t, q, ev, us...)
	if ens[0].State != boxoffice.QueueAdmitted || !ens[0].AdmittedUntil.Equal(until) {
		t.Errorf("used admission = %+v", ens[0])
	}
	if ens[2].State != boxoffice.QueueWaiting {
		t.Errorf("MarkUsed admitted a waiting user: %+v", ens[2])
	}
	if info.InFlight != 1 || info.Admitted != 2 {
		t.Errorf("info = %+v, want 1 in flight of 2 admitted", info)
	}
	// A used admission ends without turning into an expired one.
	res := admit(t, q, ev, boxoffice.AdmitRequest{Now: until, Max: 0, Limit: -1})
	ens, _ = entries(t, q, ev, us[0], us[1])
	if res.Expired != 1 || ens[0].State != "" || ens[1].State != boxoffice.QueueExpired {
		t.Errorf("after the end: %+v, %+v", res, ens)
	}
}

// testLiveAdmissions: the in-flight cap counts only live admissions, those
// granted or whose holders were seen within their window; idle ones stay
// valid.
func testLiveAdmissions(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev, us := eventID(), users(12)
	for _, u := range us {
		mustJoin(t, q, ev, u, false)
	}
	mustLead(t, q, "c1")
	openQueue(t, q, ev, "c1")
	until := base.Add(10 * time.Minute)
	live := func(now time.Time) boxoffice.AdmitRequest {
		return boxoffice.AdmitRequest{Now: now, Max: 10, Limit: 4, Until: until, LiveUntil: now.Add(30 * time.Second)}
	}
	res := admit(t, q, ev, live(base))
	if len(res.Admitted) != 4 || res.Info.Live != 4 {
		t.Fatalf("first round: admitted %d, live %d; want 4, 4", len(res.Admitted), res.Info.Live)
	}
	if res := admit(t, q, ev, live(base.Add(29*time.Second))); len(res.Admitted) != 0 || res.Info.Live != 4 {
		t.Fatalf("within the window: admitted %d, live %d; want 0, 4", len(res.Admitted), res.Info.Live)
	}
	// us[0] asks for its status: its admission stays live; us[1] bought.
	if err := q.Seen(ctx, ev, []string{us[0], us[11], "stranger"}, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := q.MarkUsed(ctx, ev, []string{us[1]}, base.Add(29*time.Second)); err != nil {
		t.Fatal(err)
	}
	res = admit(t, q, ev, live(base.Add(31*time.Second)))
	if len(res.Admitted) != 3 || res.Info.Live != 4 || res.Info.InFlight != 6 {
		t.Fatalf("after the window: admitted %d, live %d, in flight %d; want 3, 4, 6", len(res.Admitted), res.Info.Live, res.Info.InFlight)
	}
	// Idle admissions are still admissions.
	ens, _ := entries(t, q, ev, us[2], us[11])
	if ens[0].State != boxoffice.QueueAdmitted || !ens[0].AdmittedUntil.Equal(until) {
		t.Errorf("an idle admission = %+v, want admitted until %v", ens[0], until)
	}
	if ens[1].State != boxoffice.QueueWaiting {
		t.Errorf("Seen admitted a waiting user: %+v", ens[1])
	}
	// Seeing idle holders makes their admissions count again; us[0]'s
	// and the third round's windows have passed.
	if err := q.Seen(ctx, ev, []string{us[2], us[3]}, base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	res = admit(t, q, ev, live(base.Add(62*time.Second)))
	if len(res.Admitted) != 2 || res.Info.Live != 4 {
		t.Fatalf("after seeing two idle holders: admitted %d, live %d; want 2, 4", len(res.Admitted), res.Info.Live)
	}
	if _, info := entries(t, q, ev); info.Live != 4 {
		t.Errorf("Entries' live = %d, want 4 (as of the last round)", info.Live)
	}
	_ = q.Resign(ctx, "c1")
}

func testLeave(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev, us := eventID(), users(4)
	for _, u := range us {
		mustJoin(t, q, ev, u, false)
	}
	_, before := entries(t, q, ev)
	if err := q.Leave(ctx, ev, us[1]); err != nil {
		t.Fatal(err)
	}
	ens, info := entries(t, q, ev, us...)
	if ens[1].State != "" || ens[2].Position != 2 || ens[3].Position != 3 || info.Version == before.Version {
		t.Errorf("after leave: %+v %+v", ens, info)
	}
	if err := q.Leave(ctx, ev, us[1]); err != nil {
		t.Errorf("leaving twice: %v", err)
	}
	if err := q.Leave(ctx, eventID(), "nobody"); err != nil {
		t.Errorf("leaving an unknown queue: %v", err)
	}
	// Leaving frees an admission; joining again goes to the back.
	mustLead(t, q, "c1")
	openQueue(t, q, ev, "c1")
	admit(t, q, ev, boxoffice.AdmitRequest{Max: 1, Limit: -1})
	if err := q.Leave(ctx, ev, us[0]); err != nil {
		t.Fatal(err)
	}
	if _, info := entries(t, q, ev); info.InFlight != 0 {
		t.Errorf("in flight after the admitted user left: %d", info.InFlight)
	}
	if en := mustJoin(t, q, ev, us[0], false); en.Position != 3 {
		t.Errorf("rejoin after leaving = %+v, want position 3", en)
	}
	// A pre-sale user can leave the pool.
	ev2 := eventID()
	mustJoin(t, q, ev2, us[0], true)
	if err := q.Leave(ctx, ev2, us[0]); err != nil {
		t.Fatal(err)
	}
	if _, info := entries(t, q, ev2); info.Presale != 0 {
		t.Errorf("pool after leave: %+v", info)
	}
}

// revoked returns the revocations of ev listed at now, by user.
func revoked(t *testing.T, q boxoffice.Queue, ev string, now time.Time) map[string]time.Time {
	t.Helper()
	rs, err := q.Revoked(t.Context(), now)
	if err != nil {
		t.Fatalf("Revoked: %v", err)
	}
	out := map[string]time.Time{}
	for _, r := range rs {
		if r.EventID == ev {
			out[r.UserID] = r.Until
		}
	}
	return out
}

// testLeaveRevokes: leaving revokes the admission one held (used or not)
// until it would have ended or the user is admitted again.
func testLeaveRevokes(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev, us := eventID(), users(4)
	for _, u := range us {
		mustJoin(t, q, ev, u, false)
	}
	mustLead(t, q, "c1")
	openQueue(t, q, ev, "c1")
	until := base.Add(time.Minute)
	admit(t, q, ev, boxoffice.AdmitRequest{Max: 2, Limit: -1, Until: until})
	if err := q.MarkUsed(ctx, ev, []string{us[1]}, base); err != nil {
		t.Fatal(err)
	}
	for _, u := range us[:3] { // admitted, admitted and used, waiting
		if err := q.Leave(ctx, ev, u); err != nil {
			t.Fatal(err)
		}
	}
	got := revoked(t, q, ev, base)
	if len(got) != 2 || !got[us[0]].Equal(until) || !got[us[1]].Equal(until) {
		t.Fatalf("revoked = %v, want %s and %s until %v", got, us[0], us[1], until)
	}
	// Admitted again: no longer revoked.
	mustJoin(t, q, ev, us[0], false)
	admit(t, q, ev, boxoffice.AdmitRequest{Max: 2, Limit: -1, Until: base.Add(2 * time.Minute)})
	if got := revoked(t, q, ev, base); len(got) != 1 || got[us[0]] != (time.Time{}) {
		t.Errorf("revoked after %s was admitted again = %v, want only %s", us[0], got, us[1])
	}
	if got := revoked(t, q, ev, until); len(got) != 0 {
		t.Errorf("revoked once the admissions would have ended = %v", got)
	}
	_ = q.Resign(ctx, "c1")
}

func testLease(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ttl := 300 * time.Millisecond
	lead := func(owner string) bool {
		t.Helper()
		ok, err := q.Lead(ctx, owner, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lead("a") || lead("b") || !lead("a") {
		t.Fatal("lease is not exclusive or not renewable")
	}
	// Renewal keeps it past the first ttl.
	time.Sleep(ttl / 2)
	if !lead("a") {
		t.Fatal("renewal failed")
	}
	time.Sleep(ttl / 2)
	if lead("b") {
		t.Fatal("b took a renewed lease")
	}
	// Without renewal it lapses and another owner takes over.
	time.Sleep(ttl + 100*time.Millisecond)
	if !lead("b") || lead("a") {
		t.Fatal("lapsed lease was not taken over")
	}
	if err := q.Resign(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if lead("a") {
		t.Fatal("Resign by a non-holder released the lease")
	}
	if err := q.Resign(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if !lead("a") {
		t.Fatal("lease not free after Resign")
	}
	_ = q.Resign(ctx, "a")
}

func testNotLeader(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev := eventID()
	mustJoin(t, q, ev, "u1", false)
	mustLead(t, q, "c1")
	if _, err := q.Release(ctx, ev, "c2", nil); !errors.Is(err, boxoffice.ErrNotLeader) {
		t.Errorf("Release by a non-leader: %v", err)
	}
	openQueue(t, q, ev, "c1")
	if _, err := q.Admit(ctx, ev, boxoffice.AdmitRequest{Owner: "c2", Now: base, Until: base.Add(time.Minute), Max: 5, Limit: -1}); !errors.Is(err, boxoffice.ErrNotLeader) {
		t.Errorf("Admit by a non-leader: %v", err)
	}
	if ens, _ := entries(t, q, ev, "u1"); ens[0].State != boxoffice.QueueWaiting {
		t.Errorf("a non-leader admitted: %+v", ens[0])
	}
	_ = q.Resign(ctx, "c1")
}

func testEventsCloseDrop(t *testing.T, q boxoffice.Queue) {
	ctx := t.Context()
	ev1, ev2 := eventID(), eventID()
	mustJoin(t, q, ev1, "u1", false)
	mustJoin(t, q, ev2, "u2", true)
	has := func(id string) bool {
		t.Helper()
		evs, err := q.Events(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(evs, id)
	}
	if !has(ev1) || !has(ev2) {
		t.Fatal("Events misses a queue")
	}
	if err := q.Close(ctx, ev1); err != nil {
		t.Fatal(err)
	}
	ens, info := entries(t, q, ev1, "u1")
	if has(ev1) || !info.SoldOut || ens[0].State != boxoffice.QueueWaiting {
		t.Errorf("after Close: listed %v, %+v, %+v", has(ev1), info, ens[0])
	}
	if err := q.Drop(ctx, ev2); err != nil {
		t.Fatal(err)
	}
	if ens, info := entries(t, q, ev2, "u2"); has(ev2) || ens[0].State != "" || info.Presale != 0 {
		t.Errorf("after Drop: %+v %+v", ens[0], info)
	}
	// A queue whose last user was admitted and whose admission ended is
	// no longer listed.
	ev3 := eventID()
	mustJoin(t, q, ev3, "u3", false)
	mustLead(t, q, "c1")
	openQueue(t, q, ev3, "c1")
	admit(t, q, ev3, boxoffice.AdmitRequest{Max: 1, Limit: -1, Until: base.Add(time.Second)})
	admit(t, q, ev3, boxoffice.AdmitRequest{Now: base.Add(time.Second), Limit: -1})
	if has(ev3) {
		t.Error("an empty queue is still listed")
	}
	_ = q.Resign(ctx, "c1")
}

func testConcurrentJoins(t *testing.T, q boxoffice.Queue) {
	ev, us := eventID(), users(200)
	var wg sync.WaitGroup
	errs := make(chan error, len(us))
	for _, u := range us {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for range 2 { // the second join must keep the place
				if _, _, err := q.Join(ctx, ev, u, false, base); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ens, info := entries(t, q, ev, us...)
	seen := make(map[int]bool)
	for i, en := range ens {
		if en.Position < 1 || en.Position > len(us) || seen[en.Position] {
			t.Fatalf("user %d: position %d (duplicate or out of range)", i, en.Position)
		}
		seen[en.Position] = true
	}
	if info.Waiting != len(us) {
		t.Errorf("waiting = %d, want %d", info.Waiting, len(us))
	}
}
