package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// checkTimeout bounds each readiness or cluster health check.
const checkTimeout = 3 * time.Second

// Metrics are the Prometheus series the server exports on /metrics. They
// live in a registry of their own (no global state), so two servers in
// one test process do not share counters.
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// WebSockets counts open WebSocket connections; the live-monitoring
	// handlers increment and decrement it.
	WebSockets prometheus.Gauge
}

func newMetrics(clusters []ReadinessCheck) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fdlstudio_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fdlstudio_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		WebSockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fdlstudio_websocket_connections",
			Help: "WebSocket connections currently open.",
		}),
	}
	m.Registry.MustRegister(
		m.requests, m.duration, m.WebSockets,
		clusterHealth(clusters),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// middleware records the count and duration of each request under its
// route pattern (never the raw path, which would explode the series).
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			// The error handler has not run yet; classify as it will.
			status, _ = classify(err)
		}
		route := c.Path()
		if route == "" || status == 404 && err != nil {
			route = "unmatched"
		}
		method := c.Request().Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other" // any string is a method: do not let callers mint series
		}
		m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return err
	}
}

// handler serves the registry in the Prometheus text format.
func (m *Metrics) handler() http.Handler {
	// The HTTP layer compresses (web's gzip step); compressing here too sent
	// gzip inside gzip.
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{DisableCompression: true})
}

var clusterUpDesc = prometheus.NewDesc("fdlstudio_cluster_up",
	"Whether a shared cluster answered its health check at scrape time (1) or not (0).",
	[]string{"cluster"}, nil)

// clusterHealth asks every shared cluster for its health when /metrics
// is scraped, all at once, each within checkTimeout, and reports one
// fdlstudio_cluster_up gauge per cluster.
type clusterHealth []ReadinessCheck

func (c clusterHealth) Describe(ch chan<- *prometheus.Desc) { ch <- clusterUpDesc }

func (c clusterHealth) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for _, rc := range c {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			defer cancel()
			up := 0.0
			if rc.Check(ctx) == nil {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(clusterUpDesc, prometheus.GaugeValue, up, rc.Name)
		})
	}
	wg.Wait()
}
