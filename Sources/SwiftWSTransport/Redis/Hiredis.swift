// Redis/: a Redis connection on our event loop (RedisConnection: our non-blocking socket in our
// epoll set, commands formatted and replies parsed by hiredis) and the run-time loading of
// hiredis (Hiredis), so that programs that never use Redis need neither Redis nor libhiredis.
import Glibc
import CHiredis

/// The hiredis functions SwiftWS uses (its RESP command formatter and reply reader), loaded with
/// `dlopen` the first time a Redis connection is made. libswiftws.so does not link libhiredis:
/// users who never join a server to Redis do not need it installed.
///
/// `@unchecked Sendable`: immutable pointers to C functions, which hiredis allows from any thread
/// (each reader is used by one thread only).
package final class Hiredis: @unchecked Sendable {
    typealias ReaderCreate = @convention(c) () -> UnsafeMutablePointer<redisReader>?
    typealias ReaderFree = @convention(c) (UnsafeMutablePointer<redisReader>?) -> Void
    typealias ReaderFeed = @convention(c) (UnsafeMutablePointer<redisReader>?, UnsafePointer<CChar>?, Int) -> Int32
    typealias ReaderGetReply = @convention(c) (UnsafeMutablePointer<redisReader>?,
                                               UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32
    typealias FreeReply = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias FormatArgv = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, Int32,
                                           UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?) -> Int32
    typealias FreeCommand = @convention(c) (UnsafeMutablePointer<CChar>?) -> Void

    let readerCreate: ReaderCreate
    let readerFree: ReaderFree
    let readerFeed: ReaderFeed
    let readerGetReply: ReaderGetReply
    let freeReply: FreeReply
    let formatArgv: FormatArgv
    let freeCommand: FreeCommand

    /// hiredis, or why it could not be loaded (the library file name and dlerror()).
    package static let shared: Result<Hiredis, NetworkError> = load()

    private init(_ handle: UnsafeMutableRawPointer) throws(NetworkError) {
        func symbol<T>(_ name: String, as type: T.Type) throws(NetworkError) -> T {
            guard let address = dlsym(handle, name) else {
                throw NetworkError(.redis(message: "\(name) missing from \(String(cString: swiftws_hiredis_library))"), "load hiredis")
            }
            return unsafeBitCast(address, to: type)
        }
        readerCreate = try symbol("redisReaderCreate", as: ReaderCreate.self)
        readerFree = try symbol("redisReaderFree", as: ReaderFree.self)
        readerFeed = try symbol("redisReaderFeed", as: ReaderFeed.self)
        readerGetReply = try symbol("redisReaderGetReply", as: ReaderGetReply.self)
        freeReply = try symbol("freeReplyObject", as: FreeReply.self)
        formatArgv = try symbol("redisFormatCommandArgv", as: FormatArgv.self)
        freeCommand = try symbol("redisFreeCommand", as: FreeCommand.self)
    }

    private static func load() -> Result<Hiredis, NetworkError> {
        // The SONAME matching the headers we were built with: structures such as redisReply
        // must have the layout we compiled against. Never unloaded.
        guard let handle = dlopen(swiftws_hiredis_library, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            return .failure(NetworkError(.redis(message: "\(reason) (Debian: apt install libhiredis0.14)"), "load hiredis"))
        }
        do throws(NetworkError) {
            return .success(try Hiredis(handle))
        } catch {
            return .failure(error)
        }
    }
}
