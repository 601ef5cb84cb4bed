package boxoffice

import "context"

// checkBuyer returns ErrEmailNotVerified when e sells only to buyers with a
// verified email and c's is not. The access token's claim decides for
// verified callers, so they cost nothing; a caller whose token says
// unverified is looked up, since they may have verified since it was
// issued.
func checkBuyer(ctx context.Context, store Store, c Caller, e *Event) error {
	if !e.RequireVerifiedEmail || c.EmailVerified {
		return nil
	}
	u, err := store.User(ctx, c.UserID)
	if err != nil {
		return err
	}
	if !u.EmailVerified {
		return ErrEmailNotVerified
	}
	return nil
}
