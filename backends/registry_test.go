package backends_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// named is a Backend stub that only knows its name; the registry tests
// never call anything else.
type named struct {
	backends.Backend
	name string
}

func (n named) Name() string { return n.name }

func TestRegistryPicksTheFactoryOfTheKind(t *testing.T) {
	r := backends.NewRegistry()
	var gotToken string
	r.Register(store.KindOSCAR, func(ctx context.Context, c store.Cluster, act backends.Acting) (backends.Backend, error) {
		if act.AccessToken != nil {
			gotToken, _ = act.AccessToken(ctx)
		}
		return named{name: "oscar:" + c.Name}, nil
	})
	r.Register("other", func(_ context.Context, c store.Cluster, _ backends.Acting) (backends.Backend, error) {
		return named{name: "other:" + c.Name}, nil
	})
	ctx := t.Context()
	act := backends.Acting{AccessToken: func(context.Context) (string, error) { return "tok", nil }}
	for _, tt := range []struct {
		c    store.Cluster
		want string
	}{
		{store.Cluster{Name: "old"}, "oscar:old"}, // no kind: a registration from before kinds
		{store.Cluster{Name: "a", Kind: store.KindOSCAR}, "oscar:a"},
		{store.Cluster{Name: "b", Kind: "other"}, "other:b"},
	} {
		b, err := r.Backend(ctx, tt.c, act)
		if err != nil || b.Name() != tt.want {
			t.Errorf("Backend(%+v) = %v, %v; want %s", tt.c, b, err, tt.want)
		}
	}
	if gotToken != "tok" {
		t.Errorf("the factory was not given the user's token source (got %q)", gotToken)
	}
	_, err := r.Backend(ctx, store.Cluster{Name: "x", Kind: "aws"}, act)
	if !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("unknown kind: %v, want unsupported", err)
	}
	if got := fmt.Sprint(r.Kinds()); got != "[oscar other]" {
		t.Errorf("Kinds = %s", got)
	}
}

// TestHTTPStatusIsTheOneTable pins the statuses the three old tables
// disagreed on, and the ones a deadline inside a backend error gets.
func TestHTTPStatusIsTheOneTable(t *testing.T) {
	deadline := &backends.Error{Kind: backends.KindUnavailable, Err: context.DeadlineExceeded}
	for _, tt := range []struct {
		err  error
		want int
	}{
		{&backends.Error{Kind: backends.KindUnsupported}, http.StatusNotImplemented},
		{deadline, http.StatusGatewayTimeout},
		{fmt.Errorf("wrapped: %w", deadline), http.StatusGatewayTimeout},
		{&backends.Error{Kind: backends.KindUnavailable}, http.StatusBadGateway},
		{&backends.Error{Kind: backends.KindUnauthorized}, http.StatusBadGateway},
		{&backends.Error{Kind: backends.KindNotFound}, http.StatusNotFound},
		{&backends.Error{Kind: backends.KindInvalid}, http.StatusUnprocessableEntity},
		{&backends.Error{Kind: backends.KindForbidden}, http.StatusForbidden},
		{&backends.Error{Kind: backends.KindConflict}, http.StatusConflict},
		{store.ErrNotFound, http.StatusNotFound},
		{store.ErrLocked, http.StatusServiceUnavailable},
		{context.Canceled, 499},
		{errors.New("anything else"), http.StatusInternalServerError},
	} {
		if got, _ := backends.HTTPStatus(tt.err); got != tt.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if _, ok := backends.HTTPStatus(errors.New("x")); ok {
		t.Error("an error of no kind matched")
	}
}
