import Benchmark
import Foundation
import MessageBus
import Mongo
import Redis

// Micro-benchmarks of the hot paths, with allocation counts: the hand-written JSON reader and
// writer beside Foundation's JSONDecoder/JSONEncoder on the same envelopes and replies, RESP
// formatting through hiredis, and BSON encoding and decoding of a billing document.
// Run: scripts/bench micro (thresholds: Benchmarks/Thresholds/, malloc counts only; times are printed
// but too noisy on a shared 2-core machine to gate on).

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000,
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 5.0], absolute: [.p90: 20])]
    )

    let envelope = Samples.envelope
    let envelopeBytes = Data(envelope.jsonBytes)
    let reply = Samples.reply
    let replyBytes = Data(reply.jsonBytes)

    Benchmark("EnvelopeReadHandWritten") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(JSONReader.envelope(envelopeBytes)) }
    }
    Benchmark("EnvelopeReadFoundation") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try MessageCoding.decode(Envelope.self, generic: envelopeBytes)) }
    }
    Benchmark("EnvelopeWriteHandWritten") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(envelope.jsonBytes) }
    }
    Benchmark("EnvelopeWriteFoundation") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try Samples.foundationEncode(envelope)) }
    }
    Benchmark("ReplyReadHandWritten") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(JSONReader.reply(replyBytes)) }
    }
    Benchmark("ReplyReadFoundation") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try MessageCoding.decode(Reply.self, generic: replyBytes)) }
    }
    Benchmark("ReplyWriteHandWritten") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(reply.jsonBytes) }
    }
    Benchmark("ReplyWriteFoundation") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try Samples.foundationEncode(reply)) }
    }

    // An XADD of a command entry, as the gateway sends it, formatted through one reused scratch.
    let xadd: [RedisArgument] = [
        "XADD", "billing:cmd:customer", "MINID", "~", "1700000000000-0", "*", "type", "customer.create",
        "envelope", RedisArgument(bytes: envelope.jsonBytes),
    ]
    Benchmark("RESPFormatXADD") { benchmark in
        var scratch = HiredisCommandFormatter.Scratch()
        var total = 0
        for _ in benchmark.scaledIterations { try scratch.format(xadd) { total &+= $0.count } }
        blackHole(total)
    }

    let invoice = Samples.invoice
    let invoiceDocument = try? BSONEncoder().encode(invoice)
    Benchmark("BSONEncodeInvoice") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try BSONEncoder().encode(invoice)) }
    }
    Benchmark("BSONDecodeInvoice") { benchmark in
        guard let invoiceDocument else { return }
        for _ in benchmark.scaledIterations { blackHole(try BSONDecoder().decode(Samples.Invoice.self, from: invoiceDocument)) }
    }
}

enum Samples {
    static let principal = Principal(
        subject: "usr_01JD3XK8ZJ6V", role: .customer, scopes: ["customers:read", "customers:write"], tenant: "default",
        customerID: "cus_01JD3XK8ZJ6V")
    static let envelope = Envelope(
        type: "customer.update", correlationID: "req_01JD3XK8ZJ6VQ2", replyTo: "billing:reply:web-1-4242",
        principal: principal, idempotencyKey: "order-5521",
        payload: .object([
            "path": .object(["id": .string("cus_01JD3XK8ZJ6V")]), "query": .object([:]),
            "body": .object([
                "name": .string("Ada Lovelace"), "email": .string("ada@example.com"),
                "metadata": .object(["plan": .string("pro"), "seats": .string("12")]),
            ]),
        ]),
        createdAt: Date(timeIntervalSince1970: 1_764_000_000.123))
    static let reply = Reply(
        id: envelope.id, correlationID: envelope.correlationID, status: .succeeded, httpStatus: 200,
        result: .object([
            "id": .string("cus_01JD3XK8ZJ6V"), "object": .string("customer"), "name": .string("Ada Lovelace"),
            "email": .string("ada@example.com"), "status": .string("active"), "created_at": .string("2026-11-25T10:00:00.000Z"),
        ]),
        error: nil, completedAt: Date(timeIntervalSince1970: 1_764_000_000.456))

    static func foundationEncode<T: Encodable>(_ value: T) throws -> Data { try MessageCoding.encode(value) }

    struct Line: Codable {
        var description: String
        var quantity: Int
        var unitAmount: Decimal
        var amount: Decimal
        var periodStart: Date
        var periodEnd: Date
    }
    struct Invoice: Codable {
        var id: String
        var tenantID: String
        var customerID: String
        var subscriptionID: String?
        var number: String?
        var lines: [Line]
        var subtotal: Decimal
        var total: Decimal
        var amountDue: Decimal
        var amountPaid: Decimal
        var currency: String
        var status: String
        var metadata: [String: String]
        var createdAt: Date
        var updatedAt: Date
        var version: Int
    }
    static let invoice: Invoice = {
        let start = Date(timeIntervalSince1970: 1_764_000_000)
        let end = start.addingTimeInterval(30 * 86_400)
        let lines = [
            Line(description: "Pro (Dec 1 – Dec 31)", quantity: 1, unitAmount: 49, amount: 49, periodStart: start, periodEnd: end),
            Line(description: "Unused time on Basic", quantity: 1, unitAmount: -12.35, amount: -12.35, periodStart: start, periodEnd: end),
        ]
        return Invoice(
            id: "in_01JD3XK8ZJ6V", tenantID: "default", customerID: "cus_01JD3XK8ZJ6V", subscriptionID: "sub_01JD3XK8ZJ6V",
            number: "INV-000123", lines: lines, subtotal: 36.65, total: 36.65, amountDue: 36.65, amountPaid: 0,
            currency: "USD", status: "open", metadata: ["order": "5521"], createdAt: start, updatedAt: start, version: 3)
    }()
}
