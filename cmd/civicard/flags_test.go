package main

import (
	"context"
	"strings"
	"testing"
)

func TestSimRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--speed", "0"},
		{"sim", "--cluster", "-1"},
		{"sim", "--cards", "-5"},
		{"sim", "extra"},
	} {
		var stdout, stderr strings.Builder
		if code := Main(context.Background(), "civicard", args, &stdout, &stderr); code != 2 {
			t.Errorf("%q exited %d, want 2 (usage): %s", args, code, stderr.String())
		}
	}
}
