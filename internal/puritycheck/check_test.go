package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// tree is a module named like civicard's, with a clean and a dirty domain
// package. A line that must be reported says so with a comment
// `// want "text" ...`: one finding per quoted text, whose message contains
// it. Nothing else may be reported. The actor and Raft libraries are local
// stand-ins (replace directives), so the test needs no network.
var tree = map[string]string{
	"go.mod": `module civicard

go 1.26

require (
	github.com/asynkron/protoactor-go v0.0.0
	github.com/hashicorp/raft v1.8.0
)

replace github.com/asynkron/protoactor-go => ./third_party/protoactor

replace github.com/hashicorp/raft => ./third_party/raft
`,
	"third_party/protoactor/go.mod":         "module github.com/asynkron/protoactor-go\n\ngo 1.26\n",
	"third_party/protoactor/actor/actor.go": "package actor\n\ntype PID struct{}\n",
	"third_party/raft/go.mod":               "module github.com/hashicorp/raft\n\ngo 1.26\n",
	"third_party/raft/raft.go":              "package raft\n\ntype Raft struct{}\n",
	"cluster/cluster.go":                    "package cluster\n\ntype Node struct{}\n",
	"sim/demo/demo.go":                      "package demo\n\nconst City = \"Katowice\"\n",
	"messages/vocab/vocab.go":               "package vocab\n\nimport \"sync\"\n\ntype Tap struct{ mu sync.Mutex }\n",
	"messages/grains/grains.go": `package grains

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

type Grain struct {
	PID *actor.PID
	Log *slog.Logger
}
`,
	"domain/clean/clean.go": `package clean

import (
	"time"

	"civicard/messages/vocab"
)

// Next is pure: time comes in as a value.
func Next(now time.Time, _ *vocab.Tap) time.Time {
	return now.Add(time.Hour).UTC().Truncate(time.Minute)
}
`,
	"domain/clean/clean_test.go": `package clean

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	start := time.Now() // a test may time itself
	_, _ = os.ReadFile("testdata/x")
	if Next(time.Unix(rand.Int64N(1000), 0), nil).IsZero() || time.Since(start) < 0 {
		t.Fatal("zero")
	}
}
`,
	"domain/dirty/dirty.go": `package dirty

import (
	"net/http" // want "imports \"net/http\": the network"
	"os" // want "imports \"os\": files"

	"civicard/cluster" // want "imports \"civicard/cluster\""
	"civicard/messages/grains" // want "which imports \"github.com/asynkron/protoactor-go/actor\"" "which imports \"log/slog\""
	"github.com/hashicorp/raft" // want "imports \"github.com/hashicorp/raft\": Raft"
)

var (
	_ = http.MethodGet
	_ = os.Getpid
	_ cluster.Node
	_ grains.Grain
	_ raft.Raft
)
`,
	"domain/dirty/clock.go": `package dirty

import (
	clock "time"
)

// Stamp reads the clock, under another name.
func Stamp() int64 {
	return clock.Now().UnixMilli() // want "uses time.Now"
}

// Wait stores the clock to read it later.
func Wait() func(clock.Duration) {
	return clock.Sleep // want "uses time.Sleep"
}

// Here converts to the host's zone.
func Here(t clock.Time) clock.Time {
	return t.Local() // want "uses time.Time.Local"
}

// Zone is fine: the zone comes in.
func Zone(t clock.Time, loc *clock.Location) clock.Time {
	return t.In(loc)
}

// Age reads the clock through Since.
func Age(t clock.Time) clock.Duration {
	return clock.Since(t) // want "uses time.Since"
}
`,
	"domain/dirty/dirty_test.go": `package dirty_test

import (
	"testing"
	"time"

	"civicard/sim/demo" // want "test imports \"civicard/sim/demo\""
)

func TestCity(t *testing.T) {
	if demo.City == "" || time.Now().IsZero() {
		t.Fatal("no city")
	}
}
`,
	"domain/dirty/other_windows.go": `package dirty

import "syscall" // want "imports \"syscall\""

var _ = syscall.Getpid
`,
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var wantRE = regexp.MustCompile(`// want ((?:"(?:[^"\\]|\\.)*"\s*)+)$`)
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// wants returns, per "file:line", the texts the findings there must contain.
func wants(t *testing.T, files map[string]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, text := range files {
		for i, line := range strings.Split(text, "\n") {
			m := wantRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			for _, q := range quotedRE.FindAllString(m[1], -1) {
				s, err := strconv.Unquote(q)
				if err != nil {
					t.Fatalf("%s:%d: %v", name, i+1, err)
				}
				key := name + ":" + strconv.Itoa(i+1)
				out[key] = append(out[key], s)
			}
		}
	}
	return out
}

func TestCheckReportsEveryPlantAndNothingElse(t *testing.T) {
	t.Setenv("GOWORK", "off")
	dir := writeTree(t, tree)
	findings, err := check(context.Background(), dir, []string{"./domain/..."})
	if err != nil {
		t.Fatal(err)
	}
	want := wants(t, tree)
	if len(want) == 0 {
		t.Fatal("the tree plants nothing")
	}
	for _, f := range findings {
		msg := f.format(dir)
		file, _, _ := strings.Cut(msg, ":")
		key := filepath.ToSlash(file) + ":" + strconv.Itoa(f.pos.Line)
		matched := false
		for i, w := range want[key] {
			if strings.Contains(msg, w) {
				want[key] = append(want[key][:i], want[key][i+1:]...)
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("unexpected finding: %s", msg)
		}
	}
	for key, texts := range want {
		for _, w := range texts {
			t.Errorf("%s: no finding containing %q", key, w)
		}
	}
}

func TestRunExitStatus(t *testing.T) {
	t.Setenv("GOWORK", "off")
	dir := writeTree(t, tree)
	for _, tc := range []struct {
		pattern  string
		status   int
		contains []string
	}{
		{"./domain/clean", 0, nil},
		{"./domain/...", 1, []string{
			`domain/dirty/dirty.go:5:2: civicard/domain/dirty imports "os": files`,
			`domain/dirty/clock.go:9:15: civicard/domain/dirty uses time.Now, which reads the clock`,
		}},
		{"./domain/none/...", 2, nil},
	} {
		var stdout, stderr bytes.Buffer
		status := run(context.Background(), []string{"-C", dir, tc.pattern}, &stdout, &stderr)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.pattern, status, tc.status, &stdout, &stderr)
		}
		for _, s := range tc.contains {
			if !strings.Contains(stdout.String(), s) {
				t.Errorf("%s: output lacks %q:\n%s", tc.pattern, s, &stdout)
			}
		}
	}
}

// TestDomainIsPure runs the check on civicard's own domain/.
func TestDomainIsPure(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and type-checks every domain package")
	}
	findings, err := check(context.Background(), filepath.Join("..", ".."), []string{"./domain/..."})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	for _, f := range findings {
		t.Error(f.format(root))
	}
}
