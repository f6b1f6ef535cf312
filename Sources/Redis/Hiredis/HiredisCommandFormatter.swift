import CHiredis
import Glibc

/// Encodes a command as RESP with hiredis's `redisFormatSdsCommandArgv`.
package enum HiredisCommandFormatter {
    /// Appends the RESP encoding of `arguments` to `body`.
    package static func format(_ arguments: [RedisArgument], into body: (UnsafeRawBufferPointer) -> Void) throws(RedisError) {
        var scratch = Scratch()
        try scratch.format(arguments, into: body)
    }

    /// Reusable argument storage: a connection formats every command through one, so a command
    /// costs no allocation on our side beyond hiredis's own output buffer.
    package struct Scratch {
        private var storage: [UInt8] = []
        private var lengths: [Int] = []
        private var pointers: [UnsafePointer<CChar>?] = []

        /// Appends the RESP encoding of `arguments` to `body`.
        package init() {}

        package mutating func format(_ arguments: [RedisArgument], into body: (UnsafeRawBufferPointer) -> Void) throws(RedisError) {
            // One contiguous copy of every argument, then argv pointers into it.
            storage.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            for argument in arguments {
                let before = storage.count
                argument.append(to: &storage)
                lengths.append(storage.count - before)
            }
            storage.append(0)  // never empty, so the buffer has a base address
            // The sds variant: hiredis writes the length headers with its own integer formatting
            // (the plain variant calls sprintf twice per argument).
            var target: sds? = nil
            let written: Int32 = storage.withUnsafeBufferPointer { raw -> Int32 in
                guard let start = raw.baseAddress else { return -1 }
                let base = UnsafeRawPointer(start)
                pointers.removeAll(keepingCapacity: true)
                var offset = 0
                for length in lengths {
                    pointers.append((base + offset).assumingMemoryBound(to: CChar.self))
                    offset += length
                }
                return pointers.withUnsafeMutableBufferPointer { argv in
                    lengths.withUnsafeBufferPointer { argvlen in
                        redisFormatSdsCommandArgv(&target, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
                    }
                }
            }
            guard written >= 0, let target else {
                throw RedisError(.protocolError, "hiredis could not format the command")
            }
            defer { sdsfree(target) }
            body(UnsafeRawBufferPointer(start: target, count: Int(written)))
        }
    }
}
