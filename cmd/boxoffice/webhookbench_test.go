package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/mysql"
	"boxoffice/internal/testdb"
)

// TestWebhookDeliveryAcrossKill is the webhook delivery benchmark: it
// writes BOXOFFICE_WEBHOOK_BENCH_MESSAGES messages (say 20000) to the
// webhook outbox of a MariaDB database, runs the real boxoffice binary
// against a local receiver that counts unique webhook-ids, kills it with
// SIGKILL mid-delivery, starts it again, and checks that every message
// arrived at least once and that every delivery is recorded as
// succeeded. It reports deliveries per second. Skipped unless
// BOXOFFICE_TEST_MYSQL_URL and BOXOFFICE_WEBHOOK_BENCH_MESSAGES are set.
func TestWebhookDeliveryAcrossKill(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BOXOFFICE_WEBHOOK_BENCH_MESSAGES"))
	if n <= 0 {
		t.Skip("webhook delivery benchmark skipped: set BOXOFFICE_WEBHOOK_BENCH_MESSAGES (e.g. 20000)")
	}
	dbURL := testdb.MySQLURL(t)
	ctx := t.Context()

	bin := filepath.Join(t.TempDir(), "boxoffice")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The receiver counts every request and the unique webhook-ids.
	var mu sync.Mutex
	seen := make(map[string]int, n)
	var total atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		seen[id]++
		mu.Unlock()
		total.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()
	unique := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}

	store, err := mysql.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	ep := &boxoffice.WebhookEndpoint{ID: boxoffice.NewID(), OrganizerID: boxoffice.DefaultOrganizerID, URL: rc.URL + "/hooks",
		Events: []boxoffice.HookType{boxoffice.HookOrderPaid}, Secret: boxoffice.NewWebhookSecret(), Enabled: true,
		CreatedAt: at, UpdatedAt: at}
	if err := store.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		var msgs []*boxoffice.WebhookMessage
		for j := i; j < min(n, i+1000); j++ {
			msgs = append(msgs, boxoffice.NewWebhookMessage(boxoffice.DefaultOrganizerID, boxoffice.HookOrderPaid,
				map[string]any{"order_id": boxoffice.NewID(), "n": j}, at.Add(time.Duration(j)*time.Microsecond)))
		}
		if err := store.InsertWebhookMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}

	logs := filepath.Join(t.TempDir(), "boxoffice.log")
	logf, err := os.Create(logs)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(),
			"BOXOFFICE_DATABASE_URL="+dbURL, "BOXOFFICE_ADDR=127.0.0.1:0", "BOXOFFICE_METRICS_ADDR=127.0.0.1:0",
			"BOXOFFICE_WEBHOOKS_INSECURE=true", "BOXOFFICE_WEBHOOK_LEASE=5s", "BOXOFFICE_LOG_LEVEL=warn",
			"BOXOFFICE_JWT_SECRET=webhook-bench-secret-0123456789abcdef")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	deadline := time.Now().Add(3 * time.Minute)
	waitFor := func(want int) time.Time {
		for unique() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages arrived before the deadline (log: %s)", unique(), n, logs)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return time.Now()
	}

	t0 := time.Now()
	first := start()
	firstAt := waitFor(1)
	killAt := waitFor(n * 2 / 5)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	killed := time.Now()
	beforeKill := unique()
	second := start()
	defer func() { _ = second.Process.Signal(syscall.SIGKILL); _ = second.Wait() }()
	doneAt := waitFor(n)
	restartTook := doneAt.Sub(killed)

	// Every delivery ends recorded as succeeded (the ones the killed
	// instance sent without recording them are sent again after their
	// lease, and recorded then).
	var succeeded int
	for time.Now().Before(deadline) {
		if err := store.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'").Scan(&succeeded); err != nil {
			t.Fatal(err)
		}
		if succeeded == n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if succeeded != n {
		t.Errorf("%d deliveries recorded as succeeded, want %d", succeeded, n)
	}
	mu.Lock()
	dups := 0
	for _, c := range seen {
		if c > 1 {
			dups += c - 1
		}
	}
	mu.Unlock()
	firstRate := float64(beforeKill) / killAt.Sub(firstAt).Seconds()
	report := fmt.Sprintf("messages %d; first instance: first delivery after %s, %d unique in %s (%.0f deliveries/s), killed with SIGKILL; "+
		"second instance: the remaining %d arrived %s after the kill (lease 5s); requests %d, repeated %d (redelivered after the lease); "+
		"overall %.0f unique/s from the first delivery",
		n, firstAt.Sub(t0).Round(time.Millisecond), beforeKill, killAt.Sub(firstAt).Round(time.Millisecond), firstRate,
		n-beforeKill, restartTook.Round(time.Millisecond), total.Load(), dups, float64(n)/doneAt.Sub(firstAt).Seconds())
	t.Log(report)
	if out := os.Getenv("BOXOFFICE_WEBHOOK_BENCH_OUT"); out != "" {
		_ = os.WriteFile(out, []byte(report+"\n"), 0o644)
	}
	if firstRate < 1000 {
		// The figure depends on the machine and what else it runs; the
		// benchmark's verdict is on lost messages, and its report says
		// when the target was missed.
		t.Logf("%.0f deliveries/s is below the target of 1000", firstRate)
	}
}
