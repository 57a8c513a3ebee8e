package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Live updates: a page that shows jobs opens a WebSocket to its /live
// URL and receives, as JSON messages, server-rendered fragments to swap
// in by element id and the log lines that are new, each message with the
// cursor of the last event it carries. static/js/live.js applies them
// and, after a dropped connection, reconnects with ?after=<cursor> to get
// exactly what it missed.

// Connection timing, after gorilla/websocket's chat example.
const (
	// liveWriteWait bounds each write: a client that cannot take a
	// message in that time is too slow and is disconnected.
	liveWriteWait = 10 * time.Second
	// livePongWait is how long the connection lives without hearing from
	// the client; it answers pings sent every livePingPeriod.
	livePongWait   = 60 * time.Second
	livePingPeriod = livePongWait * 9 / 10
	// liveReadLimit bounds a client message (clients send none but
	// control frames).
	liveReadLimit = 512
	// liveBatch is the most events one message carries; liveMaxBehind is
	// how many times a client may fall behind the stream's history (and
	// get a coalesced snapshot) before it is disconnected as too slow.
	liveBatch     = 512
	liveMaxBehind = 3
)

// Gauge counts open WebSocket connections (a Prometheus gauge).
type Gauge interface {
	Inc()
	Dec()
}

var liveUpgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 8192,
	// The Origin is checked (auth.CheckOrigin) before Upgrade is called.
	CheckOrigin:       func(*http.Request) bool { return true },
	EnableCompression: false,
}

// LiveMessage is one message of the live WebSocket.
type LiveMessage struct {
	// Cursor is the position of the last event included, to send back
	// as ?after= when reconnecting.
	Cursor string `json:"cursor"`
	// Swap are fragments that replace the elements with their ids.
	Swap []LiveSwap `json:"swap,omitempty"`
	// Lines are new log lines, [number, text] each.
	Lines []LiveLine `json:"lines,omitempty"`
	// Ended says the job's log is complete.
	Ended bool `json:"ended,omitempty"`
	// Error is the cluster's failure, shown until Error is "" again.
	Error string `json:"error"`
}

// LiveSwap is one fragment: HTML to put in place of the element with ID.
type LiveSwap struct {
	ID   string `json:"id"`
	HTML string `json:"html"`
}

// LiveLine is a log line and its number.
type LiveLine struct {
	N    int    `json:"n"`
	Text string `json:"t"`
}

// LiveJobs handles "GET /services/:cluster/:name/live": the WebSocket of
// a service's jobs page (?status= as the page's filter).
func (h *Handler) LiveJobs(c echo.Context) error { return h.serveLive(c, "") }

// LiveJobLog handles "GET /services/:cluster/:name/jobs/:job/live": the
// WebSocket of a job's log page.
func (h *Handler) LiveJobLog(c echo.Context) error { return h.serveLive(c, c.Param("job")) }

func (h *Handler) serveLive(c echo.Context, job string) error {
	u, err := h.liveRequest(c)
	if err != nil {
		return err
	}
	r := c.Request()
	after, err := watch.ParseCursor(c.QueryParam("after"))
	if err != nil {
		return userError(http.StatusBadRequest, "The after parameter: "+err.Error(), nil)
	}
	cl, err := h.findCluster(r.Context(), u, c.Param("cluster"))
	if err != nil {
		return err
	}
	b, err := h.backgroundBackend(r.Context(), cl)
	if err != nil {
		return err
	}
	resolve := func(context.Context) (backends.Jobs, error) { return b, nil }
	key := watch.Key{Scope: strconv.FormatInt(u.ID, 10), Cluster: cl.Name, Service: c.Param("name")}

	conn, closeConn, ok := h.upgradeLive(c)
	if !ok {
		return nil
	}
	defer closeConn()
	sub, err := h.live.Subscribe(key, job, resolve, after)
	if err != nil {
		refuseLive(conn)
		return nil
	}
	defer sub.Close()
	v := &liveView{cluster: cl, service: key.Service, job: job, status: c.QueryParam("status"),
		csrf: auth.CSRFToken(r.Context()), jobs: map[string]backends.Job{}, inputs: h.knownInputs(cl.Name, key.Service)}
	h.runLive(r.Context(), conn, &subFeed{sub: sub, v: v, first: true})
	return nil
}

// liveRequest checks a request for a live WebSocket before anything is
// read for it: live updates are on, a user is logged in, the request is
// a WebSocket handshake from a page of this site.
func (h *Handler) liveRequest(c echo.Context) (*auth.User, error) {
	if h.live == nil {
		return nil, userError(http.StatusNotImplemented, "Live updates are not enabled on this server.", nil)
	}
	// The session middleware has run: an anonymous request never gets
	// here, but check anyway before anything else.
	u, err := currentUser(c)
	if err != nil {
		return nil, err
	}
	r := c.Request()
	if !websocket.IsWebSocketUpgrade(r) {
		return nil, userError(http.StatusBadRequest, "This address is a WebSocket for live updates; open the page instead.", nil)
	}
	if !auth.CheckOrigin(r, h.publicURL) {
		return nil, userError(http.StatusForbidden, "Live updates are only served to pages of this site (the Origin header does not match).", nil)
	}
	return u, nil
}

// upgradeLive completes the handshake and counts the socket until the
// returned func closes it; ok false when the upgrader has answered with
// an error.
func (h *Handler) upgradeLive(c echo.Context) (*websocket.Conn, func(), bool) {
	conn, err := liveUpgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil, nil, false // the upgrader has answered the handshake
	}
	if h.sockets != nil {
		h.sockets.Inc()
	}
	return conn, func() {
		if h.sockets != nil {
			h.sockets.Dec()
		}
		conn.Close()
	}, true
}

// refuseLive closes a socket the hub cannot serve (it is shutting down).
func refuseLive(conn *websocket.Conn) {
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "live updates are shutting down"), time.Now().Add(time.Second))
}

// liveFeed is what a live connection sends: a stream's events turned
// into messages (subFeed), or the state of several streams rendered
// whole (multiFeed, for the runs and all-jobs pages).
type liveFeed interface {
	// C is signalled when next may have something.
	C() <-chan struct{}
	// Ended is closed when the hub stops.
	Ended() <-chan struct{}
	// next returns the message to send, nil for none; errTooSlow when
	// the client keeps falling behind.
	next(ctx context.Context) (*LiveMessage, error)
}

var errTooSlow = errors.New("live: the client is too slow")

// subFeed is one stream of the hub, rendered by a liveView.
type subFeed struct {
	sub    *watch.Sub
	v      *liveView
	behind int
	first  bool
}

func (f *subFeed) C() <-chan struct{}     { return f.sub.C() }
func (f *subFeed) Ended() <-chan struct{} { return f.sub.Ended() }

func (f *subFeed) next(ctx context.Context) (*LiveMessage, error) {
	evs := f.sub.Next(liveBatch)
	if len(evs) == 0 {
		return nil, nil
	}
	if evs[0].Kind == watch.Snapshot && !f.first {
		if f.behind++; f.behind > liveMaxBehind {
			return nil, errTooSlow
		}
	}
	f.first = false
	return f.v.message(ctx, evs)
}

// runLive is the connection's writer; a reader goroutine answers pings
// and notices the client leaving.
func (h *Handler) runLive(ctx context.Context, conn *websocket.Conn, feed liveFeed) {
	conn.SetReadLimit(liveReadLimit)
	conn.SetReadDeadline(time.Now().Add(livePongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(livePongWait)) })
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(livePingPeriod)
	defer ping.Stop()
	// After liveMaxAge the page reconnects, resuming from its cursor, and
	// the session middleware checks it again.
	expire := time.NewTimer(h.liveMaxAge)
	defer expire.Stop()
	for {
		select {
		case <-gone:
			return
		case <-feed.Ended():
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
			return
		case <-expire.C:
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "reconnect"), time.Now().Add(time.Second))
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(liveWriteWait)); err != nil {
				return
			}
		case <-feed.C():
			msg, err := feed.next(ctx)
			if errors.Is(err, errTooSlow) {
				conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"), time.Now().Add(time.Second))
				return
			}
			if err != nil {
				h.log.Error("live: rendering an update", "err", err)
				return
			}
			if msg == nil {
				continue
			}
			conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
			if err := conn.WriteJSON(msg); err != nil {
				return
			}
		}
	}
}

// liveView is what one connection's page shows, to render its updates.
type liveView struct {
	cluster store.Cluster
	service string
	job     string // "" for a jobs page
	status  string // the jobs page's status filter
	csrf    string
	jobs    map[string]backends.Job // a jobs page's rows
	failed  string
	// inputs are the input objects known of the service's jobs.
	inputs func() map[string]string
}

// message turns a batch of events into one message: coalesced, so that
// the jobs panel is rendered once however many jobs changed.
func (v *liveView) message(ctx context.Context, evs []watch.Event) (*LiveMessage, error) {
	msg := &LiveMessage{Cursor: evs[len(evs)-1].Cursor.String()}
	var job *backends.Job
	panel := false
	changed := map[string]bool{}
	for _, e := range evs {
		switch e.Kind {
		case watch.Snapshot:
			v.failed = e.Err
			if v.job == "" {
				clear(v.jobs)
				for _, j := range e.Jobs {
					v.jobs[j.Name] = j
				}
				panel = true
			} else {
				j := e.Job
				job = &j
				msg.Lines = msg.Lines[:0]
			}
		case watch.JobChanged:
			if v.job == "" {
				_, known := v.jobs[e.Job.Name]
				v.jobs[e.Job.Name] = e.Job
				panel = panel || !known
				changed[e.Job.Name] = true
			} else {
				j := e.Job
				job = &j
			}
		case watch.JobGone:
			if v.job == "" {
				delete(v.jobs, e.Job.Name)
				panel = true
			} else {
				job = &backends.Job{Name: v.job, Status: "Deleted"}
			}
		case watch.Failed:
			v.failed = e.Err
		case watch.Recovered:
			v.failed = ""
		}
		for _, l := range e.Lines {
			msg.Lines = append(msg.Lines, LiveLine{N: l.N, Text: l.Text})
		}
		msg.Ended = msg.Ended || e.Ended
	}
	msg.Error = v.failed
	var err error
	if v.job != "" {
		if job != nil {
			var row *templates.JobRow
			if job.Status != "" {
				r := jobRows([]backends.Job{*job}, 0)[0]
				row = &r
			}
			err = v.swap(ctx, msg, "job-status", templates.JobStatusLine(row, false))
		}
		return msg, err
	}
	rows := v.rows()
	// Under a status filter a changed job may enter or leave the table.
	if panel || v.status != "" && len(changed) > 0 {
		err = v.swap(ctx, msg, "jobs-panel", templates.JobsPanel(templates.JobsProps{
			Chrome:  templates.Chrome{User: templates.UserMenu{CSRFToken: v.csrf}},
			Cluster: v.cluster.Name, Service: v.service, Status: v.status, Jobs: rows,
		}))
		return msg, err
	}
	for _, r := range rows {
		if changed[r.Name] && err == nil {
			err = v.swap(ctx, msg, templates.JobRowID(r.Name), templates.JobTableRow(v.cluster.Name, v.service, r, true, v.csrf))
		}
	}
	return msg, err
}

// rows are the jobs page's rows, newest first, in its status filter.
func (v *liveView) rows() []templates.JobRow {
	all := make([]backends.Job, 0, len(v.jobs))
	for _, j := range v.jobs {
		all = append(all, j)
	}
	slices.SortFunc(all, func(a, b backends.Job) int { return strings.Compare(a.Name, b.Name) })
	var rows []templates.JobRow
	var known map[string]string
	if v.inputs != nil {
		known = v.inputs()
	}
	for _, r := range withInputs(jobRows(all, 0), known) {
		if v.status == "" || r.Status == v.status {
			rows = append(rows, r)
		}
	}
	return rows
}

func (v *liveView) swap(ctx context.Context, msg *LiveMessage, id string, c templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := c.Render(ctx, buf); err != nil {
		return err
	}
	msg.Swap = append(msg.Swap, LiveSwap{ID: id, HTML: buf.String()})
	return nil
}

// backgroundBackend is the backend of cluster cl acting for the
// request's user after the request: with the credentials of the
// cluster record, or for a cluster that takes the user's login token,
// with the session's token source (auth.SessionTokens), which stops
// working when the session ends.
func (h *Handler) backgroundBackend(ctx context.Context, cl store.Cluster) (backends.Backend, error) {
	if cl.AuthKind != store.AuthToken {
		return h.backendFor(ctx, cl)
	}
	if h.tokens == nil || h.backends == nil {
		return h.backendFor(ctx, cl) // says why it cannot act
	}
	token, err := h.tokens(ctx)
	if err != nil {
		return nil, err
	}
	return h.backends.Backend(ctx, cl, backends.Acting{AccessToken: token})
}
