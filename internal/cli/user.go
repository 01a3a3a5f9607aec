package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
)

func init() {
	register(&command{
		name:    "user",
		summary: "manage the users of a gale serve site",
		usage:   "gale user add|passwd|reset-key|disable|enable|show NAME [flags] | gale user list [flags]",
		help: `Manage the accounts of the site that 'gale serve' runs on the same data
directory (--data, default ./gale-data) or database (--db); also while the
server runs: a change reaches the tracker within a second.

  gale user add NAME [--admin] [--group G] [--password-stdin]
      Create an account. --group names a group (or its ID; default: the
      default group). --password-stdin reads the password from the first
      line of standard input; without it the account has no password and
      cannot sign in to the site until an administrator sets one, but its
      personal .torrent files work.
  gale user passwd NAME [--password-stdin]
      Set NAME's password (at least 8 characters) and end NAME's web
      sessions (API tokens stay valid). Without --password-stdin the
      password is asked twice on the terminal, without echo.
  gale user reset-key NAME
      Give NAME new announce keys: every personal .torrent downloaded
      before stops working at once (the user downloads them again).
  gale user disable NAME [--reason TEXT]
      Refuse NAME's sign-ins and announces ("your account is disabled");
      the reason is shown when they try to sign in.
  gale user enable NAME
      Undo disable.
  gale user show NAME [--json]
      Account and totals: uploaded, downloaded (as credited, after
      freeleech and double upload, and as reported), ratio, snatches,
      torrents seeding and leeching now, seeding and leeching time.
      In JSON the ratio is null when nothing was downloaded.
  gale user list [--json] [--group G] [--disabled]
      Every user sorted by name, one per line under a header: name,
      group, administrator, disabled, uploaded, downloaded and ratio.
      --group keeps the members of group G (name or ID), --disabled the
      disabled accounts. --json prints an array of the objects of
      'user show --json'.

Every subcommand takes --data DIR, --db URL and --config FILE (the
settings file of 'gale serve', for its database and peer TTL).`,
		flags: func() *flag.FlagSet {
			fs := newFlagSet("user")
			siteFlags(fs, defaultServeSettings())
			return fs
		},
		run: runUser,
	})
}

func runUser(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: add, passwd, reset-key, disable, enable, show or list")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "add":
		return userAdd(ctx, e, rest)
	case "reset-key":
		return userResetKey(ctx, e, rest)
	case "disable", "enable":
		return userDisable(ctx, e, rest, sub == "disable")
	case "show":
		return userShow(ctx, e, rest)
	case "list":
		return userList(ctx, e, rest)
	case "passwd":
		return userPasswd(ctx, e, rest)
	}
	return usagef("unknown subcommand %q (want add, passwd, reset-key, disable, enable, show or list)", sub)
}

// parseSiteCommand parses the arguments of an admin subcommand: the site
// flags plus those extra defines, and exactly one positional argument
// named what.
func parseSiteCommand(name, what string, args []string, extra func(fs *flag.FlagSet)) (*serveSettings, string, error) {
	s, pos, err := loadSiteSettings(args, func(s *serveSettings) *flag.FlagSet {
		fs := newFlagSet(name)
		siteFlags(fs, s)
		if extra != nil {
			extra(fs)
		}
		return fs
	})
	if err != nil {
		return nil, "", err
	}
	if len(pos) != 1 {
		return nil, "", usagef("%s: want exactly one %s", name, what)
	}
	return s, pos[0], nil
}

// siteCommand is parseSiteCommand, then opens the catalog.
func siteCommand(ctx context.Context, name, what string, args []string, extra func(fs *flag.FlagSet)) (*sqlstore.Store, *serveSettings, string, error) {
	s, arg, err := parseSiteCommand(name, what, args, extra)
	if err != nil {
		return nil, nil, "", err
	}
	store, err := s.openStore(ctx, nil, false)
	if err != nil {
		return nil, nil, "", err
	}
	return store, s, arg, nil
}

// userCommand is siteCommand for a command on one existing user ("user
// NAME"): it also finds the user, and gives the system actor's context
// for the store's calls. The caller closes the store.
func userCommand(ctx context.Context, name string, args []string, extra func(fs *flag.FlagSet)) (*sqlstore.Store, context.Context, *catalog.User, error) {
	store, _, uname, err := siteCommand(ctx, name, "user NAME", args, extra)
	if err != nil {
		return nil, nil, nil, err
	}
	sys := catalog.WithSystem(ctx)
	u, err := findUser(sys, store, uname)
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	return store, sys, u, nil
}

// maxPasswordInput bounds what --password-stdin reads.
const maxPasswordInput = 4096

func userAdd(ctx context.Context, e *Env, args []string) error {
	var admin, pwStdin bool
	var group string
	store, _, name, err := siteCommand(ctx, "user add", "user NAME", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&admin, "admin", false, "make the user a site administrator")
		fs.StringVar(&group, "group", "", "put the user in group `G` (name or ID)")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	})
	if err != nil {
		return err
	}
	defer store.Close()
	sys := catalog.WithSystem(ctx)
	nu := catalog.NewUser{Name: name, Admin: admin}
	if pwStdin {
		if nu.Password, err = readPassword(e.Stdin); err != nil {
			return err
		}
	}
	if group != "" {
		g, err := findGroup(sys, store, group)
		if err != nil {
			return err
		}
		nu.GroupID = g.ID
	}
	u, err := store.CreateUser(sys, nu)
	if err != nil {
		return err
	}
	role := ""
	if u.Admin {
		role = ", administrator"
	}
	fmt.Fprintf(e.Stdout, "created user %s (id %d, group %s%s)\n", u.Name, u.ID, u.GroupName, role)
	if nu.Password == "" {
		fmt.Fprintf(e.Stdout, "%s has no password: their personal .torrent files work, but they cannot sign in until an administrator sets one\n", u.Name)
	}
	return nil
}

// readPassword reads the first line of r (without its line ending). It
// reads byte by byte up to the newline, so a password typed on a
// terminal needs no end-of-file.
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("--password-stdin: no standard input")
	}
	var b []byte
	one := make([]byte, 1)
	for {
		n, err := r.Read(one)
		if n == 1 {
			if one[0] == '\n' {
				break
			}
			if len(b) == maxPasswordInput {
				return "", errors.New("--password-stdin: the password is too long")
			}
			b = append(b, one[0])
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("--password-stdin: %v", err)
		}
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", errors.New("--password-stdin: standard input holds no password")
	}
	return string(b), nil
}

// findUser resolves a user by name, naming it in the error.
func findUser(sys context.Context, store *sqlstore.Store, name string) (*catalog.User, error) {
	u, err := store.UserByName(sys, name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %v", name, err)
	}
	return u, nil
}

// findGroup resolves a group by name (any case) or ID.
func findGroup(sys context.Context, store *sqlstore.Store, ref string) (*catalog.Group, error) {
	gs, err := store.Groups(sys)
	if err != nil {
		return nil, err
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	for _, g := range gs {
		if strings.EqualFold(g.Name, ref) || g.ID == id {
			return g, nil
		}
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return nil, fmt.Errorf("no group %q (groups: %s)", ref, strings.Join(names, ", "))
}

func userResetKey(ctx context.Context, e *Env, args []string) error {
	store, sys, u, err := userCommand(ctx, "user reset-key", args, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.ResetKey(sys, u.ID); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "reset the announce keys of %s: every personal .torrent downloaded before stops working\n", u.Name)
	return nil
}

func userDisable(ctx context.Context, e *Env, args []string, disable bool) error {
	name := "user enable"
	var reason string
	extra := func(*flag.FlagSet) {}
	if disable {
		name = "user disable"
		extra = func(fs *flag.FlagSet) {
			fs.StringVar(&reason, "reason", "", "tell the user `TEXT` when they try to sign in")
		}
	}
	store, sys, u, err := userCommand(ctx, name, args, extra)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.UpdateUser(sys, u.ID, catalog.UserUpdate{Disabled: &disable, DisabledReason: &reason}); err != nil {
		return err
	}
	if disable {
		fmt.Fprintf(e.Stdout, "disabled %s: sign-ins and announces are refused\n", u.Name)
	} else {
		fmt.Fprintf(e.Stdout, "enabled %s\n", u.Name)
	}
	return nil
}

// userReport is `gale user show --json`.
type userReport struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Group          string    `json:"group"`
	Admin          bool      `json:"admin"`
	Disabled       bool      `json:"disabled"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Uploaded       int64     `json:"uploaded"`
	Downloaded     int64     `json:"downloaded"`
	RawUploaded    int64     `json:"raw_uploaded"`
	RawDownloaded  int64     `json:"raw_downloaded"`
	Ratio          *float64  `json:"ratio"`
	Snatches       int64     `json:"snatches"`
	Seeding        int       `json:"seeding"`
	Leeching       int       `json:"leeching"`
	SeedSeconds    int64     `json:"seed_time_seconds"`
	LeechSeconds   int64     `json:"leech_time_seconds"`
}

// newUserReport combines a user and their totals.
func newUserReport(u *catalog.User, st *catalog.UserStats) userReport {
	r := userReport{
		ID: u.ID, Name: u.Name, Group: u.GroupName, Admin: u.Admin, Disabled: u.Disabled, DisabledReason: u.DisabledReason,
		CreatedAt: u.CreatedAt.UTC(), Uploaded: st.Uploaded, Downloaded: st.Downloaded,
		RawUploaded: st.RawUploaded, RawDownloaded: st.RawDownloaded, Snatches: st.Snatches,
		Seeding: st.Seeding, Leeching: st.Leeching,
		SeedSeconds: int64(st.SeedTime / time.Second), LeechSeconds: int64(st.LeechTime / time.Second),
	}
	if ratio := st.Ratio(); !math.IsInf(ratio, 0) && st.Downloaded > 0 {
		r.Ratio = &ratio
	}
	return r
}

// ratioText is the ratio with three decimals, "inf" when only uploaded,
// "-" when neither.
func (r *userReport) ratioText() string {
	switch {
	case r.Ratio != nil:
		return strconv.FormatFloat(*r.Ratio, 'f', 3, 64)
	case r.Uploaded > 0:
		return "inf"
	}
	return "-"
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func userShow(ctx context.Context, e *Env, args []string) error {
	var asJSON bool
	store, sys, u, err := userCommand(ctx, "user show", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer store.Close()
	st, err := store.UserStats(sys, u.ID)
	if err != nil {
		return err
	}
	r := newUserReport(u, st)
	if asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	ratio := r.ratioText()
	disabled := yes(r.Disabled)
	if r.Disabled && r.DisabledReason != "" {
		disabled += " (" + r.DisabledReason + ")"
	}
	bytesOf := func(n int64) string { return fmt.Sprintf("%s (%d bytes)", formatSize(n), n) }
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"user", fmt.Sprintf("%s (id %d)", r.Name, r.ID)},
		{"group", r.Group},
		{"administrator", yes(r.Admin)},
		{"disabled", disabled},
		{"created", r.CreatedAt.Format(time.RFC3339)},
		{"uploaded", bytesOf(r.Uploaded)},
		{"downloaded", bytesOf(r.Downloaded)},
		{"reported", fmt.Sprintf("%s up, %s down", formatSize(r.RawUploaded), formatSize(r.RawDownloaded))},
		{"ratio", ratio},
		{"snatches", strconv.FormatInt(r.Snatches, 10)},
		{"seeding", strconv.Itoa(r.Seeding)},
		{"leeching", strconv.Itoa(r.Leeching)},
		{"seed time", st.SeedTime.Round(time.Second).String()},
		{"leech time", st.LeechTime.Round(time.Second).String()},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

// userListPage is how many users `user list` reads per query, so that a
// site with 100k users is never held in memory at once.
const userListPage = catalog.MaxStatsBatch

func userList(ctx context.Context, e *Env, args []string) error {
	var asJSON, disabledOnly bool
	var group string
	s, pos, err := loadSiteSettings(args, func(s *serveSettings) *flag.FlagSet {
		fs := newFlagSet("user list")
		siteFlags(fs, s)
		fs.BoolVar(&asJSON, "json", false, "print a JSON array of the objects of 'user show --json'")
		fs.StringVar(&group, "group", "", "list only the members of group `G` (name or ID)")
		fs.BoolVar(&disabledOnly, "disabled", false, "list only disabled users")
		return fs
	})
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("user list: takes no arguments, got %q", pos[0])
	}
	store, err := s.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer store.Close()
	sys := catalog.WithSystem(ctx)
	f := catalog.UserFilter{Disabled: disabledOnly, Page: catalog.Page{Limit: userListPage}}
	if group != "" {
		g, err := findGroup(sys, store, group)
		if err != nil {
			return err
		}
		f.GroupID = g.ID
	}
	bw := bufio.NewWriter(e.Stdout)
	var out userListWriter = &userTable{w: bw}
	if asJSON {
		out = &userJSONArray{w: bw}
	}
	// Page after the last name listed: users created meanwhile are
	// neither missed (when after it) nor listed twice.
	for {
		users, _, err := store.Users(sys, f)
		if err != nil {
			return err
		}
		ids := make([]int64, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		stats, err := store.UsersStats(sys, ids)
		if err != nil {
			return err
		}
		rows := make([]userReport, 0, len(users))
		for _, u := range users {
			st := stats[u.ID]
			if st == nil {
				return fmt.Errorf("user %s has no totals", u.Name)
			}
			rows = append(rows, newUserReport(u, st))
		}
		if err := out.write(rows); err != nil {
			return err
		}
		if len(users) < userListPage {
			break
		}
		f.After = users[len(users)-1].Name
	}
	if err := out.close(); err != nil {
		return err
	}
	return bw.Flush()
}

// userListWriter prints `user list` a page at a time.
type userListWriter interface {
	write(rows []userReport) error
	close() error
}

// userTable is the text form: a header, then one aligned line per user.
// The name and group columns are as wide as the longest in the first
// page (a longer one later shifts only its own line).
type userTable struct {
	w             io.Writer
	nameW, groupW int
	started       bool
}

func (t *userTable) write(rows []userReport) error {
	if !t.started {
		t.started = true
		t.nameW, t.groupW = len("NAME"), len("GROUP")
		for _, r := range rows {
			t.nameW = max(t.nameW, utf8.RuneCountInString(r.Name))
			t.groupW = max(t.groupW, utf8.RuneCountInString(r.Group))
		}
		t.line("NAME", "GROUP", "ADMIN", "DISABLED", "UPLOADED", "DOWNLOADED", "RATIO")
	}
	for _, r := range rows {
		t.line(r.Name, r.Group, yes(r.Admin), yes(r.Disabled), formatSize(r.Uploaded), formatSize(r.Downloaded), r.ratioText())
	}
	return nil
}

func (t *userTable) line(name, group, admin, disabled, up, down, ratio string) {
	fmt.Fprintf(t.w, "%-*s  %-*s  %-5s  %-8s  %11s  %11s  %7s\n", t.nameW, name, t.groupW, group, admin, disabled, up, down, ratio)
}

func (t *userTable) close() error {
	if !t.started {
		return t.write(nil)
	}
	return nil
}

// userJSONArray is the --json form, written element by element; it is
// what json.MarshalIndent(list, "", "  ") would print.
type userJSONArray struct {
	w io.Writer
	n int
}

func (a *userJSONArray) write(rows []userReport) error {
	for _, r := range rows {
		b, err := json.MarshalIndent(r, "  ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n  "
		if a.n == 0 {
			sep = "[\n  "
		}
		a.n++
		if _, err := io.WriteString(a.w, sep); err != nil {
			return err
		}
		if _, err := a.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (a *userJSONArray) close() error {
	end := "\n]\n"
	if a.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}

func userPasswd(ctx context.Context, e *Env, args []string) error {
	var pwStdin bool
	store, sys, u, err := userCommand(ctx, "user passwd", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	})
	if err != nil {
		return err
	}
	defer store.Close()
	var pw string
	if pwStdin {
		pw, err = readPassword(e.Stdin)
	} else {
		pw, err = promptNewPassword(ctx, e, u.Name)
	}
	if err != nil {
		return err
	}
	if err := catalog.CheckPassword(pw); err != nil {
		return err
	}
	// UpdateUser hashes it (argon2id) and deletes the user's sessions.
	if _, err := store.UpdateUser(sys, u.ID, catalog.UserUpdate{Password: &pw}); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "set the password of %s and signed them out of the site everywhere\n", u.Name)
	return nil
}

// promptNewPassword asks for a new password twice on the terminal that
// standard input is, with echo off, prompting on standard error.
func promptNewPassword(ctx context.Context, e *Env, name string) (string, error) {
	f, ok := e.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("user passwd: standard input is not a terminal; give the password on it with --password-stdin")
	}
	pw, err := readTerminalPassword(ctx, e.Stderr, f, fmt.Sprintf("New password for %s: ", name))
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("no password given")
	}
	if err := catalog.CheckPassword(pw); err != nil {
		return "", err
	}
	again, err := readTerminalPassword(ctx, e.Stderr, f, "Retype the new password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the passwords do not match; nothing changed")
	}
	return pw, nil
}

// readTerminalPassword writes prompt to w and reads a line from the
// terminal f with echo off. When ctx ends first (Ctrl-C) it restores the
// terminal and returns ctx's error; the read it leaves behind ends with
// the process (or when the terminal closes).
func readTerminalPassword(ctx context.Context, w io.Writer, f *os.File, prompt string) (string, error) {
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("reading the password: %v", err)
	}
	fmt.Fprint(w, prompt)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(w)
		if r.err != nil {
			return "", fmt.Errorf("reading the password: %v", r.err)
		}
		if len(r.b) > maxPasswordInput {
			return "", errors.New("the password is too long")
		}
		return string(r.b), nil
	case <-ctx.Done():
		term.Restore(fd, state)
		fmt.Fprintln(w)
		return "", ctx.Err()
	}
}
