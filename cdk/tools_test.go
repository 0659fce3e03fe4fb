package main

import (
	"strings"
	"testing"
)

// TestToolServersAreInvokable: the functions that call tools may invoke Lambda tool
// servers (functions named plinth-tool-*) and no other function: the gateway function
// (/mcp, /v1/responses) and the agent task.
func TestToolServersAreInvokable(t *testing.T) {
	s := platform(t)
	invokes := func(stmts []map[string]any) (tools, other []string) {
		for _, st := range stmts {
			if !hasAction(st, "lambda:InvokeFunction") {
				continue
			}
			res := jsonText(st["Resource"])
			if strings.Contains(res, ":function:"+ToolFunctionPrefix+"*") {
				tools = append(tools, res)
			} else {
				other = append(other, res)
			}
		}
		return tools, other
	}
	gw := logicalID(s.platform.API.Stack, s.platform.API.Functions["gateway"].Role.RoleArn())
	if tools, other := invokes(policyOfRole(s.raw["api"], gw)); len(tools) != 1 || len(other) != 0 {
		t.Errorf("gateway role invokes tool servers %v and other functions %v; want the tool servers only", tools, other)
	}
	agent, ok := s.platform.Workflows.TaskFunctions["AgentToolCallFunctionArn"]
	if !ok {
		var names []string
		for n := range s.platform.Workflows.TaskFunctions {
			names = append(names, n)
		}
		t.Fatalf("no agent task function among %v", names)
	}
	role := logicalID(s.platform.Workflows.Stack, agent.Role.RoleArn())
	if tools, _ := invokes(policyOfRole(s.raw["workflows"], role)); len(tools) != 1 {
		t.Errorf("agent task role invokes tool servers %v; want one grant", tools)
	}
}
