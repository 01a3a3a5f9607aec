package catalog

import "context"

// Actor is who calls a service method. Services read it from the context:
// WithUser for a signed-in user (web session or API token), WithSystem for
// the server itself and the `gale` admin commands. A context without an
// actor is anonymous and may do nothing but sign in and sign up.
//
// Services enforce rights themselves (see Rights); API token scopes are
// enforced by the API layer, which may also narrow an Actor with Scopes.
type Actor struct {
	// User is the signed-in user, nil for the system or anonymous.
	User *User
	// System is true for the server and the command line: every right.
	System bool
	// Scopes, when not nil, lists the API token scopes granted to this
	// call (see TokenScopes); nil means a session with no narrowing.
	Scopes []string
}

type actorKey struct{}

// WithUser returns ctx acting as u (nil u: anonymous).
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, actorKey{}, Actor{User: u})
}

// WithActor returns ctx acting as a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// WithSystem returns ctx acting as the system (all rights).
func WithSystem(ctx context.Context) context.Context {
	return context.WithValue(ctx, actorKey{}, Actor{System: true})
}

// ActorFrom returns the actor of ctx (the zero Actor, anonymous, if none).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// Active reports whether the actor is the system or an enabled user.
func (a Actor) Active() bool {
	return a.System || (a.User != nil && !a.User.Disabled)
}

// IsAdmin reports whether the actor is the system or an enabled site
// administrator.
func (a Actor) IsAdmin() bool {
	return a.System || (a.User != nil && a.User.Admin && !a.User.Disabled)
}

// UserID returns the acting user's ID, 0 for the system or anonymous.
func (a Actor) UserID() int64 {
	if a.User == nil {
		return 0
	}
	return a.User.ID
}

// Is reports whether the actor is the enabled user id.
func (a Actor) Is(id int64) bool {
	return a.User != nil && !a.User.Disabled && a.User.ID == id
}

// HasScope reports whether the actor's scopes allow scope (always true
// for sessions and the system).
func (a Actor) HasScope(scope string) bool {
	if a.System || a.Scopes == nil {
		return true
	}
	for _, s := range a.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// errAnonymous and errForbidden are the refusals of the rights checks.
func errAnonymous() *Error { return Errorf(EUNAUTHORIZED, "sign in first") }

// Forbidden returns the EFORBIDDEN error for an action.
func Forbidden(action string) *Error {
	return Errorf(EFORBIDDEN, "you may not %s", action)
}

// RequireActive returns EUNAUTHORIZED for anonymous or disabled actors.
func RequireActive(a Actor) error {
	if !a.Active() {
		return errAnonymous()
	}
	return nil
}

// RequireAdmin returns an error unless the actor is an administrator.
func RequireAdmin(a Actor, action string) error {
	if !a.Active() {
		return errAnonymous()
	}
	if !a.IsAdmin() {
		return Forbidden(action)
	}
	return nil
}
