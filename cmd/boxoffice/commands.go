package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
)

// userCommand implements `boxoffice user create [--admin] --email E [--name N]`
// with the password read from the first line of stdin.
func userCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: boxoffice user create [--admin] --email E [--name N] (password on stdin)")
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stdout)
	admin := fs.Bool("admin", false, "create the user as an admin, or promote an existing user")
	email := fs.String("email", "", "email address (required)")
	name := fs.String("name", "", "display name (default: the part of the email before @)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")

	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.Migrate {
		if err := store.Migrate(ctx); err != nil {
			return err
		}
	}
	svc := boxoffice.NewService(boxoffice.ServiceConfig{Store: store, Hasher: auth.NewHasher(cfg.BcryptCost, 0, 0, 0), Logger: log})
	var u *boxoffice.User
	if *admin {
		u, err = svc.EnsureAdmin(ctx, *email, password, *name)
	} else {
		u, err = svc.SignUp(ctx, boxoffice.SignUp{Email: *email, Password: password, Name: *name})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s (%s) role %s\n", u.ID, u.Email, u.Role)
	return nil
}

// seedCommand implements `boxoffice seed`: the load-test data set.
func seedCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stdout)
	users := fs.Int("users", 1_000_000, "number of users (user<i>@seed.boxoffice.test)")
	events := fs.Int("events", 10_000_000, "number of filler events")
	capacity := fs.Int("hot-capacity", 5000, "tickets in the hot event's single tier")
	perUser := fs.Int("hot-max-per-user", 4, "the hot event's max_tickets_per_user")
	queue := fs.Bool("hot-queue", false, "give the hot event a waiting room")
	admitPerMinute := fs.Int("hot-admit-per-minute", 60_000, "the hot event's queue.admit_per_minute (with -hot-queue)")
	password := fs.String("password", "password123", "password of every seeded user")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *admitPerMinute < 1 {
		return errors.New("seed: -hot-admit-per-minute must be at least 1")
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	seeder, ok := store.(boxoffice.Seeder)
	if !ok {
		return errors.New("this store has no bulk seed path")
	}
	hash, err := auth.NewHasher(cfg.BcryptCost, 0, 0, 0).Hash(ctx, *password)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	hot := &boxoffice.Event{
		ID: boxoffice.NewID(), Title: "The Hot Show", Description: "The on-sale everyone wants.", Venue: "Stadium",
		StartsAt: now.Add(30 * 24 * time.Hour), SalesStartAt: now.Add(-time.Minute), SalesEndAt: now.Add(7 * 24 * time.Hour),
		MaxTicketsPerUser: *perUser, HoldSeconds: 600, CreatedAt: now, UpdatedAt: now,
	}
	if *queue {
		hot.Queue = boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: *admitPerMinute}
	}
	hot.Tiers = []boxoffice.Tier{{ID: boxoffice.NewID(), EventID: hot.ID, Name: "GA", Price: boxoffice.Money{Amount: 5000, Currency: "USD"}, Capacity: *capacity}}
	start := time.Now()
	last := time.Time{}
	err = seeder.Seed(ctx, boxoffice.SeedSpec{Users: *users, PasswordHash: hash, Events: *events, HotEvent: hot, Now: now},
		func(stage string, done, total int) {
			if time.Since(last) > 2*time.Second || done == total {
				last = time.Now()
				log.Info("seeding", "stage", stage, "done", done, "total", total, "elapsed", time.Since(start).Round(time.Second))
			}
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d users and %d events in %s\nhot_event_id=%s\nhot_tier_id=%s\n",
		*users, *events, time.Since(start).Round(time.Millisecond), hot.ID, hot.Tiers[0].ID)
	return nil
}
