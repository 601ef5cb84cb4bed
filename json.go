package boxoffice

import (
	"encoding/json"
	"time"
)

// eventJSON is the contract's shape of an Event.
type eventJSON struct {
	ID                string      `json:"id"`
	Title             string      `json:"title"`
	Description       string      `json:"description"`
	Venue             string      `json:"venue"`
	StartsAt          time.Time   `json:"starts_at"`
	EndsAt            *time.Time  `json:"ends_at"`
	SalesStartAt      time.Time   `json:"sales_start_at"`
	SalesEndAt        time.Time   `json:"sales_end_at"`
	MaxTicketsPerUser int         `json:"max_tickets_per_user"`
	HoldSeconds       int         `json:"hold_seconds"`
	Queue             QueueConfig `json:"queue"`
	Tiers             []tierJSON  `json:"tiers"`
	Available         int         `json:"available"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`
}

type tierJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Price     Money  `json:"price"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
}

// MarshalJSON encodes e in the contract's shape, with per-tier and total
// availability.
func (e *Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{
		ID: e.ID, Title: e.Title, Description: e.Description, Venue: e.Venue,
		StartsAt: e.StartsAt, EndsAt: e.EndsAt, SalesStartAt: e.SalesStartAt, SalesEndAt: e.SalesEndAt,
		MaxTicketsPerUser: e.MaxTicketsPerUser, HoldSeconds: e.HoldSeconds, Queue: e.Queue,
		Tiers:     make([]tierJSON, len(e.Tiers)),
		Available: e.Available(),
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	for i := range e.Tiers {
		t := &e.Tiers[i]
		j.Tiers[i] = tierJSON{ID: t.ID, Name: t.Name, Price: t.Price, Capacity: t.Capacity, Available: t.Available()}
	}
	return json.Marshal(j)
}

// MarshalJSON encodes u without its password hash.
func (u *User) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        string    `json:"id"`
		Email     string    `json:"email"`
		Name      string    `json:"name"`
		Role      Role      `json:"role"`
		CreatedAt time.Time `json:"created_at"`
	}{u.ID, u.Email, u.Name, u.Role, u.CreatedAt})
}
