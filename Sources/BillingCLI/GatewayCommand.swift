import ArgumentParser
import Foundation
import Gateway
import Hummingbird
import Logging
import MessageBus
import Redis
import Runtime
import ServiceLifecycle

/// `billing gateway`: the HTTP edge and its reply router, until SIGTERM.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway", abstract: "Run the HTTP gateway (and its reply router) until SIGTERM.")

    func run() async throws {
        let settings = try await loadSettings()
        let logger = Logger(label: "billing.gateway")
        let redis = try await Infrastructure.connectRedis(settings: settings, logger: logger)
        let edge = try GatewayAssembly.services(
            settings: settings, redis: redis, logger: logger)
        let ready = ReadyAnnouncement(
            logger: logger, message: "gateway ready",
            metadata: [
                "address": "\(settings.httpHost):\(settings.httpPort)",
                "redis": "\(RedisConfiguration.redacted(settings.redisURL))",
            ])
        let group = ServiceGroup(
            configuration: .init(services: [redis] + edge + [ready], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("gateway stopped")
    }
}

/// Builds the gateway from the settings, for `billing gateway` and `billing all`.
enum GatewayAssembly {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func configuration(_ settings: BillingSettings, requiredServices: [String]) throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.host = settings.httpHost
        configuration.port = settings.httpPort
        configuration.names = ServiceCatalog.names(settings)
        configuration.streams = settings.streamRetention
        configuration.corsAllowedOrigins = settings.corsOrigins
        do {
            configuration.trustedProxies = try TrustedProxies(settings.trustedProxies)
        } catch {
            throw BillingSettings.Invalid(variable: "BILLING_TRUSTED_PROXIES", reason: error.description)
        }
        configuration.issuer = settings.jwtIssuer
        configuration.audience = settings.jwtAudience
        configuration.defaultWait = .milliseconds(settings.replyWaitMilliseconds)
        configuration.principalLimit = RateLimitTier(rate: Double(settings.rateLimitPrincipal), burst: settings.rateLimitPrincipal * 2)
        configuration.ipLimit = RateLimitTier(rate: Double(settings.rateLimitIP), burst: settings.rateLimitIP * 2)
        configuration.authLimit = RateLimitTier(rate: Double(settings.rateLimitAuth), burst: settings.rateLimitAuth * 5)
        configuration.requiredServices = requiredServices
        return configuration
    }

    /// The OpenAPI document: `BILLING_OPENAPI_FILE`, else `schemas/openapi.yaml` in the working
    /// directory or in a folder above the executable (a checkout's `.build/<config>/billing`).
    static func openAPIDocument(_ settings: BillingSettings) throws -> OpenAPIDocument {
        var candidates: [String] = []
        if !settings.openAPIFile.isEmpty {
            candidates = [settings.openAPIFile]
        } else {
            candidates.append(FileManager.default.currentDirectoryPath + "/schemas/openapi.yaml")
            var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<5 {
                candidates.append(folder.appendingPathComponent("schemas/openapi.yaml").path)
                folder = folder.deletingLastPathComponent()
            }
        }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw Failure(
                description: "cannot find the OpenAPI document (looked at \(candidates.joined(separator: ", "))); "
                    + "set BILLING_OPENAPI_FILE to schemas/openapi.yaml")
        }
        do {
            return try OpenAPIDocument(contentsOf: path)
        } catch {
            throw Failure(description: "BILLING_OPENAPI_FILE: cannot load \(path): \(error)")
        }
    }

    /// The gateway application and its reply router, as services.
    static func services(settings: BillingSettings, redis: RedisClient, logger: Logger) throws -> [any Service] {
        if ServiceCatalog.hasDevelopmentRoutes && settings.mode != .development {
            throw ValidationError("this development build's diagnostic routes are refused outside BILLING_MODE=development")
        }
        let configuration = try configuration(settings, requiredServices: ServiceCatalog.required)
        let replies = ReplyRouter(redis: redis, names: configuration.names, logger: Logger(label: "billing.replies"))
        let gateway = Gateway(
            redis: redis, replies: replies, configuration: configuration,
            routes: ServiceCatalog.routes, openAPI: try openAPIDocument(settings),
            logger: logger)
        return [replies, OnEventLoops(gateway.buildApplication())]
    }
}
