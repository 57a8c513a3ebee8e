package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Limits bound the transfers running at once, per user and in all, so a
// user (or many) cannot hold every connection and buffer of the server.
// Past a limit a request is answered 429 at once, with a message; it is
// not queued. Zero fields take the defaults.
type Limits struct {
	// UploadsPerUser and Uploads bound concurrent upload requests (the
	// browser's uploader sends 3 files at a time). Defaults 6 and 64.
	UploadsPerUser, Uploads int
	// ZipsPerUser and Zips bound concurrent zip downloads. Defaults 2
	// and 16.
	ZipsPerUser, Zips int
}

// Default transfer limits (see Limits).
const (
	DefaultUploadsPerUser = 6
	DefaultUploads        = 64
	DefaultZipsPerUser    = 2
	DefaultZips           = 16
)

// Listing bounds of one request that lists folders whole (a zip, a
// delete): maxZipObjects and maxDeleteObjects objects in total over every
// selected folder, and at most maxListRounds listing calls, so a backend
// that pages forever (or in pages of one) cannot keep a request looping.
const maxListRounds = 1000

type transferLimits struct {
	uploads, zips *limiter
}

func newTransferLimits(l Limits) *transferLimits {
	or := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	return &transferLimits{
		uploads: &limiter{what: "uploads", perUser: or(l.UploadsPerUser, DefaultUploadsPerUser), total: or(l.Uploads, DefaultUploads), byUser: map[int64]int{}},
		zips:    &limiter{what: "zip downloads", perUser: or(l.ZipsPerUser, DefaultZipsPerUser), total: or(l.Zips, DefaultZips), byUser: map[int64]int{}},
	}
}

// limiter is a counting semaphore per user and one for everyone that
// refuses instead of waiting.
type limiter struct {
	what           string
	perUser, total int

	mu     sync.Mutex
	n      int
	byUser map[int64]int
}

// acquire takes a slot for user, or returns a 429 error saying which
// limit was hit. release must be called once the transfer ends.
func (l *limiter) acquire(c echo.Context, user int64) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var msg string
	switch {
	case l.byUser[user] >= l.perUser:
		msg = fmt.Sprintf("Too many %s at once: one user may run %d. Wait for one to finish, then try again.", l.what, l.perUser)
	case l.n >= l.total:
		msg = fmt.Sprintf("Too many %s at once on this server: it runs at most %d for all users together. Try again in a moment.", l.what, l.total)
	}
	if msg != "" {
		c.Response().Header().Set("Retry-After", strconv.Itoa(5))
		return nil, userError(http.StatusTooManyRequests, msg, nil)
	}
	l.n++
	l.byUser[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.n--
			if l.byUser[user]--; l.byUser[user] <= 0 {
				delete(l.byUser, user)
			}
		})
	}, nil
}

// acquireTransfer takes a slot of l for the request's user.
func (h *Handler) acquireTransfer(c echo.Context, l *limiter) (func(), error) {
	u, err := currentUser(c)
	if err != nil {
		return nil, err
	}
	return l.acquire(c, u.ID)
}

// listBudget is what one request may still list: objects over every
// folder it lists, and listing calls.
type listBudget struct {
	max, objects, rounds int
}

func newListBudget(maxObjects int) *listBudget {
	return &listBudget{max: maxObjects, objects: maxObjects, rounds: maxListRounds}
}

// tooMany is the message when a selection holds more than the budget.
func (b *listBudget) tooMany(where string) error {
	return userError(http.StatusUnprocessableEntity,
		fmt.Sprintf("%s holds more than %d objects; that is too many for one request from the browser. Pick fewer, or use a command-line S3 client.", where, b.max), nil)
}

// collectKeys returns keys followed by every object under folders, each
// key once (a folder inside another selected folder, or a key given
// twice, is not repeated), with the number of objects under each folder.
// Everything listed counts against one budget of max objects.
func collectKeys(ctx context.Context, st objectLister, bucket string, keys, folders []string, max int) (all []string, counts []int, err error) {
	budget := newListBudget(max)
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			all = append(all, k)
		}
	}
	if budget.objects -= len(all); budget.objects < 0 {
		return nil, nil, budget.tooMany("The selection")
	}
	for _, f := range folders {
		objs, err := listAll(ctx, st, bucket, f, budget)
		if err != nil {
			return nil, nil, err
		}
		counts = append(counts, len(objs))
		for _, o := range objs {
			if !seen[o.Key] {
				seen[o.Key] = true
				all = append(all, o.Key)
			}
		}
	}
	return all, counts, nil
}

// listAll lists every object under prefix, taking them from budget and
// failing with a clear message when it runs out.
func listAll(ctx context.Context, st objectLister, bucket, prefix string, budget *listBudget) ([]backends.Object, error) {
	where := "The selection"
	if prefix != "" {
		where = fmt.Sprintf("The selection with folder %q", prefix)
	}
	var out []backends.Object
	token := ""
	for {
		if budget.rounds <= 0 {
			return nil, userError(http.StatusUnprocessableEntity,
				fmt.Sprintf("%s needs more than %d listing calls to the cluster; that is too many for one request from the browser. Pick fewer, or use a command-line S3 client.", where, maxListRounds), nil)
		}
		budget.rounds--
		page, err := st.ListObjects(ctx, bucket, backends.ListObjectsOptions{Prefix: prefix, PageToken: token})
		if err != nil {
			return nil, err
		}
		if budget.objects -= len(page.Objects); budget.objects < 0 {
			return nil, budget.tooMany(where)
		}
		out = append(out, page.Objects...)
		if page.NextPage == "" {
			return out, nil
		}
		token = page.NextPage
	}
}
