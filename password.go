package boxoffice

import (
	_ "embed"
	"strings"
	"sync"
)

// Bounds on passwords.
const (
	minPassword = 8
	maxPassword = 128
)

//go:embed data/common-passwords.txt
var commonPasswordList string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 4000)
	for line := range strings.Lines(commonPasswordList) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = struct{}{}
		}
	}
	return m
})

// checkPassword checks a new password: 8 to 128 characters, not one of the
// commonly used passwords (data/common-passwords.txt), also when only digits
// or punctuation follow it ("monkey123", "password!"), and not the account's
// own email address, the part of it before the @, or its name. Attackers
// try exactly these first.
func checkPassword(v *ValidationError, password, email, name string) {
	n := len(v.Fields)
	checkLen(v, "password", password, minPassword, maxPassword)
	if len(v.Fields) > n {
		return
	}
	p := strings.ToLower(password)
	base := strings.TrimRight(p, "0123456789!@#$%^&*()-_=+.,;:?~ ")
	common := commonPasswords()
	_, isCommon := common[p]
	_, baseCommon := common[base]
	if isCommon || baseCommon && len(base) >= 4 {
		v.Add("password", "is one of the most commonly used passwords; choose another")
		return
	}
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	squash := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "") }
	for _, own := range []string{strings.ToLower(email), local, squash(name)} {
		if own != "" && (p == own || base == own || squash(password) == own) {
			v.Add("password", "must not be your email address or name")
			return
		}
	}
}
