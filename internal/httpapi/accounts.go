package httpapi

import (
	"net/http"

	"boxoffice"
)

// verifyEmailRequest is the body of POST /api/v1/users/me/email/verify:
// the mailed code, or the token of the mailed link.
type verifyEmailRequest struct {
	Code  string `json:"code"`
	Token string `json:"token"`
}

func (s *server) handleVerifyEmail(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var in verifyEmailRequest
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.accounts.VerifyEmail(r.Context(), c, in.Code, in.Token)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, userOf(u))
}

// accepted is the body of a 202 answer.
type accepted struct {
	Status string `json:"status"`
}

func (s *server) handleResendVerification(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	if err := readNoBody(w, r); err != nil {
		return err
	}
	if err := s.accounts.ResendVerification(r.Context(), c); err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusAccepted, accepted{Status: "accepted"})
}

// passwordResetRequest is the body of POST /api/v1/auth/password-reset.
type passwordResetRequest struct {
	Email string `json:"email"`
}

func (s *server) handlePasswordReset(w http.ResponseWriter, r *http.Request, _ boxoffice.Caller) error {
	var in passwordResetRequest
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.accounts.RequestPasswordReset(r.Context(), in.Email); err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusAccepted, accepted{Status: "accepted"})
}

// passwordResetConfirm is the body of POST /api/v1/auth/password-reset/confirm.
type passwordResetConfirm struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (s *server) handlePasswordResetConfirm(w http.ResponseWriter, r *http.Request, _ boxoffice.Caller) error {
	var in passwordResetConfirm
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.accounts.ResetPassword(r.Context(), in.Token, in.Password); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refreshRequest is the body of POST /api/v1/auth/refresh.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *server) handleRefresh(w http.ResponseWriter, r *http.Request, _ boxoffice.Caller) error {
	var in refreshRequest
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	u, refresh, err := s.accounts.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		return err
	}
	return s.writeTokens(w, r, u, refresh, "")
}

// userChangeRequest is the body of PATCH /api/v1/users/{id}.
type userChangeRequest struct {
	Role     *boxoffice.Role `json:"role"`
	Disabled *bool           `json:"disabled"`
}

func (s *server) handleUpdateUser(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var in userChangeRequest
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.accounts.ChangeUser(r.Context(), c, r.PathValue("id"), boxoffice.UserChange{Role: in.Role, Disabled: in.Disabled})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, userOf(u))
}

func (s *server) handleSignOutEverywhere(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	if err := readNoBody(w, r); err != nil {
		return err
	}
	if err := s.accounts.SignOutEverywhere(r.Context(), c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
