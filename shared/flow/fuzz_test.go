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
