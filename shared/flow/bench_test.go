package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/store/boltstore"
)

func noop(context.Context, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{"ok":true}`), nil
}

// chainDef is n states alternating Pass (with Parameters) and Task, ending the execution.
func chainDef(n int) string {
	var b strings.Builder
	b.WriteString(`{"StartAt":"S0","States":{`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		next := fmt.Sprintf(`"Next":"S%d"`, i+1)
		if i == n-1 {
			next = `"End":true`
		}
		if i%2 == 0 {
			fmt.Fprintf(&b, `"S%d":{"Type":"Pass","Parameters":{"i":%d,"doc.$":"$.doc"},%s}`, i, i, next)
		} else {
			fmt.Fprintf(&b, `"S%d":{"Type":"Task","Resource":"%s","ResultPath":"$.r",%s}`, i, fnA, next)
		}
	}
	b.WriteString(`}}`)
	return b.String()
}

// BenchmarkStateOverhead measures the executor's cost per state (half Pass, half no-op Task)
// for a durable execution with history in the in-memory store, and for Machine.Run.
func BenchmarkStateOverhead(b *testing.B) {
	const states = 100
	m := mustLoad(b, chainDef(states))
	input := json.RawMessage(`{"doc":"tenants/acme/kb/docs/report.pdf"}`)
	b.Run("executor", func(b *testing.B) {
		e := NewExecutor(WithLogger(slog.New(slog.DiscardHandler)), WithTasks(map[string]TaskFunc{fnA: noop}))
		defer e.Close(context.Background())
		if err := e.Register("chain", m); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ex, err := e.Start(ctx, "chain", "", input)
			if err != nil {
				b.Fatal(err)
			}
			if got, _ := e.Wait(ctx, ex.ID); got.Status != StatusSucceeded {
				b.Fatalf("status %s", got.Status)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*states), "ns/state")
	})
	b.Run("executor-bbolt", func(b *testing.B) {
		st, err := boltstore.Open(filepath.Join(b.TempDir(), "flow.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		e := NewExecutor(WithLogger(slog.New(slog.DiscardHandler)), WithStore(NewStoreBacked(st)), WithTasks(map[string]TaskFunc{fnA: noop}))
		defer e.Close(context.Background())
		if err := e.Register("chain", m); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ex, err := e.Start(ctx, "chain", "", input)
			if err != nil {
				b.Fatal(err)
			}
			if got, _ := e.Wait(ctx, ex.ID); got.Status != StatusSucceeded {
				b.Fatalf("status %s", got.Status)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*states), "ns/state")
	})
	b.Run("machine.Run", func(b *testing.B) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			if _, err := m.Run(ctx, input, WithRunTasks(map[string]TaskFunc{fnA: noop})); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*states), "ns/state")
	})
}

// BenchmarkMapItem measures the cost per item of a 1,000-item Map with MaxConcurrency 10
// over a no-op task, in a durable execution.
func BenchmarkMapItem(b *testing.B) {
	const items = 1000
	m := mustLoad(b, `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":10,
		"ItemSelector":{"i.$":"$$.Map.Item.Index"},
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnA+`","End":true}}},"ResultPath":null,"End":true}}}`)
	arr := make([]int, items)
	for i := range arr {
		arr[i] = i
	}
	input, _ := json.Marshal(map[string]any{"items": arr})
	e := NewExecutor(WithLogger(slog.New(slog.DiscardHandler)), WithTasks(map[string]TaskFunc{fnA: noop}))
	defer e.Close(context.Background())
	if err := e.Register("map", m); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ex, err := e.Start(ctx, "map", "", input)
		if err != nil {
			b.Fatal(err)
		}
		if got, _ := e.Wait(ctx, ex.ID); got.Status != StatusSucceeded {
			b.Fatalf("status %s %s", got.Status, got.Cause)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
}

// BenchmarkRunningExecutionMemory measures the heap held per running execution: each one
// waits on a .waitForTaskToken task, the usual way an execution sits idle.
func BenchmarkRunningExecutionMemory(b *testing.B) {
	const n = 1000
	m := mustLoad(b, `{"StartAt":"Prepare","States":{"Prepare":{"Type":"Pass","Result":{"stage":"waiting"},"ResultPath":"$.state","Next":"Approve"},
		"Approve":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"`+fnA+`","Payload":{"token.$":"$$.Task.Token","doc.$":"$.doc"}},"End":true}}}`)
	input := json.RawMessage(`{"doc":"tenants/acme/kb/docs/report.pdf","tenant":"acme"}`)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		started := make(chan struct{}, n)
		e := NewExecutor(WithLogger(slog.New(slog.DiscardHandler)), WithTasks(map[string]TaskFunc{fnA: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			started <- struct{}{}
			return nil, nil
		}}))
		if err := e.Register("idle", m); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		ctx := context.Background()
		for j := 0; j < n; j++ {
			if _, err := e.Start(ctx, "idle", "", input); err != nil {
				b.Fatal(err)
			}
		}
		for j := 0; j < n; j++ {
			<-started
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if e.Running() != n {
			b.Fatalf("%d running, want %d", e.Running(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/exec")
		b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/exec")
		ctxC, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = e.Close(ctxC)
		cancel()
		b.StartTimer()
	}
}
