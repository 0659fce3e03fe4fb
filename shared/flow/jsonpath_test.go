package flow

import (
	"testing"
)

func TestJSONPath(t *testing.T) {
	doc, err := decodeJSON([]byte(`{"a":{"b":[10,20,30,40,50]},"odd key":{"x.y":1},"items":[{"id":"a","n":1,"tag":"x"},{"id":"b","n":2,"tag":"y"},{"id":"c","n":3,"tag":"x"}],"deep":{"id":"z","k":{"id":"y"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want string // JSON; "" means no match (definite paths)
	}{
		{"$", ""},
		{"$.a.b[0]", `10`},
		{"$.a.b[-1]", `50`},
		{"$.a.b[9]", ""},
		{"$.a.nope", ""},
		{"$['odd key']['x.y']", `1`},
		{`$["odd key"]`, `{"x.y":1}`},
		{"$.a.b[1:3]", `[20,30]`},
		{"$.a.b[:2]", `[10,20]`},
		{"$.a.b[-2:]", `[40,50]`},
		{"$.a.b[::2]", `[10,30,50]`},
		{"$.a.b[0,2,4]", `[10,30,50]`},
		{"$.a.b[*]", `[10,20,30,40,50]`},
		{"$.items[*].id", `["a","b","c"]`},
		{"$.items[?(@.n >= 2)].id", `["b","c"]`},
		{"$.items[?(@.tag == 'x')].id", `["a","c"]`},
		{"$.items[?(@.tag == 'x' && @.n > 1)].id", `["c"]`},
		{"$.items[?(@.n == 1 || @.n == 3)].id", `["a","c"]`},
		{"$.items[?(@.missing)].id", `[]`},
		{"$.deep..id", `["z","y"]`},
		{"$.nothing[*]", `[]`},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			p, err := compilePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.eval(doc)
			if tc.path == "$" {
				if err != nil || !jsonEqual(got, doc) {
					t.Fatalf("$ must select the document")
				}
				return
			}
			if tc.want == "" {
				if err == nil {
					t.Fatalf("want no match, got %s", mustMarshal(got))
				}
				return
			}
			want, _ := decodeJSON([]byte(tc.want))
			if err != nil || !jsonEqual(got, want) {
				t.Fatalf("got %s (%v), want %s", mustMarshal(got), err, tc.want)
			}
		})
	}
	for _, bad := range []string{"a.b", "$.", "$[", "$[abc]", "$..", "$[1:2:0]", "$[?(x)]"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			if _, err := parsePath(bad); err == nil {
				t.Fatalf("%q parsed", bad)
			}
		})
	}
}

func TestSetPath(t *testing.T) {
	in, _ := decodeJSON([]byte(`{"a":{"b":1},"arr":[{"x":1},{"x":2}]}`))
	cases := []struct{ path, want string }{
		{"$.a.c", `{"a":{"b":1,"c":"v"},"arr":[{"x":1},{"x":2}]}`},
		{"$.n.m", `{"a":{"b":1},"arr":[{"x":1},{"x":2}],"n":{"m":"v"}}`},
		{"$.arr[1].y", `{"a":{"b":1},"arr":[{"x":1},{"x":2,"y":"v"}]}`},
		{"$['a']['b']", `{"a":{"b":"v"},"arr":[{"x":1},{"x":2}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			p, err := compilePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := setPath(in, p, "v")
			want, _ := decodeJSON([]byte(tc.want))
			if err != nil || !jsonEqual(got, want) {
				t.Fatalf("got %s (%v), want %s", mustMarshal(got), err, tc.want)
			}
		})
	}
	orig, _ := decodeJSON([]byte(`{"a":{"b":1},"arr":[{"x":1},{"x":2}]}`))
	if !jsonEqual(in, orig) {
		t.Fatalf("setPath mutated its input: %s", mustMarshal(in))
	}
	for _, bad := range []string{"$.a.b.c", "$.arr[5].x", "$.arr[*]"} {
		p, err := compilePath(bad)
		if err != nil {
			continue
		}
		if _, err := setPath(in, p, 1); err == nil {
			t.Fatalf("setPath %s succeeded", bad)
		}
	}
}
