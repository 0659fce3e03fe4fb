package platform

import "github.com/plinth-ai/plinth/shared/platform/stepfunctions"

// Step Functions runs the customisation flow by name in AWS (awsplatform builds it).
var _ namedFlows = (*stepfunctions.Flows)(nil)
