import BillingCLI

// The shipped binary: the process roles and operator tools, nothing for benchmarks or tests.
await Billing.execute()
