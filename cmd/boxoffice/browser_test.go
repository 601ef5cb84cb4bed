package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"boxoffice/internal/stripe"
	"boxoffice/internal/stripe/stripemock"
	"boxoffice/internal/testdb"
)

// chromiumPath finds the browser the page tests drive: BOXOFFICE_CHROMIUM,
// else Debian's chromium on the PATH.
func chromiumPath() string {
	if p := os.Getenv("BOXOFFICE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium tab on a boxoffice server, with helpers
// that fail the test with what the page shows.
type browser struct {
	t      *testing.T
	ctx    context.Context
	base   string
	shots  string // where screenshots go ("" for none)
	axe    string // the axe-core script ("" for no accessibility check)
	mu     sync.Mutex
	errors []string // uncaught exceptions and security (CSP) messages
}

// needChromium skips a page test in -short mode or without Chromium.
func needChromium(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("chromium-backed test skipped in -short mode")
	}
	if chromiumPath() == "" {
		t.Skip("chromium-backed test skipped: no Chromium found (apt-get install chromium, or set BOXOFFICE_CHROMIUM)")
	}
}

// newBrowser starts Chromium with a fresh profile, or skips the test when
// there is none.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium-backed test skipped: no Chromium found (apt-get install chromium, or set BOXOFFICE_CHROMIUM)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(360, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 800)); err != nil {
		t.Fatalf("starting chromium (%s): %v", path, err)
	}
	b := &browser{t: t, ctx: ctx, base: base}
	if dir := os.Getenv("BOXOFFICE_ARTIFACTS"); dir != "" {
		b.shots = filepath.Join(dir, "pages")
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if path := os.Getenv("BOXOFFICE_AXE"); path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("BOXOFFICE_AXE: %v", err)
		}
		b.axe = string(src)
	} else {
		t.Log("axe-core check skipped: set BOXOFFICE_AXE to axe-core's axe.min.js (npm axe-core)")
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errors {
			t.Errorf("browser console: %s", e)
		}
	})
	return b
}

// do runs steps, failing the test with the page's state when one fails.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.state())
	}
}

// state describes the page for a failure message.
func (b *browser) state() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000)`))
	return "page: " + s
}

// eval evaluates a JavaScript expression.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v\n%s", expr, err, b.state())
	}
	return v
}

// waitJS waits until the expression is true.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %v (%s; err %v)\n%s", what, timeout, expr, err, b.state())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// open navigates to path and waits for the page's scripts to have run.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
	b.waitJS("page ready: "+path, `document.readyState === "complete"`, 15*time.Second)
}

// shot checks the page's accessibility with axe-core (when BOXOFFICE_AXE
// names it) and writes screenshots of it at a phone's and a desktop's width
// under $BOXOFFICE_ARTIFACTS/pages.
func (b *browser) shot(name string) {
	b.t.Helper()
	b.checkAccessibility(name)
	if b.shots == "" {
		return
	}
	for _, w := range []int64{360, 1280} {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		var png []byte
		err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800))
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			b.t.Errorf("screenshot %s at %d px: %v", name, w, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			b.t.Error(err)
		}
	}
	b.do("back to the phone's width", chromedp.EmulateViewport(360, 800))
}

// checkAccessibility runs axe-core on the page at a phone's width and fails
// the test on any serious or critical violation.
func (b *browser) checkAccessibility(name string) {
	b.t.Helper()
	if b.axe == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](b.axe+"\n;undefined")); err != nil {
		b.t.Fatalf("injecting axe-core into %s: %v", name, err)
	}
	var res struct {
		Passes  int
		Serious []string
		Minor   []string
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document).then(r => {
		const say = v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", ");
		const bad = v => v.impact === "serious" || v.impact === "critical";
		return JSON.stringify({passes: r.passes.length, serious: r.violations.filter(bad).map(say), minor: r.violations.filter(v => !bad(v)).map(say)});
	})`, chromedp.EvalAwaitPromise))
	if err == nil {
		err = json.Unmarshal([]byte(out), &res)
	}
	if err != nil || res.Passes == 0 {
		b.t.Fatalf("axe-core on %s: %v (%s)", name, err, out)
	}
	for _, v := range res.Serious {
		b.t.Errorf("accessibility of %s: %s", name, v)
	}
	for _, v := range res.Minor {
		b.t.Logf("accessibility of %s (minor): %s", name, v)
	}
}

// setOffline cuts the tab off the network (or restores it), as a phone at
// the door loses and finds its connection.
func (b *browser) setOffline(off bool) {
	b.t.Helper()
	b.do(fmt.Sprintf("offline=%v", off), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: off, DownloadThroughput: -1, UploadThroughput: -1,
		})
		return err
	}))
}

// pageServerEnv is the environment of the server the page tests drive: on
// MariaDB and Redis when the test environment names them, else SQLite and
// in-process queues.
func pageServerEnv(t *testing.T) map[string]string {
	env := map[string]string{
		"BOXOFFICE_ADMIN_EMAIL":    "admin@example.com",
		"BOXOFFICE_ADMIN_PASSWORD": "admin-secret-pw",
		"BOXOFFICE_BCRYPT_COST":    "4",
		"BOXOFFICE_PAYMENTS":       "test",
		"BOXOFFICE_DATABASE_URL":   "sqlite:" + filepath.Join(t.TempDir(), "b.db"),
	}
	if os.Getenv("BOXOFFICE_TEST_MYSQL_URL") != "" {
		env["BOXOFFICE_DATABASE_URL"] = testdb.MySQLURL(t)
	}
	if r := os.Getenv("BOXOFFICE_TEST_REDIS_URL"); r != "" {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/14"
		env["BOXOFFICE_REDIS_URL"] = u.String()
		env["BOXOFFICE_JWT_SECRET"] = "page-tests-secret-0123456789abcdef0123"
	}
	return env
}

type pageTier struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type pageEvent struct {
	ID    string     `json:"id"`
	Tiers []pageTier `json:"tiers"`
}

type pageTicket struct {
	ID     string `json:"id"`
	Code   string `json:"code"`
	Status string `json:"status"`
}

// TestPagesInBrowser walks a fan and a door scanner through the pages in a
// real Chromium: sign up, the event page, the waiting room, checkout of two
// tiers with a declined and a good test card, my tickets with the QR codes,
// then the door as the admin: a keyboard-wedge scan admits, the same code is
// already used, a bad code is invalid and the scanner is ready again; then
// the door goes offline, admits the second ticket on its own, and uploads
// the scan when the network is back.
func TestPagesInBrowser(t *testing.T) {
	needChromium(t)
	in := startInstance(t, pageServerEnv(t))
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-secret-pw")}
	now := time.Now().UTC()
	var ev pageEvent
	if code := admin.do("POST", "/api/v1/events", map[string]any{
		"title": "Night Owls Live", "description": "An evening of songs.", "venue": "Harbour Hall",
		"starts_at":            now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
		"sales_start_at":       now.Add(-time.Hour).Format(time.RFC3339),
		"sales_end_at":         now.Add(7 * 24 * time.Hour).Format(time.RFC3339),
		"max_tickets_per_user": 4, "hold_seconds": 600,
		"queue": map[string]any{"enabled": true, "admit_per_minute": 600},
		"tiers": []map[string]any{
			{"name": "Standing", "price": map[string]any{"amount": 4500, "currency": "EUR"}, "capacity": 100},
			{"name": "Balcony", "price": map[string]any{"amount": 7000, "currency": "EUR"}, "capacity": 20},
		},
	}, &ev); code != 201 {
		t.Fatalf("creating the event: %d", code)
	}

	b := newBrowser(t, in.url)

	// The storefront.
	b.open("/")
	b.waitJS("the catalogue lists the event", `document.querySelector("#events a") && document.querySelector("#events a").textContent === "Night Owls Live"`, 10*time.Second)
	b.shot("catalogue")

	// Sign up, coming back to the event page.
	b.open("/signup?next=" + url.QueryEscape("/events/"+ev.ID))
	b.shot("signup")
	b.do("sign up",
		chromedp.SendKeys(chromedp.CSS("#name"), "Ada Fan"),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup button[type=submit]")))
	b.waitJS("back on the event page", `location.pathname === "/events/`+ev.ID+`"`, 10*time.Second)
	b.waitJS("tiers with availability", `document.querySelectorAll("#tiers tr").length === 2 && /100/.test(document.querySelector("#tiers").textContent)`, 10*time.Second)
	if b.eval(`String(document.cookie.includes("bo_access"))`) != "false" {
		t.Error("the access token cookie is readable by scripts")
	}
	b.shot("event")

	// The waiting room admits (600 a minute).
	b.do("join the waiting room", chromedp.Click(chromedp.CSS("#buy")))
	b.waitJS("on the queue page", `location.pathname.endsWith("/queue")`, 10*time.Second)
	b.waitJS("admitted", `!document.querySelector("#go").hidden`, 20*time.Second)
	if got := b.eval(`document.querySelector("#position").textContent`); got != "It is your turn!" {
		t.Errorf("queue position says %q", got)
	}
	b.shot("queue-admitted")
	// A reload keeps the admission (joining again keeps the place).
	b.open("/events/" + ev.ID + "/queue")
	b.waitJS("still admitted after a reload", `!document.querySelector("#go").hidden`, 10*time.Second)

	// Checkout: one ticket of each tier, named.
	b.do("to checkout", chromedp.Click(chromedp.CSS("#go")))
	b.waitJS("the order form", `!document.querySelector("#order-form").hidden`, 10*time.Second)
	b.do("choose tickets",
		chromedp.SetValue(chromedp.CSS("#qty-"+ev.Tiers[0].ID), "1"),
		chromedp.SetValue(chromedp.CSS("#qty-"+ev.Tiers[1].ID), "1"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lines").dispatchEvent(new Event("input"))`))
	b.waitJS("name fields", `document.querySelectorAll("#names input").length === 2`, 5*time.Second)
	b.do("name the tickets",
		chromedp.SendKeys(chromedp.CSS("#name-"+ev.Tiers[0].ID+"-0"), "Ada Fan"),
		chromedp.SendKeys(chromedp.CSS("#name-"+ev.Tiers[1].ID+"-0"), "Grace Friend"))
	b.shot("checkout")
	b.do("hold", chromedp.Click(chromedp.CSS("#place")))
	b.waitJS("the payment step with a countdown", `!document.querySelector("#pay").hidden && /held for/.test(document.querySelector("#countdown").textContent)`, 10*time.Second)
	b.waitJS("the test card buttons", `!document.querySelector("#test-pay").hidden`, 5*time.Second)
	b.shot("pay")
	b.do("a declined card", chromedp.Click(chromedp.CSS("#pay-declined")))
	b.waitJS("declined, said so", `!document.querySelector("#error").hidden && /declined/i.test(document.querySelector("#error").textContent)`, 10*time.Second)
	b.do("the good card", chromedp.Click(chromedp.CSS("#pay-visa")))
	b.waitJS("paid", `!document.querySelector("#done").hidden`, 15*time.Second)
	b.shot("paid")

	// My tickets, with their QR codes.
	b.do("to my tickets", chromedp.Click(chromedp.CSS("#to-tickets")))
	b.waitJS("two tickets with QR codes loaded", `Array.from(document.querySelectorAll(".ticket img")).filter(i => i.complete && i.naturalWidth > 0).length === 2`, 15*time.Second)
	b.shot("tickets")
	orderID := b.eval(`new URLSearchParams(location.search).get("order")`)
	var tickets struct{ Items []pageTicket }
	if code := admin.do("GET", "/api/v1/orders/"+orderID+"/tickets", nil, &tickets); code != 200 || len(tickets.Items) != 2 {
		t.Fatalf("the order's tickets: %d %+v", code, tickets)
	}
	first, second := tickets.Items[0], tickets.Items[1]

	// The door, as the admin.
	b.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	b.waitJS("signed out", `location.pathname === "/" && !document.cookie.includes("bo_signed_in=1")`, 10*time.Second)
	b.open("/signin?next=" + url.QueryEscape("/events/"+ev.ID+"/door"))
	b.shot("signin")
	b.do("sign in as the admin",
		chromedp.SendKeys(chromedp.CSS("#email"), "admin@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "admin-secret-pw"+kb.Enter))
	b.waitJS("on the door page", `location.pathname === "/events/`+ev.ID+`/door"`, 10*time.Second)
	b.waitJS("the offline list is loaded", `/Offline list: 2 tickets/.test(document.querySelector("#bundle").textContent)`, 10*time.Second)
	b.waitJS("gate counts", `document.querySelectorAll("#counts tr").length >= 1`, 10*time.Second)

	scan := func(code, want string) {
		t.Helper()
		b.waitJS("the code field has the focus", `document.activeElement && document.activeElement.id === "code"`, 5*time.Second)
		b.do("scan "+want, chromedp.Evaluate[chromedp.Void](`document.querySelector("#result").dataset.result = ""`),
			chromedp.SendKeys(chromedp.CSS("#code"), code+kb.Enter))
		b.waitJS("the scan answers "+want, `document.querySelector("#result").dataset.result !== ""`, 10*time.Second)
		if got := b.eval(`document.querySelector("#result").dataset.result`); got != want {
			t.Fatalf("scan: %s, want %s\n%s", got, want, b.state())
		}
		b.waitJS("ready for the next scan", `document.activeElement.id === "code" && document.activeElement.value === ""`, 5*time.Second)
	}
	scan(first.Code, "ok")
	if v := b.eval(`document.querySelector("#verdict").textContent`); !strings.Contains(v, "OK") {
		t.Errorf("an ok scan shows %q", v)
	}
	b.shot("door-ok")
	scan(first.Code, "already_used")
	b.shot("door-already-used")
	scan("not-a-ticket-code", "invalid")
	if v := b.eval(`document.querySelector("#verdict").textContent`); v != "INVALID" {
		t.Errorf("an invalid scan shows %q", v)
	}
	b.shot("door-invalid")

	// Offline: the second ticket is checked on the phone, then uploaded.
	b.setOffline(true)
	scan(second.Code, "ok")
	if d := b.eval(`document.querySelector("#detail").textContent`); !strings.Contains(d, "checked offline") || !strings.Contains(d, "Grace Friend") && !strings.Contains(d, "Ada Fan") {
		t.Errorf("the offline scan says %q", d)
	}
	scan(second.Code, "already_used")
	b.shot("door-offline")
	var tk pageTicket
	if admin.do("GET", "/api/v1/tickets/"+second.ID, nil, &tk); tk.Status != "valid" {
		t.Fatalf("the server knew of the offline scan while offline: %+v", tk)
	}
	b.setOffline(false)
	b.waitJS("the offline scans are uploaded", `document.querySelector("#pending").textContent === "All scans uploaded"`, 20*time.Second)
	if admin.do("GET", "/api/v1/tickets/"+second.ID, nil, &tk); tk.Status != "used" {
		t.Errorf("after the upload the ticket is %q, want used", tk.Status)
	}
	// A tampered code is invalid offline too (the signature is checked).
	b.setOffline(true)
	tampered := []byte(second.Code)
	tampered[100] ^= 1
	if tampered[100] == '-' || tampered[100] == '_' || !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", rune(tampered[100])) {
		tampered[100] = 'A'
	}
	scan(string(tampered), "invalid")
	b.setOffline(false)
	if errors.Is(b.ctx.Err(), context.Canceled) {
		t.Fatal("browser gone")
	}
}

// TestWaitingRoomPageInBrowser: the waiting room keeps a pre-sale place
// through a network drop and a reload, and tells the truth when the event
// has sold out.
func TestWaitingRoomPageInBrowser(t *testing.T) {
	needChromium(t)
	in := startInstance(t, pageServerEnv(t))
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-secret-pw")}
	now := time.Now().UTC()
	event := func(title string, salesStart time.Time, capacity int) pageEvent {
		var ev pageEvent
		if code := admin.do("POST", "/api/v1/events", map[string]any{
			"title": title, "description": "", "venue": "Hall",
			"starts_at":            now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
			"sales_start_at":       salesStart.Format(time.RFC3339),
			"sales_end_at":         now.Add(7 * 24 * time.Hour).Format(time.RFC3339),
			"max_tickets_per_user": 4, "hold_seconds": 600,
			"queue": map[string]any{"enabled": true, "admit_per_minute": 600},
			"tiers": []map[string]any{{"name": "GA", "price": map[string]any{"amount": 1000, "currency": "EUR"}, "capacity": capacity}},
		}, &ev); code != 201 {
			t.Fatalf("creating %s: %d", title, code)
		}
		return ev
	}
	presale := event("Pre-sale Night", now.Add(time.Hour), 10)
	tiny := event("Tiny Room", now.Add(-time.Hour), 1)

	// Someone else buys the tiny room's only ticket.
	other := client{t: t, base: in.url}
	if code := other.do("POST", "/api/v1/users", map[string]string{"email": "first@example.com", "password": "first-fan-password", "name": "First"}, nil); code != 201 {
		t.Fatalf("sign-up: %d", code)
	}
	other.token = signIn(t, in.url, "first@example.com", "first-fan-password")
	other.do("POST", "/api/v1/events/"+tiny.ID+"/queue", nil, nil)
	admission := waitAdmitted(t, []string{in.url}, tiny.ID, other.token)
	var order struct{ ID string }
	if code := call(t, "POST", in.url, "/api/v1/events/"+tiny.ID+"/orders", other.token, map[string]string{"Admission-Token": admission},
		map[string]any{"lines": []map[string]any{{"tier_id": tiny.Tiers[0].ID, "quantity": 1}}}, &order); code != 201 {
		t.Fatalf("order: %d", code)
	}
	if code := other.do("POST", "/api/v1/orders/"+order.ID+"/payments", map[string]string{"payment_token": "tok_visa"}, nil); code != 201 {
		t.Fatalf("payment: %d", code)
	}

	b := newBrowser(t, in.url)
	b.open("/signup?next=" + url.QueryEscape("/events/"+presale.ID+"/queue"))
	b.do("sign up",
		chromedp.SendKeys(chromedp.CSS("#name"), "Lin Waiting"),
		chromedp.SendKeys(chromedp.CSS("#email"), "lin@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "a long wait ahead"+kb.Enter))
	inPool := `/pre-sale draw/.test(document.querySelector("#position").textContent)`
	b.waitJS("in the pre-sale pool", inPool, 15*time.Second)
	b.waitJS("live updates", `/Live updates on/.test(document.querySelector("#connection").textContent)`, 10*time.Second)
	if live := b.eval(`document.querySelector("#queue-state").getAttribute("aria-live")`); live != "polite" {
		t.Errorf("the queue state's aria-live is %q", live)
	}
	b.shot("queue-presale")
	b.setOffline(true)
	b.waitJS("says it is offline", `/offline/.test(document.querySelector("#connection").textContent)`, 10*time.Second)
	b.shot("queue-offline")
	b.setOffline(false)
	b.waitJS("live again", `/Live updates on/.test(document.querySelector("#connection").textContent)`, 15*time.Second)
	b.waitJS("still in the pool", inPool, 5*time.Second)
	b.open("/events/" + presale.ID + "/queue")
	b.waitJS("still in the pool after a reload", inPool, 10*time.Second)
	var st struct{ Status string }
	if code := (client{t: t, base: in.url, token: signIn(t, in.url, "lin@example.com", "a long wait ahead")}).do("GET", "/api/v1/events/"+presale.ID+"/queue", nil, &st); code != 200 || st.Status != "waiting" {
		t.Errorf("the server has the fan %d %+v", code, st)
	}

	b.open("/events/" + tiny.ID + "/queue")
	b.waitJS("sold out, said so", `document.querySelector("#position").textContent === "Sold out"`, 20*time.Second)
	if eta := b.eval(`document.querySelector("#eta").textContent`); !strings.Contains(eta, "sold") && !strings.Contains(eta, "closed") {
		t.Errorf("the sold-out page says %q", eta)
	}
	b.shot("queue-sold-out")
}

// evalAsync evaluates a JavaScript expression that may answer a promise.
func (b *browser) evalAsync(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v\n%s", expr, err, b.state())
	}
	return v
}

// TestOrganizerPagesInBrowser walks an organizer through the back office
// in a real Chromium: their organizers and events, a new draft with two
// tiers, publishing it, the live sale counting a fan's purchase made
// through the API while the page is open, the attendee list and its
// export, refunds of one ticket and then of the whole order (checked
// through the API), a new team member, a webhook endpoint, and cancelling
// the event after its confirmation step.
func TestOrganizerPagesInBrowser(t *testing.T) {
	needChromium(t)
	in := startInstance(t, pageServerEnv(t))
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-secret-pw")}
	user := func(email, password, name string) (client, string) {
		t.Helper()
		c := client{t: t, base: in.url}
		if code := c.doShed("POST", "/api/v1/users", map[string]string{"email": email, "password": password, "name": name}, nil); code != 201 {
			t.Fatalf("sign-up of %s: %d", email, code)
		}
		c.token = signIn(t, in.url, email, password)
		var me struct{ ID string }
		if code := c.do("GET", "/api/v1/users/me", nil, &me); code != 200 {
			t.Fatalf("me of %s: %d", email, code)
		}
		return c, me.ID
	}
	_, orgUserID := user("olga@example.com", "olga organizes things", "Olga Organizer")
	_, samID := user("sam@example.com", "sam scans tickets", "Sam Staff")
	fan, _ := user("finn@example.com", "finn buys tickets", "Finn Fan")

	var org struct{ ID string }
	if code := admin.do("POST", "/api/v1/organizers", map[string]string{"name": "Harbour Nights"}, &org); code != 201 {
		t.Fatalf("creating the organizer: %d", code)
	}
	if code := admin.do("PUT", "/api/v1/organizers/"+org.ID+"/members/"+orgUserID, map[string]string{"role": "owner"}, nil); code != 200 {
		t.Fatalf("adding the organizer's owner: %d", code)
	}

	b := newBrowser(t, in.url)
	b.open("/signin?next=" + url.QueryEscape("/organize"))
	b.do("sign in as the organizer",
		chromedp.SendKeys(chromedp.CSS("#email"), "olga@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "olga organizes things"+kb.Enter))
	b.waitJS("on the organize page", `location.pathname === "/organize"`, 10*time.Second)
	b.waitJS("the organizer is listed", `document.querySelector("#org-`+org.ID+` h2") && document.querySelector("#my-id").textContent === "`+orgUserID+`"`, 10*time.Second)
	if b.eval(`document.querySelector("header a[href='/organize']").closest(".when-in").hidden ? "hidden" : "shown"`) != "shown" {
		t.Error("the header's Organize link is hidden from a signed-in user")
	}
	b.shot("organize")

	// A new draft with two tiers.
	b.do("new event", chromedp.Click(chromedp.CSS(`#org-`+org.ID+` a[href$="/new-event"]`)))
	b.waitJS("the new event form", `location.pathname === "/organize/`+org.ID+`/new-event" && document.querySelector("#tier-name-0")`, 10*time.Second)
	b.do("fill in the event",
		chromedp.SendKeys(chromedp.CSS("#ev-title"), "Dockside Jazz"),
		chromedp.SendKeys(chromedp.CSS("#ev-venue"), "Pier 4"),
		chromedp.SendKeys(chromedp.CSS("#tier-name-0"), "Standing"),
		chromedp.SendKeys(chromedp.CSS("#tier-price-0"), "25.00"),
		chromedp.SendKeys(chromedp.CSS("#tier-cap-0"), "50"),
		chromedp.Click(chromedp.CSS("#add-tier")))
	b.waitJS("a second tier row", `document.activeElement && document.activeElement.id === "tier-name-1"`, 5*time.Second)
	b.do("fill in the second tier",
		chromedp.SendKeys(chromedp.CSS("#tier-name-1"), "Balcony"),
		chromedp.SendKeys(chromedp.CSS("#tier-price-1"), "40"),
		chromedp.SendKeys(chromedp.CSS("#tier-cap-1"), "10"))
	b.shot("org-new-event")
	b.do("create the draft", chromedp.Click(chromedp.CSS("#save")))
	b.waitJS("on the manage page of the draft", `/^\/events\/[0-9A-Z]{26}\/manage$/.test(location.pathname) && !document.querySelector("#publish-box").hidden`, 10*time.Second)
	eventID := b.eval(`document.body.dataset.event`)
	var ev struct {
		Status string
		Tiers  []pageTier
	}
	if code := admin.do("GET", "/api/v1/events/"+eventID, nil, &ev); code != 200 || ev.Status != "draft" || len(ev.Tiers) != 2 {
		t.Fatalf("the draft through the API: %d %+v", code, ev)
	}
	b.shot("org-draft")
	b.open("/organize")
	b.waitJS("the draft in the organizer's events", `document.querySelector("#event-`+eventID+` .pill.draft")`, 10*time.Second)
	b.shot("organize-events")
	b.do("back to the draft", chromedp.Click(chromedp.CSS(`#event-`+eventID+` a[href$="/manage"]`)))
	b.waitJS("the manage page", `location.pathname === "/events/`+eventID+`/manage" && !document.querySelector("#publish-box").hidden`, 10*time.Second)
	b.do("publish", chromedp.Click(chromedp.CSS("#publish")))
	b.waitJS("published", `document.querySelector("#state .pill.published") && document.querySelector("#publish-box").hidden`, 10*time.Second)
	if admin.do("GET", "/api/v1/events/"+eventID, nil, &ev); ev.Status != "published" {
		t.Fatalf("after publishing the event is %q", ev.Status)
	}
	b.shot("org-manage")

	// The live sale counts a purchase made while the page is open.
	b.open("/events/" + eventID + "/live")
	b.waitJS("the live sale shows the tiers", `document.body.dataset.sold === "0" && document.querySelectorAll("#tiers tr").length === 2`, 10*time.Second)
	var order struct{ ID string }
	if code := fan.do("POST", "/api/v1/events/"+eventID+"/orders", map[string]any{"lines": []map[string]any{
		{"tier_id": ev.Tiers[0].ID, "quantity": 2, "attendees": []map[string]string{{"name": "Finn Fan"}, {"name": "Fay Friend"}}}}}, &order); code != 201 {
		t.Fatalf("the fan's order: %d", code)
	}
	b.waitJS("the hold shows up live", `document.body.dataset.held === "2"`, 10*time.Second)
	if code := fan.do("POST", "/api/v1/orders/"+order.ID+"/payments", map[string]string{"payment_token": "tok_visa"}, nil); code != 201 {
		t.Fatalf("the fan's payment: %d", code)
	}
	b.waitJS("the sale shows up live", `document.body.dataset.sold === "2" && document.body.dataset.held === "0"`, 10*time.Second)
	b.waitJS("revenue", `/50/.test(document.querySelector("#revenue").textContent)`, 5*time.Second)
	b.shot("org-live")

	// Attendees, the export, and refunds.
	b.open("/events/" + eventID + "/attendees")
	b.waitJS("two attendees", `document.querySelectorAll("#rows tr").length === 2`, 10*time.Second)
	b.shot("org-attendees")
	csv := b.evalAsync(`fetch(document.querySelector("#export").href).then(async r => r.status + " " + r.headers.get("Content-Type") + "\n" + await r.text())`)
	if !strings.HasPrefix(csv, "200 text/csv") || !strings.Contains(csv, "Finn Fan") || !strings.Contains(csv, "Fay Friend") {
		t.Errorf("the export link answers %q", csv)
	}
	b.do("open the order", chromedp.Click(chromedp.CSS(`#rows button[data-order="`+order.ID+`"]`)))
	b.waitJS("the order with its tickets", `!document.querySelector("#order").hidden && document.querySelectorAll("#order-tickets input.pick:not([disabled])").length === 2 && document.activeElement.id === "h-order"`, 10*time.Second)
	b.do("refund one ticket",
		chromedp.Click(chromedp.CSS("#order-tickets input.pick")),
		chromedp.Click(chromedp.CSS("#refund-selected")))
	b.waitJS("the confirmation step", `!document.querySelector("#refund-confirm").hidden && document.activeElement.id === "refund-go"`, 5*time.Second)
	b.shot("org-refund-confirm")
	b.do("confirm the refund", chromedp.Click(chromedp.CSS("#refund-go")))
	b.waitJS("partly refunded", `document.querySelector("#order").dataset.status === "partially_refunded" && /Refund of/.test(document.querySelector("#order-status").textContent)`, 10*time.Second)
	b.do("refund the rest", chromedp.Click(chromedp.CSS("#refund-all")))
	b.waitJS("the confirmation step again", `!document.querySelector("#refund-confirm").hidden`, 5*time.Second)
	b.do("confirm the full refund", chromedp.Click(chromedp.CSS("#refund-go")))
	b.waitJS("refunded", `document.querySelector("#order").dataset.status === "refunded" && document.querySelectorAll("#refunds li").length === 2`, 10*time.Second)
	b.waitJS("the list shows both tickets void", `document.querySelectorAll("#rows .pill.void").length === 2`, 10*time.Second)
	b.shot("org-refunded")
	var o struct{ Status string }
	if code := fan.do("GET", "/api/v1/orders/"+order.ID, nil, &o); code != 200 || o.Status != "refunded" {
		t.Errorf("the order through the API: %d %q, want refunded", code, o.Status)
	}
	var tickets struct{ Items []pageTicket }
	if code := fan.do("GET", "/api/v1/orders/"+order.ID+"/tickets", nil, &tickets); code != 200 || len(tickets.Items) != 2 {
		t.Fatalf("the order's tickets: %d %+v", code, tickets)
	}
	for _, tk := range tickets.Items {
		if tk.Status != "void" {
			t.Errorf("ticket %s is %q after the refund, want void", tk.ID, tk.Status)
		}
	}

	// The team.
	b.open("/organize/" + org.ID + "/team")
	b.waitJS("the team", `document.querySelectorAll("#members tr").length === 2 && document.querySelector("#org-name").textContent === "Harbour Nights"`, 10*time.Second)
	b.do("add a member",
		chromedp.SendKeys(chromedp.CSS("#add-user"), samID),
		chromedp.SetValue(chromedp.CSS("#add-role"), "staff"),
		chromedp.Click(chromedp.CSS("#add button[type=submit]")))
	b.waitJS("the new member", `document.querySelector("#member-`+samID+`") && document.querySelector("#role-`+samID+`").value === "staff"`, 10*time.Second)
	b.shot("org-team")
	var members struct {
		Items []struct {
			UserID string `json:"user_id"`
			Role   string
		}
	}
	admin.do("GET", "/api/v1/organizers/"+org.ID+"/members", nil, &members)
	found := false
	for _, m := range members.Items {
		found = found || m.UserID == samID && m.Role == "staff"
	}
	if !found {
		t.Errorf("the new member is not in the team through the API: %+v", members)
	}

	// A webhook endpoint.
	b.open("/organize/" + org.ID + "/webhooks")
	b.waitJS("the webhooks page", `document.querySelector("#status").textContent === "No endpoints yet."`, 10*time.Second)
	b.do("add an endpoint",
		chromedp.SendKeys(chromedp.CSS("#hook-url"), "https://hooks.example.com/boxoffice"),
		chromedp.Click(chromedp.CSS("#add button[type=submit]")))
	b.waitJS("the secret, once", `!document.querySelector("#secret-box").hidden && /^whsec_/.test(document.querySelector("#secret").textContent) && document.querySelectorAll("#hooks .hook").length === 1`, 10*time.Second)
	b.do("show its deliveries", chromedp.Click(chromedp.CSS("#hooks .hook button[aria-controls]")))
	b.waitJS("its deliveries", `document.querySelector("#hooks .hook [id^=del-]:not([hidden])") && document.querySelector("#hooks .hook [id^=del-]").textContent !== ""`, 10*time.Second)
	b.shot("org-webhooks")

	// Cancelling, after the confirmation step.
	b.open("/events/" + eventID + "/manage")
	b.waitJS("the cancel section", `!document.querySelector("#cancel-box").hidden`, 10*time.Second)
	b.do("start cancelling", chromedp.Click(chromedp.CSS("#cancel-start")))
	b.waitJS("the confirmation", `!document.querySelector("#cancel-confirm").hidden && document.querySelector("#cancel-go").disabled`, 5*time.Second)
	b.shot("org-cancel-confirm")
	b.do("confirm cancelling",
		chromedp.Click(chromedp.CSS("#cancel-sure")),
		chromedp.Click(chromedp.CSS("#cancel-go")))
	b.waitJS("cancelled", `document.querySelector("#state .pill.cancelled") && /cancelled/.test(document.querySelector("#status").textContent)`, 10*time.Second)
	if admin.do("GET", "/api/v1/events/"+eventID, nil, &ev); ev.Status != "cancelled" {
		t.Errorf("after cancelling the event is %q", ev.Status)
	}
}

// TestStripeCheckoutPageInBrowser runs the checkout page with
// BOXOFFICE_PAYMENTS=stripe against stripe-mock. The page asks for Stripe.js
// at https://js.stripe.com/v3/ (the test's network is loopback only, which
// is what a buyer offline sees) and, without it, says that the payment form
// could not be loaded while the hold's countdown goes on; no Content-
// Security-Policy violation is reported (newBrowser fails the test on one).
// Then the page comes back as from Stripe's return_url, for a payment made
// at stripe-mock, and shows the order paid once Stripe's signed webhook has
// reached the server.
func TestStripeCheckoutPageInBrowser(t *testing.T) {
	needChromium(t)
	sm := stripemock.Start(t)
	env := pageServerEnv(t)
	env["BOXOFFICE_PAYMENTS"] = "stripe"
	env["BOXOFFICE_STRIPE_SECRET_KEY"] = stripemock.APIKey
	env["BOXOFFICE_STRIPE_PUBLISHABLE_KEY"] = stripePublishableKey
	env["BOXOFFICE_STRIPE_WEBHOOK_SECRET"] = stripeWebhookSecret
	env["BOXOFFICE_STRIPE_API_BASE"] = sm.URL
	in := startInstance(t, env)
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-secret-pw")}
	now := time.Now().UTC()
	var ev pageEvent
	if code := admin.do("POST", "/api/v1/events", map[string]any{
		"title": "Card Night", "venue": "Harbour Hall",
		"starts_at":            now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
		"sales_start_at":       now.Add(-time.Hour).Format(time.RFC3339),
		"sales_end_at":         now.Add(7 * 24 * time.Hour).Format(time.RFC3339),
		"max_tickets_per_user": 4, "hold_seconds": 600,
		"tiers": []map[string]any{{"name": "Standing", "price": map[string]any{"amount": 4500, "currency": "EUR"}, "capacity": 100}},
	}, &ev); code != 201 {
		t.Fatalf("creating the event: %d", code)
	}
	if code := (client{t: t, base: in.url}).do("POST", "/api/v1/users", map[string]string{
		"email": "card@example.com", "password": "correct horse battery", "name": "Card Fan"}, nil); code != 201 {
		t.Fatalf("sign-up: %d", code)
	}
	fan := client{t: t, base: in.url, token: signIn(t, in.url, "card@example.com", "correct horse battery")}

	b := newBrowser(t, in.url)
	var mu sync.Mutex
	var requested []string
	if err := chromedp.Listen(b.ctx, func(e any) {
		if r, ok := e.(*network.EventRequestWillBeSent); ok && !strings.HasPrefix(r.Request.URL, in.url) {
			mu.Lock()
			requested = append(requested, r.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.do("watch the network", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{})
		return err
	}))
	checkout := "/events/" + ev.ID + "/checkout"
	b.open("/signin?next=" + url.QueryEscape(checkout))
	b.do("sign in",
		chromedp.SendKeys(chromedp.CSS("#email"), "card@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"+kb.Enter))
	b.waitJS("the order form", `location.pathname === "`+checkout+`" && !document.querySelector("#order-form").hidden`, 10*time.Second)
	b.do("choose a ticket",
		chromedp.SetValue(chromedp.CSS("#qty-"+ev.Tiers[0].ID), "2"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lines").dispatchEvent(new Event("input"))`))
	b.do("hold", chromedp.Click(chromedp.CSS("#place")))
	b.waitJS("the payment step with a countdown", `!document.querySelector("#pay").hidden && /held for/.test(document.querySelector("#countdown").textContent)`, 10*time.Second)
	b.waitJS("the payment form could not be loaded, said so", `!document.querySelector("#stripe-unavailable").hidden &&
		/could not load the payment form/i.test(document.querySelector("#stripe-unavailable-text").textContent)`, 30*time.Second)
	if b.eval(`String(document.querySelector("#test-pay").hidden && document.querySelector("#stripe-pay").hidden)`) != "true" {
		t.Error("the test provider's buttons or an empty card form show with Stripe")
	}
	before := b.eval(`document.querySelector("#countdown").textContent`)
	time.Sleep(1100 * time.Millisecond)
	if after := b.eval(`document.querySelector("#countdown").textContent`); after == before || !strings.Contains(after, "held for") {
		t.Errorf("the countdown stopped: %q then %q", before, after)
	}
	b.shot("checkout-stripe-unreachable")
	mu.Lock()
	asked := slices.Contains(requested, "https://js.stripe.com/v3/")
	others := slices.DeleteFunc(slices.Clone(requested), func(u string) bool { return u == "https://js.stripe.com/v3/" })
	mu.Unlock()
	if !asked || len(others) > 0 {
		t.Errorf("requests to other origins: %q; want https://js.stripe.com/v3/ only", requested)
	}
	// Trying again asks again, and says the same.
	b.do("try again", chromedp.Evaluate[chromedp.Void](`document.querySelector("#stripe-unavailable-text").textContent = ""`),
		chromedp.Click(chromedp.CSS("#stripe-retry")))
	b.waitJS("still unreachable, said so again", `/could not load the payment form/i.test(document.querySelector("#stripe-unavailable-text").textContent)`, 30*time.Second)

	// The buyer pays (here: the payment is started through the API and
	// confirmed at stripe-mock, as Stripe.js would) and Stripe sends them
	// back to the return_url with the PaymentIntent's parameters.
	orderID := b.eval(`new URLSearchParams(location.search).get("order")`)
	var pay struct {
		ID           string
		Status       string
		ClientSecret string `json:"client_secret"`
	}
	if code := fan.do("POST", "/api/v1/orders/"+orderID+"/payments", nil, &pay); code != 201 || pay.Status != "requires_action" || pay.ClientSecret == "" {
		t.Fatalf("payment: %d %+v", code, pay)
	}
	pi, _, ok := strings.Cut(pay.ClientSecret, "_secret_")
	if !ok || !strings.HasPrefix(pi, "pi_") {
		t.Fatalf("client secret %q names no PaymentIntent", pay.ClientSecret)
	}
	req, _ := http.NewRequest("POST", sm.URL+"/v1/payment_intents/"+pi+"/confirm", strings.NewReader("payment_method=pm_card_visa"))
	req.Header.Set("Authorization", "Bearer "+stripemock.APIKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("confirming %s at stripe-mock: %d", pi, resp.StatusCode)
	}
	b.open(checkout + "?order=" + url.QueryEscape(orderID) + "&payment_intent=" + url.QueryEscape(pi) +
		"&payment_intent_client_secret=" + url.QueryEscape(pay.ClientSecret) + "&redirect_status=succeeded")
	b.waitJS("payment received, confirming", `/Payment received, confirming/.test(document.querySelector("#status").textContent)`, 10*time.Second)
	if b.eval(`String(document.querySelector("#done").hidden)`) != "true" {
		t.Fatal("paid before Stripe said so")
	}
	b.shot("checkout-stripe-confirming")
	body, sig := stripeEvent(t, "evt_browser_"+pay.ID, "payment_intent.succeeded", map[string]any{
		"id": pi, "object": "payment_intent", "status": "succeeded", "amount": 9000, "currency": "eur",
		"metadata": map[string]string{stripe.MetaPaymentID: pay.ID, stripe.MetaOrderID: orderID}})
	if code := deliver(t, in.url, body, sig); code != 200 {
		t.Fatalf("webhook: %d", code)
	}
	b.waitJS("the page, polling, shows the order paid", `!document.querySelector("#done").hidden`, 15*time.Second)
	b.shot("checkout-stripe-paid")
}

// TestOnSaleInBrowsers runs an on-sale with three fans in three browsers:
// they wait in the pre-sale draw, the draw gives them places 1, 2 and 3,
// the first is admitted first while the others move up in their order,
// and buys the only ticket of each of the two tiers with the test card;
// then every page still waiting says the event is sold out.
func TestOnSaleInBrowsers(t *testing.T) {
	needChromium(t)
	in := startInstance(t, pageServerEnv(t))
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-secret-pw")}
	now := time.Now().UTC()
	var ev pageEvent
	if code := admin.do("POST", "/api/v1/events", map[string]any{
		"title": "Last Two Tickets", "description": "", "venue": "Cellar",
		"starts_at":            now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
		"sales_start_at":       now.Add(time.Hour).Format(time.RFC3339),
		"sales_end_at":         now.Add(7 * 24 * time.Hour).Format(time.RFC3339),
		"max_tickets_per_user": 4, "hold_seconds": 600,
		// One admission every 10 s: the first in line buys before the
		// second's turn, and holding every ticket pauses the room.
		"queue": map[string]any{"enabled": true, "admit_per_minute": 6},
		"tiers": []map[string]any{
			{"name": "Floor", "price": map[string]any{"amount": 3000, "currency": "EUR"}, "capacity": 1},
			{"name": "Gallery", "price": map[string]any{"amount": 2000, "currency": "EUR"}, "capacity": 1},
		},
	}, &ev); code != 201 {
		t.Fatalf("creating the event: %d", code)
	}

	queue := "/events/" + ev.ID + "/queue"
	inPool := `/pre-sale draw/.test(document.querySelector("#position").textContent)`
	fans := make([]*browser, 3)
	for i := range fans {
		email, password := fmt.Sprintf("fan%d@example.com", i), "waiting for the drop"
		if code := (client{t: t, base: in.url}).do("POST", "/api/v1/users", map[string]string{"email": email, "password": password, "name": fmt.Sprintf("Fan %d", i)}, nil); code != 201 {
			t.Fatalf("sign-up %d: %d", i, code)
		}
		b := newBrowser(t, in.url)
		b.open("/signin?next=" + url.QueryEscape(queue))
		b.do("sign in", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password+kb.Enter))
		b.waitJS("in the pre-sale draw", inPool, 15*time.Second)
		fans[i] = b
	}
	fans[0].checkAccessibility("queue-draw")

	// Sales open: the draw places everyone in the pool.
	if code := admin.do("PATCH", "/api/v1/events/"+ev.ID, map[string]any{"sales_start_at": time.Now().UTC().Add(time.Second).Format(time.RFC3339)}, nil); code != 200 {
		t.Fatalf("opening sales: %d", code)
	}
	placed := `/You are next|Number \d+ in line|It is your turn/.test(document.querySelector("#position").textContent)`
	places := map[string]*browser{}
	for i, b := range fans {
		b.waitJS(fmt.Sprintf("fan %d placed by the draw", i), placed, 20*time.Second)
		places[b.eval(`document.querySelector("#position").textContent`)] = b
	}
	first, second, third := places["You are next"], places["Number 2 in line"], places["Number 3 in line"]
	if first == nil || second == nil || third == nil {
		t.Fatalf("the draw's places: %v", slices.Collect(maps.Keys(places)))
	}
	second.shot("queue-placed")

	// The first in line is admitted first; the others move up in order.
	first.waitJS("the first admitted", `!document.querySelector("#go").hidden`, 20*time.Second)
	second.waitJS("the second is next", `document.querySelector("#position").textContent === "You are next"`, 10*time.Second)
	third.waitJS("the third is second", `document.querySelector("#position").textContent === "Number 2 in line"`, 10*time.Second)

	first.do("to checkout", chromedp.Click(chromedp.CSS("#go")))
	first.waitJS("the order form", `!document.querySelector("#order-form").hidden`, 10*time.Second)
	first.do("one ticket of each tier",
		chromedp.SetValue(chromedp.CSS("#qty-"+ev.Tiers[0].ID), "1"),
		chromedp.SetValue(chromedp.CSS("#qty-"+ev.Tiers[1].ID), "1"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lines").dispatchEvent(new Event("input"))`))
	first.waitJS("name fields", `document.querySelectorAll("#names input").length === 2`, 5*time.Second)
	first.do("name the tickets",
		chromedp.SendKeys(chromedp.CSS("#name-"+ev.Tiers[0].ID+"-0"), "First Fan"),
		chromedp.SendKeys(chromedp.CSS("#name-"+ev.Tiers[1].ID+"-0"), "First Friend"),
		chromedp.Click(chromedp.CSS("#place")))
	first.waitJS("the test card buttons", `!document.querySelector("#test-pay").hidden`, 10*time.Second)
	first.do("pay", chromedp.Click(chromedp.CSS("#pay-visa")))
	first.waitJS("paid", `!document.querySelector("#done").hidden`, 15*time.Second)

	// Nothing is left: every page still waiting says so.
	for _, b := range []*browser{second, third} {
		b.waitJS("sold out, said so", `document.querySelector("#position").textContent === "Sold out"`, 20*time.Second)
	}
	third.shot("queue-sold-out-while-waiting")

	first.do("to my tickets", chromedp.Click(chromedp.CSS("#to-tickets")))
	first.waitJS("two tickets with QR codes", `Array.from(document.querySelectorAll(".ticket img")).filter(i => i.complete && i.naturalWidth > 0).length === 2`, 15*time.Second)
	var sales struct {
		Tiers []struct {
			Confirmed int `json:"confirmed"`
			Held      int `json:"held"`
		} `json:"tiers"`
	}
	if code := admin.do("GET", "/api/v1/events/"+ev.ID+"/sales", nil, &sales); code != 200 || len(sales.Tiers) != 2 ||
		sales.Tiers[0].Confirmed != 1 || sales.Tiers[1].Confirmed != 1 || sales.Tiers[0].Held+sales.Tiers[1].Held != 0 {
		t.Fatalf("sales after the on-sale: %d %+v", code, sales)
	}
}
