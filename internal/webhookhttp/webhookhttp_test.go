package webhookhttp

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPoster(t *testing.T) {
	var got http.Header
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/hooks", http.StatusFound)
			return
		}
		got = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	p := New(Options{AllowPrivate: true})
	status, err := p.Post(t.Context(), srv.URL+"/hooks", map[string]string{"webhook-id": "msg_1", "Content-Type": "application/json"}, []byte(`{"a":1}`))
	if err != nil || status != 202 || got.Get("webhook-id") != "msg_1" || body != `{"a":1}` {
		t.Errorf("post: %d %v %v %q", status, err, got, body)
	}
	// A redirect is an answer, not followed.
	if status, err := p.Post(t.Context(), srv.URL+"/moved", nil, nil); err != nil || status != http.StatusFound {
		t.Errorf("redirect: %d %v", status, err)
	}
	// Without AllowPrivate, loopback is refused before connecting.
	strict := New(Options{})
	if _, err := strict.Post(t.Context(), srv.URL+"/hooks", nil, nil); !errors.Is(err, errPrivate) {
		t.Errorf("a loopback endpoint: %v", err)
	}
	for _, u := range []string{"http://10.1.2.3:9/", "http://169.254.169.254/latest"} {
		if _, err := strict.Post(t.Context(), u, nil, nil); !errors.Is(err, errPrivate) {
			t.Errorf("%s: %v", u, err)
		}
	}
}
