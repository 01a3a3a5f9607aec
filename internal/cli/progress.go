package cli

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws a byte progress bar (bytes, rate, ETA) on a terminal.
// A nil *progress is valid and draws nothing, so commands call it
// unconditionally; newProgress returns nil when output is not a terminal
// and the user did not ask for progress.
type progress struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

// progressMode is the --progress flag: auto (terminal only), always, never.
type progressMode string

func (e *Env) newProgress(mode progressMode, total int64, what string) *progress {
	switch mode {
	case "never":
		return nil
	case "always":
	default:
		if !e.IsTerminal(e.Stderr) {
			return nil
		}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { io.WriteString(e.Stderr, "\n") }),
	)
	return &progress{bar: bar}
}

// set moves the bar to done bytes. Safe for concurrent use.
func (p *progress) set(done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	_ = p.bar.Set64(done)
	p.mu.Unlock()
}

// finish completes the bar.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	_ = p.bar.Finish()
	p.mu.Unlock()
}
