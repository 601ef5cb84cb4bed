package boxoffice

import "testing"

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		password, email, name string
		ok                    bool
	}{
		{"password", "ann@example.test", "Ann Lee", false},
		{"12345678", "ann@example.test", "Ann Lee", false},
		{"Password1!", "ann@example.test", "Ann Lee", false},
		{"monkey123", "ann@example.test", "Ann Lee", false},
		{"qwertyuiop", "ann@example.test", "Ann Lee", false},
		{"ann@example.test", "ann@example.test", "Ann Lee", false},
		{"ANN@EXAMPLE.TEST", "ann@example.test", "Ann Lee", false},
		{"annabelle", "annabelle@example.test", "Ann Lee", false},
		{"annabelle2026", "annabelle@example.test", "Ann Lee", false},
		{"Ann Lee Ann", "a@example.test", "Ann Lee Ann", false},
		{"short", "ann@example.test", "Ann Lee", false},
		{"correct horse battery staple", "ann@example.test", "Ann Lee", true},
		{"vX9#kq2Lm", "ann@example.test", "Ann Lee", true},
		{"sunflower-orbit-42", "ann@example.test", "Ann Lee", true},
	} {
		var v ValidationError
		checkPassword(&v, c.password, c.email, c.name)
		if ok := v.Err() == nil; ok != c.ok {
			t.Errorf("checkPassword(%q, %q, %q): accepted %v, want %v (%v)", c.password, c.email, c.name, ok, c.ok, v.Err())
		}
	}
	if n := len(commonPasswords()); n < 3000 {
		t.Errorf("only %d common passwords loaded", n)
	}
}
