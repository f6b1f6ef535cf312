// swift-tools-version: 6.2
import PackageDescription

import class Foundation.ProcessInfo

let package = Package(
    name: "billing",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "billing", targets: ["billing"]),
        .executable(name: "billing-bench", targets: ["billing-bench"]),
        .library(name: "Redis", targets: ["Redis"]),
        .library(name: "Mongo", targets: ["Mongo"]),
        .library(name: "BillingDomain", targets: ["BillingDomain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // C libraries from Debian: module maps only. Their calls stay in Redis/Hiredis and Mongo/Mongoc.
        .systemLibrary(
            name: "CHiredis", path: "Sources/CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(
            name: "CMongoc", path: "Sources/CMongoc", pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev"])]),

        .target(
            name: "Redis",
            dependencies: [
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // camelCase → snake_case field names, shared by the JSON payload decoder and the BSON coder.
        .target(name: "FieldNames"),
        .target(
            name: "Mongo",
            dependencies: [
                "CMongoc", "FieldNames",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(name: "BillingDomain"),
        // The access token's claims: the auth service signs them, the gateway verifies them.
        .target(name: "AccessTokens", dependencies: [.product(name: "JWTKit", package: "jwt-kit")]),
        // The bus: envelopes, JSON coding, replies, stream names, the command bus and the reply
        // router. Redis only: the gateway builds on this and cannot reach MongoDB.
        .target(
            name: "MessageBus",
            dependencies: [
                "Redis", "FieldNames",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // The catalogue of commands and domain events (schemas/commands, schemas/events) as types.
        .target(name: "Contracts", dependencies: ["MessageBus", "BillingDomain"]),
        // The worker runtime on MongoDB: processor, handler contexts, consumer groups, outbox relay,
        // session fence, replay, the admin handlers over the streams.
        .target(
            name: "WorkerRuntime",
            dependencies: [
                "MessageBus", "Contracts", "Redis", "Mongo",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "Runtime",
            dependencies: [
                "Redis", "Mongo", "MessageBus",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // The operator's command line as a library: `billing` ships it, `billing-bench` adds the
        // diagnostic service and the load runs to it.
        .target(
            name: "BillingCLI",
            dependencies: [
                "Runtime", "Redis", "Mongo", "BillingDomain", "MessageBus", "Contracts", "WorkerRuntime", "Gateway", "AuthService",
                "CustomerService", "PlanService", "BillingService", "ServiceKit", "WebhookService",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(name: "billing", dependencies: ["BillingCLI"]),
        // Development only: `billing-bench` runs the multi-process benchmarks (wrk, redis-benchmark
        // beside the project) and `serve`s the process roles with the diagnostic `test` service.
        .executableTarget(
            name: "billing-bench",
            dependencies: [
                "BillingCLI", "TestService", "Runtime", "Redis", "Mongo", "MessageBus", "Contracts", "WorkerRuntime", "Gateway",
                "AuthService", "CustomerService", "WebhookService",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        .target(
            name: "Gateway",
            dependencies: [
                "MessageBus", "Contracts", "Redis", "AccessTokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // What every service worker shares: prefixed IDs, payload reading with 422s naming the field,
        // cursor pagination, tenant/customer scoping, versioned writes, the read cache, personal-data references.
        .target(
            name: "ServiceKit",
            dependencies: ["MessageBus", "Contracts", "WorkerRuntime", "Mongo", "Redis", "BillingDomain"],
            path: "Sources/Services/Kit"),
        .target(
            name: "CustomerService",
            dependencies: ["ServiceKit", "MessageBus", "Contracts", "WorkerRuntime", "Mongo", "Redis", "BillingDomain"],
            path: "Sources/Services/Customer"),
        .target(
            name: "PlanService", dependencies: ["ServiceKit", "MessageBus", "Contracts", "WorkerRuntime", "Mongo", "BillingDomain"],
            path: "Sources/Services/Plan"),
        .target(
            name: "AuthService",
            dependencies: [
                "AccessTokens", "MessageBus", "Contracts", "WorkerRuntime", "Mongo", "Redis", "BillingDomain", "ServiceKit",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Services/Auth",
            resources: [.copy("Resources/common-passwords.txt")]),
        // The billing engine: the subscription and invoice workers, payments, the scheduler, test clocks.
        .target(
            name: "BillingService",
            dependencies: [
                "ServiceKit", "MessageBus", "Contracts", "WorkerRuntime", "Mongo", "Redis", "BillingDomain",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Services/Billing"),
        .target(
            name: "WebhookService",
            dependencies: [
                "MessageBus", "Contracts", "WorkerRuntime", "Mongo", "Redis", "BillingDomain",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Services/Webhook"),
        // A diagnostic service (echo, insert, refuse, fail, slow) for benchmarks and the fault tests.
        .target(name: "TestService", dependencies: ["MessageBus", "Contracts", "WorkerRuntime", "Gateway", "Mongo", "Redis"]),

        // Shared by the integration test targets: server URLs from scripts/test, the billing binary,
        // services run and stopped as `billing` runs them, JSON over the gateway's test client.
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"),
        // The one test stack of the worker-side tests (Redis, MongoDB, prefix, database, workers).
        .target(
            name: "WorkerTestSupport",
            dependencies: [
                "TestSupport", "MessageBus", "WorkerRuntime", "Redis", "Mongo", "Runtime",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/WorkerTestSupport"),

        .testTarget(name: "RedisTests", dependencies: ["Redis", .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "MongoTests", dependencies: ["Mongo", "FieldNames"]),
        .testTarget(name: "BillingDomainTests", dependencies: ["BillingDomain"]),
        .testTarget(name: "MessageBusTests", dependencies: ["MessageBus", "Contracts", "FieldNames", "BillingDomain"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "TestSupport", "AccessTokens", "Gateway", "MessageBus", "Contracts", "FieldNames", "Redis",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "AuthTests",
            dependencies: [
                "TestSupport", "WorkerTestSupport", "AuthService", "CustomerService", "Gateway", "MessageBus", "Contracts", "WorkerRuntime", "Redis", "Mongo", "Runtime",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "TestSupport", "WorkerTestSupport", "ServiceKit", "CustomerService", "PlanService", "BillingService", "Gateway", "MessageBus", "Contracts", "WorkerRuntime", "Redis", "Mongo",
                "Runtime", "BillingDomain",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "WebhookTests",
            dependencies: [
                "TestSupport", "AccessTokens", "WorkerTestSupport", "WebhookService", "Gateway", "MessageBus", "Contracts", "WorkerRuntime", "Redis", "Mongo", "Runtime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TestSupport", "WorkerTestSupport", "Redis", "Mongo", "Runtime", "MessageBus", "Contracts", "WorkerRuntime", "BillingDomain", "TestService", "Gateway",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// Micro-benchmarks (ordo-one/benchmark, with allocation counts): only when ENABLE_BENCHMARKS is set
// (scripts/bench micro sets it), so plain builds and tests neither resolve nor build the harness.
if ProcessInfo.processInfo.environment["ENABLE_BENCHMARKS"] != nil {
    package.dependencies += [
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"])
    ]
    package.targets += [
        .executableTarget(
            name: "BillingBenchmarks",
            dependencies: ["MessageBus", "Redis", "Mongo", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/BillingBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
}
