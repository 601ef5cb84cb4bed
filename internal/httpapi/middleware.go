package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// requestInfo is what the middleware learns about a request while it runs.
// Handlers fill in userID once the caller is known.
type requestInfo struct {
	requestID string
	userID    string
	problem   string // the problem code answered, if any
}

type infoKey struct{}

// infoFrom returns the request's info, or nil outside the middleware.
func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

// requestIDFrom returns the request's X-Request-Id, or "".
func requestIDFrom(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.requestID
	}
	return ""
}

// maxRequestID is the longest incoming X-Request-Id that is kept.
const maxRequestID = 128

// validRequestID reports whether id may be kept: 1..128 characters of
// [A-Za-z0-9._:-].
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// requestIDs numbers the requests of this process. A request ID is 32 hex
// digits: 64 random bits drawn once per process, so that IDs of different
// instances do not collide, then the request's number. It needs to be
// unique, not secret, and costs no random draw per request.
var requestIDs struct {
	prefix [16]byte
	n      atomic.Uint64
}

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	hex.Encode(requestIDs.prefix[:], b[:])
}

// newRequestID returns the next request ID of this process.
func newRequestID() string {
	var b [32]byte
	copy(b[:16], requestIDs.prefix[:])
	n := requestIDs.n.Add(1)
	const digits = "0123456789abcdef"
	for i := 31; i >= 16; i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b[:])
}

// middleware wraps the mux: it assigns the request ID, recovers panics and
// writes one access-log line per request.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		info := &requestInfo{requestID: id}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		rw := &responseWriter{ResponseWriter: w, status: http.StatusOK}
		rw.Header().Set("X-Request-Id", id)
		if s.obs != nil {
			s.obs.RequestBegin()
			// A separate defer: it runs also when the one below panics
			// again to abort the connection.
			defer func() {
				s.obs.RequestEnd(r.Method, routeOf(r), rw.status, info.problem, time.Since(start))
			}()
		}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic",
					slog.String("request_id", id),
					slog.String("route", routeOf(r)),
					slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(debug.Stack())))
				if rw.wroteHeader {
					// Too late for a problem response: abort the
					// connection so the client sees a failure.
					panic(http.ErrAbortHandler)
				}
				s.writeProblem(rw, r, problemFor(r, errPanic))
			}
			s.logRequest(r, rw, info, time.Since(start))
		}()
		next.ServeHTTP(rw, r)
	})
}

// errPanic stands for a recovered panic; it maps to 500 internal.
var errPanic = fmt.Errorf("handler panicked")

// routeOf returns the route pattern the request matched, never its raw path.
func routeOf(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == catchAllPattern {
		return "unmatched"
	}
	return r.Pattern
}

// slowRequest is the duration past which a request is logged as a warning.
const slowRequest = time.Second

// logRequest writes the access-log line. It never logs bodies, query
// strings or headers, so no password or token can reach the log.
//
// A slow request (over slowRequest, the waiting-room stream aside) and a 5xx
// answer are logged at warn level, so that they stay visible when only
// warnings are logged; every other request at info level.
func (s *server) logRequest(r *http.Request, rw *responseWriter, info *requestInfo, d time.Duration) {
	level := slog.LevelInfo
	if rw.status >= 500 || d > slowRequest && r.Pattern != streamPattern {
		level = slog.LevelWarn
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", routeOf(r)),
		slog.Int("status", rw.status),
		slog.Duration("duration", d),
		slog.Int64("bytes", rw.bytes),
		slog.String("request_id", info.requestID),
	}
	if info.userID != "" {
		attrs = append(attrs, slog.String("user_id", info.userID))
	}
	if info.problem != "" {
		attrs = append(attrs, slog.String("problem", info.problem))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// responseWriter records the status and size of a response.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

// WriteHeader records the status and passes it on.
func (w *responseWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status = status
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write counts the bytes written.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client (for event streams).
func (w *responseWriter) Flush() {
	w.wroteHeader = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
