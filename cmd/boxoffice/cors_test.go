package main

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestConfigCORSOrigins: BOXOFFICE_CORS_ORIGINS takes exact origins and *,
// and refuses anything with a path, a trailing slash or another scheme.
func TestConfigCORSOrigins(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{"BOXOFFICE_CORS_ORIGINS": " https://shop.example.com, http://localhost:3000 ,*"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://shop.example.com", "http://localhost:3000", "*"}; !slices.Equal(c.CORSOrigins, want) {
		t.Errorf("CORSOrigins = %q, want %q", c.CORSOrigins, want)
	}
	for _, bad := range []string{"https://shop.example.com/", "shop.example.com", "ftp://shop.example.com", "https://shop.example.com/path", "https://user@shop.example.com"} {
		if _, err := loadConfig(envOf(map[string]string{"BOXOFFICE_CORS_ORIGINS": bad})); err == nil || !strings.Contains(err.Error(), "BOXOFFICE_CORS_ORIGINS") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestServeCORSAndPages: the server answers a preflight from a configured
// origin, and serves the storefront at / beside the API.
func TestServeCORSAndPages(t *testing.T) {
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "b.db"),
		"BOXOFFICE_CORS_ORIGINS": "https://shop.example.com",
	})
	req, _ := http.NewRequest("OPTIONS", in.url+"/api/v1/events", nil)
	req.Header.Set("Origin", "https://shop.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get(in.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("storefront: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get(in.url + "/api/v1/no-such-thing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unknown API path: %d %v", resp.StatusCode, resp.Header)
	}
}
