package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/oauth2"

	"github.com/fdlstudio/fdlstudio/store"
)

// SessionTokens gives the OpenID Connect access token of one session to
// work that runs outside a request on the user's behalf (a deploy, the
// watch hub). It implements oauth2.TokenSource. Each call reads the
// session again, so work started by a user stops being able to act for
// them as soon as the session ends: logout, the idle or absolute timeout,
// the user ending it, or leaving the accepted VOs. An expiring token is
// refreshed as on the request path, once however many callers (requests
// and background work alike) ask at the same time. Background use does
// not count as activity: it does not keep an abandoned session alive.
// It is safe for concurrent use and holds no secret itself.
type SessionTokens struct {
	m        *Manager
	idHash   string
	publicID string
}

// TokenSource returns the SessionTokens of the request's session. Keep
// it, not the request's context, for work that outlives the request.
// Without a session the error wraps ErrLoginRequired; a session from the
// OSCAR basic login has no token: ErrNoAccessToken.
func (m *Manager) TokenSource(ctx context.Context) (*SessionTokens, error) {
	a := sessionFrom(ctx)
	if a == nil {
		return nil, ErrLoginRequired
	}
	if a.rec.Mode != ModeOIDC {
		return nil, ErrNoAccessToken
	}
	return &SessionTokens{m: m, idHash: a.rec.IDHash, publicID: a.rec.PublicID}, nil
}

// SessionID is the public ID of the session the tokens are for.
func (s *SessionTokens) SessionID() string { return s.publicID }

// Token returns a valid access token (oauth2.TokenSource), within the
// time one refresh at the provider may take.
func (s *SessionTokens) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*oidcTimeout)
	defer cancel()
	return s.TokenContext(ctx)
}

// TokenContext is Token bounded by ctx. When the session has ended, or
// the provider refuses to refresh it, the error wraps ErrSessionEnded or
// ErrLoginRequired and says which session; the session is then ended,
// as a request would end it.
func (s *SessionTokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	m := s.m
	rec, err := m.store.Session(ctx, s.idHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("session %s: %w", s.publicID, ErrSessionEnded)
	}
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.publicID, err)
	}
	now := m.cfg.Now()
	if !now.Before(rec.ExpiresAt) || now.Sub(rec.LastSeenAt) > m.cfg.IdleTimeout {
		return nil, fmt.Errorf("session %s timed out: %w", s.publicID, ErrSessionEnded)
	}
	sec, err := m.open(rec)
	if err != nil {
		return nil, err
	}
	if sec.AccessToken == "" || (!sec.Expiry.IsZero() && !now.Add(refreshMargin).Before(sec.Expiry)) {
		v, err, _ := m.refreshes.Do(s.idHash, func() (any, error) { return m.refresh(context.WithoutCancel(ctx), s.idHash) })
		if err != nil {
			if errors.Is(err, ErrLoginRequired) {
				if derr := m.store.DeleteSession(ctx, s.idHash); derr != nil && !errors.Is(derr, store.ErrNotFound) {
					m.log.Warn("ending session", slog.String("session", s.publicID), slog.String("error", derr.Error()))
				}
			}
			return nil, fmt.Errorf("session %s: %w", s.publicID, err)
		}
		if sec, err = m.open(v.(store.Session)); err != nil {
			return nil, err
		}
	}
	return &oauth2.Token{AccessToken: sec.AccessToken, TokenType: "Bearer", Expiry: sec.Expiry}, nil
}
