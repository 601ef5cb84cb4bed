package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
)

// setup reads the configuration and makes the logger (on stderr).
func (c *cli) setup() (config, *slog.Logger, error) {
	cfg, err := loadConfig(c.getenv)
	if err != nil {
		return cfg, nil, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, newLogger(cfg, c.stderr), nil
}

var serveHelp = help{
	name:  "serve",
	usage: "usage: boxoffice [serve]",
	about: `
Serve the HTTP API on BOXOFFICE_ADDR until SIGINT or SIGTERM, then drain:
/readyz answers 503, in-flight requests finish (up to BOXOFFICE_SHUTDOWN_TIMEOUT),
background work stops and the stores close. The migrations are applied first
unless BOXOFFICE_MIGRATE=false. serve is the command when none is given.`,
	env: append([]string{
		"BOXOFFICE_ADDR", "BOXOFFICE_DATABASE_URL", "BOXOFFICE_REDIS_URL", "BOXOFFICE_JWT_SECRET",
		"BOXOFFICE_ADMIN_EMAIL", "BOXOFFICE_ADMIN_PASSWORD", "BOXOFFICE_LOG_LEVEL", "BOXOFFICE_LOG_FORMAT",
		"BOXOFFICE_MIGRATE", "BOXOFFICE_TOKEN_TTL", "BOXOFFICE_REFRESH_TTL", "BOXOFFICE_BCRYPT_COST",
		"BOXOFFICE_DEVICE_TOKEN_TTL", "BOXOFFICE_SIGNIN_RESERVED_WORKERS", "BOXOFFICE_SIGNIN_RESERVED_QUEUE",
		"BOXOFFICE_CORS_ORIGINS", "BOXOFFICE_SMTP_URL", "BOXOFFICE_MAIL_FROM", "BOXOFFICE_PUBLIC_URL", "BOXOFFICE_MAIL_RETRY",
		"BOXOFFICE_WEBHOOKS_INSECURE", "BOXOFFICE_WEBHOOK_LEASE",
		"BOXOFFICE_ENV", "BOXOFFICE_PAYMENTS", "BOXOFFICE_STRIPE_SECRET_KEY", "BOXOFFICE_STRIPE_WEBHOOK_SECRET",
		"BOXOFFICE_STRIPE_PUBLISHABLE_KEY", "BOXOFFICE_STRIPE_API_BASE", "BOXOFFICE_TEST_PAYMENTS_SECRET",
		"BOXOFFICE_SHUTDOWN_TIMEOUT", "BOXOFFICE_REQUEST_TIMEOUT", "BOXOFFICE_DRAIN_DELAY",
		"BOXOFFICE_PPROF_ADDR", "BOXOFFICE_HOLD_BATCH", "BOXOFFICE_HOLD_PARALLEL", "BOXOFFICE_OPEN_ORGANIZERS", "BOXOFFICE_METRICS",
		"BOXOFFICE_METRICS_INTERVAL", "BOXOFFICE_METRICS_MAX_EVENTS", "GOGC",
	}, limitEnvs()...),
}

func (c *cli) serve(ctx context.Context, args []string) error {
	if err := parseFlags(newFlagSet("serve"), serveHelp, args, c.stdout); err != nil {
		return err
	}
	cfg, log, err := c.setup()
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log, nil)
}

var migrateHelp = help{
	name:  "migrate",
	usage: "usage: boxoffice migrate",
	about: `
Apply the database migrations that have not been applied yet to the database
of BOXOFFICE_DATABASE_URL (an SQLite file is created if needed), then exit.
Several processes may migrate the same database at once.`,
	env: storeEnv,
}

func (c *cli) migrate(ctx context.Context, args []string) error {
	if err := parseFlags(newFlagSet("migrate"), migrateHelp, args, c.stdout); err != nil {
		return err
	}
	cfg, log, err := c.setup()
	if err != nil {
		return err
	}
	return migrate(ctx, cfg, log)
}

var versionHelp = help{
	name:  "version",
	usage: "usage: boxoffice version",
	about: "Print the version, commit and build date of this binary.",
}

func (c *cli) version(args []string) error {
	if err := parseFlags(newFlagSet("version"), versionHelp, args, c.stdout); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "boxoffice %s (commit %s, built %s)\n", version, commit, date)
	return nil
}

var userHelp = help{
	name:  "user",
	usage: "usage: boxoffice user COMMAND [flags]",
	about: `
Manage users. Commands:
  create   create a user, or make an existing one an admin

Run 'boxoffice user create --help' for its flags.`,
}

func (c *cli) user(ctx context.Context, args []string) error {
	fs := newFlagSet("user")
	switch {
	case len(args) > 0 && args[0] == "create":
		return c.userCreate(ctx, args[1:])
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		return usageError(userHelp, fs, "unknown command %q", args[0])
	}
	if err := parseFlags(fs, userHelp, args, c.stdout); err != nil {
		return err
	}
	return usageError(userHelp, fs, "missing command: create")
}

var userCreateHelp = help{
	name:  "user create",
	usage: "usage: boxoffice user create [--admin] --email EMAIL [--name NAME]",
	about: `
Create a user with the role user, or with --admin an admin. With --admin, an
existing user with that email (in any case) is made an admin and given the new
password instead; without it, an existing email is an error and nothing
changes. The output says whether the user was created or updated.

When stdin is a terminal the password is asked for twice, without echo;
otherwise it is the first line of stdin:

  printf '%s\n' "$PASSWORD" | boxoffice user create --admin --email you@example.com

The migrations are applied first unless BOXOFFICE_MIGRATE=false.`,
	env: []string{"BOXOFFICE_DATABASE_URL", "BOXOFFICE_BCRYPT_COST", "BOXOFFICE_MIGRATE", "BOXOFFICE_LOG_LEVEL", "BOXOFFICE_LOG_FORMAT"},
}

func (c *cli) userCreate(ctx context.Context, args []string) error {
	fs := newFlagSet("user create")
	admin := fs.Bool("admin", false, "create an admin, or make the existing user with this email an admin with the new password")
	email := fs.String("email", "", "the user's `EMAIL` address (required)")
	name := fs.String("name", "", "display `NAME` of a new user (default: the part of the email before @; an existing user keeps theirs)")
	if err := parseFlags(fs, userCreateHelp, args, c.stdout); err != nil {
		return err
	}
	*email = strings.TrimSpace(*email)
	if *email == "" {
		return usageError(userCreateHelp, fs, "--email is required")
	}
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}
	cfg, log, err := c.setup()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.Migrate {
		if err := store.Migrate(ctx); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
	}

	// Look the user up first, to say what changed and to refuse before
	// asking for a password.
	existing, err := store.UserByEmail(ctx, *email)
	switch {
	case errors.Is(err, boxoffice.ErrNotFound):
		existing = nil
	case err != nil:
		return fmt.Errorf("looking up %s: %w", *email, err)
	case !*admin:
		return fmt.Errorf("user %s already exists (role %s); nothing changed. To make them an admin with a new password, run: boxoffice user create --admin --email %s",
			existing.Email, existing.Role, existing.Email)
	}

	password, err := readPassword(ctx, c.stdin, c.stderr)
	if err != nil {
		return err
	}
	svc := boxoffice.NewService(boxoffice.ServiceConfig{Store: store, Hasher: auth.NewHasher(cfg.BcryptCost, 0, 0, 0), Logger: log})
	var u *boxoffice.User
	if *admin {
		u, err = svc.EnsureAdmin(ctx, *email, password, *name)
	} else {
		u, err = svc.SignUp(ctx, boxoffice.Caller{}, boxoffice.SignUp{Email: *email, Password: password, Name: *name})
	}
	if err != nil {
		return err
	}
	if existing == nil {
		fmt.Fprintf(c.stdout, "created user %s with role %s (id %s)\n", u.Email, u.Role, u.ID)
		return nil
	}
	now := "now admin"
	if existing.Role == boxoffice.RoleAdmin {
		now = "still admin"
	}
	fmt.Fprintf(c.stdout, "updated existing user %s: %s, password changed (id %s)\n", u.Email, now, u.ID)
	return nil
}

var seedHelp = help{
	name:  "seed",
	usage: "usage: boxoffice seed [flags]",
	about: `
Load a data set into an empty database: --users users (user0@seed.boxoffice.test,
user1@…, all with the password --password), --events filler events with one
tier each, and one "hot" event on sale now, whose ids are printed on stdout as
hot_event_id=… and hot_tier_id=…. The migrations are applied first.

The defaults make a small demo. Load tests ask for more (e.g. --users 1000000
--events 10000000); large loads rebuild the events' indexes afterwards, so give
them an idle database. --hot-tickets N (MySQL/MariaDB) sells N tickets of the
hot event at once, in paid orders of two by the seeded users, some checked in
and some refunded: the attendee list and its export on a large event.

A database that already has events or users is refused unless --force is
given: then the data set is added (seeded users that exist are kept; the
events are always new).`,
	env: []string{"BOXOFFICE_DATABASE_URL", "BOXOFFICE_BCRYPT_COST", "BOXOFFICE_LOG_LEVEL", "BOXOFFICE_LOG_FORMAT"},
}

func (c *cli) seed(ctx context.Context, args []string) error {
	fs := newFlagSet("seed")
	users := fs.Int("users", 10, "`N` users: user0@seed.boxoffice.test … user<N-1>@seed.boxoffice.test")
	events := fs.Int("events", 10, "`N` filler events, from a year ago to a few years ahead")
	capacity := fs.Int("hot-capacity", 5000, "`N` tickets in the hot event's single tier")
	perUser := fs.Int("hot-max-per-user", 4, "the hot event's max_tickets_per_user `N`")
	hotTickets := fs.Int("hot-tickets", 0, "`N` tickets already sold for the hot event, in paid orders of two by the seeded users (MySQL/MariaDB only; raises --hot-capacity to N when it is lower)")
	queue := fs.Bool("hot-queue", false, "give the hot event a waiting room")
	admitPerMinute := fs.Int("hot-admit-per-minute", 60_000, "with --hot-queue: the hot event's queue.admit_per_minute `N`")
	password := fs.String("password", "password123", "the `PASSWORD` of every seeded user")
	force := fs.Bool("force", false, "seed even when the database already has events or users")
	if err := parseFlags(fs, seedHelp, args, c.stdout); err != nil {
		return err
	}
	switch {
	case *users < 0 || *events < 0:
		return usageError(seedHelp, fs, "--users and --events must not be negative")
	case *capacity < 1 || *perUser < 1 || *admitPerMinute < 1:
		return usageError(seedHelp, fs, "--hot-capacity, --hot-max-per-user and --hot-admit-per-minute must be at least 1")
	case *hotTickets < 0 || *hotTickets > 0 && *users < 1:
		return usageError(seedHelp, fs, "--hot-tickets must not be negative, and needs --users of at least 1")
	}
	*capacity = max(*capacity, *hotTickets)
	cfg, log, err := c.setup()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	seeder, ok := store.(boxoffice.Seeder)
	if !ok {
		return errors.New("seed: this store has no bulk seed path")
	}
	hasEvents, hasUsers, err := seeder.HasData(ctx)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if (hasEvents || hasUsers) && !*force {
		var what []string
		if hasEvents {
			what = append(what, "events")
		}
		if hasUsers {
			what = append(what, "users")
		}
		return fmt.Errorf("seed: refusing to seed %s: it already has %s. Seed an empty database "+
			"(set BOXOFFICE_DATABASE_URL to a new one), or add the data set to this one with: boxoffice seed --force",
			redactURL(cfg.DatabaseURL), strings.Join(what, " and "))
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
	err = seeder.Seed(ctx, boxoffice.SeedSpec{Users: *users, PasswordHash: hash, Events: *events, HotEvent: hot,
		HotTickets: *hotTickets, Now: now},
		func(stage string, done, total int) {
			if time.Since(last) > 2*time.Second || done == total {
				last = time.Now()
				log.Info("seeding", "stage", stage, "done", done, "total", total, "elapsed", time.Since(start).Round(time.Second))
			}
		})
	if err != nil {
		return err
	}
	kept := ""
	if hasUsers {
		kept = " (seeded users that existed were kept)"
	}
	fmt.Fprintf(c.stdout, "seeded %d users%s, %d filler events and the hot event with %d tickets sold in %s\nhot_event_id=%s\nhot_tier_id=%s\n",
		*users, kept, *events, *hotTickets, time.Since(start).Round(time.Millisecond), hot.ID, hot.Tiers[0].ID)
	return nil
}

// redactURL returns a database URL fit for messages: without its password.
func redactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s // sqlite:PATH
	}
	u, err := url.Parse(s)
	if err != nil {
		scheme, _, _ := strings.Cut(s, "://")
		return scheme + "://…"
	}
	return u.Redacted()
}
