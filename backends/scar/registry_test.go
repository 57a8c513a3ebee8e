package scar_test

import (
	"errors"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/store"
)

func TestRegistryOpensOnlyEnabledWays(t *testing.T) {
	keys := store.Cluster{Name: "mine", Kind: store.KindAWS, Endpoint: "eu-west-1", AuthKind: store.AuthAWSKeys, Username: "AKIA", Password: "s"}
	chain := store.Cluster{Name: "server", Kind: store.KindAWS, Endpoint: "eu-west-1", AuthKind: store.AuthAWSDefaultChain}

	reg := backends.NewRegistry()
	scar.Register(reg, scar.Options{Ways: []string{scar.WayUser}})
	b, err := reg.Backend(t.Context(), keys, backends.Acting{})
	if err != nil {
		t.Fatalf("an account with keys, user way enabled: %v", err)
	}
	if b.Name() != `AWS account "mine"` {
		t.Errorf("Name() = %q", b.Name())
	}
	if _, err := reg.Backend(t.Context(), chain, backends.Acting{}); !errors.Is(err, backends.ErrForbidden) {
		t.Errorf("default chain not enabled: %v, want forbidden", err)
	}
	reg = backends.NewRegistry()
	scar.Register(reg, scar.Options{Ways: []string{scar.WayDefaultChain}})
	if _, err := reg.Backend(t.Context(), keys, backends.Acting{}); !errors.Is(err, backends.ErrForbidden) {
		t.Errorf("keys not enabled: %v, want forbidden", err)
	}
}

// TestOperatorAccountsNeedTheirWay: an operator's account (shared, never
// stored) opens only with the way "operator", and a record that is not
// shared cannot claim to be one.
func TestOperatorAccountsNeedTheirWay(t *testing.T) {
	op := store.Cluster{Name: "lab", Kind: store.KindAWS, Endpoint: "eu-west-1", AuthKind: store.AuthAWSOperator, Username: "AKIA", Password: "s", Shared: true}
	reg := backends.NewRegistry()
	scar.Register(reg, scar.Options{Ways: []string{scar.WayUser, scar.WayDefaultChain}})
	if _, err := reg.Backend(t.Context(), op, backends.Acting{}); !errors.Is(err, backends.ErrForbidden) {
		t.Errorf("operator way not enabled: %v, want forbidden", err)
	}
	reg = backends.NewRegistry()
	scar.Register(reg, scar.Options{Ways: []string{scar.WayOperator}})
	b, err := reg.Backend(t.Context(), op, backends.Acting{})
	if err != nil {
		t.Fatalf("operator way enabled: %v", err)
	}
	if r := b.(*scar.Backend).Region(); r != "eu-west-1" {
		t.Errorf("region = %q", r)
	}
	own := op
	own.Shared = false
	if _, err := reg.Backend(t.Context(), own, backends.Acting{}); !errors.Is(err, backends.ErrForbidden) {
		t.Errorf("an unshared record with the operator's auth kind: %v, want forbidden", err)
	}
}
