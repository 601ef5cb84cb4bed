package httpapi

import (
	"net/http"
	"time"

	"boxoffice"
)

// organizerRequest is the body of POST /api/v1/organizers.
type organizerRequest struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// organizerBody is the JSON shape of an Organizer.
type organizerBody struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"created_at"`
}

func organizerOf(o *boxoffice.Organizer) organizerBody {
	return organizerBody{ID: o.ID, Name: o.Name, Slug: o.Slug, CreatedAt: o.CreatedAt}
}

// memberRequest is the body of PUT /api/v1/organizers/{id}/members/{user_id}.
type memberRequest struct {
	Role string `json:"role"`
}

// memberBody is the JSON shape of a Member.
type memberBody struct {
	OrganizerID string               `json:"organizer_id"`
	UserID      string               `json:"user_id"`
	Role        boxoffice.MemberRole `json:"role"`
	AddedAt     time.Time            `json:"added_at"`
}

func memberOf(m *boxoffice.Member) memberBody {
	return memberBody{OrganizerID: m.OrganizerID, UserID: m.UserID, Role: m.Role, AddedAt: m.AddedAt}
}

// apiKeyRequest is the body of POST /api/v1/organizers/{id}/api-keys.
type apiKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// apiKeyBody is the JSON shape of an APIKey: never its hash; its secret
// (Key) only in the answer that made it.
type apiKeyBody struct {
	ID          string               `json:"id"`
	OrganizerID string               `json:"organizer_id"`
	Name        string               `json:"name"`
	Role        boxoffice.MemberRole `json:"role"`
	CreatedAt   time.Time            `json:"created_at"`
	Key         string               `json:"key,omitempty"`
}

func apiKeyOf(k *boxoffice.APIKey) apiKeyBody {
	return apiKeyBody{ID: k.ID, OrganizerID: k.OrganizerID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt}
}

func (s *server) handleCreateOrganizer(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var req organizerRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	o, err := s.organizers.CreateOrganizer(r.Context(), c, boxoffice.OrganizerInput(req))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/organizers/"+o.ID)
	return writeJSON(w, r, http.StatusCreated, organizerOf(o))
}

func (s *server) handleGetOrganizer(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	o, err := s.organizers.Organizer(r.Context(), c, id)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, organizerOf(o))
}

func (s *server) handlePutMember(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ids, err := pathIDs(r, "id", "user_id")
	if err != nil {
		return err
	}
	id, userID := ids[0], ids[1]
	var req memberRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	m, err := s.organizers.PutMember(r.Context(), c, id, userID, boxoffice.MemberRole(req.Role))
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, memberOf(m))
}

func (s *server) handleDeleteMember(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ids, err := pathIDs(r, "id", "user_id")
	if err != nil {
		return err
	}
	id, userID := ids[0], ids[1]
	if err := s.organizers.DeleteMember(r.Context(), c, id, userID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) handleListMembers(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ms, err := s.organizers.ListMembers(r.Context(), c, id)
	if err != nil {
		return err
	}
	out := itemsBody[memberBody]{Items: make([]memberBody, len(ms))}
	for i, m := range ms {
		out.Items[i] = memberOf(m)
	}
	return writeJSON(w, r, http.StatusOK, out)
}

func (s *server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req apiKeyRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	k, secret, err := s.organizers.CreateAPIKey(r.Context(), c, id, boxoffice.APIKeyInput{Name: req.Name, Role: boxoffice.MemberRole(req.Role)})
	if err != nil {
		return err
	}
	out := apiKeyOf(k)
	out.Key = secret
	w.Header().Set("Location", "/api/v1/organizers/"+id+"/api-keys/"+k.ID)
	return writeJSON(w, r, http.StatusCreated, out)
}

func (s *server) handleListAPIKeys(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ks, err := s.organizers.ListAPIKeys(r.Context(), c, id)
	if err != nil {
		return err
	}
	out := itemsBody[apiKeyBody]{Items: make([]apiKeyBody, len(ks))}
	for i, k := range ks {
		out.Items[i] = apiKeyOf(k)
	}
	return writeJSON(w, r, http.StatusOK, out)
}

func (s *server) handleDeleteAPIKey(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ids, err := pathIDs(r, "id", "key_id")
	if err != nil {
		return err
	}
	id, keyID := ids[0], ids[1]
	if err := s.organizers.DeleteAPIKey(r.Context(), c, id, keyID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// membershipBody is the JSON shape of a Membership: an organizer the
// caller belongs to and the caller's role there.
type membershipBody struct {
	Organizer organizerBody        `json:"organizer"`
	Role      boxoffice.MemberRole `json:"role"`
	AddedAt   time.Time            `json:"added_at"`
}

func (s *server) handleMyOrganizers(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ms, err := s.organizers.Memberships(r.Context(), c)
	if err != nil {
		return err
	}
	out := itemsBody[membershipBody]{Items: make([]membershipBody, len(ms))}
	for i, m := range ms {
		out.Items[i] = membershipBody{Organizer: organizerOf(m.Organizer), Role: m.Role, AddedAt: m.AddedAt}
	}
	return writeJSON(w, r, http.StatusOK, out)
}

func (s *server) handleOrganizerEvents(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	if err := ve.Err(); err != nil {
		return err
	}
	p, err := s.catalogue.OrganizerEvents(r.Context(), c, id, limit, cursor)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, pageOf(mapPage(p, eventOf)))
}
