package flow

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestStartExecutionSyncRunsNestedMachines(t *testing.T) {
	ctx := context.Background()
	e := newTestExecutor(t)
	e.Bind(ResourceStartExecutionSync, e.StartExecutionSync())
	child := `{"StartAt":"Check","States":{"Check":{"Type":"Choice","Choices":[{"Variable":"$.fail","BooleanEquals":true,"Next":"Boom"}],"Default":"Double"},
		"Double":{"Type":"Pass","Parameters":{"twice.$":"States.MathAdd($.n, $.n)"},"End":true},
		"Boom":{"Type":"Fail","Error":"ChildFailed","Cause":"asked to fail"}}}`
	parent := `{"StartAt":"Run","States":{"Run":{"Type":"Task","Resource":"` + ResourceStartExecutionSync + `",
		"Parameters":{"StateMachineArn":"arn:aws:states:local:000000000000:stateMachine:child","Input":{"n.$":"$.n","fail.$":"$.fail"}},
		"ResultSelector":{"out.$":"$.Output","status.$":"$.Status"},"End":true}}}`
	if err := e.Register("child", mustLoad(t, child)); err != nil {
		t.Fatal(err)
	}
	if err := e.Register("parent", mustLoad(t, parent)); err != nil {
		t.Fatal(err)
	}
	ok, err := e.Start(ctx, "parent", "ok", json.RawMessage(`{"n":21,"fail":false}`))
	if err != nil {
		t.Fatal(err)
	}
	got := waitDone(t, e, ok.ID)
	if got.Status != StatusSucceeded || !JSONEqual(got.Output, []byte(`{"out":{"twice":42},"status":"SUCCEEDED"}`)) {
		t.Fatalf("parent: %+v output %s", got, got.Output)
	}
	kids, err := e.List(ctx, ListFilter{Machine: "child"})
	if err != nil || len(kids) != 1 {
		t.Fatalf("child executions %v %v", kids, err)
	}
	// Running the task again with the same input finds the finished child.
	out, err := e.StartExecutionSync()(ctx, json.RawMessage(`{"StateMachineArn":"x:child","Input":{"n":21,"fail":false}}`))
	if err != nil || !strings.Contains(string(out), `"twice":42`) {
		t.Fatalf("rerun: %s %v", out, err)
	}
	if kids, _ := e.List(ctx, ListFilter{Machine: "child"}); len(kids) != 1 {
		t.Fatalf("a rerun started another child: %d", len(kids))
	}
	bad, err := e.Start(ctx, "parent", "bad", json.RawMessage(`{"n":1,"fail":true}`))
	if err != nil {
		t.Fatal(err)
	}
	got = waitDone(t, e, bad.ID)
	if got.Status != StatusFailed || got.Error != ErrNameTaskFailed || !strings.Contains(got.Cause, "ChildFailed: asked to fail") {
		t.Fatalf("failing child: %+v", got)
	}
}
