import BillingCLI
import TestService

// The diagnostic `test` service and its gateway routes exist in this development binary only.
ServiceCatalog.register(TestHandlers.name, routes: TestHandlers.routes, TestHandlers.registry)
await Billing.execute(BillingBench.self)
