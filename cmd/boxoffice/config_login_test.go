package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigLoginLimit(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.LoginMaxFailures != 10 || c.LoginWindow != 15*time.Minute {
		t.Fatalf("defaults: %d per %v, want 10 per 15m", c.LoginMaxFailures, c.LoginWindow)
	}
	c, err = loadConfig(envOf(map[string]string{"BOXOFFICE_LOGIN_MAX_FAILURES": "5", "BOXOFFICE_LOGIN_WINDOW": "1h"}))
	if err != nil || c.LoginMaxFailures != 5 || c.LoginWindow != time.Hour {
		t.Fatalf("set: %d per %v, %v; want 5 per 1h", c.LoginMaxFailures, c.LoginWindow, err)
	}
	_, err = loadConfig(envOf(map[string]string{"BOXOFFICE_LOGIN_MAX_FAILURES": "0", "BOXOFFICE_LOGIN_WINDOW": "10ms"}))
	for _, name := range []string{"BOXOFFICE_LOGIN_MAX_FAILURES", "BOXOFFICE_LOGIN_WINDOW"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not mention %s: %v", name, err)
		}
	}
}
