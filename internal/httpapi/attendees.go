package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"
	"time"

	"boxoffice"
)

// exportPattern is the attendee export, which may run longer than the
// request timeout: each of its reads of the store is bounded by the
// timeout instead, and each write by exportWriteTimeout.
const exportPattern = "GET /api/v1/events/{id}/attendees.csv"

// exportWriteTimeout bounds the write of one page of the export (the
// server's WriteTimeout would otherwise cut a long export).
const exportWriteTimeout = 30 * time.Second

// utf8BOM starts the export so that spreadsheets read it as UTF-8.
const utf8BOM = "\uFEFF"

// attendeeBody is an attendee in JSON.
type attendeeBody struct {
	TicketID     string                 `json:"ticket_id"`
	AttendeeName string                 `json:"attendee_name"`
	TierID       string                 `json:"tier_id"`
	TierName     string                 `json:"tier_name"`
	Status       boxoffice.TicketStatus `json:"status"`
	CheckedInAt  *time.Time             `json:"checked_in_at"`
	Gate         *string                `json:"gate"`
	OrderID      string                 `json:"order_id"`
	BuyerEmail   string                 `json:"buyer_email"`
	BuyerName    string                 `json:"buyer_name"`
	IssuedAt     time.Time              `json:"issued_at"`
}

func attendeeOf(a *boxoffice.EventAttendee) attendeeBody {
	b := attendeeBody{
		TicketID: a.TicketID, AttendeeName: a.AttendeeName, TierID: a.TierID, TierName: a.TierName, Status: a.Status,
		CheckedInAt: a.CheckedInAt, OrderID: a.OrderID, BuyerEmail: a.BuyerEmail, BuyerName: a.BuyerName, IssuedAt: a.IssuedAt,
	}
	if a.CheckedInAt != nil {
		b.Gate = &a.Gate
	}
	return b
}

// attendeeQuery reads q, status, limit and cursor.
func attendeeQuery(r *http.Request) (boxoffice.AttendeeQuery, error) {
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	q := r.URL.Query()
	return boxoffice.AttendeeQuery{Query: q.Get("q"), Status: boxoffice.TicketStatus(q.Get("status")),
		Limit: limit, Cursor: cursor}, ve.Err()
}

func (s *server) handleAttendees(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q, err := attendeeQuery(r)
	if err != nil {
		return err
	}
	p, err := s.tickets.Attendees(r.Context(), c, id, q)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, pageOf(mapPage(p, attendeeOf)))
}

// handleAttendeesCSV streams an event's attendee list as CSV (RFC 4180,
// UTF-8 with a byte order mark, cells safe for spreadsheets), one page of
// the store at a time, so its memory stays flat however many attendees
// the event has. Access, the parameters and the first page are checked
// before the first byte; a failure after it cannot become a problem
// document: it is logged and the connection is cut, so the client sees a
// truncated transfer rather than a complete-looking file.
func (s *server) handleAttendeesCSV(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q, err := attendeeQuery(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.pageContext(r.Context())
	x, err := s.tickets.ExportAttendees(ctx, c, id, q)
	cancel()
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="attendees-`+x.EventID()+`.csv"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true // RFC 4180
	fail := func(rows int, err error) error {
		level, msg := slog.LevelError, "attendee export cut short"
		if r.Context().Err() != nil {
			level, msg = slog.LevelInfo, "attendee export abandoned by the client"
		}
		s.log.LogAttrs(r.Context(), level, msg, slog.String("event_id", id), slog.Int("rows", rows),
			slog.String("err", err.Error()))
		panic(http.ErrAbortHandler)
	}
	_ = rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout))
	if _, err := bw.WriteString(utf8BOM); err != nil {
		return fail(0, err)
	}
	if err := cw.Write(boxoffice.AttendeeCSVHeader); err != nil {
		return fail(0, err)
	}
	// Each page goes out as soon as it is written: the download starts at
	// once, and a failure later cuts a response already under way (a
	// client could take a connection closed before any byte for a
	// transient failure, and retry).
	flush := func() error {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := flush(); err != nil {
		return fail(0, err)
	}
	rows := 0
	var rec []string
	for {
		ctx, cancel := s.pageContext(r.Context())
		page, err := x.Next(ctx)
		cancel()
		if err != nil {
			return fail(rows, err)
		}
		if page == nil {
			break
		}
		_ = rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout))
		for _, a := range page {
			rec = a.CSVRecord(rec)
			if err := cw.Write(rec); err != nil {
				return fail(rows, err)
			}
		}
		rows += len(page)
		if err := flush(); err != nil {
			return fail(rows, err)
		}
	}
	return nil
}

// pageContext bounds one read of the store by the request timeout.
func (s *server) pageContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return context.WithCancel(ctx)
}
