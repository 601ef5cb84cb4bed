package httpapi

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"boxoffice"
)

// domainCodes returns every problem code: the values of every Code
// constant in the domain's errors.go (so that a code added there without a
// status here fails) and HTTP's own.
func domainCodes(t *testing.T) []boxoffice.Code {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []boxoffice.Code
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit := v.(*ast.BasicLit)
				codes = append(codes, boxoffice.Code(strings.Trim(lit.Value, `"`)))
			}
		}
	}
	if len(codes) < 20 {
		t.Fatalf("found only %d codes in errors.go", len(codes))
	}
	// The codes of malformed requests are HTTP's own.
	return append(codes, codeMalformedJSON, codeMethodNotAllowed, codePayloadTooLarge, codeUnsupportedMediaType, codeIncompleteBody, codeRequestTimeout)
}

// serveError answers a request through the middleware with err.
func serveError(err error) *httptest.ResponseRecorder {
	s := &server{log: discardLogger()}
	h := s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, err)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	return w
}

func TestProblemForEveryCode(t *testing.T) {
	want := map[boxoffice.Code]int{
		"malformed_json": 400, "incomplete_body": 400, "request_timeout": 408, "unauthenticated": 401, "token_expired": 401, "invalid_credentials": 401,
		"payment_declined": 402, "forbidden": 403, "not_admitted": 403, "email_not_verified": 403, "not_found": 404,
		"method_not_allowed": 405, "email_taken": 409, "slug_taken": 409, "sold_out": 409, "limit_exceeded": 409,
		"sales_closed": 409, "hold_expired": 409, "invalid_state": 409, "idempotency_key_reused": 409,
		"request_in_progress": 409, "has_reservations": 409, "has_orders": 409, "refund_closed": 409, "name_change_closed": 409, "queue_disabled": 409,
		"capacity_below_reserved": 409, "payload_too_large": 413, "unsupported_media_type": 415,
		"validation_failed": 422, "rate_limited": 429, "internal": 500, "unavailable": 503,
	}
	for _, code := range domainCodes(t) {
		t.Run(string(code), func(t *testing.T) {
			status, ok := want[code]
			if !ok {
				t.Fatalf("code %s has no expected status in this test", code)
			}
			var err error
			switch code {
			case boxoffice.CodeValidationFailed:
				ve := &boxoffice.ValidationError{}
				ve.Add("quantity", "must be at least 1")
				err = ve
			case boxoffice.CodeUnavailable:
				err = &boxoffice.RetryableError{Err: errors.New("dial tcp 10.0.0.1:3306: connection refused")}
			case boxoffice.CodeInternal:
				err = errors.New("pq: SELECT * FROM secrets failed")
			default:
				err = fmt.Errorf("wrapped: %w", boxoffice.Errorf(code, "message for %s", code))
			}
			w := serveError(err)
			p := decodeProblem(t, w, status, code)
			if statusOf(err) != status {
				t.Errorf("statusOf = %d, want %d", statusOf(err), status)
			}
			retry := w.Header().Get("Retry-After")
			if (status == 429 || status == 503) != (retry != "") {
				t.Errorf("Retry-After = %q for status %d", retry, status)
			}
			if status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			switch code {
			case boxoffice.CodeValidationFailed:
				if diff := cmp.Diff([]fieldError{{Field: "quantity", Message: "must be at least 1"}}, p.Errors); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
			case boxoffice.CodeInternal, boxoffice.CodeUnavailable:
				if strings.Contains(w.Body.String(), "SELECT") || strings.Contains(w.Body.String(), "10.0.0.1") {
					t.Errorf("internal message leaked: %s", w.Body)
				}
			default:
				if p.Detail != "message for "+string(code) {
					t.Errorf("detail = %q", p.Detail)
				}
				if p.Errors != nil {
					t.Errorf("errors = %v, want none", p.Errors)
				}
			}
		})
	}
}

func TestProblemUnknownCodeIsInternal(t *testing.T) {
	w := serveError(boxoffice.Errorf("brand_new", "secret"))
	p := decodeProblem(t, w, http.StatusInternalServerError, boxoffice.CodeInternal)
	if strings.Contains(p.Detail, "secret") {
		t.Errorf("detail leaks the message: %q", p.Detail)
	}
}

func TestInternalErrorLoggedWithRequestID(t *testing.T) {
	logs := &syncBuffer{}
	s := &server{log: newJSONLogger(logs)}
	mw := s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errors.New("disk on fire"))
	}))
	w := do(mw, "GET", "/x", "", "X-Request-Id", "trace-42")
	decodeProblem(t, w, 500, boxoffice.CodeInternal)
	if !strings.Contains(logs.String(), "disk on fire") || !strings.Contains(logs.String(), "trace-42") {
		t.Errorf("log lacks the error or request id:\n%s", logs)
	}
	if strings.Contains(w.Body.String(), "disk on fire") {
		t.Error("internal message reached the client")
	}
}

// TestClientGoneIsNotAnError: when the client has gone, whatever error the
// store made of its abandoned query (a driver may call it a broken
// connection) is logged at debug, not as a failed request; a request that
// ran out of its own time budget is still logged.
func TestClientGoneIsNotAnError(t *testing.T) {
	for _, c := range []struct {
		name   string
		ctx    func() context.Context
		err    error
		logged bool
	}{
		{"client gone, opaque driver error", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, errors.New("mysql get order: invalid connection"), false},
		{"client gone, retryable", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, &boxoffice.RetryableError{Err: errors.New("mysql: driver: bad connection")}, false},
		{"time budget spent", func() context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
			defer cancel()
			<-ctx.Done()
			return ctx
		}, errors.New("mysql get order: invalid connection"), true},
		{"client still there", context.Background, errors.New("mysql get order: invalid connection"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs syncBuffer
			s := &server{log: newJSONLogger(&logs)}
			r := httptest.NewRequestWithContext(c.ctx(), "GET", "/api/v1/orders/x", nil)
			w := httptest.NewRecorder()
			s.writeError(w, r, c.err)
			if got := strings.Contains(logs.String(), "request failed"); got != c.logged {
				t.Errorf("logged as a failure: %v, want %v; log %s", got, c.logged, logs.String())
			}
			if gone := !c.logged; gone != (w.Code == 499) {
				t.Errorf("status %d", w.Code)
			}
		})
	}
}
