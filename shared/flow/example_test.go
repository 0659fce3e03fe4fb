package flow_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/plinth-ai/plinth/shared/flow"
)

// Loading a definition with substitutions, binding its task to a handler and running an
// execution to completion.
func ExampleExecutor() {
	def := []byte(`{
	  "StartAt": "Greet",
	  "States": {
	    "Greet": {
	      "Type": "Task",
	      "Resource": "arn:aws:states:::lambda:invoke",
	      "Parameters": {"FunctionName": "${GreetFunctionArn}", "Payload": {"name.$": "$.name"}},
	      "ResultSelector": {"greeting.$": "$.Payload.text"},
	      "End": true
	    }
	  }
	}`)
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:greet"
	m, err := flow.Load(def, map[string]string{"GreetFunctionArn": arn})
	if err != nil {
		panic(err)
	}
	greet := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var p struct{ Name string }
		if err := json.Unmarshal(in, &p); err != nil {
			return nil, &flow.TaskError{Type: "BadInput", Cause: err.Error()}
		}
		return json.Marshal(map[string]string{"text": "Hello, " + p.Name})
	}
	ex := flow.NewExecutor(flow.WithTasks(map[string]flow.TaskFunc{arn: greet}))
	defer ex.Close(context.Background())
	if err := ex.Register("greeter", m); err != nil {
		panic(err)
	}
	ctx := context.Background()
	started, err := ex.Start(ctx, "greeter", "first", json.RawMessage(`{"name":"Ada"}`))
	if err != nil {
		panic(err)
	}
	done, err := ex.Wait(ctx, started.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(done.ID)
	fmt.Println(done.Status, string(done.Output))
	// Output:
	// arn:aws:states:local:000000000000:execution:greeter:first
	// SUCCEEDED {"greeting":"Hello, Ada"}
}
