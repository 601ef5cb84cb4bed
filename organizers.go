package boxoffice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// This file is organizers and their teams: who organizes events, which
// users work for them with which role, what each role may do, and the API
// keys that let an organizer's own systems act for it.

// Organizer runs events. Every event belongs to one; the default organizer
// (DefaultOrganizerID) holds the platform admin's events.
type Organizer struct {
	ID   string
	Name string
	// Slug names the organizer in addresses: unique, lower-case a-z, 0-9
	// and single hyphens.
	Slug      string
	CreatedAt time.Time
}

// DefaultOrganizerName is the default organizer's name.
const DefaultOrganizerName = "Default"

// MemberRole is a user's role in an organizer's team.
type MemberRole string

// The team roles, from most to least trusted.
const (
	RoleOwner   MemberRole = "owner"
	RoleManager MemberRole = "manager"
	RoleStaff   MemberRole = "staff"
	RoleScanner MemberRole = "scanner"
)

// Valid reports whether r is one of the four roles.
func (r MemberRole) Valid() bool { _, ok := roleActions[r]; return ok }

// roleActions is what each role may do to its organizer's things (the
// platform admin may do everything everywhere).
var roleActions = map[MemberRole][]Action{
	RoleOwner: {ActionView, ActionManageEvent, ActionViewSales, ActionViewAttendees, ActionRefund, ActionScan,
		ActionSuperviseDoor, ActionManageMembers, ActionManageWebhooks, ActionManageAPIKeys, ActionViewAudit},
	RoleManager: {ActionView, ActionManageEvent, ActionViewSales, ActionViewAttendees, ActionRefund, ActionScan,
		ActionSuperviseDoor, ActionManageWebhooks},
	RoleStaff:   {ActionView, ActionViewSales, ActionViewAttendees, ActionScan},
	RoleScanner: {ActionView, ActionScan},
}

// Can reports whether the role allows act.
func (r MemberRole) Can(act Action) bool {
	for _, a := range roleActions[r] {
		if a == act {
			return true
		}
	}
	return false
}

// Member is a user's place in an organizer's team.
type Member struct {
	OrganizerID string
	UserID      string
	Role        MemberRole
	AddedAt     time.Time
}

// ErrLastOwner refuses a change that would leave an organizer without an
// owner.
var ErrLastOwner = &Error{CodeInvalidState, "an organizer must keep at least one owner"}

// ErrSlugTaken refuses an organizer whose slug another one has.
var ErrSlugTaken = &Error{CodeSlugTaken, "another organizer has this slug"}

// ChangeMemberStep decides a change of a team: cur is the user's current
// membership (nil when none), owners how many owners the organizer has,
// next the new membership (nil to remove it). It returns ErrNotFound when
// removing a user who is not a member, and ErrLastOwner when the change
// would leave the organizer without an owner.
func ChangeMemberStep(cur *Member, owners int, next *Member) error {
	if next == nil && cur == nil {
		return ErrNotFound
	}
	if cur != nil && cur.Role == RoleOwner && (next == nil || next.Role != RoleOwner) && owners <= 1 {
		return ErrLastOwner
	}
	return nil
}

// APIKey lets an organizer's systems call the API for it with Role. Only
// a SHA-256 hash of its secret is kept: the secret is shown once, when
// the key is made.
type APIKey struct {
	ID          string
	OrganizerID string
	Name        string
	Role        MemberRole
	Hash        []byte
	CreatedBy   string
	CreatedAt   time.Time
}

// KeyGrant is what an API key lets its caller do: act for one organizer
// with one role.
type KeyGrant struct {
	KeyID       string
	OrganizerID string
	Role        MemberRole
}

// APIKeyPrefix starts every API key's secret, which tells it from an
// access token.
const APIKeyPrefix = "bo_"

// apiKeySecretLen is the length of a key's secret: the prefix and 32
// random bytes in unpadded base64url.
const apiKeySecretLen = len(APIKeyPrefix) + 43

// hashAPIKey is how a key's secret is kept.
func hashAPIKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// OrganizerInput is the input of CreateOrganizer.
type OrganizerInput struct {
	Name string
	// Slug is derived from Name when empty.
	Slug string
}

// Bounds of organizers.
const (
	maxOrganizerName = 200
	maxSlug          = 60
	maxKeyName       = 100
	maxAPIKeys       = 50
)

// Slugify derives a slug from a name: lower-case letters and digits, other
// runs of characters turned into one hyphen, at most 60 characters
// ("organizer" when nothing is left).
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= maxSlug {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > maxSlug {
		s = strings.TrimRight(s[:maxSlug], "-")
	}
	if s == "" {
		return "organizer"
	}
	return s
}

// ValidSlug reports whether s is a slug: 1 to 60 characters of a-z and 0-9
// in groups joined by single hyphens.
func ValidSlug(s string) bool {
	if s == "" || len(s) > maxSlug || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Organizers is the aggregate of organizers, their teams and API keys. It
// is safe for concurrent use.
type Organizers struct {
	store  Store
	now    func() time.Time
	access *Access
	// open lets every user with a verified email create organizers
	// (ServiceConfig.OpenOrganizers).
	open  bool
	audit *Audit
}

func (s *Organizers) clock() time.Time { return normTime(s.now()) }

// CreateOrganizer creates an organizer with the caller as its owner:
// platform admins may, and any user with a verified email when the
// platform is open to organizers. It returns ErrForbidden,
// ErrEmailNotVerified, ErrSlugTaken or a *ValidationError.
func (s *Organizers) CreateOrganizer(ctx context.Context, c Caller, in OrganizerInput) (*Organizer, error) {
	if c.Key != nil || c.UserID == "" || !c.IsAdmin() && !s.open {
		return nil, ErrForbidden
	}
	var v ValidationError
	in.Name = strings.TrimSpace(in.Name)
	checkText(&v, "name", in.Name, 1, maxOrganizerName)
	if in.Slug == "" {
		in.Slug = Slugify(in.Name)
	} else if !ValidSlug(in.Slug) {
		v.Add("slug", "must be 1 to 60 characters of a-z and 0-9, in groups joined by single hyphens")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !c.IsAdmin() && !c.EmailVerified {
		u, err := s.store.User(ctx, c.UserID)
		if err != nil {
			return nil, err
		}
		if !u.EmailVerified {
			return nil, Errorf(CodeEmailNotVerified, "verify your email before creating an organizer")
		}
	}
	now := s.clock()
	o := &Organizer{ID: NewID(), Name: in.Name, Slug: in.Slug, CreatedAt: now}
	m := &Member{OrganizerID: o.ID, UserID: c.UserID, Role: RoleOwner, AddedAt: now}
	if err := s.store.CreateOrganizer(ctx, o, m); err != nil {
		return nil, err
	}
	s.access.forgetMember(o.ID, c.UserID)
	return o, nil
}

// Organizer returns an organizer to its members and platform admins, or
// ErrNotFound.
func (s *Organizers) Organizer(ctx context.Context, c Caller, id string) (*Organizer, error) {
	if err := s.access.Organizer(ctx, c, id, ActionView); err != nil {
		return nil, err
	}
	return s.store.Organizer(ctx, id)
}

// Membership is an organizer a user belongs to, with the user's role.
type Membership struct {
	Organizer *Organizer
	Role      MemberRole
	AddedAt   time.Time
}

// Memberships returns the organizers the calling user belongs to, with
// their role in each, ordered by organizer ID. It answers a user's own
// teams only: an API key gets ErrForbidden.
func (s *Organizers) Memberships(ctx context.Context, c Caller) ([]Membership, error) {
	if c.Key != nil || c.UserID == "" {
		return nil, ErrForbidden
	}
	ms, err := s.store.UserOrganizers(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]Membership, 0, len(ms))
	for _, m := range ms {
		o, err := s.store.Organizer(ctx, m.OrganizerID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Membership{Organizer: o, Role: m.Role, AddedAt: m.AddedAt})
	}
	return out, nil
}

// PutMember gives a user a role in the organizer's team (owners and
// admins). It returns ErrNotFound (organizer or user), ErrForbidden,
// ErrLastOwner (demoting the last owner) or a *ValidationError.
func (s *Organizers) PutMember(ctx context.Context, c Caller, orgID, userID string, role MemberRole) (*Member, error) {
	if err := s.access.Organizer(ctx, c, orgID, ActionManageMembers); err != nil {
		return nil, err
	}
	if !role.Valid() {
		var v ValidationError
		v.Add("role", "must be owner, manager, staff or scanner")
		return nil, &v
	}
	if !ValidID(userID) {
		return nil, ErrNotFound
	}
	if _, err := s.store.User(ctx, userID); err != nil {
		return nil, err
	}
	m := &Member{OrganizerID: orgID, UserID: userID, Role: role, AddedAt: s.clock()}
	out, err := s.store.UpdateMember(ctx, orgID, userID, func(cur *Member, owners int) (*Member, error) {
		if err := ChangeMemberStep(cur, owners, m); err != nil {
			return nil, err
		}
		if cur != nil {
			m.AddedAt = cur.AddedAt
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	s.access.forgetMember(orgID, userID)
	s.audit.record(ctx, c, orgID, "member.role_set", "user", userID, map[string]any{"role": role})
	return out, nil
}

// DeleteMember takes a user out of the organizer's team (owners and
// admins). It returns ErrNotFound, ErrForbidden or ErrLastOwner.
func (s *Organizers) DeleteMember(ctx context.Context, c Caller, orgID, userID string) error {
	if err := s.access.Organizer(ctx, c, orgID, ActionManageMembers); err != nil {
		return err
	}
	if !ValidID(userID) {
		return ErrNotFound
	}
	_, err := s.store.UpdateMember(ctx, orgID, userID, func(cur *Member, owners int) (*Member, error) {
		return nil, ChangeMemberStep(cur, owners, nil)
	})
	if err != nil {
		return err
	}
	s.access.forgetMember(orgID, userID)
	s.audit.record(ctx, c, orgID, "member.removed", "user", userID, nil)
	return nil
}

// ListMembers returns the organizer's team ordered by user ID (owners and
// admins).
func (s *Organizers) ListMembers(ctx context.Context, c Caller, orgID string) ([]*Member, error) {
	if err := s.access.Organizer(ctx, c, orgID, ActionManageMembers); err != nil {
		return nil, err
	}
	return s.store.ListMembers(ctx, orgID)
}

// APIKeyInput is the input of CreateAPIKey.
type APIKeyInput struct {
	Name string
	Role MemberRole
}

// CreateAPIKey makes an API key for the organizer (owners and admins) and
// returns it with its secret, which is never shown again. A key may be a
// manager, staff or scanner: never an owner, so a key cannot change the
// team or make keys. It returns ErrNotFound, ErrForbidden or a
// *ValidationError.
func (s *Organizers) CreateAPIKey(ctx context.Context, c Caller, orgID string, in APIKeyInput) (*APIKey, string, error) {
	if err := s.access.Organizer(ctx, c, orgID, ActionManageAPIKeys); err != nil {
		return nil, "", err
	}
	var v ValidationError
	checkText(&v, "name", in.Name, 1, maxKeyName)
	if !in.Role.Valid() || in.Role == RoleOwner {
		v.Add("role", "must be manager, staff or scanner")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	keys, err := s.store.ListAPIKeys(ctx, orgID)
	if err != nil {
		return nil, "", err
	}
	if len(keys) >= maxAPIKeys {
		v.Add("name", "an organizer may have at most %d API keys; revoke one first", maxAPIKeys)
		return nil, "", &v
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	secret := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	k := &APIKey{ID: NewID(), OrganizerID: orgID, Name: in.Name, Role: in.Role, Hash: hashAPIKey(secret),
		CreatedBy: c.UserID, CreatedAt: s.clock()}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	s.audit.record(ctx, c, orgID, "api_key.created", "api_key", k.ID, map[string]any{"name": k.Name, "role": k.Role})
	return k, secret, nil
}

// ListAPIKeys returns the organizer's API keys, without their secrets
// (owners and admins).
func (s *Organizers) ListAPIKeys(ctx context.Context, c Caller, orgID string) ([]*APIKey, error) {
	if err := s.access.Organizer(ctx, c, orgID, ActionManageAPIKeys); err != nil {
		return nil, err
	}
	return s.store.ListAPIKeys(ctx, orgID)
}

// DeleteAPIKey revokes an API key (owners and admins): it stops working
// on every instance within about two seconds. It returns ErrNotFound or
// ErrForbidden.
func (s *Organizers) DeleteAPIKey(ctx context.Context, c Caller, orgID, keyID string) error {
	if err := s.access.Organizer(ctx, c, orgID, ActionManageAPIKeys); err != nil {
		return err
	}
	if !ValidID(keyID) {
		return ErrNotFound
	}
	if err := s.store.DeleteAPIKey(ctx, orgID, keyID); err != nil {
		return err
	}
	s.access.apiKeys.clear()
	s.audit.record(ctx, c, orgID, "api_key.revoked", "api_key", keyID, nil)
	return nil
}

// KeyCaller returns the caller an API key's secret stands for, or
// ErrUnauthenticated when it is no key (or a revoked one).
func (s *Organizers) KeyCaller(ctx context.Context, secret string) (Caller, error) {
	return s.access.keyCaller(ctx, secret)
}
