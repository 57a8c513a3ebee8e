package backends_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
)

func TestErrorIsAndFormat(t *testing.T) {
	cause := context.DeadlineExceeded
	err := fmt.Errorf("wrapped: %w", &backends.Error{
		Kind: backends.KindUnavailable, Op: "list services", Backend: `oscar "prod"`, Err: cause,
	})
	if !errors.Is(err, backends.ErrUnavailable) {
		t.Error("errors.Is(err, ErrUnavailable) = false, want true")
	}
	if errors.Is(err, backends.ErrNotFound) {
		t.Error("errors.Is(err, ErrNotFound) = true, want false")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("cause not reachable through errors.Is")
	}
	if got, want := backends.KindOf(err), backends.KindUnavailable; got != want {
		t.Errorf("KindOf = %q, want %q", got, want)
	}
	if got, want := err.Error(), `wrapped: oscar "prod": list services: unavailable: context deadline exceeded`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	nf := &backends.Error{Kind: backends.KindNotFound, Message: "service not found"}
	if got, want := backends.MessageOf(nf), "service not found"; got != want {
		t.Errorf("MessageOf = %q, want %q", got, want)
	}
	// A non-sentinel *Error must not match another error of the same kind.
	if errors.Is(nf, &backends.Error{Kind: backends.KindNotFound, Message: "other"}) {
		t.Error("non-sentinel target matched")
	}
	if backends.KindOf(errors.New("plain")) != "" {
		t.Error("KindOf(plain error) should be empty")
	}
}
