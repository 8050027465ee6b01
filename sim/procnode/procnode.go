package procnode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles ./cmd/civicard of the module at moduleRoot into dir and
// returns the binary's path.
func Build(ctx context.Context, moduleRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "civicard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/civicard")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build civicard: %w\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot finds the directory of go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// Node is one civicard process: `civicard up`, or any command that prints
// the gateway's address the way `up` does (a cluster node).
type Node struct {
	Bin     string
	DataDir string
	// Command replaces `up --data DataDir --http 127.0.0.1:0` when set.
	Command []string
	// Args are added to the command.
	Args []string
	// Netns, if set, is the network namespace (`ip netns`) the process runs
	// in; `ip netns exec` execs it, so it keeps the process id.
	Netns string
	// BaseURL is the gateway, e.g. "http://127.0.0.1:41234"; set by Start.
	BaseURL string
	// Log receives the process's stderr and stdout.
	Log io.Writer

	cmd        *exec.Cmd
	exited     chan struct{}
	stderrTail *tailBuffer
	mu         sync.Mutex
	output     strings.Builder
}

var apiLine = regexp.MustCompile(`API\s+(http://\S+)`)

// Start starts the process and returns when /healthz answers 200.
func (n *Node) Start(ctx context.Context) error {
	args := n.Command
	if len(args) == 0 {
		args = []string{"up", "--data", n.DataDir, "--http", "127.0.0.1:0"}
	}
	args = append(slices.Clone(args), n.Args...)
	n.cmd = exec.Command(n.Bin, args...)
	if n.Netns != "" {
		n.cmd = exec.Command("ip", append([]string{"netns", "exec", n.Netns, n.Bin}, args...)...)
	}
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	logw := n.Log
	if logw == nil {
		logw = io.Discard
	}
	n.stderrTail = &tailBuffer{max: 4 << 10}
	n.cmd.Stderr = io.MultiWriter(logw, n.stderrTail)
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start civicard up: %w", err)
	}
	n.exited = make(chan struct{})
	urls := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			line := scanner.Text()
			n.mu.Lock()
			n.output.WriteString(line + "\n")
			n.mu.Unlock()
			fmt.Fprintln(logw, line)
			if m := apiLine.FindStringSubmatch(line); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	select {
	case url := <-urls:
		n.mu.Lock()
		n.BaseURL = url
		n.mu.Unlock()
	case <-n.exited:
		return fmt.Errorf("civicard exited before it was up: %s\n%s", n.cmd.ProcessState, n.stderrTail)
	case <-ctx.Done():
		n.Kill()
		return fmt.Errorf("civicard up did not come up: %w", ctx.Err())
	}
	return n.waitHealthy(ctx)
}

func (n *Node) waitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get(n.BaseURL + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("civicard up not healthy: %w", ctx.Err())
		case <-n.exited:
			return errors.New("civicard up exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is BaseURL, for callers that read it while Start may run again.
func (n *Node) URL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.BaseURL
}

// Output returns what the process printed on stdout so far.
func (n *Node) Output() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.output.String()
}

// FreePorts returns n TCP ports on 127.0.0.1 that were free a moment ago,
// for processes that must know each other's addresses before they start.
func FreePorts(n int) ([]int, error) {
	var held heldPorts
	defer held.close()
	ports := make([]int, 0, n)
	for range n {
		port, err := held.listen(0)
		if err != nil {
			return nil, err
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// NodePorts are one cluster node's ports on 127.0.0.1: Actor (and Actor+1,
// its membership endpoint), Raft and HTTP.
type NodePorts struct{ Actor, Raft, HTTP int }

// ActorAddr and RaftAddr are the node's addresses on 127.0.0.1.
func (p NodePorts) ActorAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.Actor) }
func (p NodePorts) RaftAddr() string  { return fmt.Sprintf("127.0.0.1:%d", p.Raft) }

// FreeNodePorts returns the ports of n nodes that were free a moment ago,
// all different.
func FreeNodePorts(n int) ([]NodePorts, error) {
	var held heldPorts
	defer held.close()
	out := make([]NodePorts, 0, n)
	for range n {
		actor, err := held.pair()
		if err != nil {
			return nil, err
		}
		raft, err := held.listen(0)
		if err != nil {
			return nil, err
		}
		http, err := held.listen(0)
		if err != nil {
			return nil, err
		}
		out = append(out, NodePorts{Actor: actor, Raft: raft, HTTP: http})
	}
	return out, nil
}

// heldPorts keeps the ports picked so far listened on, so that the system
// cannot hand out one of them again before all are picked.
type heldPorts []net.Listener

// listen holds port (0: any free one) of 127.0.0.1 and returns it.
func (h *heldPorts) listen(port int) (int, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return 0, err
	}
	*h = append(*h, ln)
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pair holds a port p and p+1 and returns p.
func (h *heldPorts) pair() (int, error) {
	for range 100 {
		port, err := h.listen(0)
		if err != nil {
			return 0, err
		}
		if _, err := h.listen(port + 1); err == nil {
			return port, nil
		}
	}
	return 0, errors.New("no two adjacent free ports")
}

func (h *heldPorts) close() {
	for _, ln := range *h {
		ln.Close()
	}
}

// Signal sends sig to the process (SIGSTOP and SIGCONT to pause it).
func (n *Node) Signal(sig os.Signal) error { return n.cmd.Process.Signal(sig) }

// Exited is closed when the process has ended.
func (n *Node) Exited() <-chan struct{} { return n.exited }

// ExitCode is the exit status of a process that has ended (-1 if a signal
// ended it).
func (n *Node) ExitCode() int { return n.cmd.ProcessState.ExitCode() }

// Stderr returns the end of what the process wrote on stderr.
func (n *Node) Stderr() string { return n.stderrTail.String() }

// Pid is the process id.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// Kill ends the process with SIGKILL, as a power cut would, and waits.
func (n *Node) Kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

// Stop asks the process to stop (SIGINT, like Ctrl-C) and waits for it;
// it returns the exit error, if any.
func (n *Node) Stop(ctx context.Context) error {
	if err := n.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	select {
	case <-n.exited:
	case <-ctx.Done():
		n.Kill()
		return fmt.Errorf("civicard up did not stop: %w", ctx.Err())
	}
	if !n.cmd.ProcessState.Success() {
		return fmt.Errorf("civicard up: %s", n.cmd.ProcessState)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
