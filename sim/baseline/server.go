package baseline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// BinDir is where Debian installs PostgreSQL 15's programs.
const BinDir = "/usr/lib/postgresql/15/bin"

// Server is a private PostgreSQL server.
type Server struct {
	dir  string
	port int
	// runAs is the OS user the server runs as: PostgreSQL refuses root.
	runAs string
}

// Available reports whether PostgreSQL 15 is installed.
func Available() bool {
	_, err := os.Stat(filepath.Join(BinDir, "postgres"))
	return err == nil
}

// Start initialises a database cluster in dir (which must not exist yet)
// and starts it on a free port of 127.0.0.1 with connectionsMax connections.
func Start(ctx context.Context, dir string, connectionsMax int) (*Server, error) {
	if !Available() {
		return nil, fmt.Errorf("baseline: PostgreSQL 15 is not installed (scripts/postgres-install.sh)")
	}
	s := &Server{dir: dir}
	if os.Geteuid() == 0 {
		s.runAs = "postgres"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if s.runAs != "" {
		if err := chown(dir, s.runAs); err != nil {
			return nil, err
		}
	}
	if out, err := s.run(ctx, "initdb", "-D", s.dataDir(), "--auth=trust", "-U", "civicard", "--no-sync", "-E", "UTF8"); err != nil {
		return nil, fmt.Errorf("baseline: initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.port = port
	options := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=%d -c synchronous_commit=on -c fsync=on -c shared_buffers=256MB",
		port, dir, connectionsMax+10)
	if out, err := s.run(ctx, "pg_ctl", "-D", s.dataDir(), "-o", options, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("baseline: start: %w\n%s\n%s", err, out, log)
	}
	return s, nil
}

// DSN is the connection string of the server's database.
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://civicard@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// PostmasterPid is the server's main process.
func (s *Server) PostmasterPid() (int, error) {
	raw, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	var pid int
	_, err = fmt.Sscan(string(raw), &pid)
	return pid, err
}

// Stop stops the server (fast shutdown) and removes nothing: the caller
// owns dir.
func (s *Server) Stop(ctx context.Context) error {
	out, err := s.run(ctx, "pg_ctl", "-D", s.dataDir(), "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("baseline: stop: %w\n%s", err, out)
	}
	return nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "pgdata") }

func (s *Server) run(ctx context.Context, program string, args ...string) ([]byte, error) {
	path := filepath.Join(BinDir, program)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd.CombinedOutput()
}

func chown(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("baseline: user %s: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	// The server must be able to reach dir: open the path above it.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	return os.Chown(dir, uid, gid)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
