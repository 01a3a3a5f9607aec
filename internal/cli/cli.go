// Package cli implements the gale command line: subcommands, flags,
// configuration and exit codes. It wires the other packages together;
// nothing imports it.
//
// Exit codes: 0 success, 1 the operation failed, 2 usage error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes returned by Main.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Env is what a command may touch of the outside world. Tests build one
// with buffers; main builds one with the process's streams.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// IsTerminal reports whether w is an interactive terminal; progress
	// bars are drawn only then unless asked for.
	IsTerminal func(w io.Writer) bool
}

// command is one subcommand. run parses its own flags with e.flags and
// returns a *usageError for bad invocations, any other error for failure.
type command struct {
	name    string
	summary string
	usage   string // first line of help, e.g. "gale create [flags] PATH"
	help    string // longer description printed by -h
	// flags, when set, returns the command's flag set (used for help
	// output); run builds its own with the same definitions.
	flags func() *flag.FlagSet
	run   func(ctx context.Context, e *Env, args []string) error
}

var commands = map[string]*command{}

// register adds a command; called from init functions of command files.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// usageError marks an invocation error: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError carries a specific exit code with an optional message (an
// empty message prints nothing, for commands that already reported).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Main runs gale with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, IsTerminal: isTerminal}
	return e.Run(ctx, args)
}

// Run is Main on a prepared Env.
func (e *Env) Run(ctx context.Context, args []string) int {
	if e.IsTerminal == nil {
		e.IsTerminal = func(io.Writer) bool { return false }
	}
	if len(args) == 0 {
		printTopHelp(e.Stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(e.Stderr, "gale: unknown command %q\n", args[1])
				return ExitUsage
			}
			printCommandHelp(e.Stdout, c)
			return ExitOK
		}
		printTopHelp(e.Stdout)
		return ExitOK
	case "-version", "--version", "version":
		fmt.Fprintln(e.Stdout, "gale", Version)
		return ExitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.Stderr, "gale: unknown command %q (see 'gale --help')\n", name)
		return ExitUsage
	}
	err := c.run(ctx, e, args[1:])
	return e.report(c, err)
}

func (e *Env) report(c *command, err error) int {
	var ue *usageError
	var xe *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		printCommandHelp(e.Stdout, c)
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.Stderr, "gale %s: %s\nusage: %s\n(see 'gale help %s')\n", c.name, ue.msg, c.usage, c.name)
		return ExitUsage
	case errors.As(err, &xe):
		if xe.msg != "" {
			fmt.Fprintf(e.Stderr, "gale %s: %s\n", c.name, xe.msg)
		}
		return xe.code
	default:
		fmt.Fprintf(e.Stderr, "gale %s: %v\n", c.name, err)
		return ExitFailure
	}
}

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

func printTopHelp(w io.Writer) {
	fmt.Fprint(w, "gale: a BitTorrent suite (metainfo tools, tracker, catalog)\n\nusage: gale COMMAND [flags] [args]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'gale help COMMAND' or 'gale COMMAND -h' for a command's flags.\nExit codes: 0 success, 1 operation failed, 2 usage error.\n")
}

func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.usage, strings.TrimSpace(c.help))
	if fs := c.flagSet(); fs != nil {
		printFlags(w, fs)
	}
}

// printFlags lists flags GNU style: -x for one-letter names, --name for
// the others, with the value name, usage and default. A flag whose usage
// is "same as -x" is shown on -x's line.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	dashed := func(name string) string {
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + name
	}
	aliases := map[string][]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if target, ok := strings.CutPrefix(f.Usage, "same as "); ok {
			target = strings.TrimLeft(target, "-")
			aliases[target] = append(aliases[target], dashed(f.Name))
		}
	})
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "same as ") {
			return
		}
		if first {
			fmt.Fprint(w, "\nflags:\n")
			first = false
		}
		arg, usage := flag.UnquoteUsage(f)
		if arg == "value" {
			arg = "VALUE"
		}
		line := "  " + strings.Join(append([]string{dashed(f.Name)}, aliases[f.Name]...), ", ")
		if arg != "" {
			line += " " + arg
		}
		switch def := f.DefValue; def {
		case "", "0", "false", "[]", "0s":
		default:
			usage += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	})
}
func (c *command) flagSet() *flag.FlagSet {
	if c.flags != nil {
		return c.flags()
	}
	return nil
}

// newFlagSet returns a FlagSet for the named command that reports errors
// instead of printing or exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments (as in "gale edit FILE --comment x"). A "--" ends
// flag parsing. It returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first non-flag or after "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}
