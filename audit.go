package boxoffice

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"
)

// This file is the audit log: who changed what in an organizer's things,
// readable by the organizer's owners and platform admins (ActionViewAudit).
//
// Entries are written right after the change they record has committed
// (the store methods that make the changes take no extra rows): a failure
// to write one is logged, never turned into a failure of the change. The
// changes recorded are events created, edited, published, cancelled and
// deleted; refunds by the organizer (those of a cancellation too, by the
// actor "system"); team members' roles set and members removed; API keys
// created and revoked; check-ins undone; webhook endpoints created,
// changed and deleted.

// AuditEntry is one change in an organizer's audit log.
type AuditEntry struct {
	ID          string
	OrganizerID string
	// Actor is who made the change: a user ID, "key:<API key ID>", or
	// "system" for the background work of boxoffice.
	Actor string
	// Action is what was done, "<subject>.<verb>" (event.published).
	Action      string
	SubjectType string
	SubjectID   string
	// Detail is a small JSON object saying what changed; it never holds a
	// secret (AuditDetail).
	Detail json.RawMessage
	// Addr is the client's address ("" when there was none).
	Addr string
	At   time.Time
}

// AuditFilter selects a page of an organizer's audit log, newest first.
type AuditFilter struct {
	OrganizerID string
	BeforeID    string // keyset cursor: only IDs < BeforeID; "" = first page
	Limit       int
}

// AuditQuery asks for a page of an organizer's audit log.
type AuditQuery struct {
	Limit  int
	Cursor string
}

// ActorOf names the caller in the audit log: "key:<id>" for an API key,
// else the user ID.
func ActorOf(c Caller) string {
	if c.Key != nil {
		return "key:" + c.Key.KeyID
	}
	return c.UserID
}

// maxAuditDetail bounds an entry's detail, encoded; a longer one keeps
// only a note that it was cut.
const maxAuditDetail = 4000

// AuditDetail encodes what changed as an entry's detail: the keys that
// name secrets (secret, password, token, hash) are dropped, and a detail
// longer than 4000 bytes is replaced by {"truncated":true}.
func AuditDetail(d map[string]any) json.RawMessage {
	clean := make(map[string]any, len(d))
	for k, v := range d {
		if secretKey(k) {
			continue
		}
		clean[k] = v
	}
	b, err := json.Marshal(clean)
	if err != nil || len(b) > maxAuditDetail {
		return json.RawMessage(`{"truncated":true}`)
	}
	return b
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"secret", "password", "token", "hash"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// NewAuditEntry returns the entry of a change made at now.
func NewAuditEntry(organizerID, actor, addr, action, subjectType, subjectID string, detail map[string]any, now time.Time) *AuditEntry {
	return &AuditEntry{ID: NewID(), OrganizerID: organizerID, Actor: actor, Action: action,
		SubjectType: subjectType, SubjectID: subjectID, Detail: AuditDetail(detail), Addr: addr, At: now}
}

// Audit keeps and shows the organizers' audit logs. A nil *Audit records
// nothing. It is safe for concurrent use.
type Audit struct {
	store  Store
	access *Access
	log    *slog.Logger
	now    func() time.Time
}

// record writes the entry of a change the caller made.
func (a *Audit) record(ctx context.Context, c Caller, organizerID, action, subjectType, subjectID string, detail map[string]any) {
	addr := ""
	if c.Addr.IsValid() {
		addr = c.Addr.String()
	}
	a.recordAs(ctx, ActorOf(c), addr, organizerID, action, subjectType, subjectID, detail)
}

// recordAs writes the entry of a change made by actor from addr.
func (a *Audit) recordAs(ctx context.Context, actor, addr, organizerID, action, subjectType, subjectID string, detail map[string]any) {
	if a == nil {
		return
	}
	e := NewAuditEntry(organizerID, actor, addr, action, subjectType, subjectID, detail, normTime(a.now()))
	// The change has committed: write its entry even when the request
	// that made it is gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.store.InsertAudit(ctx, e); err != nil {
		a.log.Warn("writing an audit entry", "organizer", organizerID, "action", action, "subject", subjectID, "err", err)
	}
}

// List returns a page of an organizer's audit log, newest first. It
// returns ErrNotFound (unknown organizer, or one the caller is not a
// member of), ErrForbidden, or a *ValidationError for a bad limit or
// cursor.
func (a *Audit) List(ctx context.Context, c Caller, organizerID string, q AuditQuery) (Page[*AuditEntry], error) {
	if err := a.access.Organizer(ctx, c, organizerID, ActionViewAudit); err != nil {
		return Page[*AuditEntry]{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[*AuditEntry]{}, err
	}
	f := AuditFilter{OrganizerID: organizerID, Limit: limit + 1}
	if q.Cursor != "" {
		id, ok := decodeIDCursor(q.Cursor)
		if !ok {
			return Page[*AuditEntry]{}, badCursor()
		}
		f.BeforeID = id
	}
	items, err := a.store.AuditLog(ctx, f)
	if err != nil {
		return Page[*AuditEntry]{}, err
	}
	p := Page[*AuditEntry]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = encodeIDCursor(p.Items[limit-1].ID)
	}
	return p, nil
}

// changedFields returns the fields a patch sets (those not nil), by their
// Go names, for an entry's detail.
func changedFields(patch any) map[string]any {
	b, err := json.Marshal(patch)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	return m
}
