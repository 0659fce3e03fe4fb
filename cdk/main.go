// Command cdk is Plinth's AWS CDK app: the data, workflows, API and
// observability stacks, or, with the tenantStack context, a hybrid tenant's TenantStack. Synthesize it with `make synth`; see README.md.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := ConfigFromContext(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plinth cdk:", err)
		os.Exit(1)
	}
	if ts := cfg.TenantStack; ts != nil {
		// A line of business's own account: its TenantStack only.
		NewTenantStack(app, "PlinthTenant-"+ts.Tenant, &TenantStackProps{
			StackProps:        awscdk.StackProps{Env: env(), Description: jsii.String("Plinth hybrid tenant " + ts.Tenant)},
			TenantStackConfig: *ts,
			AssetDir:          cfg.AssetDir,
			Stage:             cfg.StageName,
			VectorBackend:     cfg.VectorBackend,
		})
		if cfg.Nag {
			applyNag(app)
		}
	} else if _, err := NewPlatform(app, cfg, env()); err != nil {
		fmt.Fprintln(os.Stderr, "plinth cdk:", err)
		os.Exit(1)
	}
	app.Synth(nil)
}

// env targets the account and region of the CLI's credentials when known and
// leaves the stacks environment-agnostic otherwise.
func env() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}
