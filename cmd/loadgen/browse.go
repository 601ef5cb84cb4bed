package main

import (
	"context"
	"net/http"
	"net/url"
)

func init() {
	register("browse", scenarioInfo{New: newBrowse})
}

// browse is anonymous catalogue traffic: list events 20 at a time,
// following next_cursor for a few pages, then open one listed event.
type browse struct {
	cfg   *config
	lists []*url.URL // GET /api/v1/events?limit=20, per target
	paths []*url.URL // /api/v1/events, per target, for event pages
}

func newBrowse(cfg *config) Scenario { return &browse{cfg: cfg} }

// Prepare builds the URLs; browsing needs no tokens.
func (b *browse) Prepare(context.Context, *Env) error {
	for _, t := range b.cfg.Targets {
		u := endpoint(t, "/api/v1/events")
		b.paths = append(b.paths, u)
		l := *u
		l.RawQuery = "limit=20"
		b.lists = append(b.lists, &l)
	}
	return nil
}

// eventPage is the part of a list page browse needs.
type eventPage struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// Iterate walks 1..browse-pages list pages, then opens a random listed event.
func (b *browse) Iterate(ctx context.Context, w *Worker) {
	t := w.Target()
	pages := 1 + w.Rng.IntN(max(b.cfg.BrowsePages, 1))
	var ids []string
	u := b.lists[t]
	for p := 0; p < pages && ctx.Err() == nil; p++ {
		status, body := w.Send("list", w.Request(http.MethodGet, u, nil))
		if status != http.StatusOK {
			return
		}
		var page eventPage
		if err := decodeEventPage(body, &page); err != nil {
			w.Env.Rec.Record("list_decode", status, "bad_json", 0, body)
			return
		}
		ids = ids[:0]
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.NextCursor == nil {
			break
		}
		next := *b.lists[t]
		next.RawQuery = "limit=20&cursor=" + url.QueryEscape(*page.NextCursor)
		u = &next
	}
	if len(ids) == 0 || ctx.Err() != nil {
		return
	}
	w.Send("get", w.Request(http.MethodGet, endpoint(b.paths[t], ids[w.Rng.IntN(len(ids))]), nil))
}

// Classify: only a 200 (that decodes) is right for public reads.
func (b *browse) Classify(_ string, status int, code string) Class {
	if status == http.StatusOK && code == "" {
		return ClassOK
	}
	return ClassUnexpected
}

// Check has nothing to verify for reads.
func (b *browse) Check(context.Context, *Env) (*CheckReport, error) { return nil, nil }

// Close does nothing.
func (b *browse) Close() error { return nil }
