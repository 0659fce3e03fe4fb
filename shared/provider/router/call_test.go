package router

import (
	"context"
	"testing"
	"time"
)

// TestCallBound: how long a non-streamed answer may take.
func TestCallBound(t *testing.T) {
	t.Parallel()
	r := New()
	tests := []struct {
		name      string
		to        Timeouts
		fallbacks []string
		out       int
		want      time.Duration
	}{
		{"defaults, 100 tokens", Timeouts{}, nil, 100, DefaultFirstToken + 5*time.Second},
		{"defaults, 4096 tokens: at most two minutes", Timeouts{}, nil, 4096, 2 * time.Minute},
		{"the model's first token", Timeouts{FirstToken: time.Second}, nil, 20, 2 * time.Second},
		{"the model's total wins", Timeouts{Total: 5 * time.Minute}, nil, 4096, 5 * time.Minute},
		{"no bound at all", Timeouts{FirstToken: -1, Total: -1}, nil, 4096, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := r.newChain(Target{ModelID: "m", Timeouts: tt.to, Fallbacks: tt.fallbacks}, nil, kindChat)
			if got := c.callBound(context.Background(), tt.out); got != tt.want {
				t.Errorf("bound %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("a deadline leaves half for the fallback", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := r.newChain(Target{ModelID: "m", Fallbacks: []string{"b"}}, nil, kindChat)
		if got := c.callBound(ctx, 100); got > 5*time.Second || got < 4*time.Second {
			t.Errorf("bound %v, want about half of the 10 s left", got)
		}
		alone := r.newChain(Target{ModelID: "m"}, nil, kindChat)
		if got := alone.callBound(ctx, 100); got != DefaultFirstToken+5*time.Second {
			t.Errorf("the last candidate's bound %v, want its own", got)
		}
	})
}
