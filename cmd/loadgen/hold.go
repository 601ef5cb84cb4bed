package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

func init() {
	register("hold", scenarioInfo{New: newHold, NeedsUsers: true})
}

// hold is the on-sale rush on one tier: every request asks for one ticket
// as a random seeded user, with a fresh Idempotency-Key. Afterwards it
// verifies that every 201 it got is a reservation the server still has, and
// that the sales view balances.
type hold struct {
	cfg  *config
	urls []*url.URL // POST …/reservations, per target
	body []byte

	mu    sync.Mutex
	holds []heldReservation
	noID  atomic.Uint64 // 201s without a reservation id

	finished chan struct{} // closed at once with -held-ids, else nil
}

// Finished ends the load phase at once when only -held-ids are checked. A
// nil channel never ends it.
func (h *hold) Finished() <-chan struct{} { return h.finished }

// readHeldIDs reads the reservation ids in the files matching pattern, one
// a line; a line "MISSING" (a 201 without an id) is counted in noID.
func readHeldIDs(pattern string) (holds []heldReservation, noID uint64, err error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, 0, fmt.Errorf("-held-ids: %w", err)
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("-held-ids: no file matches %s", pattern)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, err
		}
		for line := range strings.Lines(string(b)) {
			switch id := strings.TrimSpace(line); id {
			case "":
			case "MISSING":
				noID++
			default:
				holds = append(holds, heldReservation{ID: id, User: -1})
			}
		}
	}
	return holds, noID, nil
}

// heldReservation is a 201 answer: the reservation and its owner.
type heldReservation struct {
	ID   string
	User int
}

func newHold(cfg *config) Scenario { return &hold{cfg: cfg} }

// Prepare gets the tokens and checks that the event and tier exist. With
// -held-ids it reads the reservations to check instead of getting tokens.
func (h *hold) Prepare(ctx context.Context, env *Env) error {
	if h.cfg.HeldIDs != "" {
		h.finished = make(chan struct{})
		close(h.finished)
		holds, noID, err := readHeldIDs(h.cfg.HeldIDs)
		if err != nil {
			return err
		}
		h.holds = holds
		h.noID.Store(noID)
		if !h.cfg.Quiet {
			env.Logf("checking %d reservations from %s", len(holds), h.cfg.HeldIDs)
		}
		return loadAdminToken(ctx, env)
	}
	body, err := json.Marshal(map[string]any{"tier_id": h.cfg.TierID, "quantity": 1})
	if err != nil {
		return err
	}
	h.body = body
	for _, t := range h.cfg.Targets {
		h.urls = append(h.urls, endpoint(t, "/api/v1/events", h.cfg.EventID, "reservations"))
	}
	ev, err := lookUpTiers(ctx, env, h.cfg.Targets[0], h.cfg.EventID)
	if err != nil {
		return err
	}
	found := false
	for _, t := range ev.Tiers {
		if t.ID == h.cfg.TierID {
			found = true
			if !h.cfg.Quiet {
				env.Logf("tier %s: capacity %d, available %d", t.ID, t.Capacity, t.Available)
			}
		}
	}
	if !found {
		return fmt.Errorf("event %s has no tier %s", h.cfg.EventID, h.cfg.TierID)
	}
	if err := loadAdminToken(ctx, env); err != nil {
		return err
	}
	return loadUserTokens(ctx, env)
}

// eventTiers is what the scenarios read of an event: its tiers.
type eventTiers struct {
	Tiers []struct {
		ID        string `json:"id"`
		Capacity  int    `json:"capacity"`
		Available int    `json:"available"`
	} `json:"tiers"`
}

// lookUpTiers reads the tiers of event eventID from target.
func lookUpTiers(ctx context.Context, env *Env, target *url.URL, eventID string) (*eventTiers, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(target, "/api/v1/events", eventID).String(), nil)
	if err != nil {
		return nil, err
	}
	status, resp, err := doJSON(env.Client, req)
	if err != nil {
		return nil, fmt.Errorf("looking up the event: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("looking up the event: status %d (%s)", status, problemCode(resp))
	}
	var ev eventTiers
	if err := json.Unmarshal(resp, &ev); err != nil {
		return nil, fmt.Errorf("decoding the event: %w", err)
	}
	return &ev, nil
}

// Iterate asks for one ticket as a random user.
func (h *hold) Iterate(_ context.Context, w *Worker) {
	if h.finished != nil {
		return // -held-ids: no load
	}
	user := w.Rng.IntN(len(w.Env.Auth))
	req := w.Request(http.MethodPost, h.urls[w.Target()], h.body)
	req.Header["Authorization"] = w.Env.Auth[user]
	req.Header["Idempotency-Key"] = w.IdempotencyKey()
	status, body := w.Send("hold", req)
	if status != http.StatusCreated {
		return
	}
	id := jsonStringField(body, "id")
	if id == "" {
		h.noID.Add(1)
		return
	}
	h.mu.Lock()
	h.holds = append(h.holds, heldReservation{ID: id, User: user})
	h.mu.Unlock()
}

// Classify: 201 is ok; sold_out, limit_exceeded and not_admitted are the
// correct refusals of an on-sale; everything else is unexpected.
func (h *hold) Classify(op string, status int, code string) Class {
	switch {
	case op == "hold" && status == http.StatusCreated:
		return ClassOK
	case op == "hold" && status == http.StatusConflict && (code == "sold_out" || code == "limit_exceeded"):
		return ClassExpected
	case op == "hold" && status == http.StatusForbidden && code == "not_admitted":
		return ClassExpected
	}
	return ClassUnexpected
}

// Check verifies the two invariants of the contract: every 201 is a
// reservation the server has, and the sales view balances.
func (h *hold) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	h.mu.Lock()
	holds := h.holds
	h.mu.Unlock()
	rep, sv, _ := checkSale(ctx, env, h.cfg.EventID, holds, nil, int64(h.noID.Load()))
	if sv != nil {
		rep.Details = sv
	}
	return rep, nil
}

// Close does nothing; the scenario holds no resources.
func (h *hold) Close() error { return nil }

// checkedAs says whose token the reservation check uses.
func checkedAs(env *Env) string {
	if env.AdminAuth != nil {
		return "the admin"
	}
	return "each owner"
}

// verifyReservations fetches every reservation (as the admin when there is
// one, else as its owner) with bounded concurrency, and sorts them into
// found, lost (404) and unverified (anything else, or no time left).
func verifyReservations(ctx context.Context, env *Env, targets []*url.URL, holds []heldReservation) (found int, lost []string, unverified int) {
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range env.Cfg.CheckWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(holds) {
					return
				}
				r := holds[i]
				var status int
				err := onAnyTarget(targets, i, func(t *url.URL) (err error) {
					status, err = getReservation(ctx, env, t, r)
					return err
				})
				mu.Lock()
				switch {
				case err == nil && status == http.StatusOK:
					found++
				case err == nil && status == http.StatusNotFound:
					lost = append(lost, r.ID)
				default:
					unverified++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return found, lost, unverified
}

// onAnyTarget calls f with targets[first mod n], then with the next
// targets in turn while f's error says the instance is gone (a check after
// a run that killed an instance reads from the others). It returns f's
// last error.
func onAnyTarget(targets []*url.URL, first int, f func(*url.URL) error) error {
	var err error
	for k := range len(targets) {
		if err = f(targets[(first+k)%len(targets)]); !instanceGone(err) {
			return err
		}
	}
	return err
}

// getReservation fetches one reservation and checks that it is the one
// asked for.
func getReservation(ctx context.Context, env *Env, target *url.URL, r heldReservation) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(target, "/api/v1/reservations", r.ID).String(), nil)
	if err != nil {
		return 0, err
	}
	if env.AdminAuth != nil {
		req.Header["Authorization"] = env.AdminAuth
	} else {
		req.Header["Authorization"] = env.Auth[r.User]
	}
	status, body, err := doJSON(env.Client, req)
	if err != nil {
		return 0, err
	}
	if status == http.StatusOK && jsonStringField(body, "id") != r.ID {
		return 0, fmt.Errorf("GET reservation %s answered another id", r.ID)
	}
	return status, nil
}

// sales is the admin sales view.
type sales struct {
	EventID string `json:"event_id"`
	Tiers   []struct {
		TierID    string `json:"tier_id"`
		Capacity  int    `json:"capacity"`
		Held      int    `json:"held"`
		Confirmed int    `json:"confirmed"`
		Available int    `json:"available"`
	} `json:"tiers"`
	// Revenue is the event's money per currency: what its orders kept,
	// the payments taken and the refunds owed or made.
	Revenue []revenue `json:"revenue"`
}

// revenue is one currency's line of the sales view's money.
type revenue struct {
	Currency string `json:"currency"`
	Orders   int64  `json:"orders"`
	Paid     int64  `json:"paid"`
	Refunded int64  `json:"refunded"`
}

// fetchSales reads GET /api/v1/events/{id}/sales as the admin.
func fetchSales(ctx context.Context, env *Env, target *url.URL, eventID string) (*sales, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(target, "/api/v1/events", eventID, "sales").String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header["Authorization"] = env.AdminAuth
	status, body, err := doJSON(env.Client, req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d (%s)", status, problemCode(body))
	}
	var s sales
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	if len(s.Tiers) == 0 {
		return nil, fmt.Errorf("the sales view lists no tiers")
	}
	return &s, nil
}
