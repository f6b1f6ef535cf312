import CHiredis
import Glibc

/// Encodes a command as RESP with hiredis's `redisFormatCommandArgv`.
enum HiredisCommandFormatter {
    /// Appends the RESP encoding of `arguments` to `body`.
    static func format(_ arguments: [RedisArgument], into body: (UnsafeRawBufferPointer) -> Void) throws(RedisError) {
        // One contiguous copy of every argument, then argv pointers into it.
        var total = 0
        for argument in arguments { total += argument.bytes.count }
        var storage = [UInt8]()
        storage.reserveCapacity(total)
        var lengths = [Int]()
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            storage.append(contentsOf: argument.bytes)
            lengths.append(argument.bytes.count)
        }
        var target: UnsafeMutablePointer<CChar>? = nil
        let written: Int32 = storage.withUnsafeBufferPointer { raw -> Int32 in
            guard let start = raw.baseAddress else { return -1 }  // never: the command name is not empty
            let base = UnsafeRawPointer(start)
            var pointers = [UnsafePointer<CChar>?]()
            pointers.reserveCapacity(arguments.count)
            var offset = 0
            for length in lengths {
                pointers.append((base + offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisFormatCommandArgv(&target, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
        guard written >= 0, let target else {
            throw RedisError(.protocolError, "hiredis could not format the command")
        }
        defer { free(target) }
        body(UnsafeRawBufferPointer(start: target, count: Int(written)))
    }
}
