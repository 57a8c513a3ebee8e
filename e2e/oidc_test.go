package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// testOP is the example OpenID Provider of github.com/zitadel/oidc, run
// in-process on a loopback port: real discovery, JWKS, a real login form,
// code flow with PKCE, refresh tokens, userinfo and end_session. Its users
// carry EGI-style entitlements so the VO rules are exercised.
type testOP struct {
	Issuer  string
	clients map[string]*storage.Client
	store   *egiStorage
}

// Users of the test provider: alice is in vo.access.egi.eu, bob only in
// another VO; carol is in vo.access.egi.eu, but the provider has not
// verified her e-mail. All have the password opPassword.
const opPassword = "verysecure"

var opUsers = map[string]struct {
	first, last  string
	entitlements []string
	unverified   bool
}{
	"alice": {"Alice", "Researcher", []string{
		"urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu",
		"urn:mace:egi.eu:group:biomed:role=member#aai.egi.eu",
	}, false},
	"bob":   {"Bob", "Outsider", []string{"urn:mace:egi.eu:group:vo.other.eu:role=member#aai.egi.eu"}, false},
	"carol": {"Carol", "Unverified", []string{"urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu"}, true},
}

type opUserStore struct{ users map[string]*storage.User }

func (s opUserStore) GetUserByID(id string) *storage.User { return s.users[id] }
func (s opUserStore) GetUserByUsername(name string) *storage.User {
	for _, u := range s.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}
func (s opUserStore) ExampleClientID() string { return storage.ServiceUserID }

// egiStorage adds the "entitlements" claim to userinfo and ID tokens, and
// lets our client register a post-logout redirect URI.
type egiStorage struct {
	*storage.Storage
	postLogout []string
}

func (s *egiStorage) addEntitlements(ui *oidc.UserInfo, subject string) {
	if u, ok := opUsers[subject]; ok && ui != nil {
		ui.AppendClaims("entitlements", u.entitlements)
	}
}

func (s *egiStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.addEntitlements(ui, subject)
	return nil
}

func (s *egiStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	s.addEntitlements(ui, req.GetSubject())
	return nil
}

type logoutClient struct {
	op.Client
	uris []string
}

func (c logoutClient) PostLogoutRedirectURIs() []string { return c.uris }

func (s *egiStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return logoutClient{Client: c, uris: s.postLogout}, nil
}

// startOP starts the provider on 127.0.0.1:0; it stops when the test ends.
func startOP(t *testing.T) *testOP {
	t.Helper()
	users := map[string]*storage.User{}
	for id, u := range opUsers {
		users[id] = &storage.User{ID: id, Username: id, Password: opPassword, FirstName: u.first, LastName: u.last,
			Email: id + "@example.org", EmailVerified: !u.unverified, PreferredLanguage: language.English}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	clients := map[string]*storage.Client{}
	st := &egiStorage{Storage: storage.NewStorageWithClients(opUserStore{users}, clients)}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("test OP: %v", err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	return &testOP{Issuer: issuer, clients: clients, store: st}
}

// register makes appURL a client of the provider (client ID "fdlstudio",
// secret "fdlstudio-secret"). Call it before the first login.
func (o *testOP) register(appURL string) {
	o.clients["fdlstudio"] = storage.WebClient("fdlstudio", "fdlstudio-secret", appURL+"/auth/callback")
	o.store.postLogout = []string{appURL + "/auth/logged-out"}
}
