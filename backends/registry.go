package backends

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/fdlstudio/fdlstudio/store"
)

// Acting says how a backend acts for one user: with their OIDC access
// token on clusters registered with token login, or with the basic
// credentials stored in the cluster record.
type Acting struct {
	// AccessToken returns the user's current access token (refreshed when
	// needed); nil when the user has none.
	AccessToken func(ctx context.Context) (string, error)
}

// Factory builds the Backend of one cluster record, acting as told.
type Factory func(ctx context.Context, c store.Cluster, act Acting) (Backend, error)

// Registry turns cluster records into backends by their kind. Each kind
// registers its factory once, at start-up; lookups are safe from any
// goroutine.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]Factory
}

// NewRegistry returns a registry with no kinds.
func NewRegistry() *Registry { return &Registry{kinds: map[string]Factory{}} }

// Register makes f the factory of kind (store.KindOSCAR, store.KindLocal,
// ...), replacing any earlier one.
func (r *Registry) Register(kind string, f Factory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds[kind] = f
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Backend returns the backend for cluster c acting as act. A record with
// no kind is an OSCAR cluster (the kind of every registration made before
// kinds existed). A kind no factory serves is KindUnsupported.
func (r *Registry) Backend(ctx context.Context, c store.Cluster, act Acting) (Backend, error) {
	kind := c.Kind
	if kind == "" {
		kind = store.KindOSCAR
	}
	r.mu.RLock()
	f, ok := r.kinds[kind]
	r.mu.RUnlock()
	if !ok {
		return nil, &Error{Kind: KindUnsupported, Backend: fmt.Sprintf("cluster %q", c.Name),
			Message: fmt.Sprintf("this FDL Studio has no backend for clusters of kind %q", kind)}
	}
	return f(ctx, c, act)
}
