// Command lambdatool is a Lambda function serving two tools, for the tool hub's tests.
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Tool      string `json:"tool"`
	Tenant    string `json:"tenant"`
	Arguments struct {
		A float64 `json:"a"`
		B float64 `json:"b"`
	} `json:"arguments"`
}

func handle(_ context.Context, e event) (map[string]any, error) {
	switch e.Tool {
	case "add":
		return map[string]any{"sum": e.Arguments.A + e.Arguments.B, "tenant": e.Tenant}, nil
	default:
		return nil, errors.New("no such tool: " + e.Tool)
	}
}

func main() { lambda.Start(handle) }
