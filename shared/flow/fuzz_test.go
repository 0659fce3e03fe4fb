package flow

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// FuzzPaths checks that no path, intrinsic or Choice rule text can panic the parser or
// the evaluator.
func FuzzPaths(f *testing.F) {
	for _, s := range []string{"$.a.b[0]", "$..x", "$.a[?(@.n > 1 && @.t == 'x')]", "$['k'][1:3:2]", "$$.Map.Item.Value",
		"States.Format('{} \\{', $.a)", "States.ArrayLength(States.StringSplit($.s, ','))", "$[?(]", "$.a[(", "States.Hash($,"} {
		f.Add(s)
	}
	doc, _ := decodeJSON([]byte(`{"a":{"b":[1,"x",{"n":2,"t":"x"}]},"s":"a,b","k":[1,2,3,4]}`))
	f.Fuzz(func(t *testing.T, src string) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			fuzzOne(doc, src)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("no result after 5s for %q", src)
		}
	})
}

func fuzzOne(doc any, src string) {
	{
		if p, err := parsePath(src); err == nil {
			_, _ = p.eval(doc)
			_, _ = setPath(doc, p, 1)
		}
		if c, err := compileIntrinsic(src); err == nil {
			_, _ = evalIntrinsic(c, doc, doc)
		}
		rule, _ := json.Marshal(map[string]any{"Variable": "$.a.b[0]", "StringMatches": src, "Next": "X"})
		if r, err := compileRule(rule, true); err == nil {
			_, _ = r.match(doc, doc)
		}
		def, _ := json.Marshal(map[string]any{"StartAt": "P", "States": map[string]any{"P": map[string]any{
			"Type": "Pass", "Parameters": map[string]any{"v.$": src}, "End": true}}})
		if m, err := Load(def, nil); err == nil {
			_, _ = m.Run(context.Background(), json.RawMessage(`{"a":{"b":[1]},"s":"x"}`))
		}
	}
}

// FuzzDefinition loads arbitrary state-machine definitions and runs the ones that load:
// loading refuses or accepts, and a run ends (or hits its deadline), never with a panic.
func FuzzDefinition(f *testing.F) {
	for _, s := range []string{
		`{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"a":1},"ResultPath":"$.r","End":true}}}`,
		`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":1,"Next":"A"}],"Default":"B"},"A":{"Type":"Succeed"},"B":{"Type":"Fail","Error":"E","Cause":"c"}}}`,
		`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"Iterator":{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}},"End":true}}}`,
		`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":0,"Next":"P"},"P":{"Type":"Parallel","Branches":[{"StartAt":"Q","States":{"Q":{"Type":"Pass","End":true}}}],"End":true}}}`,
		`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"States.Format('{}', $.n)"},"Next":"P"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, def []byte) {
		m, err := Load(def, nil)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = m.Run(ctx, json.RawMessage(`{"n":2,"items":[1,2,3]}`))
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("a run ignored its deadline: %s", def)
		}
	})
}
